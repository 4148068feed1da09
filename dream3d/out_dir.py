"""Output folders of runs that checkpoint: a non-empty folder is refused unless the run resumes it or
overwrites it."""
from __future__ import annotations

from pathlib import Path


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
