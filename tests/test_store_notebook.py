"""The store and the matrix from Python: a short repr of the store and its encoders, the encoder table,
and the matrix as a pandas DataFrame and an AnnData, on real HDF5 stores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

import pitch_class_encoder  # noqa: F401  (registers test-pitch-class)
from counterpoint.embed import embed_dataset
from counterpoint.encoders.base import Embedding
from counterpoint.encoders.registry import build_encoder
from counterpoint.errors import StoreError
from counterpoint.matrix import EmbeddingMatrix
from counterpoint.store import EncoderMeta, Store, StoreWriter, encoder_key

SPEC = "test-pitch-class:fail_on=high/piece1"
PITCH_NAMES = [f"pc{i}" for i in range(12)]


@pytest.fixture
def store_path(class_dataset, tmp_path) -> Path:
    """8 tracks (4 low, 4 high) of which high/piece1 fails: 7 embedded, 1 failure."""
    out = tmp_path / "s.h5"
    report = embed_dataset(class_dataset, out, [build_encoder(SPEC)])
    assert report.runs[0].embedded == 7 and len(report.runs[0].failed) == 1
    return out


def _chunk_offset(path: Path, dataset: str) -> int:
    with h5py.File(path, "r") as handle:
        return handle["encoders"][encoder_key(SPEC)][dataset].id.get_chunk_info(0).byte_offset


def _damage(path: Path, dataset: str) -> None:
    """Overwrite bytes of the first chunk of an encoder dataset: reading it is then a checksum error."""
    with open(path, "r+b") as handle:
        handle.seek(_chunk_offset(path, dataset) + 8)
        handle.write(b"\x7f" * 16)


def _rows(n: int, dim: int, seed: int) -> list[Embedding]:
    """``n`` embeddings of ``dim`` numbers, two frames each, drawn from a seeded generator (float32)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        frames = rng.normal(size=(2, dim)).astype(np.float32)
        out.append(Embedding(frames, np.array([0.0, 0.5]), frames.mean(axis=0), 1.0))
    return out


