"""Audio → MIDI with basic-pitch's ONNX model: parity with basic-pitch's own predict, note accuracy on
rendered audio whose notes are known, a dataset completed with named failures, and a GTZAN-shaped
dataset (genre folders of audio only) through transcribe → embed → analyze with no manual step."""

from __future__ import annotations

import io
from pathlib import Path

import mir_eval
import numpy as np
import pandas as pd
import pretty_midi
import pytest
import soundfile
from typer.testing import CliRunner

from counterpoint.cli import app
from counterpoint.data.manifest import load_manifest
from counterpoint.data.render import synthesize
from counterpoint.data.transcribe import (SAMPLE_RATE, TRANSCRIBED_ID_SUFFIX, BasicPitch, TranscribeSettings,
                                          midi_source, transcribe_dataset, transcribe_file)
from counterpoint.encoders.symbolic_stats import SymbolicStatsEncoder
from counterpoint.errors import TrackError
from counterpoint.store import Store
from float_tolerance import assert_float32_close

runner = CliRunner()
#: Note-onset F-measure (50-ms tolerance) every clip below must reach. Measured on rendered melodies
#: (24 notes, random pitches 55–79, 0.25/0.5-s notes) with seeds 0–2: piano 0.81–0.89, piano with a
#: bass line 0.85–0.91, violin 0.94–0.96, flute 0.84–0.89, guitar 0.84–0.86 (the misses are extra
#: notes: recall is 1). 0.7 leaves room for other CPUs; a transcription 0.1 s late scores below 0.2.
ONSET_F_THRESHOLD = 0.7
#: float32 depth of basic-pitch's network (tests/float_tolerance.py), an upper bound: its constant-Q transform's
#: kernels (a few thousand samples: it halves the rate octave by octave) and 7 convolutions of at most 1,872 terms
BASIC_PITCH_TERMS = 16_384


@pytest.fixture(scope="module")
def model() -> BasicPitch:
    return BasicPitch()


def melody(seed: int, program: int = 0, bass: bool = False) -> pretty_midi.PrettyMIDI:
    """24 random notes (with a lower line when ``bass``) on one GM instrument."""
    rng = np.random.default_rng(seed)
    midi = pretty_midi.PrettyMIDI()
    instrument = pretty_midi.Instrument(program=program)
    start = 0.2
    for _ in range(24):
        length = float(rng.choice([0.25, 0.5]))
        instrument.notes.append(pretty_midi.Note(90, int(rng.integers(55, 80)), start, start + 0.9 * length))
        if bass:
            instrument.notes.append(pretty_midi.Note(80, int(rng.integers(40, 54)), start, start + 0.9 * length))
        start += length
    midi.instruments.append(instrument)
    return midi


def rendered(midi: pretty_midi.PrettyMIDI) -> np.ndarray:
    buffer = io.BytesIO()
    midi.write(buffer)
    return synthesize(buffer.getvalue(), sample_rate=SAMPLE_RATE)


def onset_f_measure(reference: pretty_midi.PrettyMIDI, estimate: pretty_midi.PrettyMIDI, shift: float = 0.0) -> float:
    def intervals(midi):
        return np.array([[n.start, n.end] for i in midi.instruments for n in i.notes]).reshape(-1, 2)

    return mir_eval.transcription.onset_precision_recall_f1(intervals(reference), intervals(estimate) + shift,
                                                            onset_tolerance=0.05)[2]


@pytest.mark.parametrize("seed,program,bass", [(0, 0, False), (1, 0, True), (2, 40, False)])
def test_onsets_of_rendered_midi_are_found(model, seed, program, bass):
    reference = melody(seed, program, bass)
    transcription = model.transcribe(rendered(reference))
    assert onset_f_measure(reference, transcription) > ONSET_F_THRESHOLD
    assert onset_f_measure(reference, transcription, shift=0.1) < 0.2  # the measure tells timing apart


def test_same_notes_as_basic_pitch_predict(model, tmp_path):
    from basic_pitch import inference  # basic-pitch's own pipeline, on the same ONNX file

    wav = tmp_path / "m.wav"
    soundfile.write(wav, rendered(melody(3, program=73)), SAMPLE_RATE)
    onnx = Path(inference.__file__).parent / "saved_models" / "icassp_2022" / "nmp.onnx"
    _, theirs, _ = inference.predict(str(wav), onnx)
    ours = model.transcribe(load(wav))
    as_tuples = [[(n.pitch, round(n.start, 4), round(n.end, 4), n.velocity) for n in i.notes]
                 for i in (theirs, ours) for i in i.instruments]
    assert as_tuples[0] == as_tuples[1] and len(as_tuples[0]) > 10


