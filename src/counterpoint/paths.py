"""Where Counterpoint keeps files of its own (converted weights, caches)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """``$COUNTERPOINT_CACHE``, else ``~/.cache/counterpoint``; created on first use."""
    root = Path(os.environ.get("COUNTERPOINT_CACHE", Path.home() / ".cache" / "counterpoint")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def weights_dir() -> Path | None:
    """``$COUNTERPOINT_WEIGHTS_DIR`` if set: a folder of downloaded model files."""
    value = os.environ.get("COUNTERPOINT_WEIGHTS_DIR")
    return Path(value).expanduser() if value else None
