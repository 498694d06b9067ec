"""A paired audio/MIDI demo corpus built offline from the scores that ship with music21.

``build_demo_corpus`` picks works of several styles from ``music21.corpus`` (Bach chorales,
Palestrina masses, Monteverdi madrigals, Trecento songs, fiddle tunes, German and Chinese
folksongs), writes an excerpt of each as MIDI, renders it to audio with a General MIDI
SoundFont (:mod:`counterpoint.data.render`), and writes ``info.csv`` with style, composer,
work, a leak-free ``group`` (the work), a ``split`` column and ``audio_source`` (``rendered:TimGM6mb``).

Instruments are faithful to each style but drawn per part from a small palette whose
members recur across styles (organ, choir, strings, piano, flute, violin...), so that the
style cannot be told from the timbre alone; the drawn instruments are recorded.

Everything is deterministic for a seed: the candidate order, the instruments, the splits,
and the bytes of every MIDI and WAV file.
"""

from __future__ import annotations

import re
import shutil
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from counterpoint.defaults import DEMO_MIN_PIECES_PER_STYLE
from counterpoint.errors import CounterpointError, DatasetError, TrackError
from counterpoint.progress import ProgressCallback

#: Columns of the written ``info.csv``, in order.
INFO_COLUMNS = ("id", "audio_filename", "midi_filename", "style", "composer", "work", "group", "split",
                "source", "instrument", "programs", "tempo_qpm", "duration_s", "audio_source")
SKIPPED_NAME = "skipped.csv"
#: Events closer than this to the excerpt's end (s) are dropped: MIDI ticks round times.
_EPSILON = 1e-3


# General MIDI programs (0-based) used by the palettes.
PIANO, CHURCH_ORGAN, ACCORDION, NYLON_GUITAR, VIOLIN, CELLO = 0, 19, 21, 24, 40, 42
STRINGS, CHOIR_AAHS, VOICE_OOHS, TROMBONE, FLUTE, RECORDER, PAN_FLUTE, FIDDLE = 48, 52, 53, 57, 73, 74, 75, 110


@dataclass(frozen=True)
class Candidate:
    """One score in the music21 corpus that may become a piece of the corpus."""

    source: str                # path relative to the music21 corpus folder
    number: int | None         # tune number inside an ABC collection, else None
    group: str                 # the work: excerpts sharing it never straddle a split
    composer: str
    work: str


@dataclass(frozen=True)
class Style:
    """A style class: where its scores are, how fast and on what it is played."""

    name: str
    default_qpm: float                   # quarter notes per minute when the score gives no tempo
    palette: tuple[int, ...]             # GM programs drawn per part
    loop: bool                           # repeat a short tune until the excerpt is full (dances, strophic songs)
    list_candidates: Callable[[Path], list[Candidate]] = field(repr=False)


# ---------------------------------------------------------------- candidate lists

def _title_case(text: str) -> str:
    return " ".join(w.capitalize() for w in text.split())


def _bach_chorales(root: Path) -> list[Candidate]:
    out = []
    for path in sorted((root / "bach").glob("bwv*.mxl")):
        cantata = re.match(r"bwv(\d+)", path.stem)
        if cantata:
            out.append(Candidate(path.relative_to(root).as_posix(), None, f"BWV {cantata.group(1)}",
                                 "Johann Sebastian Bach", f"Chorale BWV {path.stem[3:]}"))
    return out