def load(path: Path) -> np.ndarray:
    from counterpoint.data.audio import load_audio

    return load_audio(path, SAMPLE_RATE)


def test_windows_per_call_changes_speed_only(tmp_path):
    audio = rendered(melody(4))
    one, many = BasicPitch(TranscribeSettings(windows_per_call=1)), BasicPitch(TranscribeSettings(windows_per_call=7))
    first, second = one.model_output(audio), many.model_output(audio)
    for name in ("note", "onset", "contour"):  # probabilities, through another batch shape on onnxruntime
        assert_float32_close(first[name], second[name], scale=1.0, terms=BASIC_PITCH_TERMS, err_msg=name)


def test_transcribed_midi_embeds_with_symbolic_stats(model, tmp_path):
    wav = tmp_path / "a.wav"
    soundfile.write(wav, rendered(melody(5)), SAMPLE_RATE)
    midi = transcribe_file(model, wav, tmp_path / "a.mid")
    root = tmp_path / "ds"
    root.mkdir()
    (root / "a.mid").write_bytes(midi.read_bytes())
    pd.DataFrame([{"id": "a", "audio_filename": "", "midi_filename": "a.mid"}]).to_csv(root / "info.csv", index=False)
    [embedding] = SymbolicStatsEncoder().embed(load_manifest(root).tracks)
    assert embedding.pooled.shape == (137,) and np.all(np.isfinite(embedding.pooled))


def write_audio_dataset(root: Path, genres: dict[str, int], per_genre: int = 3) -> Path:
    """What `dataset import gtzan` writes for genre folders of audio only: id, audio_filename,
    midi_filename (empty), genre. Clips are renderings, so their notes are real music."""
    rows = []
    for genre, program in genres.items():
        for i in range(per_genre):
            name = f"{genre}/{genre}.{i:05d}.wav"
            (root / genre).mkdir(parents=True, exist_ok=True)
            soundfile.write(root / name, rendered(melody(10 * program + i, program))[: 4 * SAMPLE_RATE], SAMPLE_RATE)
            rows.append({"id": f"{genre}.{i:05d}", "audio_filename": name, "midi_filename": "", "genre": genre})
    pd.DataFrame(rows).to_csv(root / "info.csv", index=False)
    return root


