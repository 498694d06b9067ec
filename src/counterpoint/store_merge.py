"""Merging shard stores (``counterpoint embed --shard i/N``) into one store.

Each shard store holds the whole track table and the embeddings of its shard's tracks
(:mod:`counterpoint.shards`). A merge checks, before it writes anything, that the shards belong
together: one manifest fingerprint, one shard count, the same encoders with the same
fingerprints and parameters (and, when the target exists, the same encoders' fingerprints
there); then it copies, through the store's own writer (journal, lock, in-place appends), the
track table, every shard's failures and every encoder's rows (every layer; pooled, frames,
timestamps, durations, compute seconds, source files). Rows are written in the order of the
track table, so shards merged hold what one unsharded run would, in the same order.

Cost: what is added. Tracks the target already holds with the same encoder fingerprint are
skipped (as a resumed ``embed`` skips them), so a merge killed at any moment resumes when it is
run again, and merging more shards later appends only theirs. A track held by two shards (the
same shard given twice, or copies of a shard) is kept once when both hold the same bytes, and
is an error naming the track and both files otherwise.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from counterpoint.errors import StoreError
from counterpoint.progress import ProgressCallback
from counterpoint.shards import MANIFEST_ATTR, SHARD_ATTR, Shard, parse_shard
from counterpoint.sources import SourceIdentity
from counterpoint.store import EncoderMeta, EncoderRecord, Store, StoredEmbedding, StoreWriter

#: Most bytes of embeddings (pooled and frames) a merge holds per batch, read and journaled.
BATCH_BYTES = 128 << 20
#: Root attribute of a merged store: the shards merged into it so far (JSON: ``count`` and ``indexes``).
MERGED_ATTR = "merged_shards"


@dataclass
class ShardStore:
    """One shard store given to a merge, opened and identified."""

    path: Path
    store: Store
    shard: Shard
    manifest: str


@dataclass
class MergeReport:
    """What a merge did: per encoder spec, the tracks it ``added`` and those the target ``held`` already;
    the failures the merged store holds; tracks two shards hold with the same bytes (kept once);
    notes (missing shards...)."""

    out: Path
    shards: list[ShardStore]
    added: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    failures: int = 0
    duplicates: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)


def merge_stores(shards: Sequence[str | Path], out: str | Path, *, complete: bool = False, batch_size: int = 1024,
                 progress: ProgressCallback | None = None) -> MergeReport:
    """Merge the shard stores ``shards`` into ``out`` (created, or added to: a store of the same dataset).

    ``complete`` makes a shard missing from ``0 … N−1`` (neither given nor merged into ``out``
    before) an error instead of a note. ``batch_size`` tracks are journaled and committed at a
    time (fewer where their frames would take more than :data:`BATCH_BYTES`, so that memory stays
    bounded whatever the encoder and the number of shards). ``progress(spec, done, total)`` is
    called after every batch.
    """
    out = Path(out)
    if batch_size < 1:
        raise StoreError(f"batch size must be at least 1, got {batch_size}")
    opened = _open_shards([Path(s) for s in shards], out)
    first = opened[0]
    records = _common_encoders(opened)
    table = _track_table(opened)
    target = Store(out) if out.exists() else None
    merged_before = _check_target(target, first, records, table) if target is not None else []
    owners = {spec: _owners(opened, spec) for spec in records}
    per_batch = {spec: _tracks_per_batch([s.store.encoder(spec) for s in opened], batch_size) for spec in records}
    report = MergeReport(out, opened)
    report.duplicates = [note for spec, owner in owners.items()
                         for note in _duplicates(opened, spec, owner, batch_size=per_batch[spec])]
    indexes = sorted({s.shard.index for s in opened} | set(merged_before))
    report.missing = [i for i in range(first.shard.count) if i not in indexes]
    if report.missing:
        missing = ", ".join(f"{i}/{first.shard.count}" for i in report.missing)
        if complete:
            raise StoreError(f"shards {missing} are missing (given: {', '.join(str(s.path) for s in opened)}) — embed "
                             f"them (`counterpoint embed ROOT -e SPECS -o SHARD.h5 --shard i/{first.shard.count}`) and "
                             "merge them too, or leave out --complete to merge what is there")
        report.notes.append(f"shards {missing} are not merged yet: the store lacks their tracks until they are")
    # a shard's failure never withdraws an embedding the target holds (a failure after an embedding would)
    embedded = {r.spec: set(target.embedded_ids(r.spec)) for r in target.all_encoders} if target is not None else {}
    provenance = {MANIFEST_ATTR: first.manifest,
                  MERGED_ATTR: json.dumps({"count": first.shard.count, "indexes": indexes})}
    root = first.store.attrs.get("dataset_root") or None
    with StoreWriter(out, dataset_root=root, provenance=provenance) as writer:
        writer.set_tracks(table)
        for shard in opened:
            for spec, rows in shard.store.failures().groupby("encoder", sort=False):
                rows = rows[~rows["track_id"].isin(embedded.get(str(spec), set()))]
                writer.add_failures(str(spec), list(rows[["track_id", "stage", "error"]].itertuples(index=False, name=None)))
        writer.commit()
        for spec, record in records.items():
            added, held = _copy_encoder(writer, record, owners[spec], shards=opened, order=list(table["id"]),
                                        batch_size=per_batch[spec], progress=progress)
            report.added[spec], report.held[spec] = added, held
    report.failures = len(Store(out).failures())
    return report


def _open_shards(paths: list[Path], out: Path) -> list[ShardStore]:
    """Open every shard store; each must record its shard and manifest, all of one manifest and one count."""
    if not paths:
        raise StoreError("no shard stores given — name the stores `counterpoint embed --shard i/N` wrote")
    opened: list[ShardStore] = []
    for path in paths:
        if any(path.exists() and os.path.samefile(path, seen.path) for seen in opened):
            continue  # a file named twice (e.g. by two overlapping globs) is one shard
        if path.exists() and out.exists() and os.path.samefile(path, out):
            raise StoreError(f"{path}: is the store being merged into (-o) — give the shards and a target apart")
        if not path.is_file():
            raise StoreError(f"{path}: no such shard store — give the files `counterpoint embed ROOT -e SPECS -o SHARD.h5 "
                             "--shard i/N` wrote")
        store = Store(path)
        shard, manifest = store.attrs.get(SHARD_ATTR), store.attrs.get(MANIFEST_ATTR)
        if not shard or not manifest:
            raise StoreError(f"{path}: not a shard store (it records no shard) — shards are written by "
                             "`counterpoint embed ROOT -e SPECS -o SHARD.h5 --shard i/N`; a whole store needs no merge")
        opened.append(ShardStore(path, store, parse_shard(shard), manifest))
    first = opened[0]
    for other in opened[1:]:
        if other.manifest != first.manifest:
            raise StoreError(f"{other.path}: a shard of another dataset — its manifest fingerprint is {other.manifest}, "
                             f"{first.path}'s is {first.manifest} (another dataset, or the dataset changed between "
                             "the two embeds) — embed every shard from the same manifest (rerun the older shards' "
                             "commands: they resume) and merge again")
        if other.shard.count != first.shard.count:
            raise StoreError(f"{other.path}: shard {other.shard} of {other.shard.count}, but {first.path} is shard "
                             f"{first.shard} of {first.shard.count} — shards of one merge share their N; embed with "
                             f"one --shard i/N for every shard")
    return opened


def _common_encoders(opened: list[ShardStore]) -> dict[str, EncoderRecord]:
    """Every shard's encoder entries (every layer), which must be the same specs with the same
    fingerprints and parameters in each; by spec, in the first shard's order."""
    first = opened[0]
    records = {r.spec: r for r in first.store.all_encoders}
    for other in opened[1:]:
        theirs = {r.spec: r for r in other.store.all_encoders}
        if extra := sorted(set(theirs) - set(records)):
            raise StoreError(f"{other.path}: holds encoder {extra[0]!r}, which {first.path} lacks — every shard is "
                             f"embedded with the same encoders; embed it into {first.path} too (-e '{extra[0]}' "
                             f"--shard {first.shard}) or leave that shard out")
        if lacking := sorted(set(records) - set(theirs)):
            raise StoreError(f"{other.path}: lacks encoder {lacking[0]!r}, which {first.path} holds — embed it there "
                             f"(-e '{lacking[0]}' --shard {other.shard}) and merge again")
        for spec, record in records.items():
            if difference := _difference(record, theirs[spec]):
                raise StoreError(f"{other.path}: encoder {spec!r} differs from {first.path}'s ({difference}) — its "
                                 "numbers are not comparable; embed every shard with the same code, weights and "
                                 "parameters and merge again")
    return records


