"""Every command on bad input: a named error or a skip with a note, never a traceback.

Two parts. Generated ``info.csv`` datasets (hypothesis: columns missing, duplicate ids, missing,
empty, corrupt and truncated files, paths outside the root, odd labels, rows with an extra
field) go through ``dataset check`` and ``embed``. Then a matrix of the cases a new user hit
(issue 9, "Tracebacks that reach the user" 1–7) runs the command concerned on real stores.

Every case asserts: the exit status expected, no "Traceback", no "internal error" (the safety
net must not be what catches it), and a message that names the problem.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import mido
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import FIXTURES, make_info_csv_dataset, without_root_rights, write_midi, write_tone
from counterpoint.cli import app
from counterpoint.data.manifest import Track
from counterpoint.encoders.registry import build_encoder
from counterpoint.store import Store, StoreWriter, journal_dir

runner = CliRunner()

ODD_LABELS = ["$x$", "$\\alpha$", "<img src=x onerror=alert(1)>", "NaN", "None", "N/A", "null", "", "ünïcødé ♪",
              "rock/indie", "[red]x[/red]", "a,b", " spaced "]
FILE_KINDS = ["ok", "none", "missing", "empty", "corrupt", "truncated", "outside", "absolute"]


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def assert_handled(result, codes: tuple[int, ...], *named: str) -> None:
    """Exit status in ``codes``, no traceback, not the safety net, and (on failure) the problem named."""
    output = result.output
    assert result.exit_code in codes, f"exit {result.exit_code}: {output}\n{result.exception!r}"
    assert "Traceback" not in output and "internal error" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    for word in named:
        assert word.lower() in output.lower(), f"{word!r} not named in: {output}"


# ---- generated info.csv datasets ------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    track_id: str
    audio: str  # one of FILE_KINDS
    midi: str
    label: str
    split: str
    extra_field: bool


rows = st.builds(Row, track_id=st.sampled_from(["a", "b", "c", "", "ü/x", "$t$"]), audio=st.sampled_from(FILE_KINDS),
                 midi=st.sampled_from(FILE_KINDS), label=st.sampled_from(ODD_LABELS),
                 split=st.sampled_from(["train", "validation", "test", "val", ""]), extra_field=st.booleans())


def write_file(root: Path, index: int, modality: str, kind: str) -> tuple[str, str | None]:
    """Create the file a row names; return (the info.csv cell, the bad file's name or None if it is fine)."""
    suffix = ".wav" if modality == "audio" else ".mid"
    name = f"{modality}/r{index}{suffix}"
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "none":
        return "", None
    if kind == "ok":
        if modality == "audio":
            write_tone(path, 220.0 + 20 * index, seconds=0.5)
        else:
            write_midi(path, [60 + index % 12, 64, 67])
        return name, None
    if kind == "missing":
        return name, path.name
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "corrupt":
        path.write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk" if modality == "audio" else b"MThd\x00\x00\x00\x06junk")
    elif kind == "truncated":
        if modality == "audio":
            write_tone(path, 330.0, seconds=0.5)
        else:
            write_midi(path, [60, 62, 64, 65])
        path.write_bytes(path.read_bytes()[: len(path.read_bytes()) * 2 // 3])
    elif kind in ("outside", "absolute"):
        outside = root.parent / f"outside-{index}{suffix}"
        outside.write_bytes(b"")
        return (f"../{outside.name}" if kind == "outside" else str(outside)), outside.name
    return name, path.name


def write_dataset(root: Path, table: list[Row], dropped: set[str]) -> list[str]:
    """Write an info.csv (by hand, so rows may hold an extra field) and the files; return bad file names
    of rows that a loader must report (unique id, no extra field, every column present)."""
    root.mkdir(parents=True)
    columns = [c for c in ("id", "audio_filename", "midi_filename") if c not in dropped] + ["genre", "split"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    reported: list[str] = []
    ids = [row.track_id for row in table]
    for index, row in enumerate(table):
        audio, bad_audio = write_file(root, index, "audio", row.audio)
        midi, bad_midi = write_file(root, index, "midi", row.midi)
        values = {"id": row.track_id, "audio_filename": audio, "midi_filename": midi, "genre": row.label,
                  "split": row.split}
        writer.writerow([values[c] for c in columns] + (["surplus"] if row.extra_field else []))
        if not dropped and not row.extra_field and row.track_id and ids.count(row.track_id) == 1:
            reported += [name for name in (bad_audio, bad_midi) if name]
    (root / "info.csv").write_text(buffer.getvalue(), encoding="utf-8")
    return reported


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=st.lists(rows, min_size=0, max_size=5),
       dropped=st.sets(st.sampled_from(["id", "audio_filename", "midi_filename"]), max_size=2))
def test_generated_info_csv_datasets_are_checked_and_embedded_without_a_traceback(table: list[Row],
                                                                                  dropped: set[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "data"
        reported = write_dataset(root, table, dropped)
        checked = run("dataset", "check", root)
        assert_handled(checked, (0, 1, 2))
        if checked.exit_code == 2:
            assert "info.csv" in checked.output or "column" in checked.output, checked.output
        else:
            for name in reported:
                assert name in checked.output, f"{name} not reported: {checked.output}"
        embedded = run("embed", root, "-e", "symbolic-stats+audio-stats", "-o", Path(folder) / "s.h5")
        assert_handled(embedded, (0, 2))
        if embedded.exit_code == 0:
            assert "symbolic-stats:" in embedded.stdout and "audio-stats:" in embedded.stdout


# ---- the matrix of the issue's cases ---------------------------------------------------------------------

def embed_store(root: Path, store: Path, specs: str = "symbolic-stats+audio-stats") -> Path:
    result = run("embed", root, "-e", specs, "-o", store)
    assert result.exit_code == 0, result.output
    return store


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, Path]:
    """Stores of the shapes that broke: an encoder with no tracks, three tracks, $-labels, no tracks at all."""
    base = tmp_path_factory.mktemp("stores")
    midi_only = make_info_csv_dataset(base / "midi-only", [
        {"id": f"m{i}", "audio_filename": "", "midi_filename": f"m{i}.mid", "genre": "ab"[i % 2]} for i in range(6)])
    three = make_info_csv_dataset(base / "three", [
        {"id": f"t{i}", "audio_filename": f"t{i}.wav", "midi_filename": f"t{i}.mid", "genre": ["$x$", "$y$", "$x$"][i]}
        for i in range(3)])
    dollars = make_info_csv_dataset(base / "dollars", [
        {"id": f"d{i}", "audio_filename": f"d{i}.wav", "midi_filename": f"d{i}.mid", "genre": ["$x$", "$y^2$"][i % 2]}
        for i in range(8)])
    nothing = make_info_csv_dataset(base / "nothing", [
        {"id": "gone", "audio_filename": "gone.wav", "midi_filename": "gone.mid", "genre": "x"}], files=False)
    return {"midi-only": embed_store(midi_only, base / "midi-only.h5"), "three": embed_store(three, base / "three.h5"),
            "dollars": embed_store(dollars, base / "dollars.h5"), "empty": embed_store(nothing, base / "empty.h5"),
            "base": base}


@dataclass(frozen=True)
class Case:
    """A command line built from the stores; the exit statuses that are right; words the output must hold."""

    name: str
    args: Callable[[dict[str, Path]], list[object]]
    codes: tuple[int, ...]
    named: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()  # words the output must not hold


def out(stores: dict[str, Path], name: str) -> Path:
    return stores["base"] / "outputs" / name


CASES = [
    # 1. an encoder with 0 tracks (MIDI-only rows), and an empty store with --label
    Case("analyze-0-track-encoder", lambda s: ["analyze", s["midi-only"], "-l", "genre", "-o", out(s, "a1")], (0, 2),
         ("audio-stats",)),
    Case("compare-0-track-encoder", lambda s: ["compare", s["midi-only"], "-l", "genre", "-o", out(s, "c1"),
                                               "--n-boot", 5, "--n-perm", 5], (0, 2), ("audio-stats",)),
    Case("analyze-empty-store", lambda s: ["analyze", s["empty"], "-l", "genre", "-o", out(s, "a2")], (0, 2),
         ("track",)),
    # 2. encoders with 1-3 tracks
    Case("analyze-three-tracks", lambda s: ["analyze", s["three"], "-l", "genre", "-o", out(s, "a3")], (0,)),
    # 3. export / legacy of an encoder or store without tracks
    Case("export-npz-0-tracks", lambda s: ["export", s["midi-only"], "-e", "audio-stats", "-o", out(s, "x.npz")], (2,),
         ("audio-stats",)),
    Case("export-parquet-0-tracks", lambda s: ["export", s["midi-only"], "-e", "audio-stats",
                                               "-o", out(s, "x.parquet")], (2,), ("audio-stats",)),
    Case("export-legacy-empty-store", lambda s: ["export-legacy", s["empty"], "-o", out(s, "legacy.h5"),
                                                 "--audio-encoder", "audio-stats", "--symbolic-encoder", "symbolic-stats"],
         (2,), ("track",)),
    Case("import-legacy-empty-file", lambda s: ["import-legacy", empty_legacy_file(s), "-o", out(s, "imported.h5")],
         (2,), ("legacy-empty.h5",)),
    # 5. labels with $...$ (matplotlib mathtext)
    Case("analyze-dollar-labels", lambda s: ["analyze", s["dollars"], "-l", "genre", "-o", out(s, "a4")], (0,)),
    # 6. bad options and outputs
    Case("embed-onto-a-text-file", lambda s: ["embed", s["base"] / "three", "-e", "symbolic-stats",
                                              "-o", s["base"] / "three" / "info.csv"], (2,), ("info.csv",)),
    Case("embed-onto-a-folder", lambda s: ["embed", s["base"] / "three", "-e", "symbolic-stats", "-o", s["base"]],
         (2,), ("is a folder", "embeddings.h5")),
    Case("embed-batch-size-negative", lambda s: ["embed", s["base"] / "three", "-o", out(s, "b.h5"),
                                                 "--batch-size", -1], (2,), ("--batch-size",)),
    Case("embed-no-encoder", lambda s: ["embed", s["base"] / "three", "-e", "", "-o", out(s, "e.h5")], (2,),
         ("no encoder",)),
    Case("compare-k-0", lambda s: ["compare", s["dollars"], "-l", "genre", "-o", out(s, "c2"), "--k", 0], (2,),
         ("--k",)),
    Case("compare-n-boot-negative", lambda s: ["compare", s["dollars"], "-l", "genre", "-o", out(s, "c3"),
                                               "--n-boot", -1], (2,), ("--n-boot",)),
    Case("probe-hidden-abc", lambda s: ["probe", s["dollars"], "-e", "symbolic-stats", "-l", "genre",
                                        "-o", out(s, "p1"), "--hidden", "abc"], (2,), ("--hidden",)),
    # 7. weights that are not weights
    Case("embed-garbage-clamp2-weights", lambda s: ["embed", s["base"] / "three", "-o", out(s, "g.h5"), "-e",
                                                    f"clamp2:weights={garbage(s)},config={FIXTURES}/clamp2/clamp2_tiny_config.json"],
         (2,), ("clamp2", "garbage.safetensors")),
    # a store that is not a store, an unknown encoder
    Case("store-info-of-a-csv", lambda s: ["store", "info", s["base"] / "three" / "info.csv"], (2,), ("info.csv",)),
    Case("export-unknown-encoder", lambda s: ["export", s["three"], "-e", "nosuch", "-o", out(s, "n.npz")], (2,),
         ("nosuch",)),
    Case("probe-0-track-encoder", lambda s: ["probe", s["midi-only"], "-e", "audio-stats", "-l", "genre",
                                             "-o", out(s, "p2")], (2,), ("audio-stats",)),
    Case("tag-a-missing-file", lambda s: ["tag", s["base"] / "nowhere.wav"], (1,), ("nowhere.wav",)),
    Case("tag-an-unknown-tagger", lambda s: ["tag", s["base"] / "nowhere.wav", "--model", "XYZ"], (2,), ("--model", "MSD")),
    Case("check-a-missing-folder", lambda s: ["dataset", "check", s["base"] / "nowhere"], (2,), ("nowhere",)),
    Case("run-a-missing-params-file", lambda s: ["run", "--params-file", s["base"] / "nowhere.params"], (2,),
         ("nowhere.params",)),
    Case("weights-fetch-unknown-model", lambda s: ["weights", "fetch", "nosuch"], (2,), ("nosuch",)),
    # issue 19: unusual inputs in the data layer
    Case("check-a-semicolon-info-csv", lambda s: ["dataset", "check", semicolon_dataset(s)], (2,),
         ("separated by semicolons", "commas", "info.csv")),
    Case("check-an-mp3-whose-id3-tag-claims-200-mb", lambda s: ["dataset", "check", odd_file_dataset(s, "tagged.mp3")],
         (1,), ("tagged.mp3", "damaged ID3 tag")),
    Case("embed-a-tempo-of-1-microsecond", lambda s: ["embed", odd_file_dataset(s, "fast.mid"), "-e", "symbolic-stats",
                                                      "-o", out(s, "fast.h5")], (0,),
         ("fast.mid", "1 microseconds per quarter note", "faster than any music")),
    Case("check-a-type-2-midi-as-its-patterns-in-sequence", lambda s: ["dataset", "check", odd_file_dataset(s, "type2.mid")],
         (0,), ("1 paired",), ("audio lasts",)),
    Case("embed-a-valid-5-hour-midi", lambda s: ["embed", odd_file_dataset(s, "five-hours.mid"), "-e", "symbolic-stats",
                                                 "-o", out(s, "long.h5")], (0,), ("1 embedded", "0 failed")),
    # issue 19: stores that are not what they say, journals that are not theirs
    Case("store-info-of-a-readme", lambda s: ["store", "info", readme(s)], (2,), ("README.md", "not an HDF5 file")),
    Case("store-info-n-tracks-a-million", lambda s: ["store", "info", altered(s, "million.h5", n_tracks=1_000_000)], (2,),
         ("million.h5", "n_tracks is 1,000,000", "inconsistent")),
    Case("store-info-embeddings-without-track-rows", lambda s: ["store", "info", altered(s, "orphans.h5", n_rows=2)],
         (2,), ("orphans.h5", "no row in /tracks")),
    Case("embed-with-another-stores-journal", lambda s: ["embed", s["base"] / "three", "-e", "symbolic-stats", "-o",
                                                         journal_of_another_store(s)], (2,),
         ("foreign.h5.journal", "another store", "move it aside")),
    Case("embed-with-a-damaged-journal-batch", lambda s: ["embed", s["base"] / "three", "-e", "symbolic-stats", "-o",
                                                          damaged_journal(s, "batch.h5", "000000000.npz")], (2,),
         ("000000000.npz", "damaged", "aside")),
    Case("embed-with-a-damaged-redo-record", lambda s: ["embed", s["base"] / "three", "-e", "symbolic-stats", "-o",
                                                        damaged_journal(s, "redo.h5", "commit.redo")], (2,),
         ("commit.redo", "damaged", "aside")),
    # issue 19: options that cannot combine, on every command that has some (OPTION_RULES)
    Case("compare-layers-with-aligned", lambda s: ["compare", s["dollars"], "-l", "genre", "-o", out(s, "c4"), "--layers",
                                                   "--aligned"], (2,), ("--layers cannot be combined with --aligned",)),
    Case("compare-layers-with-group", lambda s: ["compare", s["dollars"], "-l", "genre", "-o", out(s, "c5"), "--layers",
                                                 "--group", "genre"], (2,), ("--layers", "--group")),
    Case("compare-alignment-without-aligned", lambda s: ["compare", s["dollars"], "-l", "genre", "-o", out(s, "c6"),
                                                         "--alignment", "dtw"], (2,), ("--alignment needs --aligned",)),
    Case("analyze-aligned-without-the-comparison", lambda s: ["analyze", s["dollars"], "-l", "genre", "-o", out(s, "a5"),
                                                              "--aligned", "--no-compare"], (2,), ("--aligned", "--no-compare")),
    Case("analyze-probe-weights-without-probe-models", lambda s: ["analyze", s["dollars"], "-l", "genre", "-o",
                                                                  out(s, "a6"), "--probe-weights", "all"], (2,),
         ("--probe-weights needs --probe-models",)),
    Case("probe-model-path-with-training-options", lambda s: ["probe", s["dollars"], "--model-path", s["base"] / "saved",
                                                              "-o", out(s, "p3"), "-l", "genre", "--epochs", 5], (2,),
         ("--model-path cannot be combined with --label, --epochs",)),
    Case("probe-model-path-with-max-tracks", lambda s: ["probe", s["dollars"], "--model-path", s["base"] / "saved",
                                                        "-o", out(s, "p3m"), "--max-tracks", 100], (2,),
         ("--model-path cannot be combined with --max-tracks",)),
    Case("probe-all-encoders-with-encoder", lambda s: ["probe", s["dollars"], "-l", "genre", "--all-encoders",
                                                       "-e", "symbolic-stats", "-o", out(s, "p4")], (2,),
         ("--all-encoders cannot be combined with --encoder",)),
    Case("check-seed-without-resplit", lambda s: ["dataset", "check", s["base"] / "three", "--seed", 3], (2,),
         ("--seed needs --resplit",)),
    Case("check-tolerance-without-opening-files", lambda s: ["dataset", "check", s["base"] / "three", "--no-open-files",
                                                             "--duration-tolerance", 5], (2,),
         ("--no-open-files cannot be combined with --duration-tolerance",)),
    Case("demo-factor-pieces-without-factors", lambda s: ["demo", out(s, "demo"), "--factor-pieces-per-style", 3], (2,),
         ("--factor-pieces-per-style needs --factors",)),
    Case("run-conflict-inside-the-params-file", lambda s: ["run", "--params-file",
                                                           params(s, "conflict.params", b"--dataset x\n--aligned\n--no-compare\n")],
         (2,), ("conflict.params", "--aligned cannot be combined with --no-compare")),
    # --where that selects nothing, on every command that takes it
    Case("compare-where-selects-nothing", lambda s: ["compare", s["dollars"], "-l", "genre", "-o", out(s, "c7"),
                                                     "--where", "split=nonexistent"], (2,),
         ("--where split=nonexistent selects no track", "'split'", "(empty) (8)")),
    Case("compare-where-no-such-column", lambda s: ["compare", s["dollars"], "-l", "genre", "-o", out(s, "c8"),
                                                    "--where", "nosuch=x"], (2,), ("'nosuch'", "genre")),
    Case("analyze-where-selects-nothing", lambda s: ["analyze", s["dollars"], "-l", "genre", "-o", out(s, "a6"),
                                                     "--where", "genre=rock"], (2,), ("genre=rock", "$x$ (4)", "$y^2$ (4)")),
    Case("analyze-second-where-selects-nothing", lambda s: ["analyze", s["dollars"], "-l", "genre", "-o", out(s, "a7"),
                                                            "--where", "genre=$x$", "--where", "id=d1"], (2,),
         ("--where id=d1 selects no track of the tracks that --where genre=$x$ kept", "d0 (1)")),
    Case("probe-where-selects-nothing", lambda s: ["probe", s["dollars"], "-l", "genre", "-e", "symbolic-stats",
                                                   "-o", out(s, "p6"), "--where", "genre=rock"], (2,), ("genre=rock",)),
    Case("factors-where-selects-nothing", lambda s: ["factors", s["dollars"], "-o", out(s, "f1"), "--where", "genre=rock"],
         (2,), ("genre=rock",)),
    # seeds beyond numpy's 2³²−1
    Case("compare-seed-2-to-the-32", lambda s: ["compare", s["dollars"], "-l", "genre", "-o", out(s, "c9"),
                                                "--n-boot", 5, "--n-perm", 5, "--seed", 2**32], (2,), ("--seed", "4294967295")),
    Case("probe-seed-2-to-the-32", lambda s: ["probe", s["dollars"], "-l", "genre", "-e", "symbolic-stats",
                                              "-o", out(s, "p7"), "--epochs", 2, "--seed", 2**32], (2,),
         ("--seed", "4294967295")),
    # params files that are not UTF-8, or a flag without its value
    Case("run-params-latin-1", lambda s: ["run", "--params-file", params(s, "latin1.params", b"--dataset caf\xe9\n")],
         (2,), ("latin1.params is not UTF-8 text", "save it as UTF-8")),
    Case("run-params-utf-16-with-bom", lambda s: ["run", "--params-file",
                                                  params(s, "utf16.params", "--dataset nowhere-\u00e9\n".encode("utf-16"))],
         (2,), ("nowhere-\u00e9: no such dataset folder",)),
    Case("run-params-flag-without-value", lambda s: ["run", "--params-file",
                                                     params(s, "novalue.params", b"--label genre\n--dataset\n")], (2,),
         ("novalue.params line 2", "--dataset needs a value")),
]


def semicolon_dataset(stores: dict[str, Path]) -> Path:
    root = stores["base"] / "semicolons"
    root.mkdir(exist_ok=True)
    write_midi(root / "a.mid", [60, 64, 67])
    (root / "info.csv").write_text("id;audio_filename;midi_filename;genre\na;;a.mid;rock\n", encoding="utf-8")
    return root


def odd_file_dataset(stores: dict[str, Path], name: str) -> Path:
    """A one-track dataset around one unusual file: an MP3 behind an ID3 tag claiming 200 MB, a MIDI file
    at 1 µs per quarter note, a type-2 MIDI file (2 s at 120 BPM then 8 s at 60 BPM, with its 10 s of audio)
    or a valid 5-hour MIDI file (1.7e7 ticks)."""
    root = stores["base"] / Path(name).stem
    root.mkdir(exist_ok=True)
    path = root / name
    audio = ""
    if name.endswith(".mp3"):
        seconds = np.arange(22050) / 22050
        sf.write(path, (0.3 * np.sin(2 * np.pi * 440 * seconds)).astype(np.float32), 22050, format="MP3")
        size = bytes((200_000_000 >> shift) & 0x7F for shift in (21, 14, 7, 0))
        path.write_bytes(b"ID3\x03\x00\x00" + size + path.read_bytes())
        (root / "info.csv").write_text(f"id,audio_filename,midi_filename\nt,{name},\n", encoding="utf-8")
        return root
    midi = mido.MidiFile(type=2 if name == "type2.mid" else 1, ticks_per_beat=480)
    for bpm, count, beats in {"fast.mid": [(6e7, 4, 1)], "type2.mid": [(120, 2, 2), (60, 4, 2)],
                              "five-hours.mid": [(120, 36000 // 8, 8)]}[name]:
        track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(bpm))])
        for k in range(count):
            track += [mido.Message("note_on", note=60 + k % 12, velocity=80),
                      mido.Message("note_off", note=60 + k % 12, time=beats * 480)]
        midi.tracks.append(track)
    midi.save(str(path))
    if name == "type2.mid":
        audio = "type2.wav"
        write_tone(root / audio, 440.0, seconds=10.0)
    (root / "info.csv").write_text(f"id,audio_filename,midi_filename\nt,{audio},{name}\n", encoding="utf-8")
    return root


def readme(stores: dict[str, Path]) -> Path:
    path = stores["base"] / "README.md"
    path.write_text("# a text file, not a store\n")
    return path


def altered(stores: dict[str, Path], name: str, n_tracks: int | None = None, n_rows: int | None = None) -> Path:
    """A copy of the three-track store with a count set by hand (as a tool or a person might)."""
    path = stores["base"] / name
    shutil.copyfile(stores["three"], path)
    with h5py.File(path, "a") as handle:
        if n_tracks is not None:
            handle["encoders/symbolic-stats"].attrs["n_tracks"] = np.int64(n_tracks)
        if n_rows is not None:
            handle["tracks"].attrs["n_rows"] = np.int64(n_rows)
    return path


def journal_of_another_store(stores: dict[str, Path]) -> Path:
    """A store beside which lies the journal of an interrupted run on another store."""
    path = stores["base"] / "foreign.h5"
    embed_store(stores["base"] / "three", path, "symbolic-stats")
    other = stores["base"] / "other.h5"
    embed_store(stores["base"] / "three", other, "symbolic-stats")
    writer = StoreWriter(other)
    writer.set_tracks(pd.DataFrame({"id": ["t9"], "audio_filename": [""], "midi_filename": ["t9.mid"], "split": [""],
                                    "group": [""]}))
    writer.close()  # killed before its commit: the batch stays in other.h5.journal
    shutil.copytree(journal_dir(other), journal_dir(path), dirs_exist_ok=True)
    return path


def damaged_journal(stores: dict[str, Path], name: str, damaged: str) -> Path:
    path = stores["base"] / name
    embed_store(stores["base"] / "three", path, "symbolic-stats")
    journal_dir(path).mkdir(exist_ok=True)
    (journal_dir(path) / damaged).write_bytes(b"PK\x03\x04 cut short")
    return path




def params(stores: dict[str, Path], name: str, content: bytes) -> Path:
    """A params file holding exactly ``content`` (bytes, so its encoding is the test's choice)."""
    path = stores["base"] / name
    path.write_bytes(content)
    return path

def empty_legacy_file(stores: dict[str, Path]) -> Path:
    """A file in the student tools' layout whose sections hold no recording."""
    path = stores["base"] / "legacy-empty.h5"
    with h5py.File(path, "w") as handle:
        handle.create_group("audio_embeddings")
        handle.create_group("symbolic_embeddings")
    return path


def garbage(stores: dict[str, Path]) -> Path:
    path = stores["base"] / "garbage.safetensors"
    path.write_bytes(np.random.default_rng(0).bytes(2048))
    return path


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_command_on_the_bad_inputs_of_the_issue(case: Case, stores: dict[str, Path]) -> None:
    (stores["base"] / "outputs").mkdir(exist_ok=True)
    result = run(*case.args(stores))
    assert_handled(result, case.codes, *case.named)
    for word in case.absent:
        assert word.lower() not in result.output.lower(), f"{word!r} in: {result.output}"


def test_loud_float_audio_then_analyze_names_the_failure_and_runs(tmp_path: Path) -> None:
    """4. musicnn on a float WAV peaking at 40: embedded with finite numbers (the original gives NaN), and analyze runs."""
    rows = [{"id": f"q{i}", "audio_filename": f"q{i}.wav", "midi_filename": f"q{i}.mid", "genre": "ab"[i % 2]}
            for i in range(10)]
    root = make_info_csv_dataset(tmp_path / "data", rows)
    for i in range(10):
        write_tone(root / f"q{i}.wav", 300.0 + 40 * i, seconds=3.5, sample_rate=16000)
    seconds = np.arange(int(3.5 * 16000)) / 16000
    sf.write(root / "q0.wav", (40 * np.sin(2 * np.pi * 440 * seconds)).astype(np.float32), 16000, subtype="FLOAT")
    store = tmp_path / "s.h5"
    embedded = run("embed", root, "-e", "musicnn+symbolic-stats", "-o", store)
    assert_handled(embedded, (0,), "10 embedded")
    assert_handled(run("analyze", store, "-l", "genre", "-o", tmp_path / "report"), (0,))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_store_folder_is_a_named_error(tmp_path: Path) -> None:
    """6. A store in a folder the user cannot write, even with nothing left to embed."""
    root = make_info_csv_dataset(tmp_path / "data", [{"id": "a", "audio_filename": "", "midi_filename": "a.mid"}])
    folder = tmp_path / "locked"
    folder.mkdir()
    embed_store(root, folder / "s.h5", "symbolic-stats")
    folder.chmod(0o555)
    try:
        assert_handled(run("embed", root, "-e", "symbolic-stats", "-o", folder / "s.h5"), (2,), str(folder))
    finally:
        folder.chmod(0o755)


def test_unreadable_audio_and_midi_are_named_permission_denied_and_the_other_tracks_go_on() -> None:
    """dataset check stopped on a PermissionError; embed recorded "File not found … re-export" (MIDI)
    or a bare PermissionError (audio)."""
    base = Path(tempfile.mkdtemp())  # not under pytest's tmp_path, whose parents nobody may enter
    try:
        base.chmod(0o777)
        root = make_info_csv_dataset(base / "data", [
            {"id": f"t{i}", "audio_filename": f"t{i}.wav", "midi_filename": f"t{i}.mid"} for i in range(3)])
        # the same work once with every file readable, in this process: the modules it imports are then
        # loaded (the interpreter's own files may lie where nobody may read, e.g. under /root), and the
        # numba functions of librosa compiled, which forked workers inherit
        assert_handled(run("dataset", "check", root), (0,))
        assert_handled(run("embed", root, "-e", "symbolic-stats", "-o", base / "warm.h5"), (0,))
        build_encoder("audio-stats").embed([Track("t0", root / "t0.wav", None)])
        for name in ("t1.wav", "t2.mid"):
            (root / name).chmod(0)
        with without_root_rights():
            checked = run("dataset", "check", root)
            embedded = run("embed", root, "-e", "symbolic-stats+audio-stats", "-o", base / "s.h5")
        locked = [f"permission denied: {root / 't1.wav'}", f"permission denied: {root / 't2.mid'}"]
        assert_handled(checked, (1,), *locked, "chmod a+r")
        assert_handled(embedded, (0,))
        store = Store(base / "s.h5")
        assert sorted(store.pooled("audio-stats").ids) == ["t0", "t2"]
        assert sorted(store.pooled("symbolic-stats").ids) == ["t0", "t1"]
        errors = " ".join(store.failures()["error"])
        assert all(text in errors for text in locked), errors
    finally:
        shutil.rmtree(base)


@pytest.mark.parametrize("options, named", [
    ([], ("no label column 'class' (the default label, which only class-folder datasets have)", "genre", "--label")),
    (["--label", "style"], ("no label column 'style'", "genre")),
    (["--label", "genre", "--group", "work"], ("no group column 'work'", "genre", "--group")),
])
def test_run_checks_its_label_and_group_columns_before_embedding(tmp_path: Path, options, named) -> None:
    """A run whose label or group the dataset lacks stops before any embedding: no store is written."""
    root = make_info_csv_dataset(tmp_path / "data", [
        {"id": f"t{i}", "audio_filename": f"t{i}.wav", "midi_filename": f"t{i}.mid", "genre": "ab"[i % 2]}
        for i in range(4)])
    result = run("run", "--dataset", root, "--out", tmp_path / "out", "--encoders", "symbolic-stats", *options)
    assert_handled(result, (2,), *named)
    assert not (tmp_path / "out" / "embeddings.h5").exists()


def test_run_carries_the_dataset_checks_warnings_into_its_output_and_report(tmp_path: Path) -> None:
    """A pair whose audio lasts 1 s and its MIDI 10 s: the run says so before embedding, lists it in
    dataset_warnings.csv, and the report's notes (page and metrics.json) carry it."""
    rows = [{"id": f"t{i}", "audio_filename": f"t{i}.wav", "midi_filename": f"t{i}.mid", "genre": "ab"[i % 2]}
            for i in range(8)]
    root = make_info_csv_dataset(tmp_path / "data", rows)
    write_midi(root / "t3.mid", [60 + k % 12 for k in range(40)])  # 40 notes of 0.25 s: 10 s against 1 s of audio
    out_dir = tmp_path / "out"
    result = run("run", "--dataset", root, "--out", out_dir, "--encoders", "symbolic-stats", "--label", "genre",
                 "--probe-models", "")
    assert_handled(result, (0,), "1 warning(s)")
    warning = "track 't3' (" + str(root / "t3.mid") + "): audio lasts 1.0 s but the MIDI 10.0 s"
    output = result.output
    assert warning in output and output.index(warning) < output.index("embedding ")
    listed = list(csv.DictReader(io.StringIO((out_dir / "dataset_warnings.csv").read_text())))
    assert [row["track_id"] for row in listed] == ["t3"]
    page = (out_dir / "report" / "index.html").read_text()
    assert "audio lasts 1.0 s but the MIDI 10.0 s" in page
    notes = json.loads((out_dir / "report" / "metrics.json").read_text())["notes"]
    assert any(warning in note for note in notes), notes
