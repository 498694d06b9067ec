"""The demo corpus: real music21 scores → real MIDI excerpts → real synthesised audio."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile

from counterpoint.data.demo import (INFO_COLUMNS, SKIPPED_NAME, STYLES, Candidate, Style,
                                    build_corpus, build_demo_corpus, build_piece, corpus_root, ordered_candidates)
from counterpoint.data.manifest import load_manifest
from counterpoint.defaults import DEMO_MIN_PIECES_PER_STYLE
from counterpoint.data.midi import load_pretty_midi
from counterpoint.data.render import SILENT_PEAK
from counterpoint.errors import CounterpointError, DatasetError

PIECES, SECONDS, TAIL = 3, 4.0, 1.0


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> tuple[Path, Path]:
    """Two builds with the same seed in different folders, in-process and in a process pool."""
    first = build_demo_corpus(tmp_path_factory.mktemp("demo_a"), pieces_per_style=PIECES,
                              excerpt_seconds=SECONDS, seed=3, workers=1, progress=False)
    second = build_demo_corpus(tmp_path_factory.mktemp("demo_b"), pieces_per_style=PIECES,
                               excerpt_seconds=SECONDS, seed=3, workers=2, progress=False)
    return first, second


@pytest.fixture(scope="module")
def info(builds) -> pd.DataFrame:
    return pd.read_csv(builds[0] / "info.csv", dtype=str, keep_default_na=False)


def test_info_columns_and_counts(info):
    assert tuple(info.columns) == INFO_COLUMNS
    assert info["id"].is_unique
    counts = info["style"].value_counts()
    assert len(counts) >= 5 and len(counts) == len(STYLES)
    assert (counts == PIECES).all()
    assert set(info["split"]) == {"train", "validation", "test"}
    # A corpus this small gets the 70/15/15 proportions in whole works, so only some styles
    # reach validation and test; every style is learnt from.
    for style, rows in info.groupby("style"):
        assert "train" in set(rows["split"]), style
    shares = info["split"].value_counts()
    assert shares["test"] == shares["validation"] == round(0.15 * len(info))


def test_the_default_demo_size_puts_every_style_in_every_split():
    """With the demo's 30 works per style (one excerpt each) the split reaches every style on every side."""
    from counterpoint.splits import assign_splits

    styles = np.repeat([s.name for s in STYLES], 30)
    splits = assign_splits(styles, groups=np.arange(len(styles)).astype(str), seed=0)
    for style in np.unique(styles):
        assert set(splits[styles == style]) == {"train", "validation", "test"}, style


def test_no_work_on_two_sides_of_the_split(info):
    sides = info.groupby("group")["split"].nunique()
    assert (sides == 1).all()
    # One excerpt per work.
    assert info["group"].is_unique


def test_midi_files_have_notes_within_the_excerpt(builds, info):
    for row in info.itertuples():
        midi = load_pretty_midi(builds[0] / row.midi_filename, row.id)
        assert midi.get_end_time() <= SECONDS + 1e-3, row.id  # tick rounding
        programs = [i.program for i in midi.instruments]
        assert ";".join(map(str, programs)) == row.programs
        style = next(s for s in STYLES if s.name == row.style)
        assert set(programs) <= set(style.palette)


def test_audio_decodes_fits_the_excerpt_and_is_not_silent(builds, info):
    for row in info.itertuples():
        audio, rate = soundfile.read(builds[0] / row.audio_filename, dtype="float32")
        assert rate == 22050 and audio.ndim == 1
        assert 0.5 <= len(audio) / rate <= SECONDS + TAIL + 0.05, row.id
        assert np.max(np.abs(audio)) > 100 * SILENT_PEAK, row.id
        assert np.sqrt(np.mean(audio ** 2)) > 0.01, row.id


def test_same_seed_gives_identical_files(builds, info):
    first, second = builds
    assert (first / "info.csv").read_bytes() == (second / "info.csv").read_bytes()
    for row in info.itertuples():
        assert (first / row.midi_filename).read_bytes() == (second / row.midi_filename).read_bytes(), row.id
        assert (first / row.audio_filename).read_bytes() == (second / row.audio_filename).read_bytes(), row.id


