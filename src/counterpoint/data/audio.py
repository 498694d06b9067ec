"""Reading audio files into mono float32 waveforms at the rate an encoder wants.

Decoding goes through ``librosa.load`` (soundfile for WAV/FLAC/OGG/MP3, resampling with
soxr at high quality), which is what the reference implementations of musicnn and others
use, so our inputs match theirs sample for sample. An encoder whose reference resamples
otherwise passes its own ``resampler`` (:mod:`counterpoint.data.resample`).

Before decoding, a file is checked whole: libsndfile clamps a WAV/AIFF whose data chunk
was cut short to what is there, and would hand back a shorter file without a word, so the
header's promise is compared with the file; for FLAC and MP3 the last announced sample must
be readable, an Ogg file must end with a whole end-of-stream page, and an ID3 tag at the start
must not claim more bytes than the file holds (libsndfile would only say "possibly a pipe?").

mpg123, libsndfile's MP3 decoder, prints its warnings ("Xing stream size off by more than 1%")
on the process's standard error from C, where they name no file. While an MPEG file is read,
that stream is collected (one MPEG file at a time) and each message is logged as a warning
naming the file; anything else written there meanwhile is passed on unchanged.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from counterpoint.data.resample import Resampler
from counterpoint.errors import TrackError

#: Peak amplitude below which a file counts as silent (about -100 dBFS).
SILENCE_PEAK = 1e-5
#: What to do about a damaged file.
REPLACE = "re-export or re-download the file, or remove the track"
#: libsndfile's header log line for a data chunk longer than the file, e.g. "data : 88200 (should be 44078)".
_SHORT_DATA_CHUNK = re.compile(r"^\s*(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
#: Suffixes of the files mpg123 decodes (besides any file that starts with an ID3 tag).
MPEG_SUFFIXES = (".mp3", ".mp2", ".mp1", ".mpga")
#: How mpg123's messages on standard error begin.
_DECODER_MESSAGE = re.compile(r"^(?:Warning:|Note:|Error:|\[src/libmpg123/)")
#: One MPEG file at a time has its decoder's standard error collected (a process has one stderr).
_STDERR_LOCK = threading.Lock()
#: (file, message) pairs already logged, so that a file read twice (checked, then measured) warns once.
_LOGGED: set[tuple[str, str]] = set()
log = logging.getLogger(__name__)


def _id3_damage(path: Path) -> str | None:
    """How an ID3v2 tag at the start of ``path`` is damaged (it claims more bytes than the file holds); None if fine.

    The tag's header is ``ID3``, two version bytes, a flags byte and its size in four 7-bit bytes
    (not counting the 10-byte header, nor a 10-byte footer when flag 0x10 is set).
    """
    with path.open("rb") as handle:
        header = handle.read(10)
    if len(header) < 10 or header[:3] != b"ID3":
        return None
    size = 0
    for byte in header[6:10]:
        size = (size << 7) | (byte & 0x7F)
    claimed = 10 + size + (10 if header[5] & 0x10 else 0)
    held = path.stat().st_size
    if claimed < held:
        return None
    return (f"damaged ID3 tag: the tag at the start of the file claims {claimed:,} bytes but the file holds "
            f"{held:,} bytes, so no audio is left to decode")


def _is_mpeg(path: Path) -> bool:
    if path.suffix.lower() in MPEG_SUFFIXES:
        return True
    with path.open("rb") as handle:
        return handle.read(3) == b"ID3"


@contextmanager
def decoder_messages(path: Path, who: str) -> Iterator[None]:
    """Log what mpg123 prints on standard error while the block reads the MPEG file ``path`` as
    warnings naming ``who``; other files are read without this."""
    if not _is_mpeg(path):
        yield
        return
    with _STDERR_LOCK, tempfile.TemporaryFile() as collected:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(collected.fileno(), 2)
        try:
            yield
        finally:  # a file that fails to decode still has its decoder's messages reported
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            collected.seek(0)
            _report_decoder_messages(path, who, collected.read().decode("utf-8", errors="replace"))


def _report_decoder_messages(path: Path, who: str, text: str) -> None:
    """Log each mpg123 message of ``text`` (once per file) naming ``who``; pass any other text on to standard error."""
    passed_on = []
    for line in text.splitlines(keepends=True):
        message = line.strip()
        if not _DECODER_MESSAGE.match(message):
            passed_on.append(line)
        elif (str(path), message) not in _LOGGED:
            _LOGGED.add((str(path), message))
            log.warning(f"{who}: the MP3 decoder (mpg123) says: {message} — the file may be damaged; "
                        "re-encode or re-download it if it sounds wrong")
    if passed_on:
        sys.stderr.write("".join(passed_on))


def _ogg_truncation(path: Path) -> str | None:
    """How an Ogg file falls short: a page cut off, or a stream without its last (end-of-stream) page.

    Ogg headers announce no length, so the pages are walked (RFC 3533: 27 header bytes, a
    segment table, then the segments).
    """
    size = path.stat().st_size
    open_streams: set[bytes] = set()
    offset = 0
    with path.open("rb") as handle:
        while offset < size:
            handle.seek(offset)
            header = handle.read(27)
            if header[:4] != b"OggS":
                if offset and not open_streams:
                    return None  # bytes after the last stream ended (a tag): not our concern
                return f"damaged: no Ogg page where one should start (byte {offset} of {size})"
            table = handle.read(header[26]) if len(header) == 27 else b""
            end = offset + 27 + len(table) + sum(table)
            if len(header) < 27 or len(table) < header[26] or end > size:
                return f"truncated: the last Ogg page is cut off (the file ends at byte {size} of {end})"
            flags, serial = header[5], header[14:18]
            if flags & 0x02:
                open_streams.add(serial)
            if flags & 0x04:
                open_streams.discard(serial)
            offset = end
    if open_streams:
        return "truncated: the Ogg stream ends without its end-of-stream page"
    return None


def _truncation(path: Path) -> str | None:
    """How ``path`` falls short of what its header announces; None if whole (or not a format soundfile reads)."""
    import soundfile as sf

    with path.open("rb") as handle:
        if handle.read(4) == b"OggS":
            return _ogg_truncation(path)
    try:
        info = sf.info(str(path), verbose=True)
    except Exception:  # not for libsndfile: the decoder below reports it
        return None
    short = _SHORT_DATA_CHUNK.search(info.extra_info)
    if short and 0 < int(short[2]) < int(short[1]) < 0xFFFFFFFF:  # 0xFFFFFFFF: a stream writer's "unknown"
        held, announced = int(short[2]), int(short[1])
        seconds = info.frames / info.samplerate
        return (f"truncated: the file holds {held} of the {announced} bytes of samples its header announces "
                f"(about {seconds:.2f} s of {seconds * announced / held:.2f} s)")
    if info.frames <= 0:
        return None
    try:
        with sf.SoundFile(str(path)) as handle:
            handle.seek(info.frames - 1)
            last = handle.read(1)
    except Exception:
        last = []
    if len(last) == 0:
        return (f"truncated: the header announces {info.frames} samples ({info.frames / info.samplerate:.2f} s) "
                "but the data ends before that")
    return None


def _reason(exc: BaseException) -> str:
    """The first non-empty message along an exception's chain, without soundfile's "Error opening 'x': " prefix."""
    seen: BaseException | None = exc
    while seen is not None:
        text = re.sub(r"^Error opening .*?: ", "", str(seen)).strip()
        if text:
            return text
        seen = seen.__cause__ or seen.__context__
    return type(exc).__name__


def _check_whole(path: Path, who: str) -> None:
    """Raise TrackError if ``path`` is missing, empty or truncated."""
    if not path.is_file():
        raise TrackError(f"{who}: file not found — check the path, or remove the track")
    try:
        path.open("rb").close()
    except PermissionError as exc:
        raise TrackError(f"{who}: permission denied: {path} — make it readable (chmod a+r {path}) "
                         "or run as a user who can read it") from exc
    if path.stat().st_size == 0:
        raise TrackError(f"{who}: empty file (0 bytes) — {REPLACE}")
    damaged_tag = _id3_damage(path)
    if damaged_tag:
        raise TrackError(f"{who}: {damaged_tag} — remove or repair the tag (e.g. with a tag editor), "
                         "or re-export the file")
    with decoder_messages(path, who):
        truncated = _truncation(path)
    if truncated:
        raise TrackError(f"{who}: {truncated} — {REPLACE}")


def load_audio(path: str | Path, sample_rate: int | None, *, track_id: str | None = None,
               resampler: Resampler | None = None) -> np.ndarray:
    """Decode ``path`` to a mono float32 waveform at ``sample_rate`` Hz (None: the file's own rate).

    ``resampler`` brings a file at another rate to ``sample_rate`` (default: soxr, as librosa does).

    Raises :class:`TrackError` naming the file when it is missing, empty, truncated, cannot
    be decoded, holds no samples, or is silent (an encoder's output on silence says nothing about the music).
    """
    import librosa

    path = Path(path)
    who = f"track {track_id!r} ({path})" if track_id else str(path)
    _check_whole(path, who)
    try:
        with warnings.catch_warnings(), decoder_messages(path, who):
            warnings.simplefilter("ignore")  # audioread fallback warnings are noise here
            waveform, file_rate = librosa.load(path, sr=None if resampler is not None else sample_rate, mono=True)
    except Exception as exc:  # decoders raise many unrelated types
        reason = _reason(exc)
        if type(exc).__name__ == "NoBackendError" or "not recognised" in reason:
            raise TrackError(f"{who}: cannot decode audio: not a recognised audio format ({reason}) — "
                             "check the file plays, or convert it to WAV/FLAC") from exc
        raise TrackError(f"{who}: cannot decode audio, the file is damaged or truncated ({reason}) — {REPLACE}, "
                         "or convert it to WAV/FLAC") from exc
    if waveform.size == 0:
        raise TrackError(f"{who}: the audio file holds no samples — replace it or remove the track")
    if resampler is not None and sample_rate is not None:
        try:
            waveform = resampler(waveform, int(file_rate), sample_rate)
        except ValueError as exc:  # resampy: too few samples to resample
            raise TrackError(f"{who}: cannot resample {file_rate} Hz to {sample_rate} Hz ({exc}) — "
                             "the file is too short; replace it or remove the track") from exc
    if not np.all(np.isfinite(waveform)):
        raise TrackError(f"{who}: the audio holds NaN or infinite samples — re-export the file")
    if float(np.max(np.abs(waveform))) < SILENCE_PEAK:
        raise TrackError(f"{who}: the audio is silent (peak below {SILENCE_PEAK:g}) — replace it or remove the track")
    return waveform.astype(np.float32, copy=False)


def audio_duration(path: str | Path) -> float:
    """Length of an audio file in seconds, read from its header when possible."""
    import librosa

    with decoder_messages(Path(path), str(path)):
        return float(librosa.get_duration(path=str(path)))


#: Seconds of audio decoded, resampled and handed on at a time by :func:`stream_audio`.
STREAM_BLOCK_SECONDS = 30.0


def stream_audio(path: str | Path, sample_rate: int | None, *, track_id: str | None = None,
                 resampler: Resampler | None = None, max_seconds: float | None = None,
                 block_seconds: float = STREAM_BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """:func:`load_audio` in blocks: mono float32 pieces at ``sample_rate`` Hz whose concatenation is
    the waveform ``load_audio`` returns, so a long file never sits in memory whole.

    soundfile decodes ``block_seconds`` of the file at a time (WAV, FLAC, OGG, MP3), the channels
    are averaged as ``librosa.to_mono`` does, and soxr resamples them as a stream, which gives the
    samples of librosa's one-shot soxr bit for bit. ``max_seconds`` reads only the start of the file
    (its first ``int(max_seconds × file rate)`` samples). A format soundfile cannot stream, or an
    encoder's own ``resampler`` (which works on whole waveforms), falls back to ``load_audio``.
    The same checks as ``load_audio`` raise :class:`TrackError`; silence is known only at the end,
    so that error comes after the last block.
    """
    import soundfile as sf
    import soxr

    path = Path(path)
    who = f"track {track_id!r} ({path})" if track_id else str(path)
    _check_whole(path, who)
    try:
        with decoder_messages(path, who):
            handle = sf.SoundFile(str(path))
    except Exception:  # not for libsndfile: load_audio's decoders (audioread) say what is wrong
        handle = None
    if handle is None or resampler is not None:
        if handle is not None:
            handle.close()
        waveform = load_audio(path, sample_rate, track_id=track_id, resampler=resampler)
        if max_seconds is not None:
            import librosa

            waveform = waveform[:int(max_seconds * (sample_rate or librosa.get_samplerate(str(path))))]
        yield waveform
        return
    with handle:
        file_rate = handle.samplerate
        remaining = handle.frames if max_seconds is None else min(handle.frames, int(max_seconds * file_rate))
        per_block = max(1, int(block_seconds * file_rate))
        stream = (soxr.ResampleStream(file_rate, sample_rate, 1, dtype="float32", quality="soxr_hq")
                  if sample_rate is not None and sample_rate != file_rate else None)
        peak, decoded = 0.0, 0
        while remaining > 0:
            try:
                with decoder_messages(path, who):  # each read apart: the block's consumer runs between them
                    block = handle.read(min(per_block, remaining), dtype="float32", always_2d=True)
            except Exception as exc:  # decoders raise many unrelated types
                raise TrackError(f"{who}: cannot decode audio after {decoded / file_rate:.1f} s ({_reason(exc)}) — "
                                 f"{REPLACE}, or convert it to WAV/FLAC") from exc
            if not len(block):  # fewer samples than the header said: what was read is the file
                remaining = 0
            remaining -= len(block)
            decoded += len(block)
            mono = block[:, 0] if block.shape[1] == 1 else np.mean(block, axis=1)
            if stream is not None:
                mono = stream.resample_chunk(mono, last=remaining <= 0)
            if not np.all(np.isfinite(mono)):
                raise TrackError(f"{who}: the audio holds NaN or infinite samples — re-export the file")
            if mono.size:
                peak = max(peak, float(np.max(np.abs(mono))))
                yield np.ascontiguousarray(mono, dtype=np.float32)
    if decoded == 0:
        raise TrackError(f"{who}: the audio file holds no samples — replace it or remove the track")
    if peak < SILENCE_PEAK:
        raise TrackError(f"{who}: the audio is silent (peak below {SILENCE_PEAK:g}) — replace it or remove the track")
