"""Atomic file writes: readers never see a half-written grid or mesh, even if the writer dies."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

# mkstemp creates files readable by the owner only; give the result the mode a plain open() would.
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yields a temporary path in the destination's folder (same file system, so the final
    ``os.replace`` is atomic) with the destination's suffix (writers pick the format from it).
    The temporary file replaces ``path`` only if the block finishes; otherwise it is removed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
