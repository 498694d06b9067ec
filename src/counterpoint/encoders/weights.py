"""Model weight files: where they come from, where we look for them, how they are fetched.

Resolution order (ARCHITECTURE.md): an explicit path → ``$COUNTERPOINT_WEIGHTS_DIR`` → the
Hugging Face cache → the installed Python package that ships the file (musicnn's wheel does). Resolving never downloads; :func:`fetch_weights` does, with progress,
and only when a user asks (``counterpoint weights fetch NAME``). When a file is missing the
error names the file, its size, where it comes from and the command that fetches it.

Each encoder module declares its files with :func:`declare_weights` at import time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from counterpoint.errors import WeightsError
from counterpoint.paths import weights_dir


@dataclass(frozen=True)
class WeightFile:
    """One published file a model needs."""

    model: str  # the name `counterpoint weights fetch` takes, e.g. "clamp2"
    filename: str  # file name inside the repository
    repo_id: str | None = None  # Hugging Face repository, when the file lives on the Hub
    url: str | None = None  # other published source (GitHub release, Zenodo, PyPI wheel)
    size: int | None = None  # bytes, when known
    sha256: str | None = None  # published digest, when the publisher gives one
    revision: str | None = None
    package: str | None = None  # a Python package whose installed folder ships the file (found, never imported)

    @property
    def source(self) -> str:
        if self.repo_id:
            return f"https://huggingface.co/{self.repo_id}/blob/{self.revision or 'main'}/{self.filename}"
        return self.url or "unknown"

    @property
    def size_text(self) -> str:
        return "size unknown" if self.size is None else f"{self.size / 1e6:,.1f} MB"


_DECLARED: dict[str, list[WeightFile]] = {}


def declare_weights(*files: WeightFile) -> None:
    """Register the files of a model so `counterpoint weights list` can show them."""
    for f in files:
        entries = _DECLARED.setdefault(f.model, [])
        if f not in entries:
            entries.append(f)


def declared_weights() -> dict[str, list[WeightFile]]:
    return dict(_DECLARED)


def _hub_cached(file: WeightFile) -> Path | None:
    if not file.repo_id:
        return None
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(file.repo_id, file.filename, revision=file.revision)
    return Path(found) if isinstance(found, str) else None


def _packaged(file: WeightFile) -> Path | None:
    """The file inside its installed package, located without importing the package."""
    import importlib.util

    spec = importlib.util.find_spec(file.package) if file.package else None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / file.filename
    return path if path.exists() else None


def find_weights(file: WeightFile, explicit: str | Path | None = None) -> Path | None:
    """The local path of ``file`` by the resolution order, or None if it is nowhere."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        return path if path.exists() else None
    folder = weights_dir()
    if folder is not None:
        for candidate in (folder / file.model / file.filename, folder / file.filename):
            if candidate.exists():
                return candidate
    return _hub_cached(file) or _packaged(file)


def resolve_weights(file: WeightFile, explicit: str | Path | None = None) -> Path:
    """Like :func:`find_weights`, but a missing file is an error saying how to get it."""
    path = find_weights(file, explicit)
    if path is not None:
        return path
    if explicit is not None:
        raise WeightsError(f"weights file {explicit} not found — check the path given in weights=...")
    raise WeightsError(
        f"model {file.model!r} needs {file.filename} ({file.size_text}) from {file.source}, which is not on this machine. "
        f"Run `counterpoint weights fetch {file.model}` while online, or download it yourself into "
        f"$COUNTERPOINT_WEIGHTS_DIR/{file.model}/ and point the encoder at it with weights=PATH.")


def first_missing(files: Sequence[WeightFile], local_option: str = "weights=PATH") -> str | None:
    """Why an encoder cannot run yet: the first of ``files`` that is nowhere, and how to get it."""
    for file in files:
        if find_weights(file) is None:
            return (f"needs {file.filename} ({file.size_text}) from {file.source} — run "
                    f"`counterpoint weights fetch {file.model}` while online, or pass {local_option} of a local copy")
    return None


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify_digest(file: WeightFile, path: Path) -> None:
    """Raise WeightsError if the publisher gave a SHA-256 and ``path`` does not match it."""
    if file.sha256 is None:
        return
    actual = sha256_of(path)
    if actual != file.sha256:
        raise WeightsError(f"{path}: SHA-256 {actual} does not match the published {file.sha256} — "
                           f"delete the file and fetch it again with `counterpoint weights fetch {file.model}`")


def fetch_weights(file: WeightFile) -> Path:
    """Download ``file`` into the Hugging Face cache (or $COUNTERPOINT_WEIGHTS_DIR), with progress."""
    if file.package:
        raise WeightsError(f"{file.filename} ships inside the {file.package} package: "
                           f"`pip install --no-deps {file.package}` (what `make setup` does)")
    if not file.repo_id:
        raise WeightsError(f"{file.filename} is not on the Hugging Face Hub; download it from {file.source} "
                           f"into $COUNTERPOINT_WEIGHTS_DIR/{file.model}/")
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
