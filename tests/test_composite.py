"""Compositing packed samples against the dense formula."""
from __future__ import annotations

import pytest
import torch

from dream3d import ops
from helpers import BOX, random_density, random_rays, render_params


def render(gen, n_rays=20):
    density = random_density((5, 6, 4), gen).requires_grad_()
    rays_o, rays_d = random_rays(n_rays, gen)
    return ops.volume_render(density, rays_o, rays_d, BOX[:3], BOX[3:], backend="torch",
                             **render_params((5, 6, 4)))


@pytest.mark.parametrize("bg_kind", ["number", "colour", "per_ray"])
def test_matches_dense_sum(bg_kind):
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    samples = render(gen)
    colors = torch.rand(samples.weights.shape[0], 3, generator=gen, dtype=torch.float64, requires_grad=True)
    bg = {"number": 0.25, "colour": torch.rand(3, generator=gen, dtype=torch.float64),
          "per_ray": torch.rand(20, 3, generator=gen, dtype=torch.float64)}[bg_kind]
    out = ops.composite(samples, colors, bg)
    expected = torch.stack([
        (samples.weights[samples.ray_ids == r, None] * colors[samples.ray_ids == r]).sum(0)
        for r in range(20)]) + samples.T_final[:, None] * torch.as_tensor(bg, dtype=torch.float64)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


def test_gradcheck():
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    samples = render(gen, n_rays=6)
    weights = samples.weights.detach().requires_grad_()
    t_final = samples.T_final.detach().requires_grad_()
    colors = torch.rand(weights.shape[0], 2, generator=gen, dtype=torch.float64, requires_grad=True)
    bg = torch.rand(2, generator=gen, dtype=torch.float64, requires_grad=True)

    def fn(w, t, c, b):
        return ops.composite(samples._replace(weights=w, T_final=t), c, b)

    assert torch.autograd.gradcheck(fn, (weights, t_final, colors, bg))


def test_bad_shapes():
    gen = torch.Generator().manual_seed(0)
    samples = render(gen)
    with pytest.raises(ValueError, match="colors"):
        ops.composite(samples, torch.rand(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="bg"):
        ops.composite(samples, torch.rand(samples.weights.shape[0], 3, dtype=torch.float64),
                      torch.rand(4, dtype=torch.float64))