def test_the_manifest_reads_the_corpus_with_works_as_groups(builds, info):
    manifest = load_manifest(builds[0])
    assert not manifest.problems
    assert len(manifest) == len(info) and all(t.is_paired for t in manifest)
    assert {t.group for t in manifest} == set(info["group"])
    assert {t.split for t in manifest} == {"train", "validation", "test"}


def test_candidate_order_visits_every_work_before_repeating_one():
    root = corpus_root()
    palestrina = next(s for s in STYLES if s.name == "palestrina_mass")
    ordered = ordered_candidates(palestrina, root, seed=0)
    masses = {c.group for c in ordered}
    assert len(masses) >= 30  # a style must offer enough distinct works
    assert len({c.group for c in ordered[:len(masses)]}) == len(masses)
    assert ordered_candidates(palestrina, root, seed=0) == ordered
    assert ordered_candidates(palestrina, root, seed=1)[:10] != ordered[:10]


def test_every_style_offers_at_least_thirty_works():
    root = corpus_root()
    for style in STYLES:
        assert len({c.group for c in style.list_candidates(root)}) >= 30, style.name


def test_a_score_that_fails_is_skipped_and_the_next_taken(tmp_path):
    good = [c for c in STYLES[-1].list_candidates(corpus_root()) if c.number in (1, 2, 3, 4)]
    # music21 cannot write this tune as MIDI: its repeat signs are badly formed.
    broken = Candidate("ryansMammoth/MorganRattlerJig.abc", None, "broken tune", "traditional", "Broken")
    style = Style("test_style", 90.0, (73,), True, lambda root: [broken, *good])
    # Seed chosen so that the broken tune is among the first three candidates.
    seed = next(s for s in range(50) if broken in ordered_candidates(style, corpus_root(), s)[:3])
    info, skipped = build_corpus(tmp_path / "one", pieces_per_style=3, excerpt_seconds=2.0, seed=seed, workers=1,
                                 styles=[style])
    assert len(info) == 3 and broken.source not in set(info["source"])
    assert skipped["source"].tolist() == [broken.source]
    assert "MorganRattlerJig.abc: cannot be turned into MIDI" in skipped["error"].iloc[0]
    written = pd.read_csv(tmp_path / "one" / SKIPPED_NAME, dtype=str, keep_default_na=False)
    assert written["source"].tolist() == [broken.source]
    assert sorted(p.name for p in (tmp_path / "one" / "midi").iterdir()) == sorted(f"{i}.mid" for i in info["id"])


def test_refuses_bad_arguments_and_foreign_folders(tmp_path):
    with pytest.raises(CounterpointError, match=f"at least {DEMO_MIN_PIECES_PER_STYLE}"):
        build_corpus(tmp_path / "x", pieces_per_style=DEMO_MIN_PIECES_PER_STYLE - 1)
    with pytest.raises(CounterpointError, match="unknown demo style"):
        build_corpus(tmp_path / "x", styles=["polka"])
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(DatasetError, match="not an earlier demo corpus"):
        build_corpus(foreign, pieces_per_style=3, excerpt_seconds=1.0, styles=["bach_chorale"])
    assert (foreign / "thesis.tex").read_text() == "precious"


def test_tune_with_changing_metre_is_written_with_its_time_signatures(tmp_path):
    # music21's ABC reader shares one TimeSignature object between measures of this tune,
    # which its MIDI writer refuses unless each measure gets its own copy.
    chinese = next(s for s in STYLES if s.name == "chinese_folksong")
    tune = Candidate("essenFolksong/han2.abc", 670, "zhenzhen", "traditional", "Zhenzhen Chunfeng Chuiyuxiang")
    row = build_piece(chinese, tune, tmp_path, seconds=12.0, seed=0, sample_rate=22050)
    midi = load_pretty_midi(tmp_path / row["midi_filename"])
    metres = [(t.numerator, t.denominator) for t in midi.time_signature_changes]
    assert metres[:3] == [(3, 4), (4, 4), (3, 4)]
    assert midi.get_end_time() == pytest.approx(12.0, abs=1e-3)  # looped past the 7-bar tune
