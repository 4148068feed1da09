"""What dream3d-shape leaves in its folder: shape.npz (the SDF grid), shape.glb (its mesh), preview.png
(a row of shaded views) and shape.json (what made it). The folder appears whole or not at all: the
files are written into a hidden sibling folder that is renamed into place at the end."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from ..cameras import orbit_cameras
from ..shape import SDFGrid, export_mesh, extract_mesh, render_grids, save_sdf
from .models import Text2ShapeError

PREVIEW_AZIMUTHS = (-60.0, -20.0, 20.0, 60.0)


def check_out(out: Path, overwrite: bool) -> None:
    """Refuses a non-empty folder unless overwrite, before any work."""
    if out.exists() and not out.is_dir():
        raise Text2ShapeError(f"--out {out} is a file")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise Text2ShapeError(f"--out {out} exists and is not empty; give --overwrite or another folder")


def preview(grid: SDFGrid, size: int = 256, radius: float = 3.2, elevation: float = 25.0) -> np.ndarray:
    """(size, n * size, 3) uint8: the shape from PREVIEW_AZIMUTHS on white, 2x2 supersampled."""
    cams = orbit_cameras(radius, PREVIEW_AZIMUTHS, [elevation] * len(PREVIEW_AZIMUTHS))
    rgb = render_grids(grid, cams, size=size, supersample=2).rgb[0]  # (V, H, W, 3)
    row = torch.cat(list(rgb), dim=1)
    return (row.clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def write_shape(out: str | os.PathLike, grid: SDFGrid, info: dict, preview_size: int = 256,
                overwrite: bool = False, images: dict[str, np.ndarray] | None = None) -> list[str]:
    """``images``: more pictures to keep beside the shape (name -> uint8 array), e.g. G_I's image."""
    import imageio.v3 as iio

    out = Path(out)
    check_out(out, overwrite)
    try:
        mesh = extract_mesh(grid, closed=True)  # watertight where the prior meets the bbox
    except ValueError as err:
        raise Text2ShapeError(f"the generated SDF grid has no surface ({err}); are G_S and G_M trained?") from err
    image = preview(grid, preview_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    try:
        save_sdf(staging / "shape.npz", grid)
        export_mesh(mesh, staging / "shape.glb")
        iio.imwrite(staging / "preview.png", image)
        (staging / "shape.json").write_text(json.dumps(info, indent=1))
        for name, pixels in (images or {}).items():
            iio.imwrite(staging / name, pixels)
        os.chmod(staging, 0o777 & ~_umask())
        if out.is_dir():
            shutil.rmtree(out) if overwrite else out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ["shape.npz", "shape.glb", "preview.png", "shape.json", *(images or {})]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