def _humdrum_header(path: Path) -> dict[str, str]:
    header = {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.startswith("!!!"):
                break
            key, _, value = line[3:].partition(":")
            header[key.strip()] = value.strip()
    return header


def _palestrina_masses(root: Path) -> list[Candidate]:
    out = []
    for path in sorted((root / "palestrina").glob("*.krn")):
        header = _humdrum_header(path)
        mass = header.get("OPR", path.stem)
        out.append(Candidate(path.relative_to(root).as_posix(), None, mass, "Giovanni Pierluigi da Palestrina",
                             f"{mass}: {header.get('OTL', path.stem)}"))
    return out


def _monteverdi_madrigals(root: Path) -> list[Candidate]:
    out = []
    for path in sorted((root / "monteverdi").glob("madrigal.*.mxl")):
        book, number = path.stem.split(".")[1:3]
        out.append(Candidate(path.relative_to(root).as_posix(), None, path.stem, "Claudio Monteverdi",
                             f"Madrigals book {book}, no. {number}"))
    return out


def _trecento(root: Path) -> list[Candidate]:
    out = []
    for path in sorted((root / "trecento").glob("*.xml")):
        title = re.sub(r"^PMFC_[\d_]+-", "", path.stem).replace("_", " ")
        out.append(Candidate(path.relative_to(root).as_posix(), None, path.stem, "", title))
    return out


def _abc_tunes(path: Path, root: Path, composer: str) -> list[Candidate]:
    """Every tune (X: number) of an ABC file, grouped by title so variants stay together."""
    out = []
    number, title = None, None
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines() + ["X:"]
    for line in lines:
        if line.startswith("X:"):
            if number is not None:
                work = _title_case(title or path.stem)
                out.append(Candidate(path.relative_to(root).as_posix(), number, f"{path.parent.name}:{work.lower()}",
                                     composer, work))
            digits = re.match(r"X:\s*(\d+)", line)
            number, title = (int(digits.group(1)) if digits else None), None
        elif line.startswith("T:") and title is None:
            title = line[2:].strip()
    return out


def _fiddle_tunes(root: Path) -> list[Candidate]:
    out = []
    for path in sorted((root / "ryansMammoth").glob("*.abc")):
        tunes = _abc_tunes(path, root, "traditional")
        out.extend(Candidate(t.source, None if len(tunes) == 1 else t.number, t.group, t.composer, t.work)
                   for t in tunes)
    return out


#: Essen collections of German-language folksongs (the others are Chinese, Irish, tests).
_GERMAN_ESSEN = ("altdeu", "ballad", "boehme", "dva", "erk", "fink", "kinder", "zuccal")


def _german_folksongs(root: Path) -> list[Candidate]:
    out = []
    for path in sorted((root / "essenFolksong").glob("*.abc")):
        if path.stem.startswith(_GERMAN_ESSEN):
            out.extend(_abc_tunes(path, root, "traditional (German)"))
    return out


def _chinese_folksongs(root: Path) -> list[Candidate]:
    out = []
    for path in sorted((root / "essenFolksong").glob("han*.abc")):
        out.extend(_abc_tunes(path, root, "traditional (Han Chinese)"))
    return out


#: The styles of the demo corpus. Palettes overlap between styles on purpose.
STYLES: tuple[Style, ...] = (
    Style("bach_chorale", 76.0, (CHOIR_AAHS, CHURCH_ORGAN, STRINGS, PIANO), False, _bach_chorales),
    Style("palestrina_mass", 120.0, (CHOIR_AAHS, VOICE_OOHS, CHURCH_ORGAN, TROMBONE), False, _palestrina_masses),
    Style("monteverdi_madrigal", 90.0, (CHOIR_AAHS, VOICE_OOHS, STRINGS, NYLON_GUITAR), False, _monteverdi_madrigals),
    Style("trecento", 100.0, (VOICE_OOHS, RECORDER, NYLON_GUITAR, CHURCH_ORGAN), False, _trecento),
    Style("fiddle_tune", 112.0, (FIDDLE, VIOLIN, FLUTE, ACCORDION), True, _fiddle_tunes),
    Style("german_folksong", 96.0, (VOICE_OOHS, FLUTE, VIOLIN, PIANO), True, _german_folksongs),
    Style("chinese_folksong", 88.0, (VOICE_OOHS, FLUTE, PAN_FLUTE, VIOLIN), True, _chinese_folksongs),
)


def corpus_root() -> Path:
    """The folder of music21's bundled corpus."""
    import music21.corpus

    return Path(music21.corpus.__file__).resolve().parent


def ordered_candidates(style: Style, root: Path, seed: int) -> list[Candidate]:
    """The style's candidates in a seeded order that visits every work before a second excerpt of any.

    The first candidates are thus all distinct works; a later candidate of an already used
    work only matters when an earlier excerpt of it failed to build.
    """
    candidates = style.list_candidates(root)
    rng = np.random.default_rng([seed, zlib.crc32(style.name.encode())])
    shuffled = [candidates[i] for i in rng.permutation(len(candidates))]
    rank: dict[str, int] = {}
    keyed = []
    for position, candidate in enumerate(shuffled):
        round_ = rank.get(candidate.group, 0)
        rank[candidate.group] = round_ + 1
        keyed.append((round_, position, candidate))
    return [candidate for _, _, candidate in sorted(keyed, key=lambda item: item[:2])]


# ---------------------------------------------------------------- one piece

def piece_id(style: Style, candidate: Candidate) -> str:
    """A file-name-safe id, e.g. ``bach_chorale-bwv1.6`` or ``german_folksong-erk10-12``."""
    stem = Path(candidate.source).with_suffix("").name
    if candidate.number is not None:
        stem = f"{stem}-{candidate.number}"
    return f"{style.name}-" + re.sub(r"[^a-z0-9.]+", "-", stem.lower()).strip("-")


def _gm_name(program: int) -> str:
    import pretty_midi

    return pretty_midi.program_to_instrument_name(program)


def _unshare_time_signatures(score) -> None:
    """Give every measure its own TimeSignature object.

    music21's ABC reader puts one TimeSignature object into several measures of a tune
    that changes metre; its MIDI writer then refuses to insert it twice into the tempo track.
    """
    import copy

    from music21 import meter, stream

    seen: set[int] = set()
    for measure in score.recurse().getElementsByClass(stream.Measure):
        for signature in list(measure.getElementsByClass(meter.TimeSignature)):
            if id(signature) in seen:
                offset = measure.elementOffset(signature)
                measure.remove(signature)
                measure.insert(offset, copy.deepcopy(signature))
            seen.add(id(signature))


def _tiled(events: list, repeats: int, period: float, seconds: float, value: Callable[[object], tuple],
           at: Callable[[tuple, float], object]) -> list:
    """Time/key signature events repeated every ``period`` s like the notes, cut at ``seconds``.

    ``value(event)`` is what the event sets (e.g. (3, 4)); ``at(value, time)`` makes an event.
    An event that restates the value already in force is dropped.
    """
    out: list = []
    for k in range(repeats):
        for event in events:
            time = event.time + k * period
            if time < seconds - _EPSILON and (not out or value(out[-1]) != value(event)):
                out.append(at(value(event), time))
    return out


def _score_to_excerpt_midi(score, style: Style, seconds: float, programs_rng: np.random.Generator):
    """The first ``seconds`` of ``score`` as a PrettyMIDI object, one tempo, palette programs.

    Returns (midi, quarter notes per minute).
    """
    import io

    import pretty_midi
    from music21 import midi as m21midi
    from music21 import stream, tempo

    marks = [m for m in score.recurse().getElementsByClass(tempo.MetronomeMark) if m.number is not None]
    qpm = float(marks[0].getQuarterBPM()) if marks else style.default_qpm
    if not 30.0 <= qpm <= 300.0:
        qpm = style.default_qpm
    qpm = round(qpm, 1)
    if not style.loop:
        # Only the written measures that can sound within the excerpt matter (repeats only go
        # back); dropping the rest first makes expansion and MIDI export several times faster.
        excerpt_quarters = seconds * qpm / 60.0
        for part in score.parts:
            for measure in list(part.getElementsByClass(stream.Measure)):
                if measure.offset >= excerpt_quarters:
                    part.remove(measure)
    try:
        score = score.expandRepeats()
    except Exception:  # music21 cannot expand every repeat structure; play it as written
        pass
    for mark in list(score.recurse().getElementsByClass(tempo.TempoIndication)):
        mark.activeSite.remove(mark)
    _unshare_time_signatures(score)
    parts = list(score.parts) or [score]
    parts[0].insert(0, tempo.MetronomeMark(number=qpm))
    midi_bytes = m21midi.translate.music21ObjectToMidiFile(score).writestr()
    midi = pretty_midi.PrettyMIDI(io.BytesIO(midi_bytes))

    period = float(score.duration.quarterLength) * 60.0 / qpm
    repeats = int(np.ceil(seconds / period)) if style.loop and period > 0 else 1
    for instrument in midi.instruments:
        notes = [pretty_midi.Note(n.velocity, n.pitch, n.start + k * period, n.end + k * period)
                 for k in range(repeats) for n in instrument.notes]
        instrument.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start, min(n.end, seconds))
                            for n in notes if n.start < seconds - _EPSILON and min(n.end, seconds) - n.start > _EPSILON]
        instrument.control_changes = [c for c in instrument.control_changes if c.time < seconds - _EPSILON]
        instrument.pitch_bends = [b for b in instrument.pitch_bends if b.time < seconds - _EPSILON]
    midi.instruments = [i for i in midi.instruments if i.notes]
    for instrument in midi.instruments:
        instrument.program = int(style.palette[programs_rng.integers(len(style.palette))])
        instrument.is_drum = False
        instrument.name = _gm_name(instrument.program)
    midi.time_signature_changes = _tiled(
        midi.time_signature_changes, repeats, period, seconds, lambda t: (t.numerator, t.denominator),
        lambda v, time: pretty_midi.TimeSignature(*v, time))
    midi.key_signature_changes = _tiled(
        midi.key_signature_changes, repeats, period, seconds, lambda k: (k.key_number,),
        lambda v, time: pretty_midi.KeySignature(*v, time))
    midi.lyrics = [x for x in midi.lyrics if x.time < seconds - _EPSILON]
    midi.text_events = [x for x in midi.text_events if x.time < seconds - _EPSILON]
    return midi, qpm


