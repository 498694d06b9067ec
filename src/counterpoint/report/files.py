"""How the report names and writes its files: one slug, one path relative to the page, one JSON writer.

Every section names a space's or a pair's files with :func:`slug` / :func:`pair_slug`, so one encoder
pair has the same name in the comparison's, the time-aligned comparison's and the layer maps' files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from counterpoint.results import json_ready

#: The longest slug: file names stay well inside the 255 bytes file systems allow, suffixes included.
MAX_SLUG = 120


def slug(text: str) -> str:
    """A file-name-safe form of an encoder spec (or any name): letters, digits and ``_ . = -`` kept, every
    other run of characters one ``_``; at most :data:`MAX_SLUG` characters; ``_`` when nothing is left.
    ``musicnn:model=MSD,layer=penultimate`` → ``musicnn_model=MSD_layer=penultimate``."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "_", str(text)).strip("_")[:MAX_SLUG] or "_"


def pair_slug(audio: str, symbolic: str) -> str:
    """The name of an audio × symbolic pair in every section's file names: ``AUDIO__SYMBOLIC``, both slugged."""
    return f"{slug(audio)}__{slug(symbolic)}"


def relative(path: Path, page_dir: Path) -> str:
    """``path`` relative to the page's folder, with ``/`` (a link on the page)."""
    return Path(path).resolve().relative_to(Path(page_dir).resolve()).as_posix()


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented JSON, NaN and infinities as null (:func:`~counterpoint.results.json_ready`:
    JSON has no NaN, and a reader's parser would reject it); returns ``path``."""
    Path(path).write_text(json.dumps(json_ready(data), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return Path(path)