def _tracks(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"id": ids, "audio_filename": [f"{i}.wav" for i in ids], "midi_filename": [""] * len(ids),
                         "split": ["train", "test"] * (len(ids) // 2), "group": [""] * len(ids),
                         "style": ["jazz/bebop", "folk"] * (len(ids) // 2)})


def _meta(spec: str, dim: int, **extra) -> EncoderMeta:
    return EncoderMeta(spec=spec, name=spec.split(":")[0], modality="audio", dim=dim,
                       fingerprint={"name": spec, "weights": None, "params": {"dim": dim}}, **extra)


# --------------------------------------------------------------------------------------------------
# Store.__repr__, EncoderRecord's repr and Store.encoder_table()


def test_the_store_repr_is_one_short_block_read_from_metadata_only(store_path):
    # With the first chunks of pooled and frames damaged, a reader of embeddings fails; the repr does not read them.
    _damage(store_path, "pooled")
    _damage(store_path, "frames")
    store = Store(store_path)
    with pytest.raises(StoreError, match="pooled is damaged"):
        store.pooled(SPEC)
    text = repr(store)
    lines = text.splitlines()
    assert lines[0] == f"Store('{store_path}'): 8 tracks, 1 encoder, 1 failure"
    row = lines[2].split()
    assert row == [SPEC, "symbolic", "12", "7", str(store.encoder(SPEC).n_frames), "12"]
    assert "pc0" not in text and "pc11" not in text and len(lines) == 3  # feature names counted, never listed
    page = store._repr_html_()
    assert "<table" in page and f"<td>{SPEC}</td>" in page and "pc3" not in page and "8 tracks" in page
    store_path.unlink()  # a store removed after it was opened: its repr says so instead of raising
    assert repr(store).startswith(f"Store('{store_path}'): cannot be read now — {store_path}: cannot be read as a store")


def test_the_encoder_record_repr_counts_feature_names(store_path):
    record = Store(store_path).encoder(SPEC)
    assert repr(record) == (f"EncoderRecord(spec='{SPEC}', modality='symbolic', dim=12, tracks=7, "
                            f"frames={record.n_frames}, feature_names=<12 names>)")
    assert record.feature_names == PITCH_NAMES  # the record still holds them


def test_the_encoder_table_has_one_row_per_encoder_and_counts_a_filtered_store(store_path):
    store = Store(store_path)
    table = store.encoder_table()
    assert table.to_dict("records") == [{"encoder": SPEC, "modality": "symbolic", "dim": 12, "tracks": 7,
                                         "frames": store.encoder(SPEC).n_frames, "layer": None, "feature_names": 12}]
    low = store.where("class", "low")
    frames = low.frames(SPEC)
    filtered = low.encoder_table()
    assert filtered.loc[0, "tracks"] == len(frames) == 4
    assert filtered.loc[0, "frames"] == sum(len(f) for f in frames.frames) < table.loc[0, "frames"]
    high = store.where("class", "high")  # high/piece1 failed: 3 embedded of 4 tracks, its failure counted
    assert high.encoder_table().loc[0, "tracks"] == len(high.pooled(SPEC)) == 3
    text = repr(high)
    assert text.splitlines()[0] == f"Store('{store_path}'): 4 tracks, 1 encoder, 1 failure"
    assert text.splitlines()[1] == "  where class=high: 4 of 8 tracks"
    assert repr(low).splitlines()[0].endswith("4 tracks, 1 encoder, 0 failures")


def test_an_empty_store_and_a_store_being_written(tmp_path):
    path = tmp_path / "new.h5"
    with StoreWriter(path):
        pass
    empty = Store(path)
    assert repr(empty) == f"Store('{path}'): 0 tracks, 0 encoders, 0 failures\n  no encoders yet"
    assert list(empty.encoder_table().columns) == ["encoder", "modality", "dim", "tracks", "frames", "layer",
                                                   "feature_names"]
    assert len(empty.encoder_table()) == 0 and "no encoders yet" in empty._repr_html_()

    ids = [f"t{i}" for i in range(4)]
    with StoreWriter(path) as writer:
        writer.set_tracks(_tracks(ids))
        writer.begin_encoder(_meta("toy", 3))  # commits: the encoder is in the file, with no rows yet
        writer.add_embeddings("toy", ids, _rows(4, 3, seed=0), [0.1] * 4)  # journaled, not committed
        during = repr(Store(path))
        assert during.splitlines()[0] == f"Store('{path}'): 4 tracks, 1 encoder, 0 failures"
        assert during.splitlines()[2].split() == ["toy", "audio", "3", "0", "0"]  # no feature_names column: none named
        assert during.splitlines()[3] == ("  1 journal batch not yet committed: a writer is running, or was stopped "
                                          "(the next one folds them in)")
    after = repr(Store(path)).splitlines()
    assert after[2].split() == ["toy", "audio", "3", "4", "8"] and len(after) == 3


def test_layers_of_one_encoder_are_shown_once_and_counted(tmp_path):
    path = tmp_path / "layers.h5"
    ids = ["a", "b"]
    with StoreWriter(path) as writer:
        writer.set_tracks(_tracks(ids))
        for index, layer in enumerate(["first", "second", "third"]):
            spec = "toy" if index == 0 else f"toy:layer={layer}"
            writer.begin_encoder(_meta(spec, 4, layer=layer, layer_index=index, base_spec="toy"))
            writer.add_embeddings(spec, ids, _rows(2, 4, seed=index), [0.1, 0.1])
    store = Store(path)
    assert repr(store.encoder("toy:layer=second")) == ("EncoderRecord(spec='toy:layer=second', modality='audio', dim=4, "
                                                       "tracks=2, frames=4, layer='second')")
    lines = repr(store).splitlines()
    assert lines[2].split() == ["toy", "audio", "4", "2", "4", "first"]
    assert lines[3] == "  2 more layer entries: Store.all_encoders, Store.layers(BASE_SPEC)"
    assert store.encoder_table(all_layers=True)["layer"].tolist() == ["first", "second", "third"]


# --------------------------------------------------------------------------------------------------
# EmbeddingMatrix.to_frame()


def _bits(values: np.ndarray) -> np.ndarray:
    """The float32 numbers as their bit patterns, so that equality is bitwise (NaN and -0.0 included)."""
    return np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)


def test_to_frame_holds_the_exact_numbers_ids_and_metadata(store_path):
    matrix = Store(store_path).pooled(SPEC)
    frame = matrix.to_frame()
    assert frame.index.name == "id" and frame.index.tolist() == matrix.ids.tolist()
    assert frame.columns.tolist() == PITCH_NAMES + ["audio_filename", "midi_filename", "split", "group", "class"]
    features = frame[PITCH_NAMES]
    assert (features.dtypes == np.float32).all()
    assert np.array_equal(_bits(features.to_numpy()), _bits(matrix.X))
    metadata = matrix.obs.drop(columns="id")
    assert frame[metadata.columns].reset_index(drop=True).equals(metadata)
    assert set(frame["class"]) == {"low", "high"} and "high/piece1" not in frame.index
    assert matrix.to_frame(metadata=False).columns.tolist() == PITCH_NAMES
    columns = "id, audio_filename, midi_filename, split, group, class"
    assert repr(matrix) == (f"EmbeddingMatrix(spec='{SPEC}', modality='symbolic', X=7 tracks × 12 float32, "
                            f"obs columns: {columns})")  # never the numbers
    frames = Store(store_path).frames(SPEC)
    assert repr(frames) == (f"FrameSequences(spec='{SPEC}', modality='symbolic', 7 tracks, "
                            f"{sum(len(f) for f in frames.frames)} frames × 12, obs columns: {columns})")


def test_to_frame_of_a_filtered_store_keeps_its_rows_in_order(store_path):
    everything = Store(store_path).pooled(SPEC)
    low = Store(store_path).where("class", "low").pooled(SPEC)
    frame = low.to_frame()
    is_low = np.array([i.startswith("low/") for i in everything.ids])
    assert frame.index.tolist() == everything.ids[is_low].tolist() and len(frame) == 4
    assert np.array_equal(_bits(frame[PITCH_NAMES].to_numpy()), _bits(everything.X[is_low]))
    assert set(frame["class"]) == {"low"}


def test_to_frame_names_unnamed_features_by_position_and_refuses_a_clash(tmp_path):
    path = tmp_path / "toy.h5"
    ids = ["t0", "t1", "t2", "t3"]
    with StoreWriter(path) as writer:
        writer.set_tracks(_tracks(ids))
        writer.begin_encoder(_meta("toy", 3))
        writer.add_embeddings("toy", ids, _rows(4, 3, seed=1), [0.1] * 4)
    matrix = Store(path).pooled("toy")
    assert matrix.feature_names is None and matrix.column_names == ["dim_0", "dim_1", "dim_2"]
    frame = matrix.to_frame()
    assert frame.columns.tolist()[:3] == ["dim_0", "dim_1", "dim_2"]
    assert np.array_equal(_bits(frame[["dim_0", "dim_1", "dim_2"]].to_numpy()), _bits(matrix.X))
    assert frame["style"].tolist() == ["jazz/bebop", "folk", "jazz/bebop", "folk"]
    clash = EmbeddingMatrix("named", "audio", matrix.X, matrix.obs, ["style", "tempo", "energy"])
    with pytest.raises(StoreError, match=r"named: the track table's column 'style' is also the name of a feature column"):
        clash.to_frame()
    assert clash.to_frame(metadata=False).columns.tolist() == ["style", "tempo", "energy"]


# --------------------------------------------------------------------------------------------------
# EmbeddingMatrix.to_anndata() (the optional extra `anndata`)


def test_to_anndata_round_trips_numbers_ids_metadata_and_the_encoder(store_path, tmp_path):
    anndata = pytest.importorskip("anndata", reason="the optional extra anndata is not installed")
    store = Store(store_path)
    for matrix in (store.pooled(SPEC), store.where("class", "high").pooled(SPEC)):
        data = matrix.to_anndata()
        assert data.X.dtype == np.float32 and np.array_equal(_bits(data.X), _bits(matrix.X))
        assert data.obs_names.tolist() == matrix.ids.tolist() and data.var_names.tolist() == PITCH_NAMES
        assert data.obs.columns.tolist() == ["audio_filename", "midi_filename", "split", "group", "class"]
        assert data.obs["class"].tolist() == matrix.obs["class"].tolist()
        assert data.uns["spec"] == SPEC and data.uns["modality"] == "symbolic"
        assert json.loads(data.uns["fingerprint"]) == store.encoder(SPEC).fingerprint
        # Written to .h5ad and read back: the same bits, rows, names and encoder.
        data.write_h5ad(tmp_path / "m.h5ad")
        back = anndata.read_h5ad(tmp_path / "m.h5ad")
        assert np.array_equal(_bits(back.X), _bits(matrix.X)) and back.obs_names.tolist() == matrix.ids.tolist()
        assert back.obs["class"].astype(str).tolist() == matrix.obs["class"].tolist()
        assert back.var_names.tolist() == PITCH_NAMES and back.uns["fingerprint"] == data.uns["fingerprint"]
    assert set(store.where("class", "high").pooled(SPEC).to_anndata().obs["class"]) == {"high"}


def test_to_anndata_of_an_encoder_without_feature_names(tmp_path):
    pytest.importorskip("anndata", reason="the optional extra anndata is not installed")
    path = tmp_path / "toy.h5"
    ids = ["t0", "t1"]
    with StoreWriter(path) as writer:
        writer.set_tracks(_tracks(ids))
        writer.begin_encoder(_meta("toy", 5))
        writer.add_embeddings("toy", ids, _rows(2, 5, seed=2), [0.1] * 2)
    matrix = Store(path).pooled("toy")
    data = matrix.to_anndata()
    assert data.var_names.tolist() == [f"dim_{i}" for i in range(5)]
    assert np.array_equal(_bits(data.X), _bits(matrix.X)) and data.obs["style"].tolist() == ["jazz/bebop", "folk"]


BLOCKED_ANNDATA = """
import sys
sys.modules["anndata"] = None   # as if the extra were not installed
import numpy as np, pandas as pd
from counterpoint.errors import CounterpointError
from counterpoint.matrix import EmbeddingMatrix
matrix = EmbeddingMatrix("toy", "audio", np.zeros((1, 2), np.float32), pd.DataFrame({"id": ["t0"]}))
try:
    matrix.to_anndata()
except CounterpointError as exc:
    print(type(exc).__name__, exc)
"""


def test_without_anndata_the_error_names_the_extra():
    result = subprocess.run([sys.executable, "-c", BLOCKED_ANNDATA], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("CounterpointError EmbeddingMatrix.to_anndata() needs the optional package anndata")
    assert "pip install 'counterpoint[anndata]'" in result.stdout and "to_frame()" in result.stdout
