"""Output folders of runs that checkpoint: a non-empty folder is refused unless the run resumes it or
overwrites it."""
from __future__ import annotations

import os
from pathlib import Path

from .shape._atomic import atomic_path


def claim_out_dir(out: str | Path, resume: bool, overwrite: bool, checkpoint: str,
                  error: type[Exception] = ValueError) -> Path:
    """Checks --out and creates it; with ``overwrite`` the old ``checkpoint`` file goes first, so that a
    later --resume can never pick up a checkpoint of the replaced run."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise error(f"--out {out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (resume or overwrite):
        raise error(f"--out {out} exists and is not empty; pass --resume to continue its run or "
                    "--overwrite to replace it")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise error(f"--out {out} is not writable: {err.strerror or err}") from err
    if overwrite:
        (out / checkpoint).unlink(missing_ok=True)
    return out


def ensure_writable(out_dir: str | Path, error: type[Exception] = ValueError) -> Path:
    """Creates ``out_dir`` and proves it writable with a probe file, so a read-only folder fails now
    with a clear message rather than after minutes of work."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(out_dir / ".write-probe"):
            pass
        os.unlink(out_dir / ".write-probe")
    except OSError as err:
        raise error(f"--out {out_dir} is not writable: {err.strerror or err}") from err
    return out_dir
