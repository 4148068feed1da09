"""dream3d-run --prior-only: the shape prior alone, in seconds, to check its orientation and detail
before a long run: prior.npz/.glb, renders from the six axis views (prior_views.png, each labelled with
the world axis and the file's axis it came from), a short turntable (prior_turntable.gif), prior.json
(the prior's description, normalisation and thin-part check) and config.yaml."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..cameras import orbit_cameras, turntable
from ..devices import resolve_device
from ..shape._atomic import atomic_path
from ..shape.orientation import axis_name, axis_vector
from .config import ConfigError, RunConfig, save_config, validate
from .outputs import save_prior, write_json
from .priors import resolve_prior
from .run import prepare_out_dir
from .views import render_prior

# (label, world axis the camera sits on, azimuth, elevation): the camera looks back at the origin.
AXIS_VIEWS = (("front", "+z", 0.0, 0.0), ("right", "+x", 90.0, 0.0), ("back", "-z", 180.0, 0.0),
              ("left", "-x", 270.0, 0.0), ("top", "+y", 0.0, 90.0), ("bottom", "-y", 0.0, -90.0))
VIEW_SIZE, TURNTABLE_FRAMES, TURNTABLE_SIZE = 160, 24, 112


def run_prior_only(config: RunConfig, log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> dict:
    """Writes the prior's files into config.out and returns what prior.json holds."""
    validate(config)
    device = resolve_device(config.device, ConfigError)
    out = prepare_out_dir(config)
    t0 = time.perf_counter()
    prior = resolve_prior(config, log)
    save_config(config, out / "config.yaml")
    save_prior(out, prior.grid)
    t_prior = time.perf_counter() - t0
    rotation = np.array(prior.details["rotation"]) if prior.details else np.eye(3)
    views = render_axis_views(prior.grid, config, device, rotation)
    write_png(out / "prior_views.png", views)
    write_gif(out / "prior_turntable.gif", render_turntable(prior.grid, config, device))
    info = {"prompt": config.prompt, "prior_source": prior.source, "prior": prior.description,
            "resolution": prior.grid.resolution[0], "files": ["prior.npz", "prior.glb", "prior_views.png",
                                                              "prior_turntable.gif", "config.yaml"],
            "timings_s": {"prior": round(t_prior, 3), "renders": round(time.perf_counter() - t0 - t_prior, 3)}}
    if prior.details:
        info["prior_normalization"] = prior.details
    write_json(out / "prior.json", info)
    log(f"[dream3d] prior preview in {time.perf_counter() - t0:.1f} s: {prior.description}; "
        f"{out / 'prior_views.png'} shows it from the six axes. If it lies wrong, rerun with "
        "--prior-mesh-up/--prior-mesh-front; the full run needs another --out or --overwrite.")
    return info


def render_axis_views(grid, config: RunConfig, device, rotation: np.ndarray = np.eye(3)) -> np.ndarray:
    """(2 * VIEW_SIZE, 3 * VIEW_SIZE, 3) uint8: front, right, back / left, top, bottom, labelled."""
    cams = orbit_cameras(config.camera_radius, [v[2] for v in AXIS_VIEWS], [v[3] for v in AXIS_VIEWS])
    rgb, _ = render_prior(grid, cams, VIEW_SIZE, config.fov, device)
    images = _uint8(rgb)
    labels = [f"{name} {world} = file {_file_axis(world, rotation)}" for name, world, _, _ in AXIS_VIEWS]
    tiles = [_label(image, text) for image, text in zip(images, labels)]
    return np.concatenate([np.concatenate(tiles[:3], axis=1), np.concatenate(tiles[3:], axis=1)], axis=0)


def render_turntable(grid, config: RunConfig, device) -> np.ndarray:
    cams = turntable(TURNTABLE_FRAMES, radius=config.camera_radius, elevation=20.0)
    rgb, _ = render_prior(grid, cams, TURNTABLE_SIZE, config.fov, device)
    return _uint8(rgb)


def _file_axis(world: str, rotation: np.ndarray) -> str:
    """The file's axis that the prior's normalisation turned onto ``world`` (new = R @ old)."""
    return axis_name(rotation.T @ axis_vector(world))


def _uint8(rgb: torch.Tensor) -> np.ndarray:
    return (rgb.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


def _label(image: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    picture = Image.fromarray(image)
    ImageDraw.Draw(picture).text((4, 3), text, fill=(200, 30, 30))
    return np.asarray(picture)


def write_png(path: Path, image: np.ndarray) -> None:
    import imageio.v3 as iio

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, image)


def write_gif(path: Path, frames: np.ndarray) -> None:
    import imageio.v3 as iio

    with atomic_path(path) as tmp:
        iio.imwrite(tmp, frames, duration=80, loop=0)
