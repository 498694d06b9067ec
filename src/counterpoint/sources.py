"""Source identity: which bytes a stored embedding was computed from.

A store keeps, beside every embedding, the identity of the file it was embedded from (the
track's audio file for an audio encoder, its MIDI file for a symbolic one): its path inside
the dataset root, its size, its modification time (ns) and a SHA-256 digest of its bytes (its first 128 bits:
enough to tell files apart; SHA-256 because OpenSSL computes it with the CPU's SHA instructions,
about twice as fast as BLAKE2b here).
A resumed run compares that record with the file the manifest names now and embeds again the
tracks whose file changed, so a changed file is never served with its old embedding.

Why a digest and not size + mtime alone: a different file can carry the same size and mtime
(``cp -p``, ``rsync -t``, files unpacked from one archive, same-length WAVs of one
recording session), and some filesystems keep mtimes to the second, so an edit within that
second keeps it. Why not a digest alone: it costs one read of every file on every resume.
So the record is trusted as it is when the path, size and mtime all still match (no read, as
make and rsync trust them); when any of them differs the file is read once and its digest
decides — a ``touch``, or the same bytes under another path, is not a change. A file whose
size differs has changed without a read.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

#: Bytes of the digest kept (128 bits: collisions are not a concern for telling files apart).
DIGEST_BYTES = 16
#: Recorded values of a row embedded before sources were recorded (nothing can be compared).
UNKNOWN_SIZE = -1


def file_digest(path: Path) -> str:
    """The first 128 bits of the SHA-256 of the file's bytes, hex; read in chunks (one read of the file)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()[:2 * DIGEST_BYTES]


@dataclass(frozen=True)
class SourceIdentity:
    """The file an embedding was computed from: ``root`` (index into the store's dataset roots),
    ``path`` inside that root (POSIX), ``size`` (bytes), ``mtime_ns`` and ``digest`` (hex)."""

    root: int
    path: str
    size: int
    mtime_ns: int
    digest: str

    @property
    def known(self) -> bool:
        return self.size != UNKNOWN_SIZE

    @classmethod
    def unknown(cls) -> "SourceIdentity":
        return cls(-1, "", UNKNOWN_SIZE, -1, "")


@dataclass(frozen=True)
class FileState:
    """A file as found now: size, mtime and (once read) digest; ``digest`` None until needed."""

    path: Path
    size: int
    mtime_ns: int
    digest: str | None = None

    @classmethod
    def read(cls, path: Path) -> "FileState":
        """Stat and digest the file (what a worker does before it reads the file to embed it)."""
        stat = os.stat(path)
        return cls(Path(path), stat.st_size, stat.st_mtime_ns, file_digest(path))

    def identity(self, root: int, relative: str) -> SourceIdentity:
        assert self.digest is not None, "identity of a file whose digest was not read"
        return SourceIdentity(root, relative, self.size, self.mtime_ns, self.digest)


def is_changed(recorded: SourceIdentity, root: int, relative: str, *, path: Path) -> bool | None:
    """Whether the file at ``path`` (``relative`` inside dataset root number ``root``) holds other bytes
    than the recorded ones; None when nothing was recorded. Raises OSError when the file cannot be
    read (the caller decides: a missing file is its own finding)."""
    if not recorded.known:
        return None
    stat = os.stat(path)
    if (recorded.root, recorded.path, recorded.size, recorded.mtime_ns) == (root, relative, stat.st_size, stat.st_mtime_ns):
        return False  # trusted without a read (see the module's docstring)
    if stat.st_size != recorded.size:
        return True
    return file_digest(path) != recorded.digest
