"""Folders of SDF grids, as the trainers and evaluations take them (--data, --shapes, --reference)."""
from __future__ import annotations

import os
from pathlib import Path

SDF_SUFFIXES = (".npz", ".npy")


def sdf_grid_files(folder: str | os.PathLike, option: str, error: type[Exception] = ValueError) -> list[Path]:
    """The .npz/.npy SDF grid files of ``folder``, sorted by name; ``error`` names ``option`` when the
    folder is missing or holds none."""
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise error(f"{option} {folder}: no such folder (give 'library' or a folder of SDF grid .npz files)")
    files = sorted(p for p in path.iterdir() if p.suffix in SDF_SUFFIXES and p.is_file())
    if not files:
        raise error(f"{option} {folder} holds no SDF grid files (.npz or .npy, as save_sdf writes them)")
    return files