def build_piece(style: Style, candidate: Candidate, out_dir: Path, *, seconds: float, seed: int,
                sample_rate: int) -> dict[str, str]:
    """Parse one score, write its MIDI excerpt and rendered audio; the info.csv row (sans split).

    Raises :class:`TrackError` (naming the corpus file) when the score cannot be parsed,
    has no notes in the excerpt, or cannot be rendered; no file is left behind then.
    """
    from music21 import converter

    from counterpoint.data.render import audio_source, default_soundfont, render_midi

    track_id = piece_id(style, candidate)
    where = candidate.source + (f" (tune X:{candidate.number})" if candidate.number is not None else "")
    midi_path = out_dir / "midi" / f"{track_id}.mid"
    wav_path = out_dir / "audio" / f"{track_id}.wav"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # music21 warns about many harmless notation quirks
            path = corpus_root() / candidate.source
            score = (converter.parse(path, number=candidate.number) if candidate.number is not None
                     else converter.parse(path))
            programs_rng = np.random.default_rng([seed, zlib.crc32(track_id.encode())])
            midi, qpm = _score_to_excerpt_midi(score, style, seconds, programs_rng)
    except Exception as exc:  # music21 raises many unrelated types on odd scores
        raise TrackError(f"music21 corpus file {where}: cannot be turned into MIDI ({type(exc).__name__}: {exc}) "
                         "— it is skipped; the next candidate of the style is taken") from exc
    if not midi.instruments:
        raise TrackError(f"music21 corpus file {where}: no notes in the first {seconds:g} s — skipped")
    midi_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        midi.write(str(midi_path))
        render_midi(midi_path, wav_path, sample_rate=sample_rate)
    except BaseException:
        midi_path.unlink(missing_ok=True)
        wav_path.unlink(missing_ok=True)
        raise
    metadata = getattr(score, "metadata", None)
    composer = candidate.composer or ((metadata.composer or "").strip() if metadata else "")
    if not composer or composer.lower().startswith(("anonymous", "anon.")):  # e.g. "Anonymous GB-Lbm 29987"
        composer = "anonymous"
    programs = [i.program for i in midi.instruments]
    return {
        "id": track_id,
        "audio_filename": wav_path.relative_to(out_dir).as_posix(),
        "midi_filename": midi_path.relative_to(out_dir).as_posix(),
        "style": style.name,
        "composer": composer,
        "work": candidate.work,
        "group": f"{style.name}:{candidate.group}",
        "source": where,
        "instrument": "+".join(_gm_name(p) for p in sorted(set(programs))),
        "programs": ";".join(str(p) for p in programs),
        "tempo_qpm": f"{qpm:g}",
        "duration_s": f"{midi.get_end_time():.3f}",
        "audio_source": audio_source(default_soundfont()),  # a rendering of the MIDI: aligned in time by identity
    }


