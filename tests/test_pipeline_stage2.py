"""Stage 2's regularisers: the shape-prior loss, capped at the prior's own density (prior_cap)."""
from __future__ import annotations

import torch

from dream3d import ops
from dream3d.field import ColorMLP, DensityGrid, DVGOField
from dream3d.pipeline.stage2 import regularisers
from dream3d.scene import sphere_sdf


def _prior_gradient(field: DVGOField, sdf: torch.Tensor, prior_density: torch.Tensor | None) -> torch.Tensor:
    field.density.values.grad = None
    prior, _ = regularisers(field, sdf, prior_density)
    prior.backward()
    return field.density.values.grad


def test_capped_prior_loss_restores_the_prior_but_pushes_no_further():
    sdf = sphere_sdf(16, radius=0.5)
    field = DVGOField(DensityGrid.from_sdf(sdf), ColorMLP(n_frequencies=1, width=8))
    prior_density = ops.sdf_to_density(sdf, 0.05, act_shift=field.density.act_shift)
    inside = sdf < 0
    with torch.no_grad():  # half the inside voxels denser than the prior, the other half fainter
        denser = inside & (torch.arange(16)[:, None, None] % 2 == 0)
        field.density.values[denser] += 3.0
        field.density.values[inside & ~denser] -= 3.0
    uncapped = _prior_gradient(field, sdf, None)
    capped = _prior_gradient(field, sdf, prior_density)
    assert (uncapped[inside] < 0).all()  # eq. 4 as written: every inside voxel pushed denser
    assert (capped[denser] == 0).all()
    torch.testing.assert_close(capped[inside & ~denser], uncapped[inside & ~denser])
    assert (capped[~inside] == 0).all()


def test_ray_margin_keeps_the_object_and_its_outline():
    from dream3d.pipeline import build_config, resolve_prior
    from dream3d.pipeline.objectives import make_targets

    options = {"prompt": "a chair", "out": "unused", "resolution": 24, "view_size": 24, "n_views": 2}
    grid = resolve_prior(build_config(options)).grid
    every = make_targets(build_config({**options, "ray_margin": -1}), grid, "cpu")
    near = make_targets(build_config({**options, "ray_margin": 1}), grid, "cpu")
    assert len(every.rgb) == 2 * 24 * 24
    assert (near.mask > 0).sum() == (every.mask > 0).sum()  # every pixel of the object is kept ...
    assert (near.mask == 0).sum() > 0  # ... with a rim of background around it ...
    assert len(near.rgb) < len(every.rgb) / 2  # ... and not the empty rest
    assert len(near.rays_o) == len(near.rays_d) == len(near.rgb) == len(near.mask)
