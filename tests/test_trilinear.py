"""Every trilinear-gather backend against the torch reference (F.grid_sample, zero outside the bbox)."""
from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings, strategies as st

from dream3d import ops
from helpers import BOX, BOXES, assert_close_per_element, draw_box, examples, kernel_backends

BACKENDS = kernel_backends()
F64 = dict(rtol=1e-9, atol=1e-11)
# float32: the reference and the kernels round the cell position differently (~1e-7 relative).
F32 = dict(rtol=1e-4, atol=1e-5)


def random_points(n, gen, dtype, box=BOX, spread=1.3):
    """Points mostly inside, some outside the bbox, some exactly on its faces and corners."""
    lo = torch.tensor(box[:3], dtype=dtype)
    hi = torch.tensor(box[3:], dtype=dtype)
    u = torch.rand(n, 3, generator=gen, dtype=dtype) * spread - (spread - 1) / 2
    on_face = torch.arange(n) % 7 == 3
    u[on_face, 1] = 1.0
    u[torch.arange(n) % 11 == 5] = 0.0
    return lo + u * (hi - lo)


def gather_both(backend, grid, points, box=BOX):
    out = ops.trilinear(grid, points, box[:3], box[3:], backend=backend)
    ref = ops.trilinear(grid, points, box[:3], box[3:], backend="torch")
    return out, ref


def grads(values, inputs, gen):
    g = torch.randn(values.shape, generator=gen, dtype=values.dtype).to(values.device)
    return torch.autograd.grad((values * g).sum(), inputs)


@pytest.mark.parametrize("backend,device", BACKENDS)
def test_matches_reference_float64(backend, device):
    @settings(deadline=None, max_examples=examples(backend, 25, 10))
    @given(data=st.data())
    def check(data):
        channels = data.draw(st.sampled_from([1, 2, 3, 12, 33]), label="C")
        dims = tuple(data.draw(st.integers(2, 9), label=f"dim{a}") for a in range(3))
        n = data.draw(st.integers(1, 200), label="points")
        gen = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31), label="seed"))
        box = draw_box(data, gen)
        grid = torch.randn(channels, *dims, generator=gen, dtype=torch.float64).to(device).requires_grad_()
        points = random_points(n, gen, torch.float64, box).to(device).requires_grad_()
        out, ref = gather_both(backend, grid, points, box)
        torch.testing.assert_close(out, ref, **F64)
        seed = int(torch.randint(0, 2**31, (1,), generator=gen))
        g_out = grads(out, (grid, points), torch.Generator().manual_seed(seed))
        g_ref = grads(ref, (grid, points), torch.Generator().manual_seed(seed))
        torch.testing.assert_close(g_out[0], g_ref[0], **F64)
        # the point gradient is one-sided on cell faces; grid_sample and the kernels may pick either side
        lo, hi = points.new_tensor(box[:3]), points.new_tensor(box[3:])
        u = (points.detach() - lo) / (hi - lo) * (points.new_tensor(dims) - 1)
        interior = ((u - u.round()).abs() > 1e-9).all(dim=-1)
        torch.testing.assert_close(g_out[1][interior], g_ref[1][interior], rtol=1e-9, atol=1e-9)

    check()


@pytest.mark.parametrize("backend,device", BACKENDS)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "sliced"])
def test_layouts_float32(backend, device, layout):
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    if layout == "channels_last":  # stored (X, Y, Z, C), viewed as (C, X, Y, Z)
        grid = torch.randn(6, 7, 5, 12, generator=gen).permute(3, 0, 1, 2)
    elif layout == "sliced":
        grid = torch.randn(12, 12, 7, 5, generator=gen)[:, ::2]
    else:
        grid = torch.randn(12, 6, 7, 5, generator=gen)
    grid = grid.to(device).requires_grad_()
    points = random_points(300, gen, torch.float32).to(device)
    out, ref = gather_both(backend, grid, points)
    torch.testing.assert_close(out, ref, **F32)
    seed = int(torch.randint(0, 2**31, (1,), generator=gen))
    g_out, = grads(out, (grid,), torch.Generator().manual_seed(seed))
    g_ref, = grads(ref, (grid,), torch.Generator().manual_seed(seed))
    torch.testing.assert_close(g_out, g_ref, **F32)
    assert g_out.shape == grid.shape


