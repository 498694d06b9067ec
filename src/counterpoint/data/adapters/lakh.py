"""The Lakh MIDI Dataset's matched subset (LMD-matched / LMD-aligned), paired with audio you hold by MSD id."""

from __future__ import annotations

import json
from pathlib import Path

from counterpoint.data.adapters.base import SourceRow, SourceRows, layout_error
from counterpoint.data.manifest import AUDIO_EXTENSIONS
from counterpoint.errors import DatasetError

KIND = "lakh-matched"
LAYOUT = ("SOURCE/match_scores.json ({msd_id: {midi_md5: score}}) and SOURCE/lmd_matched/ (or lmd_aligned/) "
          "holding <A>/<B>/<C>/<msd_id>/<midi_md5>.mid; audio, if any, anywhere under SOURCE named <msd_id>.<ext> "
          "(e.g. SOURCE/audio/TRRRUFD12903CD7092.mp3)")
MIDI_FOLDERS = ("lmd_matched", "lmd_aligned")


def looks_like(source: Path) -> bool:
    return (source / "match_scores.json").is_file()


def read(source: Path) -> SourceRows:
    """One row per MSD id whose MIDI is present: the best-scoring MIDI match and the audio named by the id.

    Labels ``msd_id``, ``midi_md5``, ``match_score``; group = msd_id. Ids without audio are MIDI-only
    rows (``dataset render`` completes them).
    """
    scores_file = source / "match_scores.json"
    if not scores_file.is_file():
        raise layout_error(KIND, source, LAYOUT, found="there is no match_scores.json")
    midi_root = next((source / name for name in MIDI_FOLDERS if (source / name).is_dir()), None)
    if midi_root is None:
        raise layout_error(KIND, source, LAYOUT, found=f"there is no {' or '.join(MIDI_FOLDERS)} folder")
    try:
        scores = json.loads(scores_file.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{scores_file}: cannot be read as JSON ({exc}) — use the file as distributed") from exc
    audio_by_id = {p.stem: p for p in sorted(source.rglob("TR*")) if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file()}
    rows = []
    for msd_id, matches in sorted(scores.items()):
        folder = midi_root / msd_id[2] / msd_id[3] / msd_id[4] / msd_id
        present = {md5: score for md5, score in matches.items() if (folder / f"{md5}.mid").is_file()}
        if not present:
            continue
        best = max(present, key=present.get)
        rows.append(SourceRow(msd_id, audio_by_id.get(msd_id), folder / f"{best}.mid",
                              {"msd_id": msd_id, "midi_md5": best, "match_score": f"{present[best]:.4f}"}, None, msd_id))
    return SourceRows(rows)