def test_bad_files_are_named_failures_and_the_rest_is_kept(model, tmp_path):
    root = write_audio_dataset(tmp_path / "ds", {"piano": 0}, per_genre=2)
    soundfile.write(root / "silent.wav", np.zeros(SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    (root / "corrupt.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk" * 10)
    soundfile.write(root / "long.wav", 0.1 * np.ones(20 * SAMPLE_RATE, dtype=np.float32), SAMPLE_RATE)
    info = pd.read_csv(root / "info.csv")
    extra = [{"id": stem, "audio_filename": f"{stem}.wav", "midi_filename": "", "genre": "x"}
             for stem in ("silent", "corrupt", "long")]
    pd.concat([info, pd.DataFrame(extra)]).to_csv(root / "info.csv", index=False)

    report = transcribe_dataset(root, tmp_path / "out", settings=TranscribeSettings(max_seconds=10), model=model)
    errors = {f.track_id: f.error for f in report.failures}
    assert set(errors) == {"silent", "corrupt", "long"}
    assert "silent" in errors["silent"] and "silent.wav" in errors["silent"]
    assert "corrupt.wav" in errors["corrupt"] and "cannot decode" in errors["corrupt"]
    assert "longer than the 10-s limit" in errors["long"] and "--max-seconds" in errors["long"]
    assert report.made == 2
    table = pd.read_csv(report.info_csv, keep_default_na=False).set_index("id")
    assert table.loc["piano.00000", "midi_source"] == midi_source() == "transcribed:basic-pitch-0.4.0"
    assert table.loc["silent", "midi_filename"] == "" and len(table) == 5
    assert set(pd.read_csv(report.failures_csv)["track_id"]) == set(errors)
    assert not (root / "transcribed").exists()  # --out leaves the source untouched

    again = transcribe_dataset(tmp_path / "out", settings=TranscribeSettings(max_seconds=10), model=model)
    assert again.made == 0 and len(again.failures) == 3  # resumed: nothing transcribed twice


def test_all_adds_a_transcribed_row_beside_the_real_midi(model, tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    piece = melody(6)
    piece.write(str(root / "p.mid"))
    soundfile.write(root / "p.wav", rendered(piece), SAMPLE_RATE)
    pd.DataFrame([{"id": "p", "audio_filename": "p.wav", "midi_filename": "p.mid", "style": "s"}]).to_csv(
        root / "info.csv", index=False)
    report = transcribe_dataset(root, every_row=True, model=model)
    table = pd.read_csv(report.info_csv, keep_default_na=False).set_index("id")
    twin = "p" + TRANSCRIBED_ID_SUFFIX
    assert list(table.index) == ["p", twin]
    assert table.loc["p", "midi_source"] == "original" and table.loc[twin, "midi_source"] == midi_source()
    assert table.loc[twin, "audio_filename"] == "p.wav" and table.loc[twin, "group"] == table.loc["p", "group"] == "p"
    assert (root / "info.orig.csv").is_file()  # the dataset's own info.csv is kept
    assert transcribe_dataset(root, every_row=True, model=model).made == 0


def test_gtzan_shaped_dataset_goes_import_transcribe_embed_analyze(tmp_path):
    """Genre folders of audio only, as GTZAN ships them: no manual step from the folders to the report."""
    source = write_audio_dataset(tmp_path / "gtzan", {"classical": 0, "jazz": 40})
    (source / "info.csv").unlink()  # GTZAN has genre folders, nothing else
    imported, paired = tmp_path / "imported", tmp_path / "paired"
    result = runner.invoke(app, ["dataset", "import", "gtzan", str(source), str(imported)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["dataset", "transcribe", str(imported), "--out", str(paired)])
    assert result.exit_code == 0, result.output
    assert "6 transcribed" in result.stdout
    store = tmp_path / "g.h5"
    result = runner.invoke(app, ["embed", str(paired), "-e", "audio-stats,symbolic-stats", "-o", str(store)])
    assert result.exit_code == 0, result.output
    assert {r.spec: r.n_tracks for r in Store(store).encoders} == {"audio-stats": 6, "symbolic-stats": 6}
    result = runner.invoke(app, ["analyze", str(store), "--label", "genre", "-o", str(tmp_path / "report"),
                                 "--where", f"midi_source={midi_source()}"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report" / "index.html").is_file()
    assert set(Store(store).pooled("symbolic-stats").obs["genre"]) == {"classical", "jazz"}


def test_where_names_the_columns_when_there_is_none(tmp_path):
    root = write_audio_dataset(tmp_path / "ds", {"piano": 0}, per_genre=1)
    store = tmp_path / "s.h5"
    assert runner.invoke(app, ["embed", str(root), "-e", "audio-stats", "-o", str(store)]).exit_code == 0
    result = runner.invoke(app, ["probe", str(store), "-e", "audio-stats", "--label", "genre", "-o",
                                 str(tmp_path / "p"), "--where", "midi_sauce=original"])
    assert result.exit_code == 2 and "midi_sauce" in result.output and "genre" in result.output
    result = runner.invoke(app, ["compare", str(store), "--label", "genre", "-o", str(tmp_path / "c"),
                                 "--where", "nonsense"])  # refused before the store is read
    assert result.exit_code == 2 and "COLUMN=VALUE" in result.output


def test_transcribe_file_refuses_what_it_cannot_read(model, tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(TrackError, match="empty.wav.*empty file"):
        transcribe_file(model, tmp_path / "empty.wav", tmp_path / "x.mid")
    assert not (tmp_path / "x.mid").exists()


def test_where_keeps_the_rows_that_read_the_value():
    from counterpoint.matrix import EmbeddingMatrix

    obs = pd.DataFrame({"id": ["a", "a~transcribed", "b"], "midi_source": ["original", midi_source(), " original "]})
    matrix = EmbeddingMatrix("x", "symbolic", np.arange(6, dtype=np.float32).reshape(3, 2), obs)
    kept = matrix.where("midi_source", "original")
    assert list(kept.ids) == ["a", "b"] and kept.X.tolist() == [[0, 1], [4, 5]]
    assert list(matrix.where("midi_source", midi_source()).ids) == ["a~transcribed"]
