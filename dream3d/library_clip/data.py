"""Training images of the library CLIP: each library shape is sampled on a small SDF grid once and
rendered from random views with the SDF renderer; the renders are cached as grey shading and coverage
(uint8), so that object and background colours can be drawn afresh for every batch at no cost.

Rendering with albedo 1 on a black background gives rgb = coverage * shading for every pixel
(supersampled edges included), hence image = colour * rgb + background * (1 - coverage) exactly."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..cameras import orbit_cameras
from ..shape import library_sdf_grid
from ..shape._atomic import atomic_path
from ..shape.library import CATEGORIES
from ..shape.render import render_grids

GRID_RESOLUTION = 48       # library parts stay >= 3.5% of the longest side thick: they survive 48^3
IMAGE_SIZE = 64
VIEWS_PER_SHAPE = 12
FOV = 40.0
RADIUS = (2.9, 3.6)        # the camera's distance; at fov 40 an object spans ~45-60% of the image
ELEVATION = (-5.0, 55.0)   # degrees; mostly from above, where tops, seats and decks show
CACHE_VERSION = 1
# renders are shared by training, evaluation and runs: one folder per user
DEFAULT_CACHE = Path(os.environ.get("DREAM3D_CACHE", "~/.cache/dream3d")).expanduser() / "library_clip_renders"


@dataclass(frozen=True)
class RenderSpec:
    grid_resolution: int = GRID_RESOLUTION
    image_size: int = IMAGE_SIZE
    views: int = VIEWS_PER_SHAPE

    def check(self):
        if self.grid_resolution < 8 or self.image_size < 8 or self.views < 1:
            raise ValueError(f"render spec needs grid_resolution >= 8, image_size >= 8, views >= 1; got {self}")
        return self


def random_cameras(n_views: int, gen: torch.Generator) -> torch.Tensor:
    """(V, 4, 4) cameras looking at the origin: azimuth uniform in [0, 360), elevation in ELEVATION,
    distance in RADIUS."""
    u = torch.rand(n_views, 3, generator=gen, dtype=torch.float64)
    az = (u[:, 0] * 360.0).tolist()
    el = (ELEVATION[0] + u[:, 1] * (ELEVATION[1] - ELEVATION[0])).tolist()
    cams = orbit_cameras(1.0, az, el)
    cams[:, :3, 3] *= (RADIUS[0] + u[:, 2] * (RADIUS[1] - RADIUS[0]))[:, None]
    return cams


def shape_views(category: str, seed: int, spec: RenderSpec = RenderSpec()) -> tuple[np.ndarray, np.ndarray]:
    """(shading, coverage), each (V, S, S) uint8, of library shape (category, seed) from views drawn
    from the shape's own seed (the same shape always gets the same views)."""
    spec.check()
    grid = library_sdf_grid(category, spec.grid_resolution, seed=seed)
    gen = torch.Generator().manual_seed(CATEGORIES.index(category) * 1_000_003 + seed)
    cams = random_cameras(spec.views, gen)
    out = render_grids(grid, cams[None], size=spec.image_size, fov=FOV, background=(0.0, 0.0, 0.0),
                       albedo=(1.0, 1.0, 1.0), supersample=2)
    shading = out.rgb[0, ..., 0].clamp(0, 1)
    return _to_u8(shading), _to_u8(out.mask[0].clamp(0, 1))


def _to_u8(x: torch.Tensor) -> np.ndarray:
    return (x * 255).round().to(torch.uint8).numpy()


def cache_file(folder: Path, category: str, seed: int) -> Path:
    return Path(folder) / f"{category}-{seed}.npz"


def build_cache(folder, items, spec: RenderSpec = RenderSpec(), progress: bool = True) -> None:
    """Renders every (category, seed) of ``items`` into ``folder`` (one file each, written atomically);
    files already there are kept, so an interrupted build resumes where it stopped."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    todo = [(c, s) for c, s in items if not _cache_ok(cache_file(folder, c, s), spec)]
    for category, seed in tqdm(todo, desc="render library shapes", disable=not progress or not todo):
        shading, coverage = shape_views(category, seed, spec)
        with atomic_path(cache_file(folder, category, seed)) as tmp:
            np.savez(tmp, shading=shading, coverage=coverage,
                     spec=np.array([CACHE_VERSION, spec.grid_resolution, spec.image_size, spec.views]))


def _cache_ok(path: Path, spec: RenderSpec) -> bool:
    if not path.is_file():
        return False
    with np.load(path) as f:
        return f["spec"].tolist() == [CACHE_VERSION, spec.grid_resolution, spec.image_size, spec.views]


@dataclass
class ViewSet:
    """Cached renders of N shapes: shading and coverage (N, V, S, S) uint8, and which shape each is."""
    items: list[tuple[str, int]]
    shading: torch.Tensor
    coverage: torch.Tensor


def load_views(folder, items, spec: RenderSpec = RenderSpec(), progress: bool = True) -> ViewSet:
    """Builds what is missing, then loads the renders of ``items``."""
    items = [(c, int(s)) for c, s in items]
    if not items:
        raise ValueError("no shapes to load")
    build_cache(folder, items, spec, progress)
    shading, coverage = [], []
    for c, s in items:
        with np.load(cache_file(Path(folder), c, s)) as f:
            shading.append(torch.from_numpy(f["shading"]))
            coverage.append(torch.from_numpy(f["coverage"]))
    return ViewSet(items, torch.stack(shading), torch.stack(coverage))


def compose(shading: torch.Tensor, coverage: torch.Tensor, colours: torch.Tensor,
            backgrounds: torch.Tensor) -> torch.Tensor:
    """Images (B, 3, S, S) in [0, 1] from shading and coverage (B, S, S) uint8 and per-image object
    and background colours (B, 3)."""
    rgb = shading.float().div(255)[:, None]
    cov = coverage.float().div(255)[:, None]
    return (colours[:, :, None, None] * rgb + backgrounds[:, :, None, None] * (1 - cov)).clamp(0, 1)


def random_colours(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Object colours (light enough to show the shading) and background colours, each (n, 3), kept
    apart in brightness so that the silhouette stays visible."""
    objects = 0.35 + 0.65 * torch.rand(n, 3, generator=gen)
    backgrounds = torch.rand(n, 3, generator=gen)
    # push the background's mean brightness at least 0.25 away from the object's
    gap = backgrounds.mean(1) - objects.mean(1)
    shift = torch.where(gap.abs() < 0.25, torch.sign(gap + 1e-6) * 0.25 - gap, torch.zeros_like(gap))
    backgrounds = (backgrounds + shift[:, None]).clamp(0, 1)
    return objects, backgrounds


__all__ = ["DEFAULT_CACHE", "RenderSpec", "ViewSet", "build_cache", "compose", "load_views", "random_colours",
           "shape_views"]