def _build_piece_job(args: tuple) -> tuple[dict[str, str] | None, str | None]:
    """Process-pool entry: (row, None) on success, (None, error message) on a skipped score."""
    try:
        style, candidate, out_dir, seconds, seed, sample_rate = args
        return build_piece(style, candidate, out_dir, seconds=seconds, seed=seed, sample_rate=sample_rate), None
    except TrackError as exc:
        # Memory addresses in music21's messages would make skipped.csv differ between runs.
        return None, re.sub(r"(id\(\)=\d+|0x[0-9a-f]+)", "…", str(exc))


# ---------------------------------------------------------------- the corpus

@contextmanager
def _executor(workers: int) -> Iterator[Callable]:
    """A ``map`` that keeps input order: in-process for one worker, else a process pool."""
    if workers <= 1:
        yield map
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield pool.map


def _styles_named(styles: Sequence[str | Style] | None) -> tuple[Style, ...]:
    """The :data:`STYLES` named (all when None); :class:`Style` objects pass through."""
    if styles is None:
        return STYLES
    known = {s.name: s for s in STYLES}
    unknown = [s for s in styles if isinstance(s, str) and s not in known]
    if unknown:
        raise CounterpointError(f"unknown demo style(s) {', '.join(unknown)} — choose from {', '.join(known)}")
    return tuple(known[s] if isinstance(s, str) else s for s in styles)