def _difference(mine: EncoderRecord, theirs: EncoderRecord) -> str | None:
    """What differs between two records of one spec (fingerprint, parameters, dim), or None."""
    if mine.fingerprint != theirs.fingerprint:
        keys = sorted(k for k in set(mine.fingerprint) | set(theirs.fingerprint)
                      if mine.fingerprint.get(k) != theirs.fingerprint.get(k))
        return "fingerprint: " + "; ".join(f"{k} {mine.fingerprint.get(k)!r} vs {theirs.fingerprint.get(k)!r}"
                                           for k in keys)
    if mine.parameters != theirs.parameters:
        return "declared parameters"
    if mine.dim != theirs.dim or mine.feature_names != theirs.feature_names:
        return f"dimension {mine.dim} vs {theirs.dim} or feature names"
    return None


def _track_table(opened: list[ShardStore]) -> pd.DataFrame:
    """The track table: the first shard's, then the rows of tracks only later shards hold."""
    tables = [s.store.tracks() for s in opened]
    table = tables[0]
    for other in tables[1:]:
        table = pd.concat([table, other[~other["id"].isin(table["id"])]], ignore_index=True).fillna("")
    return table


def _check_target(target: Store, first: ShardStore, records: dict[str, EncoderRecord], table: pd.DataFrame) -> list[int]:
    """Refuse a target of another dataset, shard count or encoder fingerprint; the shard indexes merged
    into it before (of this manifest)."""
    if target.attrs.get(SHARD_ATTR):
        raise StoreError(f"{target.path}: is itself shard {target.attrs[SHARD_ATTR]} — merge into a new store or a "
                         "merged one, never into a shard")
    merged = json.loads(target.attrs[MERGED_ATTR]) if target.attrs.get(MERGED_ATTR) else None
    if merged is not None and merged["count"] != first.shard.count:
        raise StoreError(f"{target.path}: was merged from shards of N={merged['count']}, {first.path} is shard "
                         f"{first.shard} — merge shards of one N into one store (or merge into a new store)")
    if target.attrs.get(MANIFEST_ATTR) != first.manifest:
        foreign = sorted(set(target.tracks()["id"]) - set(table["id"]))
        if foreign:
            raise StoreError(f"{target.path}: holds tracks of another dataset — {len(foreign)} of its tracks (e.g. "
                             f"{foreign[0]!r}) are not in the manifest {first.path} was embedded from (fingerprint "
                             f"{first.manifest}) — merge into a new store (-o NEW.h5)")
    held = {r.spec: r for r in target.all_encoders}
    for spec, record in records.items():
        if spec in held and (difference := _difference(held[spec], record)):
            raise StoreError(f"{target.path}: holds encoder {spec!r} with another fingerprint than {first.path} "
                             f"({difference}) — merge into a new store (-o NEW.h5); mixing them would compare "
                             "numbers of different models")
    if merged is None or target.attrs.get(MANIFEST_ATTR) != first.manifest:
        return []
    return list(merged["indexes"])


