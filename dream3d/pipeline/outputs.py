"""What a run leaves in its folder besides its meshes (pipeline/mesh.py) and report.html
(pipeline/report.py): the shape prior (SDF grid and mesh), the trained field, its logged series, a
turntable, config.yaml and metrics.json. Every file is written atomically."""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import trimesh

from ..cameras import turntable
from ..field import DVGOField
from ..shape import SDFGrid, export_mesh, extract_mesh, save_sdf
from ..shape._atomic import atomic_path
from .config import RunConfig
from .views import SUPERSAMPLE, render_prior, render_views


def save_prior(out_dir: Path, grid: SDFGrid) -> trimesh.Trimesh:
    """prior.npz and prior.glb; returns the prior's mesh."""
    save_sdf(out_dir / "prior.npz", grid)
    mesh = extract_mesh(grid, closed=True)  # watertight where the prior meets the bbox
    export_mesh(mesh, out_dir / "prior.glb")
    return mesh


def save_field(out_dir: Path, field: DVGOField, config: RunConfig) -> str:
    """The trained field's tensors as field.safetensors; the options needed to rebuild the model ride
    along as metadata."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in field.state_dict().items()}
    meta = {k: str(getattr(config, k)) for k in ("beta", "color_model", "color_frequencies", "color_width",
                                                 "color_depth", "color_grid_channels", "color_normals")}
    with atomic_path(out_dir / "field.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return "field.safetensors"


def write_turntable(out_dir: Path, field: DVGOField, config: RunConfig) -> list[str]:
    """turntable.gif and turntable.mp4 (H.264 through imageio-ffmpeg): the field orbited once, each
    pixel the mean of SUPERSAMPLE^2 rays as the prior's pictures are (one ray a pixel draws a sharp
    field's edges as stairs)."""
    import imageio.v3 as iio

    cams = turntable(config.turntable_frames, radius=config.camera_radius, elevation=20.0)
    rgb, _ = render_views(field, cams, config.turntable_size, config.fov, supersample=SUPERSAMPLE)
    frames = (rgb.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    with atomic_path(out_dir / "turntable.gif") as tmp:
        iio.imwrite(tmp, frames, duration=80, loop=0)
    with atomic_path(out_dir / "turntable.mp4") as tmp:
        # macro_block_size 1: the frames' size need not be a multiple of 16
        iio.imwrite(tmp, frames, fps=12, codec="libx264", macro_block_size=1)
    return ["turntable.gif", "turntable.mp4"]


def write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def prior_image(grid: SDFGrid, config: RunConfig, size: int = 160) -> np.ndarray:
    cams = turntable(1, radius=config.camera_radius, elevation=20.0)
    rgb, _ = render_prior(grid, cams, size, config.fov, "cpu")
    return (rgb[0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()


@contextmanager
def timed(timings: dict, name: str):
    """Adds the block's wall time in seconds to timings[name]."""
    t0 = time.perf_counter()
    yield
    timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - t0, 3)


HISTORY = "history.json"


def write_history(out_dir: Path, history: dict) -> str:
    write_json(out_dir / HISTORY, history)
    return HISTORY


def read_history(out_dir: Path) -> dict:
    """The run's logged series: history.json, else (a run from before it was written) the checkpoint's,
    else none."""
    if (out_dir / HISTORY).is_file():
        return json.loads((out_dir / HISTORY).read_text())
    from .checkpoint import CHECKPOINT

    if (out_dir / CHECKPOINT).is_file():
        return dict(torch.load(out_dir / CHECKPOINT, map_location="cpu", weights_only=False)["history"])
    return {"step": []}


def write_outputs(out_dir: Path, field: DVGOField, config: RunConfig, history: dict,
                  prior: SDFGrid | None) -> tuple[dict, np.ndarray | None]:
    """The field's files besides its meshes (mesh.export_meshes): field.safetensors, history.json and the
    turntable; returns their entries of metrics.json (with each part's time in output_timings_s) and the
    prior's picture for the report (None without a prior), which comes last to list every file."""
    parts: dict[str, float] = {}
    entries: dict = {"output_timings_s": parts}
    with timed(parts, "field"):
        entries["field_file"] = save_field(out_dir, field, config)
        write_history(out_dir, history)
    with timed(parts, "turntable"):
        entries["turntable"] = write_turntable(out_dir, field, config)
    picture = None
    if prior is not None:
        with timed(parts, "prior image"):
            picture = prior_image(prior, config)
    return entries, picture
