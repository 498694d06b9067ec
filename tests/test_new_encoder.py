"""A new encoder needs its module and one registry line: what it declares (its joint space, its
HEAR framing, its parameters) reaches the store, retrieval and HEAR without another file changed."""

from __future__ import annotations

import numpy as np

import toy_joint_encoders  # noqa: F401 (registers test-toy-audio and test-toy-symbolic)
from conftest import make_class_folders
from counterpoint import hear
from counterpoint.analysis.compare import run_compare
from counterpoint.config import CompareSettings
from counterpoint.embed import embed_dataset
from counterpoint.store import Store

AUDIO, SYMBOLIC = "test-toy-audio", "test-toy-symbolic"


def test_a_toy_encoder_pair_runs_through_embed_store_retrieval_and_hear(tmp_path):
    root = make_class_folders(tmp_path / "data", {"low": 48, "mid": 60, "high": 72}, per_class=8)
    store_path = tmp_path / "s.h5"
    embed_dataset(root, store_path, [AUDIO, SYMBOLIC], workers=0)

    store = Store(store_path)
    audio, symbolic = store.encoder(AUDIO), store.encoder(SYMBOLIC)
    assert audio.shared_space == symbolic.shared_space == toy_joint_encoders.JOINT_SPACE  # recorded at write time
    assert audio.n_tracks == symbolic.n_tracks == 24
    assert store.encoder(f"{AUDIO}:hop=0.5").spec == AUDIO        # a default spelled out, read from the record
    assert len(store.pooled(f"{AUDIO}:hop=0.50")) == 24

    result = run_compare(store_path, CompareSettings(label="class", k=3, n_boot=5, n_perm=5))
    shared = result.alignment[(result.alignment.family == "retrieval") & (result.alignment.method == "shared")]
    assert not shared.empty, "retrieval reads the joint space from the store and compares the spaces directly"
    assert set(shared.audio) == {AUDIO} and set(shared.symbolic) == {SYMBOLIC}

    model = hear.load_model(spec=AUDIO)
    assert model.encoder.spec == AUDIO and model.timestamp_encoder.spec == f"{AUDIO}:hop=0.25"  # declared framing
    sound = np.sin(2 * np.pi * 440.0 * np.arange(SECONDS_OF_SOUND * 22050) / 22050)[None, :]
    frames, stamps = hear.get_timestamp_embeddings(sound, model)
    assert frames.shape == (1, 8, 12)
    np.testing.assert_allclose(np.diff(stamps[0].numpy()), 250.0)
    assert hear.load_model(spec=f"{AUDIO}:hop=1.0").timestamp_encoder.spec == f"{AUDIO}:hop=1.0"  # the spec's own hop wins


SECONDS_OF_SOUND = 2
