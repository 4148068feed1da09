"""A run's --out folder while the run sets up: when the prior or the guidance fails, before anything worth
keeping is written, the folders and files the run created go again, so a typo leaves no empty folder."""
from __future__ import annotations

import contextlib
import shutil
from pathlib import Path


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` (itself included) that does not exist yet, None when it exists."""
    missing = None
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing = folder
    return missing


def _remove_empty_parents(out: Path, created: Path) -> None:
    """The parents made for ``out`` (up to ``created``) go while they are empty: another run may be
    writing beside ``out`` (a batch's ranks), and its folders stay."""
    if created == out:
        return
    for folder in out.parents:
        try:
            folder.rmdir()  # only an empty folder
        except OSError:
            return
        if folder == created:
            return


@contextlib.contextmanager
def removed_on_failure(out: str | Path):
    """Undoes what the block creates in ``out`` if it raises: the folders made for it when it did not
    exist, its contents when it was an empty folder. A folder that held files (a run resumed or
    overwritten) is left as the block left it."""
    out = Path(out).absolute()
    created = _first_missing(out)
    was_empty = out.is_dir() and not any(out.iterdir())
    try:
        yield
    except BaseException:
        if created is not None:
            shutil.rmtree(out, ignore_errors=True)
            _remove_empty_parents(out, created)
        elif was_empty:
            for entry in out.iterdir():
                shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
        raise
