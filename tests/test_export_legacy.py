import h5py
import numpy as np
import pandas as pd
import pytest

import pitch_class_encoder  # noqa: F401
from counterpoint.embed import embed_dataset
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import StoreError
from counterpoint.export import export_embeddings
from counterpoint.legacy import export_legacy, import_legacy
from counterpoint.store import Store


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
    back = export_legacy(tmp_path / "new.h5", tmp_path / "back.h5", "legacy-audio", "legacy-symbolic")
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