@pytest.mark.parametrize("backend,device", BACKENDS)
def test_batched_points_and_no_point_grad(backend, device):
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    grid = torch.randn(3, 4, 4, 4, generator=gen, dtype=torch.float64).to(device)
    points = random_points(24, gen, torch.float64).reshape(2, 3, 4, 3).to(device)
    out, ref = gather_both(backend, grid, points)
    assert out.shape == (2, 3, 4, 3)
    torch.testing.assert_close(out, ref, **F64)
    grid.requires_grad_()
    out = ops.trilinear(grid, points, BOX[:3], BOX[3:], backend=backend)
    (g,) = torch.autograd.grad(out.sum(), grid)
    assert points.grad is None and g.shape == grid.shape


@pytest.mark.parametrize("backend,device", [b for b in BACKENDS if b[0] in ("cpu", "cuda")])
def test_gradcheck_fused_float64(backend, device):
    """The C++/CUDA kernels are templated on the scalar type, so the real kernel passes gradcheck."""
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    grid = torch.randn(2, 3, 4, 3, generator=gen, dtype=torch.float64).to(device).requires_grad_()
    points = (torch.rand(10, 3, generator=gen, dtype=torch.float64) * 1.8 - 0.9).to(device).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda g, p: ops.trilinear(g, p, BOX[:3], BOX[3:], backend=backend), (grid, points))


def test_reference_is_exact_on_linear_fields():
    """Trilinear interpolation reproduces an affine field exactly: a closed-form check of the oracle."""
    coords = torch.stack(torch.meshgrid(*[torch.linspace(-1, 1, n, dtype=torch.float64) for n in (5, 4, 6)],
                                        indexing="ij"))
    field = (2.0 * coords[0] - 3.0 * coords[1] + 0.5 * coords[2] + 1.0)[None]
    points = torch.rand(100, 3, dtype=torch.float64) * 2 - 1
    expected = 2.0 * points[:, 0] - 3.0 * points[:, 1] + 0.5 * points[:, 2] + 1.0
    got = ops.trilinear(field, points, BOX[:3], BOX[3:], backend="torch")[:, 0]
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    outside = torch.tensor([[1.5, 0.0, 0.0], [0.0, -1.0001, 0.0]], dtype=torch.float64)
    assert torch.all(ops.trilinear(field, outside, BOX[:3], BOX[3:], backend="torch") == 0)


@pytest.mark.parametrize("backend,device", [("torch", "cpu")] + BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_grid_nodes_faces_and_corners_closed_form(backend, device, dtype):
    """Samples exactly on grid nodes (the box's corners and faces among them) in a non-cubic box: the
    value is the node's, the grid gradient of sum(g * value) is g at that node and 0 elsewhere, and on an
    affine field the point gradient is the field's slope on either side of a node (so at every node,
    faces and corners included). A point a rounding step outside a face reads 0 and gets no gradient."""
    box, dims = BOXES[1], (4, 3, 5)
    axes = [torch.linspace(box[a], box[a + 3], n, dtype=torch.float64) for a, n in enumerate(dims)]
    nodes = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)
    slope = torch.tensor([[0.5, -2.0, 1.25], [-1.0, 0.75, 3.0]], dtype=torch.float64)  # (C, 3)
    field = (nodes @ slope.T + torch.tensor([0.25, -1.0], dtype=torch.float64)).T.reshape(2, *dims)
    grid = field.to(dtype).to(device).requires_grad_()
    points = nodes.to(dtype).to(device).requires_grad_()
    values = ops.trilinear(grid, points, box[:3], box[3:], backend=backend)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    assert_close_per_element(values, field.reshape(2, -1).T, **tol, msg=f"{backend} values")
    g = torch.randn(values.shape, dtype=dtype).to(device)
    g_grid, g_points = torch.autograd.grad((values * g).sum(), (grid, points))
    assert_close_per_element(g_grid, g.T.reshape(2, *dims), **tol, msg=f"{backend} grid gradient")
    assert_close_per_element(g_points, g.double().cpu() @ slope, **tol, msg=f"{backend} point gradient")
    # just outside each face of the closed box: nothing read, no gradient
    outside = nodes[[0, -1]].repeat_interleave(3, dim=0).clone()
    for i in range(6):
        a, up = i % 3, i >= 3
        outside[i, a] = torch.nextafter(outside[i, a].to(dtype), torch.tensor(float("inf" if up else "-inf"),
                                                                             dtype=dtype)).double()
    outside = outside.to(dtype).to(device).requires_grad_()
    far = ops.trilinear(grid, outside, box[:3], box[3:], backend=backend)
    assert bool((far == 0).all()), f"{backend}: {far}"
    g_grid, g_points = torch.autograd.grad(far.sum(), (grid, outside))
    assert bool((g_grid == 0).all()) and bool((g_points == 0).all()), backend
