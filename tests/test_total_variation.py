"""Every fused total-variation backend against the torch reference."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

from dream3d import ops
from helpers import kernel_backends

BACKENDS = kernel_backends()


@pytest.mark.parametrize("backend,device", BACKENDS)
@settings(deadline=None, max_examples=20)
@given(data=st.data())
def test_matches_reference(backend, device, data):
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64]), label="dtype")
    channels = data.draw(st.integers(1, 5), label="C")
    dims = tuple(data.draw(st.integers(2, 9), label=f"dim{a}") for a in range(3))
    weights = tuple(data.draw(st.floats(0.0, 3.0), label=f"w{a}") for a in range(3))
    permute = data.draw(st.booleans(), label="channels last")
    gen = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31), label="seed"))
    grid = torch.randn(channels, *dims, generator=gen, dtype=dtype)
    if permute:
        grid = grid.permute(1, 2, 3, 0).contiguous().permute(3, 0, 1, 2)
    grid = grid.to(device).requires_grad_()
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    out = ops.total_variation(grid, weights, backend=backend)
    ref = ops.total_variation(grid, weights, backend="torch")
    torch.testing.assert_close(out, ref, **tol)
    scale = torch.rand((), generator=gen, dtype=dtype).item() + 0.5  # upstream gradient is applied
    (g_out,) = torch.autograd.grad(out * scale, grid)
    (g_ref,) = torch.autograd.grad(ref * scale, grid)
    torch.testing.assert_close(g_out, g_ref, **tol)


@pytest.mark.parametrize("backend,device", BACKENDS)
def test_three_dimensional_grid_and_constant_field(backend, device):
    grid = torch.full((4, 3, 5), 2.5, dtype=torch.float64, device=device, requires_grad=True)
    loss = ops.total_variation(grid, backend=backend)
    assert loss.item() == 0.0
    (g,) = torch.autograd.grad(loss, grid)
    assert g.shape == grid.shape and torch.all(g == 0)


def test_reference_closed_form():
    """A ramp along x with slope s per voxel has TV = s^2 from that axis alone."""
    ramp = (torch.arange(5, dtype=torch.float64) * 0.3)[:, None, None].expand(5, 4, 3)[None]
    torch.testing.assert_close(ops.total_variation(ramp, (2.0, 1.0, 1.0), backend="torch"),
                               torch.tensor(2 * 0.09, dtype=torch.float64))
