"""Dataset adapters: a public dataset's own layout and metadata → an ordinary ``info.csv`` dataset.

``import_dataset("maestro", SOURCE, OUT)`` reads MAESTRO's metadata in SOURCE, links its files
into OUT under the same relative paths (copies them with ``copy=True``) and writes
``OUT/info.csv`` with labels, ``split`` and ``group`` filled from the dataset's own metadata.
Kinds: ``groove``, ``maestro``, ``slakh`` / ``babyslakh``, ``gtzan``, ``lakh-matched`` and
``mirdata:NAME`` (any mirdata loader). One module per kind; :mod:`.registry` lists them.
"""

from __future__ import annotations

import os
from pathlib import Path

from counterpoint.data.adapters import mirdata_loader
from counterpoint.data.adapters.base import ImportResult, SourceRow, SourceRows, write_dataset
from counterpoint.data.adapters.registry import KINDS, adapter, guess_kind
from counterpoint.errors import DatasetError

__all__ = ["ImportResult", "KINDS", "SourceRow", "SourceRows", "guess_kind", "import_dataset", "read_source"]


def read_source(kind: str, source: str | Path, *, index: str | Path | None = None,
                mirdata_version: str = "default") -> SourceRows:
    """The tracks of the dataset of ``kind`` in ``source`` (nothing written).

    ``index`` and ``mirdata_version`` are for ``mirdata:NAME`` only: a local index file and the
    loader's index version.
    """
    source = Path(os.path.abspath(Path(source).expanduser()))
    if not source.is_dir():
        raise DatasetError(f"{source}: no such folder — give the top folder of the {kind} dataset")
    if kind.startswith(mirdata_loader.PREFIX):
        return mirdata_loader.read(kind[len(mirdata_loader.PREFIX):], source,
                                   index=Path(index) if index is not None else None, version=mirdata_version)
    if index is not None:
        raise DatasetError(f"--index is for mirdata:NAME kinds only, not {kind!r}")
    module = adapter(kind)
    try:
        return module.read(source)
    except DatasetError as exc:
        guessed = guess_kind(source)
        if guessed is not None and adapter(guessed) is not module:
            raise DatasetError(f"{exc} This folder looks like {guessed}: try `counterpoint dataset import {guessed} "
                               f"{source} OUT`.") from None
        raise


def import_dataset(kind: str, source: str | Path, out: str | Path, *, copy: bool = False,
                   index: str | Path | None = None, mirdata_version: str = "default") -> ImportResult:
    """Write the ``kind`` dataset in ``source`` as an ``info.csv`` dataset in ``out`` (a new or empty folder)."""
    found = read_source(kind, source, index=index, mirdata_version=mirdata_version)
    return write_dataset(kind, found, Path(os.path.abspath(Path(source).expanduser())),
                         out=Path(os.path.abspath(Path(out).expanduser())), copy=copy)
