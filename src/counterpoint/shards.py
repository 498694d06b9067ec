"""Shards of a dataset for job arrays: which tracks shard ``i`` of ``N`` embeds, and which dataset it is.

A track belongs to shard ``sha256(id) mod N`` (the first 8 bytes of the digest of its id's
UTF-8, read big-endian): the same on every machine and Python (unlike ``hash``, which is
salted per process), and independent of the track's position in the manifest, so adding tracks
never moves an existing track to another shard. Each shard store records its shard (``i/N``)
and the manifest's fingerprint (:func:`manifest_fingerprint`), which ``counterpoint store
merge`` compares so that shards of different datasets (or of different versions of one) are
never mixed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from counterpoint.errors import CounterpointError

#: Root attributes of a shard's store: its shard (``i/N``) and the fingerprint of the manifest it partitions.
SHARD_ATTR, MANIFEST_ATTR = "shard", "manifest_fingerprint"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0 ≤ index < count), written ``index/count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            last = f"{self.count - 1}/{self.count}" if self.count >= 1 else "7/8"
            raise CounterpointError(f"--shard {self.index}/{self.count}: a shard is i/N with N ≥ 1 and 0 ≤ i < N, "
                                    f"so the last one is {last} (a SLURM array 0-7 gives $SLURM_ARRAY_TASK_ID/8)")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def holds(self, track_id: str) -> bool:
        """Whether the track ``track_id`` belongs to this shard."""
        return shard_index(track_id, self.count) == self.index


def parse_shard(text: str) -> Shard:
    """``"i/N"`` as a :class:`Shard`; anything else is a :class:`CounterpointError` saying the form."""
    index, slash, count = text.strip().partition("/")
    try:
        if not slash:
            raise ValueError
        return Shard(int(index), int(count))
    except ValueError:
        raise CounterpointError(f"--shard {text!r}: give the shard as i/N, two whole numbers with 0 ≤ i < N "
                                "(e.g. --shard 0/8 … --shard 7/8)") from None


def shard_index(track_id: str, count: int) -> int:
    """The shard (0 … ``count`` − 1) of a track id: its SHA-256 modulo ``count``."""
    digest = hashlib.sha256(str(track_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def shard_ids(ids: Iterable[str], shard: Shard) -> list[str]:
    """The ids of ``ids`` that ``shard`` holds, in their order."""
    return [i for i in ids if shard.holds(i)]


def manifest_fingerprint(table: pd.DataFrame) -> str:
    """A digest of a dataset's track table (columns, then every row in order, as text): shards
    embedded from the same manifest share it (16 hex digits of SHA-256)."""
    document = {"columns": [str(c) for c in table.columns], "rows": table.astype(str).to_numpy().tolist()}
    return hashlib.sha256(json.dumps(document, ensure_ascii=False).encode("utf-8")).hexdigest()[:16]