def _owners(opened: list[ShardStore], spec: str) -> dict[str, list[int]]:
    """Per track id embedded by some shard: the positions (in ``opened``) of the shards holding it."""
    owners: dict[str, list[int]] = {}
    for position, shard in enumerate(opened):
        for track_id in shard.store.embedded_ids(spec):
            owners.setdefault(track_id, []).append(position)
    return owners


def _same(a: StoredEmbedding, b: StoredEmbedding) -> bool:
    return all(np.array_equal(getattr(a, part), getattr(b, part)) and getattr(a, part).shape == getattr(b, part).shape
               for part in ("pooled", "frames", "timestamps")) and a.duration == b.duration


def _duplicates(opened: list[ShardStore], spec: str, owners: dict[str, list[int]], *, batch_size: int) -> list[str]:
    """Notes about tracks two shards hold with the same bytes (kept once, from the first); an error
    naming the track and both files when their bytes differ. Reads the duplicated tracks only."""
    pairs: dict[tuple[int, int], list[str]] = {}
    for track_id, positions in owners.items():
        for position in positions[1:]:
            pairs.setdefault((positions[0], position), []).append(track_id)
    notes = []
    for (kept, other), ids in pairs.items():
        for ours, theirs in zip(_stream(opened[kept], spec, ids, batch_size),
                                 _stream(opened[other], spec, ids, batch_size)):
            if not _same(ours, theirs):
                raise StoreError(f"track {ours.track_id!r}: its {spec} embedding differs between {opened[kept].path} "
                                 f"and {opened[other].path} (both hold it) — a track belongs to one shard; leave out "
                                 "the stray copy (a shard given twice, or embedded with another N) and merge again")
        notes.append(f"{len(ids)} track(s) of {spec} are in both {opened[kept].path} and {opened[other].path} with the "
                     f"same embeddings (e.g. {ids[0]!r}): kept once")
    return notes


