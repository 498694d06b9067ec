from pathlib import Path

import pytest

from conftest import make_info_csv_dataset, write_midi
from counterpoint.data.manifest import load_manifest
from counterpoint.labels import label_at_depth
from counterpoint.errors import DatasetError


def _rows(n, **extra):
    return [{"id": f"t{i}", "audio_filename": f"audio/t{i}.wav", "midi_filename": f"midi/t{i}.mid",
             "style": "rock/indie" if i % 2 else "jazz/bop", **extra} for i in range(n)]


def test_info_csv_reads_tracks_labels_and_splits(tmp_path):
    rows = _rows(4)
    for row, split in zip(rows, ["train", "train", "validation", "test"]):
        row["split"] = split
    manifest = load_manifest(make_info_csv_dataset(tmp_path / "d", rows))
    assert [t.id for t in manifest] == ["t0", "t1", "t2", "t3"]
    assert all(t.is_paired for t in manifest)
    assert manifest.tracks[1].labels["style"] == "rock/indie"
    assert [t.split for t in manifest] == ["train", "train", "validation", "test"]
    assert manifest.problems == []
    assert label_at_depth(manifest.tracks[1].labels["style"], 1) == "rock"


def test_missing_required_column_is_a_dataset_error(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    (root / "info.csv").write_text("id,audio_filename\nx,a.wav\n")
    with pytest.raises(DatasetError, match="missing required column.*midi_filename"):
        load_manifest(root)


def test_duplicate_ids_missing_files_and_escaping_paths_are_reported_not_fatal(tmp_path):
    root = tmp_path / "d"
    rows = _rows(3)
    make_info_csv_dataset(root, rows)
    outside = write_midi(tmp_path / "outside.mid", [60, 62])
    rows += [dict(rows[0]),  # duplicate id t0
             {"id": "gone", "audio_filename": "audio/nothing.wav", "midi_filename": "", "style": "x"},
             {"id": "escape", "audio_filename": "", "midi_filename": "../outside.mid", "style": "x"},
             {"id": "half", "audio_filename": "audio/t1.wav", "midi_filename": "midi/missing.mid", "style": "x"}]
    make_info_csv_dataset(root, rows, files=False)
    assert outside.exists()
    manifest = load_manifest(root)
    ids = [t.id for t in manifest]
    assert "t0" not in ids and "gone" not in ids and "escape" not in ids
    assert ids == ["t1", "t2", "half"]
    half = manifest.by_id()["half"]
    assert half.audio_path is not None and half.midi_path is None  # one modality survives
    text = "\n".join(str(p) for p in manifest.problems)
    assert "duplicate id" in text and "t0" in text
    assert "outside the dataset folder" in text and "../outside.mid" in text
    assert "file not found" in text and "audio/nothing.wav" in text and "midi/missing.mid" in text


def test_class_folders_pair_by_stem_and_keep_singletons(tmp_path):
    root = tmp_path / "d"
    write_midi(root / "bach" / "a.mid", [60, 62])
    (root / "bach" / "a.wav").write_bytes(b"")  # pairing looks at names only
    write_midi(root / "bach" / "b.mid", [60])
    (root / "jazz").mkdir()
    (root / "jazz" / "c.flac").write_bytes(b"")
    (root / "jazz" / "notes.txt").write_text("ignored")
    manifest = load_manifest(root)
    tracks = manifest.by_id()
    assert set(tracks) == {"bach/a", "bach/b", "jazz/c"}
    assert tracks["bach/a"].is_paired and tracks["bach/b"].audio_path is None and tracks["jazz/c"].midi_path is None
    assert tracks["jazz/c"].labels == {"class": "jazz"}
    assert manifest.layout == "class folders"


def test_empty_folder_and_missing_folder_explain_the_layouts(tmp_path):
    with pytest.raises(DatasetError, match="no such dataset folder"):
        load_manifest(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="neither an info.csv nor class folders"):
        load_manifest(tmp_path / "empty")


def test_group_and_split_columns_appear_once_in_the_track_table(tmp_path):
    rows = [dict(r, group=f"work{i // 2}", split="train") for i, r in enumerate(_rows(4))]
    manifest = load_manifest(make_info_csv_dataset(tmp_path / "d", rows))
    frame = manifest.to_frame()
    assert list(frame.columns).count("group") == 1 and list(frame.columns).count("split") == 1
    assert frame["group"].tolist() == ["work0", "work0", "work1", "work1"]
    assert [t.group for t in manifest] == ["work0", "work0", "work1", "work1"]


def test_manifest_frame_round_trips_relative_paths(tmp_path):
    manifest = load_manifest(make_info_csv_dataset(tmp_path / "d", _rows(2)))
    frame = manifest.to_frame()
    assert list(frame.columns[:5]) == ["id", "audio_filename", "midi_filename", "split", "group"]
    assert frame.loc[0, "audio_filename"] == "audio/t0.wav" and frame.loc[1, "style"] == "rock/indie"
    assert isinstance(manifest.root, Path)


@pytest.mark.parametrize("token", ["NaN", "nan", "None", "N/A", "n/a", "null", "NULL", "NA", "", "  "])
def test_missing_value_tokens_are_missing_labels_groups_and_splits(tmp_path, token):
    rows = _rows(3)
    rows[1].update(style=token, group=token, split=token)
    rows[0].update(group="work0", split="train")
    rows[2].update(group="work1", split="test")
    manifest = load_manifest(make_info_csv_dataset(tmp_path / "d", rows))
    track = manifest.by_id()["t1"]
    assert track.labels["style"] == "" and track.group is None and track.split is None
    frame = manifest.to_frame()
    assert frame.loc[1, "style"] == "" and frame.loc[1, "group"] == "" and frame.loc[1, "split"] == ""
    assert manifest.problems == [] and manifest.notes == []
    assert manifest.by_id()["t0"].labels["style"] == "jazz/bop"  # real values are untouched


def test_missing_labels_are_left_out_of_the_analysis_after_embedding(tmp_path):
    from counterpoint.embed import embed_dataset
    from counterpoint.store import Store

    rows = _rows(6)
    for row, token in zip(rows[:3], ["NaN", "None", "N/A"]):
        row["style"] = token
    root = make_info_csv_dataset(tmp_path / "d", rows)
    embed_dataset(root, tmp_path / "s.h5", "symbolic-stats")
    labelled = Store(tmp_path / "s.h5").pooled("symbolic-stats").labelled("style")
    assert sorted(labelled.ids) == ["t3", "t4", "t5"] and set(labelled.labels("style")) == {"rock/indie", "jazz/bop"}


def _write_csv(root: Path, text: str) -> Path:
    make_info_csv_dataset(root, _rows(4))  # the files t0..t3
    (root / "info.csv").write_text(text)
    return root


def test_row_with_more_fields_than_the_header_is_a_problem_and_the_other_rows_stay(tmp_path):
    root = _write_csv(tmp_path / "d", "id,audio_filename,midi_filename,style\n"
                                      "t0,audio/t0.wav,extra,midi/t0.mid,jazz\n"      # first row: pandas shifted it into an index
                                      "t1,audio/t1.wav,midi/t1.mid,rock\n"
                                      "t2,audio/t2.wav,midi/t2.mid,rock,oops\n"       # later row: pandas refused the whole file
                                      "t3,audio/t3.wav,midi/t3.mid,jazz,,\n")         # empty trailing fields are harmless
    manifest = load_manifest(root)
    assert [t.id for t in manifest] == ["t1", "t3"]
    assert manifest.by_id()["t1"].labels == {"style": "rock"}
    by_line = {p.path: p for p in manifest.problems}
    assert set(by_line) == {"info.csv line 2", "info.csv line 4"}
    assert "5 fields but the header has 4" in by_line["info.csv line 2"].problem
    assert "comma" in by_line["info.csv line 4"].fix


def test_short_rows_are_padded_and_quoted_commas_stay_in_their_field(tmp_path):
    root = _write_csv(tmp_path / "d", 'id,audio_filename,midi_filename,style,composer\n'
                                      't0,audio/t0.wav,midi/t0.mid,"rock, indie",Bach\n'
                                      't1,audio/t1.wav,midi/t1.mid\n')
    manifest = load_manifest(root)
    assert manifest.by_id()["t0"].labels == {"style": "rock, indie", "composer": "Bach"}
    assert manifest.by_id()["t1"].labels == {"style": "", "composer": ""}
    assert manifest.problems == []


def test_duplicate_column_names_are_a_dataset_error(tmp_path):
    root = _write_csv(tmp_path / "d", "id,audio_filename,midi_filename,style,style\nt0,audio/t0.wav,midi/t0.mid,a,b\n")
    with pytest.raises(DatasetError, match="column 'style' appears twice"):
        load_manifest(root)


def test_common_split_aliases_are_understood(tmp_path):
    aliases = ["val", "Valid", "dev", "training", "eval", "TESTING", "validation", "train", "test"]
    rows = [dict(r, split=s) for r, s in zip(_rows(len(aliases)), aliases)]
    manifest = load_manifest(make_info_csv_dataset(tmp_path / "d", rows))
    assert [t.split for t in manifest] == ["validation", "validation", "validation", "train", "test", "test",
                                           "validation", "train", "test"]
    assert manifest.problems == [] and manifest.notes == []


def test_an_unrecognised_split_keeps_the_track_and_says_so(tmp_path):
    rows = [dict(r, split=s) for r, s in zip(_rows(2), ["train", "holdout"])]
    manifest = load_manifest(make_info_csv_dataset(tmp_path / "d", rows))
    assert [t.id for t in manifest] == ["t0", "t1"] and manifest.by_id()["t1"].split is None
    assert manifest.problems == []  # problems are what leaves a track out
    (note,) = manifest.notes
    assert note.track_id == "t1"
    assert "split 'holdout' not recognised: track kept without a given split" in str(note)


def test_embed_prints_an_unrecognised_split_as_a_note_not_as_skipped(tmp_path):
    from typer.testing import CliRunner

    from counterpoint.cli import app

    rows = [dict(r, split=s) for r, s in zip(_rows(2), ["train", "holdout"])]
    root = make_info_csv_dataset(tmp_path / "d", rows)
    result = CliRunner().invoke(app, ["embed", str(root), "-e", "symbolic-stats", "-o", str(tmp_path / "s.h5")])
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.output
    assert "not recognised: track kept" in result.output and "2 embedded" in result.output


def test_nested_class_folders_become_hierarchical_labels(tmp_path):
    root = tmp_path / "d"
    write_midi(root / "rock" / "indie" / "a.mid", [60, 62])
    write_midi(root / "rock" / "b.mid", [60])
    write_midi(root / "jazz" / "bop" / "fast" / "c.mid", [64])
    manifest = load_manifest(root)
    tracks = manifest.by_id()
    assert set(tracks) == {"rock/indie/a", "rock/b", "jazz/bop/fast/c"}
    assert tracks["rock/indie/a"].labels == {"class": "rock/indie"}
    assert tracks["jazz/bop/fast/c"].labels == {"class": "jazz/bop/fast"}
    assert label_at_depth(tracks["jazz/bop/fast/c"].labels["class"], 1) == "jazz"
    assert manifest.problems == []
    assert any("nested" in str(note) and "--depth" in str(note) for note in manifest.notes)


def test_files_at_the_top_of_a_class_folder_dataset_are_named_as_problems(tmp_path):
    root = tmp_path / "d"
    write_midi(root / "rock" / "a.mid", [60, 62])
    write_midi(root / "stray.mid", [60])
    (root / "README.txt").write_text("not music")
    manifest = load_manifest(root)
    assert [t.id for t in manifest] == ["rock/a"]
    (problem,) = manifest.problems
    assert problem.path == "stray.mid" and "not in a class folder" in problem.problem
    assert "ROOT/<class>/" in problem.fix or "info.csv" in problem.fix


def test_only_top_level_files_say_where_to_put_them(tmp_path):
    root = tmp_path / "d"
    write_midi(root / "a.mid", [60])
    write_midi(root / "b.mid", [62])
    with pytest.raises(DatasetError, match="2 audio/MIDI files but no class folders"):
        load_manifest(root)


@pytest.mark.parametrize("separator, name", [(";", "semicolons"), ("\t", "tabs")])
def test_a_manifest_separated_by_semicolons_or_tabs_says_so_and_how_to_fix_it(tmp_path, separator, name):
    (tmp_path / "a.mid").write_bytes(b"")
    (tmp_path / "info.csv").write_text(separator.join(["id", "audio_filename", "midi_filename", "genre"]) + "\n"
                                       + separator.join(["a", "", "a.mid", "0,5"]) + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=f"info.csv: the file is separated by {name}, not commas") as raised:
        load_manifest(tmp_path)
    assert "field delimiter ','" in str(raised.value) and f"sep={separator!r}" in str(raised.value)


def test_numeric_labels_and_groups_are_read_in_one_spelling(tmp_path):
    rows = [{"id": f"t{i}", "audio_filename": "", "midi_filename": f"m{i}.mid", "year": year, "work": work,
             "genre": genre}
            for i, (year, work, genre) in enumerate([("1990", "4", "4"), ("1990.0", "4.0", "x"), ("", "04", "4.0")])]
    manifest = load_manifest(make_info_csv_dataset(tmp_path / "d", rows), group_column="work")
    assert [t.labels["year"] for t in manifest] == ["1990", "1990", ""]
    assert [t.group for t in manifest] == ["4", "4.0", "04"]  # a code with leading zeros keeps the column text
    assert [t.labels["genre"] for t in manifest] == ["4", "x", "4.0"]  # not every value a number: text as written
