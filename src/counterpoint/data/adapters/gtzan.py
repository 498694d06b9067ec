"""GTZAN genre collection: 1000 30-s excerpts in ten genre folders, audio only."""

from __future__ import annotations

from pathlib import Path

from counterpoint.data.adapters.base import SourceRow, SourceRows
from counterpoint.data.manifest import AUDIO_EXTENSIONS
from counterpoint.errors import DatasetError

KIND = "gtzan"
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
LAYOUT = ("genre folders SOURCE/<genre>/<genre>.NNNNN.wav (or .au), with <genre> among " + ", ".join(GENRES)
          + "; SOURCE may also be the folder above genres/ or genres_original/ (the Kaggle copy)")
#: Where the genre folders lie in the copies in circulation.
GENRE_PARENTS = (".", "genres", "genres_original", "gtzan_genre/genres", "Data/genres_original")


def genre_root(source: Path) -> Path | None:
    """The folder that holds the genre folders, or None."""
    for parent in GENRE_PARENTS:
        folder = source / parent
        if folder.is_dir() and any((folder / genre).is_dir() for genre in GENRES):
            return folder
    return None


def looks_like(source: Path) -> bool:
    return genre_root(source) is not None


def read(source: Path) -> SourceRows:
    """One audio-only row per excerpt; label ``genre``; no split or group (GTZAN ships neither)."""
    root = genre_root(source)
    if root is None:
        folders = sorted(p.name for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))[:6]
        found = f"its folders are {', '.join(folders)}" if folders else "it has no folders"
        raise DatasetError(f"{source}: not a gtzan layout — {found}, none of them a GTZAN genre. Expected: {LAYOUT}.")
    rows = []
    for genre in GENRES:
        for path in sorted((root / genre).glob(f"{genre}.*")):
            if path.suffix.lower() in AUDIO_EXTENSIONS:
                rows.append(SourceRow(path.stem, path, None, {"genre": genre}))
    return SourceRows(rows)
