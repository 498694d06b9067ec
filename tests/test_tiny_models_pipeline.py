"""Every weight-needing encoder, end to end through `counterpoint embed`, with tiny models.

The tiny models (``tests/tiny_models.py``) are written in the published file layouts and
named in the specs the way official weights are, so this runs the real loading code, the
real runner and the real store: what a user with the official weights would run, smaller.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from conftest import make_class_folders, write_tone
from counterpoint.cli import app
from counterpoint.store import Store
from tiny_models import CLAP_PROJECTION, write_tiny_models

#: encoder name → (modality, pooled dimension) of its tiny model.
EXPECTED = {
    "clamp2": ("symbolic", 24),
    "clamp3-symbolic": ("symbolic", 24),
    "clamp3-audio": ("audio", 24),
    "mert": ("audio", 32),
    "clap": ("audio", CLAP_PROJECTION),
    "openl3": ("audio", 512),
    "symbolic-stats": ("symbolic", None),
}
LONG_TRACK = "high/piece2"  # lasts 11.5 s, the others 6 s: one more CLaMP 3 window, more frames everywhere


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Tiny models run fastest on one thread (and the test machine is shared)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def embed(root: Path, specs: str, store: Path) -> str:
    result = CliRunner().invoke(app, ["embed", str(root), "--encoders", specs, "--out", str(store)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def test_every_tiny_model_runs_through_embed_into_the_store(tmp_path: Path) -> None:
    root = make_class_folders(tmp_path / "data", per_class=3, seconds=6.0)
    write_tone(root / f"{LONG_TRACK}.wav", 587.0, seconds=11.5)
    models = write_tiny_models(tmp_path / "models")
    specs = "+".join([model.spec for model in models.values()] + ["symbolic-stats"])
    store_path = tmp_path / "tiny.h5"
    embed(root, specs, store_path)

    store = Store(store_path)
    assert store.failures().empty, store.failures().to_string()
    assert sorted(record.name for record in store.encoders) == sorted(EXPECTED)
    track_ids = set(store.tracks()["id"])
    assert len(track_ids) == 6
    for record in store.encoders:
        modality, dim = EXPECTED[record.name]
        assert record.modality == modality, record.spec
        if dim is not None:
            assert record.dim == dim, record.spec
        assert record.n_tracks == 6, record.spec

        pooled = store.pooled(record.spec)
        assert pooled.X.shape == (6, record.dim) and set(pooled.obs["id"]) == track_ids
        assert np.isfinite(pooled.X).all(), record.spec
        assert np.unique(pooled.X.round(6), axis=0).shape[0] == 6, f"{record.spec}: tracks embed identically"

        sequences = store.frames(record.spec)
        lengths = {}
        for track_id, frames, stamps in zip(sequences.obs["id"], sequences.frames, sequences.timestamps):
            assert frames.shape == (len(stamps), record.dim), (record.spec, track_id)
            assert len(stamps) > 1 or record.name == "symbolic-stats", (record.spec, track_id)  # one frame per piece
            assert np.isfinite(frames).all() and np.isfinite(stamps).all(), (record.spec, track_id)
            steps = np.diff(stamps)
            # CLaMP's header patches and its special first/last patches share times; audio frames never do
            assert (steps > 0).all() if modality == "audio" else (steps >= 0).all(), (record.spec, stamps)
            lengths[track_id] = len(stamps)
        if modality == "audio":
            assert lengths[LONG_TRACK] > max(n for t, n in lengths.items() if t != LONG_TRACK), (record.spec, lengths)

        if record.name in models:
            files = models[record.name].weights
            digest = sha256(files[0]) if len(files) == 1 else "".join(sha256(f)[:32] for f in files)
            assert record.fingerprint["weights"] == digest, record.spec

    # CLaMP 3's two branches read one checkpoint and project into one space
    assert store.pooled("clamp3-audio").X.shape[1] == store.pooled("clamp3-symbolic").X.shape[1]
    audio_digest, symbolic_digest = (store.encoder(n).fingerprint["weights"] for n in ("clamp3-audio", "clamp3-symbolic"))
    assert audio_digest[:32] == symbolic_digest[:32]

    before = {record.spec: store.pooled(record.spec).X for record in store.encoders}
    output = "".join(embed(root, specs, store_path).split())
    for record in store.encoders:
        expected = f"{record.spec}: 0 embedded, 6 already in the store, 0 failed"
        assert "".join(expected.split()) in output, expected
    rerun = Store(store_path)
    for record in rerun.encoders:
        np.testing.assert_array_equal(rerun.pooled(record.spec).X, before[record.spec])
