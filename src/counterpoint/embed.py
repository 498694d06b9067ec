"""Running encoders over a dataset into a store: batched, resumable, one bad file at a time.

For each encoder, the runner takes the tracks of its modality that the store does not hold
yet with the same fingerprint, and those whose file changed since it was embedded (the store
records each file's size, mtime and digest: :mod:`counterpoint.sources`; their rows are
replaced), and has an *engine* embed them (:mod:`counterpoint.engines`):
``local`` (the default) builds every model here, before the store is opened, so a model that
cannot load stops the command once, up front; worker processes read the files ahead while the
model works. ``ray`` streams the tracks to Ray Data actors that each build the model once, on
a local Ray instance or a cluster. Either way this process is the one store writer: it
journals each batch as it arrives (see :mod:`counterpoint.store`). A file that cannot be read
or embedded, or whose embedding holds NaN or inf, is recorded in the failures table with the
reason, and the run goes on.

With a shard (``i/N``: :mod:`counterpoint.shards`), the run embeds only the tracks whose id
hashes to shard ``i``, into a store of its own that holds the whole track table and records its
shard and the manifest's fingerprint; ``counterpoint store merge`` joins the shards
(:mod:`counterpoint.store_merge`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from counterpoint.data.manifest import Manifest, load_manifest
from counterpoint.encoders.base import AudioEncoder, Encoder
from counterpoint.encoders.registry import DEFAULT_ENCODERS, build_encoders
from counterpoint.engines import check_engine, engine_for
from counterpoint.engines.batch import EncoderRun
from counterpoint.errors import CounterpointError, StoreError
from counterpoint.progress import ProgressCallback
from counterpoint.shards import MANIFEST_ATTR, SHARD_ATTR, Shard, manifest_fingerprint, parse_shard
from counterpoint.store import Store, StoreWriter

#: The "encoder" under which problems of the dataset itself (missing files...) are recorded.
DATASET_STAGE = "(dataset)"


@dataclass
class EmbedReport:
    store: Path
    runs: list[EncoderRun]
    problems: list[str]
    #: notes about the store itself (e.g. a second dataset root)
    notes: list[str]


def embed_dataset(dataset: str | Path | Manifest, out: str | Path,
                  encoders: Sequence[Encoder] | Sequence[str] | str = DEFAULT_ENCODERS, *,
                  batch_size: int | None = None, progress: ProgressCallback | None = None,
                  engine: str = "local", ray_address: str | None = None, workers: int | None = None,
                  max_seconds: float | None = None, shard: Shard | str | None = None) -> EmbedReport:
    """Embed every track of ``dataset`` with each encoder (or spec) into the store ``out`` (resumable).

    ``engine`` is ``local`` or ``ray`` (:data:`counterpoint.engines.ENGINES`); ``ray_address`` names
    a running Ray cluster (``auto``, ``ray://host:10001``), or None to start a Ray instance on this
    machine. ``workers`` is the local engine's number of file-reading processes (None: one per core;
    0: a thread). ``progress(spec, done, total)`` is called after every batch.
    ``max_seconds`` makes the audio encoders read only the first seconds of each audio file (MIDI
    files are embedded whole); it is part of their fingerprints, so a store embedded with another
    value (or none) is re-embedded rather than mixed.
    ``shard`` (``"i/N"`` or a :class:`~counterpoint.shards.Shard`) embeds only the tracks of that
    shard, into a store that must hold that shard (or nothing yet).
    """
    check_engine(engine, ray_address, workers)
    if max_seconds is not None and not max_seconds > 0:
        raise CounterpointError(f"max seconds must be above 0, got {max_seconds}")
    out = Path(out)
    if out.is_dir():
        raise StoreError(f"{out} is a folder; the store is one file — give a file name inside it, "
                         f"e.g. --out {out / 'embeddings.h5'}")
    shard = parse_shard(shard) if isinstance(shard, str) else shard
    if out.exists():
        _require_same_shard(out, shard)
    manifest = dataset if isinstance(dataset, Manifest) else load_manifest(dataset)
    table = manifest.to_frame()
    provenance = {SHARD_ATTR: str(shard), MANIFEST_ATTR: manifest_fingerprint(table)} if shard is not None else {}
    if isinstance(encoders, str) or all(isinstance(e, str) for e in encoders):
        encoders = build_encoders(encoders if isinstance(encoders, str) else list(encoders))
    for encoder in encoders:
        if isinstance(encoder, AudioEncoder):
            encoder.max_seconds = max_seconds
    runs: list[EncoderRun] = []
    with engine_for(engine, ray_address=ray_address, workers=workers) as runner:
        metas = runner.load(encoders)
        with StoreWriter(out, dataset_root=manifest.root, provenance=provenance) as writer:
            writer.set_tracks(table)
            writer.add_failures(DATASET_STAGE, [(p.track_id or "", "manifest", str(p)) for p in manifest.problems])
            for index, encoder in enumerate(encoders):
                tracks = manifest.for_modality(encoder.modality)
                if shard is not None:
                    tracks = [track for track in tracks if shard.holds(track.id)]
                runs.append(runner.run_encoder(encoder, metas[index], tracks, writer, batch_size=batch_size,
                                               progress=progress))
                writer.commit()
    return EmbedReport(Path(out), runs, [str(p) for p in manifest.problems], writer.notes)


def _require_same_shard(out: Path, shard: Shard | None) -> None:
    """A store holds one shard, or the whole dataset, for good: resuming it with another is refused."""
    try:
        held = Store(out).attrs.get(SHARD_ATTR) or None
    except StoreError:
        return  # not a store (or a damaged one): the writer refuses it with its own message
    wanted = str(shard) if shard is not None else None
    if held != wanted:
        holds = f"shard {held}" if held else "an unsharded run"
        fix = f"--shard {held}" if held else "no --shard"
        raise StoreError(f"{out}: holds {holds}, not {'shard ' + wanted if wanted else 'the whole dataset'} — rerun with "
                         f"{fix} to resume it, or write this run into another store (--out OTHER.h5)")
