"""The dataset kinds ``dataset import`` understands, and a guess of the kind of a folder (for messages)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from counterpoint.data.adapters import groove, gtzan, lakh, maestro, mirdata_loader, slakh
from counterpoint.errors import DatasetError

#: kind → the module that reads it (``read(source)``, ``looks_like(source)``, ``LAYOUT``).
ADAPTERS: dict[str, ModuleType] = {"groove": groove, "maestro": maestro, "slakh": slakh, "babyslakh": slakh,
                                   "gtzan": gtzan, "lakh-matched": lakh}
KINDS = (*ADAPTERS, f"{mirdata_loader.PREFIX}NAME")


def guess_kind(source: Path) -> str | None:
    """The first kind whose layout ``source`` has (MAESTRO, Groove and Slakh before the looser GTZAN check)."""
    for kind in ("maestro", "groove", "slakh", "lakh-matched", "gtzan"):
        if ADAPTERS[kind].looks_like(source):
            return kind
    return None


def adapter(kind: str) -> ModuleType:
    """The module for ``kind``; an unknown kind names every known one."""
    if kind not in ADAPTERS:
        raise DatasetError(f"unknown dataset kind {kind!r} — choose one of {', '.join(KINDS)}")
    return ADAPTERS[kind]
