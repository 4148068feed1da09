"""Text-to-shape FID (Dream3D's Table 2 protocol): for every prompt, ``shapes_per_prompt`` shapes (seeds
seed, seed + 1, ...), each rendered from ``views`` fixed cameras; the FID of those renders against the
same renders of reference shapes (the library's categories named by the prompts, or a folder of SDF
grids). Modes (the paper's ablations):

    full          prompt -> G_I ("PROMPT in the style of <*>") -> cut-out -> CLIP image embedding -> G_M -> G_S
    no-finetune   the same with the original Stable Diffusion and the prompt as it is
    no-text2img   the prompt's CLIP text embedding -> G_M -> G_S

Generated grids are kept (OUT/shapes/MODE/PPP-K.npz): a rerun renders what exists and generates only
what is missing."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from ..cameras import orbit_cameras
from ..shape.grid_folder import sdf_grid_files
from ..shape import CATEGORIES, SDFGrid, category_from_prompt, library_sdf_grid, load_sdf, render_grids, save_sdf
from .fid import feature_stats, frechet_distance, image_features

MODES = ("full", "no-finetune", "no-text2img")
REFERENCE_SEED = 2_000_000  # library seeds of reference shapes (G_S's training and held-out sets use lower ones)


class ShapeEvalError(ValueError):
    """The evaluation cannot run; the message says what is missing."""


@dataclass(frozen=True)
class RenderSpec:
    views: int = 5
    size: int = 256
    radius: float = 3.2
    elevation: float = 25.0

    def cameras(self) -> torch.Tensor:
        """``views`` azimuths spread over [-90, 90] (the range G_M's renders cover) at one elevation."""
        azimuths = torch.linspace(-90.0, 90.0, self.views + 2)[1:-1].tolist() if self.views > 1 else [0.0]
        return orbit_cameras(self.radius, azimuths, [self.elevation] * self.views)


def render_set(grids: list[SDFGrid], spec: RenderSpec, device="cpu", batch: int = 4) -> torch.Tensor:
    """(len(grids) * views, 3, size, size) renders on white, 2x2 supersampled."""
    cams = spec.cameras()
    out = []
    for start in range(0, len(grids), batch):
        rgb = render_grids(grids[start:start + batch], cams, size=spec.size, device=device, supersample=2).rgb
        out.append(rgb.reshape(-1, *rgb.shape[-3:]).permute(0, 3, 1, 2).float().cpu().clamp(0, 1))
    return torch.cat(out)


def reference_grids(reference: str, categories: list[str], per_category: int, resolution: int,
                    cache: Path | None = None) -> list[SDFGrid]:
    """'library': ``per_category`` shapes of each category; else every .npz/.npy grid in the folder."""
    if reference != "library":
        files = sdf_grid_files(reference, "--reference", ShapeEvalError)
        from ..shape.generator.data import onto_cube

        return [SDFGrid(onto_cube(load_sdf(f), resolution)) for f in files]  # one grid shape for batched renders
    grids = []
    for category in categories:
        for i in range(per_category):
            path = cache / f"{category}-{REFERENCE_SEED + i}-{resolution}.npz" if cache else None
            if path is not None and path.is_file():
                grids.append(load_sdf(path))
                continue
            grid = library_sdf_grid(category, resolution, seed=REFERENCE_SEED + i)
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                save_sdf(path, grid)
            grids.append(grid)
    return grids


def prompt_categories(prompts: list[str]) -> list[str]:
    """The library categories the prompts name (all 13 when they name none)."""
    found = {category_from_prompt(p) for p in prompts} - {None}
    return [c for c in CATEGORIES if c in found] or list(CATEGORIES)


def generated_grids(make: Callable[[str, int], SDFGrid], prompts: list[str], shapes_per_prompt: int, seed: int,
                    folder: Path, desc: str) -> list[SDFGrid]:
    """Shape k of prompt i from make(prompt, seed + k), kept in folder/III-K.npz and reused."""
    folder.mkdir(parents=True, exist_ok=True)
    grids = []
    jobs = [(i, k) for i in range(len(prompts)) for k in range(shapes_per_prompt)]
    for i, k in tqdm(jobs, desc=desc, unit="shape"):
        path = folder / f"{i:03d}-{k}.npz"
        if path.is_file():
            grids.append(load_sdf(path))
            continue
        grid = make(prompts[i], seed + k)
        save_sdf(path, grid)  # atomic
        grids.append(grid)
    return grids


def fid_of_renders(net: torch.nn.Module, generated: torch.Tensor, reference_stats, batch_size: int = 50) -> float:
    stats = feature_stats(image_features(net, generated, batch_size))
    return frechet_distance(stats.mu, stats.sigma, reference_stats.mu, reference_stats.sigma)
