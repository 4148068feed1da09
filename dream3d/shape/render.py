"""Renders SDF grids with the fused SDF renderer: multi-view shaded images of shape priors, e.g. the
paper's data sets (24 views per shape, random solid backgrounds) and previews."""
from __future__ import annotations

import torch

from .. import ops
from ..cameras import dataset_views
from .sdf_grid import SDFGrid


def random_backgrounds(batch: int, views: int, generator: torch.Generator | None = None,
                       dtype=torch.float32) -> torch.Tensor:
    """A random solid colour per image, (B, V, 3) in [0, 1): the backgrounds of the fine-tuning data."""
    return torch.rand(batch, views, 3, generator=generator, dtype=dtype)


def render_grids(grids: list[SDFGrid] | SDFGrid, c2w: torch.Tensor | None = None, size: int = 256,
                 fov: float = 40.0, background="white", seed: int = 0, device="cpu",
                 **render_options) -> ops.SDFRenderOutput:
    """Renders B grids (sharing one bbox) from the cameras c2w ((V, 4, 4), or (B, V, 4, 4); by default
    the paper's 24-view set from ``seed``) at size x size.

    background: "white", "random" (a random solid colour per image, drawn from ``seed``), 3 numbers,
    or a (B, V, 3) tensor. Other keyword arguments go to ``ops.sdf_render`` (light, supersample, ...).
    Returns batched outputs (B, V, ...).
    """
    grids = [grids] if isinstance(grids, SDFGrid) else list(grids)
    if not grids:
        raise ValueError("grids is empty")
    if any((g.xyz_min, g.xyz_max) != (grids[0].xyz_min, grids[0].xyz_max) for g in grids):
        raise ValueError("all grids must share one bbox")
    if any(g.values.shape != grids[0].values.shape for g in grids):
        raise ValueError("all grids must share one resolution")
    sdf = torch.stack([g.values for g in grids]).to(device)
    cams = dataset_views(seed=seed) if c2w is None else torch.as_tensor(c2w)
    cams = cams.to(device=device, dtype=sdf.dtype)
    n_views = cams.shape[-3]
    if isinstance(background, str):
        if background == "white":
            background = (1.0, 1.0, 1.0)
        elif background == "random":
            background = random_backgrounds(len(grids), n_views, torch.Generator().manual_seed(seed),
                                            sdf.dtype).to(device)
        else:
            raise ValueError(f"background must be 'white', 'random', 3 numbers or a tensor, got {background!r}")
    return ops.sdf_render(sdf, cams, fov, size, size, xyz_min=grids[0].xyz_min, xyz_max=grids[0].xyz_max,
                          background=background, **render_options)
