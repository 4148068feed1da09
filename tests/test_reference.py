"""The torch reference checked against closed forms before it serves as the oracle, and gradchecked."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from dream3d import ops
from helpers import BOX, dvgo_march, kernel_backends, random_density, random_rays


def test_constant_slab_transmittance():
    """A constant grid: every sample has the same alpha, so T = exp(-sigma * interval * samples)."""
    raw, shift, interval, step = 0.7, ops.act_shift_from_alpha_init(1e-3), 0.5, 0.01
    density = torch.full((4, 4, 4), raw, dtype=torch.float64)
    rays_o = torch.tensor([[0.1, -0.2, 5.0]], dtype=torch.float64)
    rays_d = torch.tensor([[0.0, 0.0, -1.0]], dtype=torch.float64)
    march = ops.March(step_size=step, act_shift=shift, interval=interval, t_thres=0.0)
    out = ops.volume_render(density, rays_o, rays_d, BOX[:3], BOX[3:], march, backend="torch")
    n_samples = math.ceil(2.0 / step)  # t from 4 to 6, the last sample strictly before t_far
    sigma = F.softplus(torch.tensor(raw + shift, dtype=torch.float64)).item()
    assert out.weights.shape[0] == n_samples
    assert out.T_final.item() == pytest.approx(math.exp(-sigma * interval * n_samples), rel=1e-12)
    assert out.weights.sum().item() == pytest.approx(1 - out.T_final.item(), rel=1e-12)
    torch.testing.assert_close(out.t, 4.0 + step * torch.arange(n_samples, dtype=torch.float64))


def test_alpha_init_on_empty_grid():
    """An all-zero grid gives every sample alpha = 1 - (1 - alpha_init)^interval (DVGO's init)."""
    alpha_init = 1e-2
    out = ops.volume_render(torch.zeros(3, 3, 3, dtype=torch.float64),
                            torch.tensor([[0.0, 0.0, -3.0]], dtype=torch.float64),
                            torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64), BOX[:3], BOX[3:],
                            ops.March(step_size=0.5, act_shift=ops.act_shift_from_alpha_init(alpha_init),
                                      interval=1.0), backend="torch")
    torch.testing.assert_close(out.weights[0], torch.tensor(alpha_init, dtype=torch.float64))


def test_gradcheck_reference():
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    density = random_density((3, 4, 3), gen, scale=1.0).requires_grad_()
    rays_o, rays_d = random_rays(6, gen)
    march = dvgo_march((3, 4, 3), steps_per_voxel=1.0)

    def fn(d):
        out = ops.volume_render(d, rays_o, rays_d, BOX[:3], BOX[3:], march, backend="torch")
        return out.weights, out.T_final

    assert torch.autograd.gradcheck(fn, (density,))
    grid = torch.randn(2, 3, 3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda g: ops.total_variation(g, (1.0, 0.5, 2.0), backend="torch"), (grid,))


@pytest.mark.parametrize("backend,device", [b for b in kernel_backends() if b[0] in ("cpu", "cuda")])
def test_gradcheck_fused_renderer(backend, device):
    """The real C++/CUDA renderer in float64 (templated kernels) passes gradcheck."""
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    density = random_density((3, 4, 3), gen, scale=1.0).to(device).requires_grad_()
    rays_o, rays_d = (r.to(device) for r in random_rays(6, gen))
    march = dvgo_march((3, 4, 3), steps_per_voxel=1.0)

    def fn(d):
        out = ops.volume_render(d, rays_o, rays_d, BOX[:3], BOX[3:], march, backend=backend)
        return out.weights, out.T_final

    assert torch.autograd.gradcheck(fn, (density,))
