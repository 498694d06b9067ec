from pathlib import Path

import pytest

from conftest import make_info_csv_dataset, write_midi
from counterpoint.data.manifest import label_at_depth, load_manifest
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
