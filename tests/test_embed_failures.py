"""What the runner does with embeddings that are not numbers and with models that cannot load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from conftest import FIXTURES, make_class_folders, write_tone
from counterpoint.cli import app
from counterpoint.data.midi import load_pretty_midi
from counterpoint.embed import embed_dataset
from counterpoint.encoders.base import Embedding, Encoder, Parameter
from counterpoint.store import Store

runner = CliRunner()
CLAMP2_TINY_CONFIG = FIXTURES / "clamp2" / "clamp2_tiny_config.json"


class NonFiniteOnSomeTracks(Encoder):
    """Pitch counts of a MIDI file, with NaN or inf planted in the tracks named by the parameters."""

    name = "test-non-finite"
    modality = "symbolic"
    parameters = {"nan_pooled": Parameter("", "track whose pooled vector is NaN"),
                  "inf_frames": Parameter("", "track with an infinite frame value"),
                  "nan_timestamps": Parameter("", "track with a NaN timestamp")}

    @property
    def dim(self) -> int:
        return 12

    def prepare(self, track):
        return track.id, load_pretty_midi(track.midi_path, track.id)

    def embed_prepared(self, inputs):
        embeddings = []
        for track_id, midi in inputs:
            frames = np.zeros((3, 12), np.float32)
            for note in (n for instrument in midi.instruments for n in instrument.notes):
                frames[:, note.pitch % 12] += 1.0
            timestamps = np.array([0.0, 1.0, 2.0])
            pooled = frames.mean(axis=0)
            if track_id == self.params["nan_pooled"]:
                pooled[3] = np.nan
            if track_id == self.params["inf_frames"]:
                frames[1, 5] = np.inf
            if track_id == self.params["nan_timestamps"]:
                timestamps[2] = np.nan
            embeddings.append(Embedding(frames, timestamps, pooled, midi.get_end_time()))
        return embeddings


def test_non_finite_embeddings_are_recorded_failures_and_never_stored(tmp_path: Path) -> None:
    root = make_class_folders(tmp_path / "data", per_class=3)
    encoder = NonFiniteOnSomeTracks(nan_pooled="low/piece0", inf_frames="high/piece1", nan_timestamps="high/piece2")
    report = embed_dataset(root, tmp_path / "s.h5", [encoder])
    failed = {track_id: (stage, message) for track_id, stage, message in report.runs[0].failed}
    assert set(failed) == {"low/piece0", "high/piece1", "high/piece2"}
    for track_id, (stage, message) in failed.items():
        assert stage == "embed" and track_id in message and encoder.spec in message and "NaN" in message
    assert "pooled" in failed["low/piece0"][1] and "frames" in failed["high/piece1"][1]
    assert "timestamps" in failed["high/piece2"][1]
    store = Store(tmp_path / "s.h5")
    matrix = store.pooled(encoder.spec)
    assert sorted(matrix.obs["id"]) == ["high/piece0", "low/piece1", "low/piece2"]
    assert np.isfinite(matrix.X).all()
    assert set(store.failures()["track_id"]) == set(failed)


def test_loud_float_audio_through_real_musicnn_is_embedded_with_finite_numbers(tmp_path: Path) -> None:
    """The original musicnn overflows float16 on audio peaking far above 1.0 and returns NaN; ours
    stays finite, so such a track is embedded (a NaN from any encoder would be a failure, above)."""
    root = tmp_path / "data"
    write_tone(root / "quiet" / "a.wav", 440.0, seconds=3.5, sample_rate=16000)
    seconds = np.arange(int(3.5 * 16000)) / 16000
    loud = (40.0 * np.sin(2 * np.pi * 330.0 * seconds)).astype(np.float32)  # peak 40: float WAVs allow it
    (root / "loud").mkdir()
    sf.write(root / "loud" / "b.wav", loud, 16000, subtype="FLOAT")
    result = runner.invoke(app, ["embed", str(root), "-e", "musicnn", "-o", str(tmp_path / "s.h5")])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert "2 embedded" in result.output and "0 failed" in result.output
    store = Store(tmp_path / "s.h5")
    assert sorted(store.pooled("musicnn").obs["id"]) == ["loud/b", "quiet/a"]
    assert np.isfinite(store.pooled("musicnn").X).all()
    assert np.isfinite(np.concatenate(store.frames("musicnn").frames)).all()


def test_garbage_weights_fail_the_command_once_before_any_group_is_declared(tmp_path: Path) -> None:
    root = make_class_folders(tmp_path / "data", per_class=3)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(np.random.default_rng(0).bytes(1000))
    store = tmp_path / "s.h5"
    spec = f"symbolic-stats+clamp2:weights={garbage},config={CLAMP2_TINY_CONFIG}"
    result = runner.invoke(app, ["embed", str(root), "-e", spec, "-o", str(store)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert result.output.count("cannot load") == 1 and "clamp2" in result.output and "garbage.safetensors" in result.output
    assert "embedded" not in result.output  # nothing ran: the bad model stopped the command up front
    assert not store.exists() or Store(store).encoder_specs == []


def test_a_garbage_openl3_weights_file_fails_up_front_too(tmp_path: Path) -> None:
    root = make_class_folders(tmp_path / "data", per_class=2)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an HDF5 file" * 64)
    store = tmp_path / "s.h5"
    result = runner.invoke(app, ["embed", str(root), "-e", f"openl3:weights={garbage}", "-o", str(store)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert result.output.count("cannot load") == 1 and "openl3" in result.output and "garbage.h5" in result.output
    assert not store.exists() or Store(store).encoder_specs == []