def _prepare_out_dir(out_dir: Path) -> None:
    """Create ``out_dir``; clear the files of an earlier demo build, refuse any other folder."""
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / "info.csv").is_file():
            raise DatasetError(f"{out_dir}: exists and is not an earlier demo corpus (no info.csv) — "
                               "give a new or empty folder")
        for sub in ("midi", "audio"):
            shutil.rmtree(out_dir / sub, ignore_errors=True)
        (out_dir / SKIPPED_NAME).unlink(missing_ok=True)
    out_dir.mkdir(parents=True, exist_ok=True)


def build_corpus(out_dir: str | Path, *, pieces_per_style: int = 30, excerpt_seconds: float = 30.0, seed: int = 0,
                 workers: int = 2, sample_rate: int = 22050, styles: Sequence[str | Style] | None = None,
                 progress: ProgressCallback | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Build the corpus into ``out_dir``; return (info table, skipped scores table).

    The computing core of :func:`build_demo_corpus`, reporting ``progress(what, done, total)`` after
    each score: ``what`` is the id of the piece made, or ``skipped SOURCE: reason``.
    Works are taken in the seeded order of :func:`ordered_candidates`; a score that fails is
    recorded as skipped and the next candidate of its style is taken, in waves, so the
    result does not depend on ``workers``.
    """
    if pieces_per_style < DEMO_MIN_PIECES_PER_STYLE:
        raise CounterpointError(f"pieces_per_style is {pieces_per_style} — give at least {DEMO_MIN_PIECES_PER_STYLE}, "
                                "so that every style has a work in train, validation and test")
    if excerpt_seconds <= 0:
        raise CounterpointError(f"excerpt_seconds is {excerpt_seconds} — give a positive length in seconds")
    out_dir = Path(out_dir).expanduser().resolve()
    _prepare_out_dir(out_dir)
    root = corpus_root()
    chosen_styles = _styles_named(styles)
    queues = {s.name: ordered_candidates(s, root, seed) for s in chosen_styles}
    accepted: dict[str, list[dict[str, str]]] = {s.name: [] for s in chosen_styles}
    used_groups: dict[str, set[str]] = {s.name: set() for s in chosen_styles}
    skipped: list[dict[str, str]] = []
    total = pieces_per_style * len(chosen_styles)
    done = 0
    with _executor(workers) as ordered_map:
        while True:
            wave: list[tuple[Style, Candidate]] = []
            for style in chosen_styles:
                missing = pieces_per_style - len(accepted[style.name])
                queue, wave_groups = queues[style.name], set()
                while missing > 0 and queue:
                    candidate = queue.pop(0)
                    if candidate.group in used_groups[style.name] or candidate.group in wave_groups:
                        continue
                    wave_groups.add(candidate.group)
                    wave.append((style, candidate))
                    missing -= 1
            if not wave:
                break
            jobs = [(style, candidate, out_dir, excerpt_seconds, seed, sample_rate) for style, candidate in wave]
            for (style, candidate), (row, error) in zip(wave, ordered_map(_build_piece_job, jobs)):
                if row is None:
                    skipped.append({"style": style.name, "source": candidate.source,
                                    "number": "" if candidate.number is None else str(candidate.number),
                                    "error": error or ""})
                    message = f"skipped {candidate.source}: {error}"
                else:
                    accepted[style.name].append(row)
                    used_groups[style.name].add(candidate.group)
                    done += 1
                    message = row["id"]
                if progress is not None:
                    progress(message, done, total)
    rows = [row for style in chosen_styles for row in accepted[style.name]]
    info = pd.DataFrame(rows, columns=[c for c in INFO_COLUMNS if c != "split"])
    info.insert(INFO_COLUMNS.index("split"), "split", _splits(info, seed))
    info.to_csv(out_dir / "info.csv", index=False)
    skipped_table = pd.DataFrame(skipped, columns=["style", "source", "number", "error"])
    skipped_table.to_csv(out_dir / SKIPPED_NAME, index=False)
    short = [s.name for s in chosen_styles if len(accepted[s.name]) < pieces_per_style]
    if short:
        raise DatasetError(f"{out_dir}: the music21 corpus gave fewer than {pieces_per_style} usable works for "
                           f"{', '.join(short)} (see {SKIPPED_NAME}) — ask for fewer pieces per style")
    return info, skipped_table


def _splits(info: pd.DataFrame, seed: int) -> np.ndarray:
    """train/validation/test ≈ 70/15/15, stratified by style, no work on two sides."""
    from counterpoint.splits import assert_no_leak, assign_splits

    if info.empty:
        return np.array([], dtype=str)
    splits = assign_splits(info["style"].to_numpy(), groups=info["group"].to_numpy(), seed=seed)
    assert_no_leak(splits, info["group"].to_numpy())
    return splits


@contextmanager
def rich_progress(description: str = "demo corpus") -> Iterator[ProgressCallback]:
    """A ``rich`` progress bar (done/total, rate, ETA) driven through a callback; skips are printed."""
    from rich.markup import escape
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
               TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns) as bar:
        task = bar.add_task(description, total=None, rate="")

        def update(message: str, done: int, total: int) -> None:
            if message.startswith("skipped "):
                bar.console.print(f"[yellow]{escape(message)}")
            speed = bar.tasks[0].speed
            bar.update(task, completed=done, total=total, rate=f"{speed:.2f} pieces/s" if speed else "")

        yield update


def build_demo_corpus(out_dir: str | Path, *, pieces_per_style: int = 30, excerpt_seconds: float = 30.0,
                      seed: int = 0, workers: int = 2, progress: bool = True, sample_rate: int = 22050,
                      styles: Sequence[str | Style] | None = None) -> Path:
    """Write ``out_dir/{midi,audio}/<id>.{mid,wav}``, ``info.csv`` and ``skipped.csv``; return ``out_dir``.

    ``pieces_per_style`` works of each style (one excerpt per work), the first
    ``excerpt_seconds`` seconds of each, rendered at ``sample_rate`` Hz mono; parsing and
    rendering run in ``workers`` processes. ``progress`` shows a rich progress bar.
    """
    kwargs = dict(pieces_per_style=pieces_per_style, excerpt_seconds=excerpt_seconds, seed=seed, workers=workers,
                  sample_rate=sample_rate, styles=styles)
    if progress:
        with rich_progress() as update:
            build_corpus(out_dir, progress=update, **kwargs)
    else:
        build_corpus(out_dir, **kwargs)
    return Path(out_dir).expanduser().resolve()


#: SoundFonts of the designed corpus of ``counterpoint demo --factors`` (see :func:`build_factors_corpus`).
FACTOR_SOUNDFONTS = ("timgm6mb", "merlin")


def build_factors_corpus(demo_corpus: str | Path, out_dir: str | Path, *, pieces_per_style: int = 7, seed: int = 0,
                         progress: ProgressCallback | None = None) -> tuple[Path, list]:
    """The designed corpus of ``counterpoint factors`` from the demo corpus's MIDI: ``pieces_per_style``
    pieces of each style (a seeded choice), each rendered through every SoundFont of
    :data:`FACTOR_SOUNDFONTS` and each rendering transcribed back to MIDI with basic-pitch.

    Writes ``out_dir/pieces/`` (the chosen pieces, MIDI only, linked) and ``out_dir/corpus/`` (the
    completed dataset: rows ``<id>`` rendered with TimGM6mb, ``<id>~Merlin``, and ``<row>~transcribed``
    for each, all sharing ``piece``); returns the corpus folder and the files that failed (each a
    :class:`~counterpoint.data.completion.Failure`, also in the corpus's failures CSVs; their rows are
    left out, the others go on). ``progress(step, done, total)`` follows rendering and transcription.
    Resumes: files already made are reused.
    """
    from counterpoint.data.render import render_dataset
    from counterpoint.data.transcribe import transcribe_dataset

    demo_corpus, out = Path(demo_corpus).expanduser().resolve(), Path(out_dir).expanduser().resolve()
    info = pd.read_csv(demo_corpus / "info.csv", keep_default_na=False, dtype=str)
    chosen = info.sort_values("id").sample(frac=1.0, random_state=seed).groupby("style").head(pieces_per_style)
    pieces = out / "pieces"
    (pieces / "midi").mkdir(parents=True, exist_ok=True)
    for name in chosen.midi_filename:
        link = pieces / name
        if not link.exists():
            link.symlink_to(demo_corpus / name)
    table = chosen.assign(audio_filename="")  # the first SoundFont fills it; each row's piece is its id
    table[["id", "audio_filename", "midi_filename", "style", "composer", "work", "group",
           "split"]].sort_values("id").to_csv(pieces / "info.csv", index=False)
    corpus = out / "corpus"
    rendered = render_dataset(pieces, corpus, soundfonts=FACTOR_SOUNDFONTS, progress=progress)
    transcribed = transcribe_dataset(corpus, every_row=True, progress=progress)
    return corpus, rendered.failures + transcribed.failures