def _copy_encoder(writer: StoreWriter, record: EncoderRecord, owners: dict[str, list[int]], *, shards: list[ShardStore],
                  order: list[str], batch_size: int, progress: ProgressCallback | None) -> tuple[int, int]:
    """Copy one encoder entry's rows the target lacks, in track-table order, a batch per commit;
    (tracks added, tracks the target held already)."""
    held = writer.begin_encoder(EncoderMeta(record.spec, record.name, record.modality, record.dim, record.fingerprint,
                                            record.feature_names, record.layer, record.layer_index, record.base_spec,
                                            parameters=record.parameters, shared_space=record.shared_space))
    position = {track_id: i for i, track_id in enumerate(order)}
    todo = sorted((i for i in owners if i not in held), key=lambda i: position.get(i, len(order)))
    sources = {owners[i][0] for i in todo}
    # each shard is read a share of a batch at a time: the batch interleaves them (ids spread by hash)
    streams = {p: _stream(shards[p], record.spec, [i for i in todo if owners[i][0] == p],
                          max(1, batch_size // len(sources))) for p in sources}
    total = len(owners)
    done = len(owners) - len(todo)
    if progress:
        progress(record.spec, done, total)
    for start in range(0, len(todo), batch_size):
        batch = [next(streams[owners[i][0]]) for i in todo[start:start + batch_size]]
        sources = [_source_here(writer, shards[owners[e.track_id][0]], e.source) for e in batch]
        writer.add_embeddings(record.spec, [e.track_id for e in batch], batch, [e.compute_seconds for e in batch],
                              sources=sources)
        writer.commit()
        done += len(batch)
        if progress:
            progress(record.spec, done, total)
    return len(todo), len(owners) - len(todo)


def _tracks_per_batch(records: list[EncoderRecord], batch_size: int) -> int:
    """``batch_size``, or fewer tracks where their pooled vectors and frames (the most per track of
    any shard, on average) would take more than :data:`BATCH_BYTES`."""
    frames_per_track = max((r.n_frames / r.n_tracks for r in records if r.n_tracks), default=0.0)
    track_bytes = 4 * records[0].dim * (1 + frames_per_track) + 8 * frames_per_track
    return max(1, min(batch_size, int(BATCH_BYTES // max(track_bytes, 1))))


def _stream(shard: ShardStore, spec: str, ids: list[str], batch_size: int) -> Iterator[StoredEmbedding]:
    """A shard's stored embeddings of ``ids``, one at a time, read a batch at a time."""
    for batch in shard.store.iter_embeddings(spec, ids, batch_size=batch_size):
        yield from batch


def _source_here(writer: StoreWriter, shard: ShardStore, source: SourceIdentity) -> SourceIdentity:
    """A row's source file with its root as an index into the target's roots (not the shard's)."""
    roots = shard.store.roots
    if not 0 <= source.root < len(roots):
        return source
    return SourceIdentity(writer.root_index(roots[source.root]), source.path, source.size, source.mtime_ns, source.digest)
