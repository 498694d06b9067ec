"""Dataset adapters on small real samples of each layout (tests/fixtures/adapters), the manifest's
--csv / --id-column / --id-from options, and the warnings of `dataset check`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from conftest import make_class_folders, make_info_csv_dataset, write_midi, write_tone
from counterpoint.cli import app
from counterpoint.data.adapters import import_dataset, read_source
from counterpoint.data.manifest import load_manifest
from counterpoint.data.tolerance import DurationTolerance
from counterpoint.data.validation import check_dataset, write_resplit
from counterpoint.errors import DatasetError

FIXTURES = Path(__file__).parent / "fixtures" / "adapters"


def _import(kind: str, source: str, tmp_path: Path, **options):
    return import_dataset(kind, FIXTURES / source, tmp_path / "out", **options)


def test_groove_groups_by_drummer_keeps_the_style_hierarchy_and_its_split(tmp_path):
    result = _import("groove", "groove", tmp_path)
    tracks = result.manifest.by_id()
    assert sorted(tracks) == ["drummer1/eval_session/1", "drummer1/eval_session/10"]
    first = tracks["drummer1/eval_session/1"]
    assert first.is_paired and first.group == "drummer1" and first.split == "test"
    assert first.labels["style"] == "funk/groove1" and first.labels["bpm"] == "138"
    assert tracks["drummer1/eval_session/10"].audio_path is None  # its audio is not in the sample
    assert {p.track_id for p in result.problems} == {"drummer1/eval_session/10", "drummer1/eval_session/2"}


def test_maestro_json_and_csv_give_composer_year_title_group_and_split(tmp_path):
    (track,) = _import("maestro", "maestro", tmp_path).manifest.tracks
    assert track.labels["composer"] == "Alban Berg" and track.labels["year"] == "2018"
    assert track.group == "Sonata Op. 1" and track.split == "train" and track.is_paired
    source = tmp_path / "v3"
    shutil.copytree(FIXTURES / "maestro", source)
    table = pd.read_json(source / "maestro-v2.0.0.json")
    table.assign(split="validation").to_csv(source / "maestro-v3.0.0.csv", index=False)  # the newest version wins
    (track,) = import_dataset("maestro", source, tmp_path / "out3").manifest.tracks
    assert track.split == "validation" and track.labels["composer"] == "Alban Berg"


@pytest.mark.parametrize("kind, source, track_id, split, mix", [
    ("babyslakh", "slakh/babyslakh_16k", "Track00001", None, "mix.wav"),
    ("slakh", "slakh/slakh2100_flac_redux", "train/Track00001", "train", "mix.flac"),
])
def test_slakh_pairs_the_mix_with_all_src_and_labels_instrument_classes(tmp_path, kind, source, track_id, split, mix):
    (track,) = _import(kind, source, tmp_path).manifest.tracks
    assert track.id == track_id and track.split == split
    assert track.audio_path.name == mix and track.midi_path.name == "all_src.mid"
    assert track.labels["instruments"].split("+")[:4] == ["Bass", "Drums", "Guitar", "Organ"]
    assert track.labels["has_piano"] == "yes" and track.labels["n_stems"] == "11"
    assert track.group == "TROOHTB128F931F9DF"  # the MSD id of the Lakh MIDI it was rendered from


def test_gtzan_reads_genre_folders_as_audio_only_tracks(tmp_path):
    manifest = _import("gtzan", "gtzan/gtzan_genre", tmp_path).manifest
    assert [(t.id, t.labels["genre"], t.midi_path) for t in manifest] == [
        ("country.00000", "country", None), ("hiphop.00000", "hiphop", None)]


def test_lakh_matched_pairs_the_best_scoring_midi_with_audio_named_by_msd_id(tmp_path):
    tracks = _import("lakh-matched", "lakh", tmp_path).manifest.by_id()
    paired = tracks["TRRRUFD12903CD7092"]
    assert paired.is_paired and paired.labels["midi_md5"] == "1d9d16a9da90c090809c153754823c2b"
    assert tracks["TRAAAGR128F425B14B"].audio_path is None and tracks["TRAAAGR128F425B14B"].group == "TRAAAGR128F425B14B"


def test_mirdata_loader_reads_its_index_and_labels(tmp_path):
    index = FIXTURES / "gtzan" / "mirdata_gtzan_genre_index_sample.json"
    manifest = _import("mirdata:gtzan_genre", "gtzan", tmp_path, index=index).manifest
    assert {t.id: t.labels["genre"] for t in manifest} == {"country.00000": "country", "hiphop.00000": "hip-hop"}


def test_mirdata_without_its_index_says_how_to_fetch_it():
    with pytest.raises(DatasetError, match=r"index .* is not on this machine.*download\(partial_download=\['index'\]\)"):
        read_source("mirdata:gtzan_genre", FIXTURES / "gtzan", mirdata_version="test")
    with pytest.raises(DatasetError, match="mirdata has no loader 'nope'.*gtzan_genre"):
        read_source("mirdata:nope", FIXTURES / "gtzan")


def test_files_are_linked_relatively_unless_copied(tmp_path):
    source = shutil.copytree(FIXTURES / "maestro", tmp_path / "maestro")
    linked = import_dataset("maestro", source, tmp_path / "out").manifest.tracks[0].audio_path
    assert linked.is_symlink() and not os.path.isabs(os.readlink(linked))  # source and output share a folder
    assert linked.resolve() == (source / "2018" / linked.name).resolve()
    copied = import_dataset("maestro", FIXTURES / "maestro", tmp_path / "copied", copy=True).manifest.tracks[0].audio_path
    assert copied.is_file() and not copied.is_symlink()


def test_wrong_layout_names_the_expected_layout_and_the_kind_it_looks_like(tmp_path):
    with pytest.raises(DatasetError, match=r"not a gtzan layout — its folders are 2018.*Expected: genre folders"
                                           r".*looks like maestro: try `counterpoint dataset import maestro"):
        _import("gtzan", "maestro", tmp_path)
    with pytest.raises(DatasetError, match="not a maestro layout — there is no maestro-v.*Expected: SOURCE/maestro-v"):
        _import("maestro", "slakh/babyslakh_16k", tmp_path)
    with pytest.raises(DatasetError, match="unknown dataset kind 'nsynth'.*groove, maestro"):
        _import("nsynth", "maestro", tmp_path)


def test_an_output_folder_that_holds_files_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not an empty folder"):
        _import("maestro", "maestro", tmp_path)


def test_cli_import_then_check(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["dataset", "import", "babyslakh", str(FIXTURES / "slakh" / "babyslakh_16k"), str(tmp_path / "bs")])
    assert result.exit_code == 0, result.output
    assert "1 tracks (1 paired) from babyslakh" in result.output
    result = runner.invoke(app, ["dataset", "check", str(tmp_path / "bs")])
    assert result.exit_code == 0 and "no problems found" in result.output, result.output


# ---- manifest options -----------------------------------------------------------------------------

def test_csv_with_another_name_and_an_id_column(tmp_path):
    root = make_info_csv_dataset(tmp_path / "d", [{"track": "a", "audio_filename": "a.wav", "midi_filename": "a.mid"}])
    (root / "info.csv").rename(root / "tracks.csv")
    with pytest.raises(DatasetError, match="missing required column.*id.*--id-column NAME.*--id-from stem"):
        load_manifest(root, csv="tracks.csv")
    manifest = load_manifest(root, csv="tracks.csv", id_column="track")
    assert [t.id for t in manifest] == ["a"] and manifest.layout == "tracks.csv" and "track" not in manifest.label_columns
    with pytest.raises(DatasetError, match="no such manifest file"):
        load_manifest(root, csv="missing.csv")


def test_id_from_stem_uses_the_audio_file_name_else_the_midi(tmp_path):
    root = make_info_csv_dataset(tmp_path / "d", [{"audio_filename": "x/one.wav", "midi_filename": "x/one.mid"},
                                                  {"audio_filename": "", "midi_filename": "x/two.mid"}])
    assert [t.id for t in load_manifest(root, id_from="stem")] == ["one", "two"]
    with pytest.raises(DatasetError, match="id_from='name' is not understood"):
        load_manifest(root, id_from="name")


# ---- dataset check warnings ----------------------------------------------------------------------

def test_check_warns_when_paired_durations_disagree(tmp_path):
    root = tmp_path / "d"
    write_tone(root / "long.wav", 220.0, seconds=8.0, sample_rate=8000)
    write_midi(root / "long.mid", [60, 62, 64, 65])  # 1 s of notes
    write_tone(root / "same.wav", 220.0, seconds=1.0, sample_rate=8000)
    write_midi(root / "same.mid", [60, 62, 64, 65])
    pd.DataFrame({"id": ["long", "same"], "audio_filename": ["long.wav", "same.wav"],
                  "midi_filename": ["long.mid", "same.mid"]}).to_csv(root / "info.csv", index=False)
    (warning,) = check_dataset(load_manifest(root)).warnings
    assert warning.track_id == "long" and "audio lasts 8.0 s but the MIDI 1.0 s" in warning.problem
    assert check_dataset(load_manifest(root), tolerance=DurationTolerance(seconds=10)).warnings == []


def test_check_warns_when_a_group_straddles_the_given_split_and_resplit_fixes_it(tmp_path):
    rows = [{"id": f"t{i}", "audio_filename": "", "midi_filename": f"t{i}.mid", "group": f"work{i // 2}",
             "split": ["train", "test"][i % 2]} for i in range(12)]
    root = make_info_csv_dataset(tmp_path / "d", rows)
    (warning,) = check_dataset(load_manifest(root), open_files=False).warnings
    assert "puts 6 group(s) on more than one side" in warning.problem and "--resplit" in warning.fix
    written = write_resplit(load_manifest(root), seed=0)
    resplit = load_manifest(root, csv=written.path.name)
    assert check_dataset(resplit, open_files=False).warnings == []
    assert sum(written.split_counts.values()) == 12 and resplit.tracks[1].labels["given_split"] == "test"


def test_check_warns_about_metadata_a_class_folder_dataset_ignored(tmp_path):
    root = make_class_folders(tmp_path / "d", per_class=1, seconds=0.5)
    assert check_dataset(load_manifest(root), open_files=False).warnings == []
    shutil.copy(FIXTURES / "maestro" / "maestro-v2.0.0.json", root)
    (warning,) = check_dataset(load_manifest(root), open_files=False).warnings
    assert warning.path == "maestro-v2.0.0.json" and "dataset import maestro" in warning.fix and "--csv" in warning.fix
