import h5py
import numpy as np
import pandas as pd
import pytest

import pitch_class_encoder  # noqa: F401
from conftest import make_info_csv_dataset
from counterpoint.embed import embed_dataset
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import StoreError
from counterpoint.export import export_embeddings
from counterpoint.legacy import export_legacy, import_legacy
from counterpoint.store import EncoderMeta, Store, StoreWriter


@pytest.fixture
def store_path(class_dataset, tmp_path):
    out = tmp_path / "s.h5"
    embed_dataset(class_dataset, out, [build_encoder("test-pitch-class")])
    return out


def test_npz_export_has_ids_matrix_labels_and_feature_names(store_path, tmp_path):
    out = export_embeddings(store_path, "test-pitch-class", tmp_path / "e.npz")
    data = np.load(out, allow_pickle=False)
    matrix = Store(store_path).pooled("test-pitch-class")
    np.testing.assert_array_equal(data["X"], matrix.X)
    assert list(data["ids"]) == list(matrix.obs["id"])
    assert list(data["labels"]["class"]) == list(matrix.obs["class"])
    assert list(data["feature_names"]) == [f"pc{i}" for i in range(12)]


def test_parquet_export_round_trips(store_path, tmp_path):
    out = export_embeddings(store_path, "test-pitch-class", tmp_path / "e.parquet")
    frame = pd.read_parquet(out)
    assert frame["id"].tolist() == Store(store_path).pooled("test-pitch-class").obs["id"].tolist()
    assert "pc0" in frame.columns and "class" in frame.columns
    with pytest.raises(StoreError, match=r"\.npz or \.parquet"):
        export_embeddings(store_path, "test-pitch-class", tmp_path / "e.csv")


def _write_legacy(path):
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as handle:
        for section, dim in (("audio_embeddings", 5), ("symbolic_embeddings", 3)):
            for rec, genre in (("rec1", "rock"), ("rec2", "jazz")):
                group = handle.create_group(f"{section}/{rec}")
                sequence = rng.normal(size=(4, dim)).astype(np.float32)
                group["sequence"] = sequence
                group["average"] = sequence.mean(axis=0)
                group["genre"] = genre
                group.attrs["drummer"] = "d1" if rec == "rec1" else "d2"


def test_legacy_import_then_export_preserves_numbers_and_metadata(tmp_path):
    source = tmp_path / "old.h5"
    _write_legacy(source)
    store = import_legacy(source, tmp_path / "new.h5", hop_seconds=0.5)
    assert sorted(store.encoder_specs) == ["legacy-audio", "legacy-symbolic"]
    audio = store.pooled("legacy-audio")
    assert audio.X.shape == (2, 5) and set(audio.obs["genre"]) == {"rock", "jazz"}
    assert set(audio.obs["drummer"]) == {"d1", "d2"}
    frames = store.frames("legacy-symbolic")
    np.testing.assert_allclose(frames.timestamps[0], [0, 0.5, 1.0, 1.5])
    back = export_legacy(tmp_path / "new.h5", tmp_path / "back.h5", audio_encoder="legacy-audio",
                         symbolic_encoder="legacy-symbolic")
    with h5py.File(source) as a, h5py.File(back) as b:
        for section in ("audio_embeddings", "symbolic_embeddings"):
            for rec in ("rec1", "rec2"):
                np.testing.assert_array_equal(a[section][rec]["sequence"][()], b[section][rec]["sequence"][()])
                np.testing.assert_array_equal(a[section][rec]["average"][()], b[section][rec]["average"][()])
                assert b[section][rec]["genre"][()].decode() == a[section][rec]["genre"][()].decode()


def test_legacy_import_refuses_other_layouts(tmp_path):
    other = tmp_path / "x.h5"
    with h5py.File(other, "w") as handle:
        handle["data"] = [1, 2]
    with pytest.raises(StoreError, match="not the legacy layout"):
        import_legacy(other, tmp_path / "y.h5")


@pytest.fixture
def store_with_an_empty_encoder(tmp_path):
    out = tmp_path / "empty.h5"
    with StoreWriter(out) as writer:
        for spec, modality in (("audio-stats", "audio"), ("symbolic-stats", "symbolic")):
            writer.begin_encoder(EncoderMeta(spec, spec, modality, 4, {"name": spec}))
    return out


@pytest.mark.parametrize("name", ["e.npz", "e.parquet"])
def test_export_of_an_encoder_without_tracks_is_refused_and_writes_nothing(store_with_an_empty_encoder, tmp_path, name):
    with pytest.raises(StoreError, match=r"encoder audio-stats holds no tracks — nothing to export.*--failures"):
        export_embeddings(store_with_an_empty_encoder, "audio-stats", tmp_path / name)
    assert not (tmp_path / name).exists()


def test_legacy_export_of_empty_encoders_and_import_of_an_empty_file_are_refused(store_with_an_empty_encoder, tmp_path):
    with pytest.raises(StoreError, match="encoder audio-stats holds no tracks"):
        export_legacy(store_with_an_empty_encoder, tmp_path / "old.h5", audio_encoder="audio-stats",
                      symbolic_encoder="symbolic-stats")
    assert not (tmp_path / "old.h5").exists()
    empty = tmp_path / "empty_legacy.h5"
    with h5py.File(empty, "w") as handle:
        handle.create_group("audio_embeddings")
        handle.create_group("symbolic_embeddings")
    with pytest.raises(StoreError, match="hold no recordings — nothing to import"):
        import_legacy(empty, tmp_path / "new.h5")
    assert not (tmp_path / "new.h5").exists()


def test_numeric_metadata_exports_as_numbers_codes_and_text_stay_text(tmp_path):
    rows = [{"id": f"t{i}", "audio_filename": "", "midi_filename": f"m{i}.mid", "year": str(1990 + i),
             "tempo": "" if i == 2 else f"{100 + i}.5", "code": f"00{i}", "style": "rock" if i % 2 else "jazz"}
            for i in range(4)]
    root = make_info_csv_dataset(tmp_path / "d", rows)
    store_path = tmp_path / "s.h5"
    embed_dataset(root, store_path, [build_encoder("test-pitch-class")])
    assert Store(store_path).tracks()["year"].tolist() == ["1990", "1991", "1992", "1993"]  # the store keeps text
    labels = np.load(export_embeddings(store_path, "test-pitch-class", tmp_path / "e.npz"))["labels"]
    assert labels.dtype["year"] == np.int64 and labels["year"].tolist() == [1990, 1991, 1992, 1993]
    assert labels.dtype["tempo"] == np.float64 and np.isnan(labels["tempo"][2]) and labels["tempo"][0] == 100.5
    assert labels["code"].tolist() == ["000", "001", "002", "003"] and labels["style"][0] == "jazz"
    frame = pd.read_parquet(export_embeddings(store_path, "test-pitch-class", tmp_path / "e.parquet"))
    assert frame["year"].dtype == np.int64 and frame["tempo"].dtype == np.float64
    assert frame["code"].tolist() == ["000", "001", "002", "003"] and frame["id"].tolist() == ["t0", "t1", "t2", "t3"]


def test_4_and_4_0_are_one_class_for_probes_and_export_and_codes_with_leading_zeros_stay_text(tmp_path):
    """A numeric label column is read in one spelling: probes saw "4" and "4.0" as two classes while
    export turned both into the number 4."""
    from counterpoint.probes.run import probe

    meters = ["4", "4.0", "3", "3.00", "+4", "3e0"] * 3
    rows = [{"id": f"t{i}", "audio_filename": "", "midi_filename": f"m{i}.mid", "meter": meter,
             "code": ["04", "4"][i % 2], "ratio": ["0.50", ".5", "1.25"][i % 3]} for i, meter in enumerate(meters)]
    root = make_info_csv_dataset(tmp_path / "d", rows)
    store_path = tmp_path / "s.h5"
    embed_dataset(root, store_path, [build_encoder("test-pitch-class")])
    matrix = Store(store_path).pooled("test-pitch-class")
    assert matrix.labels("meter").tolist() == ["4", "4", "3", "3", "4", "3"] * 3
    assert set(matrix.labels("code")) == {"04", "4"}  # a code with leading zeros: text as written
    assert set(matrix.labels("ratio")) == {"0.5", "1.25"}
    assert probe(store_path, "test-pitch-class", label="meter").classes == ["3", "4"]
    labels = np.load(export_embeddings(store_path, "test-pitch-class", tmp_path / "e.npz"))["labels"]
    assert labels.dtype["meter"] == np.int64 and set(labels["meter"].tolist()) == {3, 4}
    assert [str(v) for v in labels["meter"]] == matrix.labels("meter").tolist()
    assert labels["code"].tolist() == ["04", "4"] * 9


def test_outputs_never_overwrite_a_file_of_another_kind(store_path, tmp_path):
    notes = tmp_path / "notes.npz"
    notes.write_text("my notes")
    with pytest.raises(StoreError, match="exists and is not a .npz file"):
        export_embeddings(store_path, "test-pitch-class", notes)
    assert notes.read_text() == "my notes"
    again = export_embeddings(store_path, "test-pitch-class", tmp_path / "e.npz")
    export_embeddings(store_path, "test-pitch-class", again)  # an earlier export of the same kind is replaced
    with pytest.raises(StoreError, match="exists and is not a .parquet file"):
        export_embeddings(store_path, "test-pitch-class", again.rename(tmp_path / "e.parquet"))
    (tmp_path / "folder.npz").mkdir()
    with pytest.raises(StoreError, match="is a folder"):
        export_embeddings(store_path, "test-pitch-class", tmp_path / "folder.npz")


def test_legacy_outputs_replace_only_legacy_files(store_path, tmp_path):
    size = store_path.stat().st_size
    with pytest.raises(StoreError, match="exists and is not a legacy-layout HDF5 file"):
        export_legacy(store_path, store_path, symbolic_encoder="test-pitch-class")  # onto the store itself
    assert store_path.stat().st_size == size and len(Store(store_path).pooled("test-pitch-class")) == 8
    old = export_legacy(store_path, tmp_path / "old.h5", symbolic_encoder="test-pitch-class")
    export_legacy(store_path, old, symbolic_encoder="test-pitch-class")  # an earlier legacy export is replaced
    with pytest.raises(StoreError, match="exists and is not a Counterpoint store"):
        import_legacy(old, old)  # the store is only ever added to or created
    with h5py.File(old) as handle:
        assert len(handle["symbolic_embeddings"]) == 8
    imported = import_legacy(old, store_path)  # into an existing store: added as another encoder
    assert sorted(imported.encoder_specs) == ["legacy-symbolic", "test-pitch-class"]
