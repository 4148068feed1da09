"""Compositing packed samples against the dense formula."""
from __future__ import annotations

import pytest
import torch

from dream3d import ops
from helpers import BOX, devices, dvgo_march, random_density, random_rays


def render(gen, n_rays=20):
    density = random_density((5, 6, 4), gen).requires_grad_()
    rays_o, rays_d = random_rays(n_rays, gen)
    return ops.volume_render(density, rays_o, rays_d, BOX[:3], BOX[3:], dvgo_march((5, 6, 4)), backend="torch")


COMPOSITE_BACKENDS = [b for b in ("cpu", "torch") if b in ops.available_backends("cpu")]


@pytest.mark.parametrize("backend", COMPOSITE_BACKENDS)
@pytest.mark.parametrize("bg_kind", ["number", "colour", "per_ray"])
def test_matches_dense_sum(bg_kind, backend):
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    samples = render(gen)
    colors = torch.rand(samples.weights.shape[0], 3, generator=gen, dtype=torch.float64, requires_grad=True)
    bg = {"number": 0.25, "colour": torch.rand(3, generator=gen, dtype=torch.float64),
          "per_ray": torch.rand(20, 3, generator=gen, dtype=torch.float64)}[bg_kind]
    out = ops.composite(samples, colors, bg, backend=backend)
    expected = torch.stack([
        (samples.weights[samples.ray_ids == r, None] * colors[samples.ray_ids == r]).sum(0)
        for r in range(20)]) + samples.T_final[:, None] * torch.as_tensor(bg, dtype=torch.float64)
    torch.testing.assert_close(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend", COMPOSITE_BACKENDS)
def test_gradcheck(backend):
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    samples = render(gen, n_rays=6)
    weights = samples.weights.detach().requires_grad_()
    t_final = samples.T_final.detach().requires_grad_()
    colors = torch.rand(weights.shape[0], 2, generator=gen, dtype=torch.float64, requires_grad=True)
    bg = torch.rand(2, generator=gen, dtype=torch.float64, requires_grad=True)

    def fn(w, t, c, b):
        return ops.composite(samples._replace(weights=w, T_final=t), c, b, backend=backend)

    assert torch.autograd.gradcheck(fn, (weights, t_final, colors, bg))


def test_bad_shapes():
    gen = torch.Generator().manual_seed(0)
    samples = render(gen)
    with pytest.raises(ValueError, match="colors"):
        ops.composite(samples, torch.rand(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="bg"):
        ops.composite(samples, torch.rand(samples.weights.shape[0], 3, dtype=torch.float64),
                      torch.rand(4, dtype=torch.float64))


COMPILED = [(d, d) for d in devices() if d in ops.available_backends(d)]  # (backend, device)


@pytest.mark.parametrize("backend,device", COMPILED)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n_samples,n_rays,channels", [(0, 5, 3), (1, 1, 1), (5000, 300, 3), (20000, 64, 12)])
def test_compiled_matches_reference_on_any_sample_order(backend, device, dtype, n_samples, n_rays, channels):
    """The kernels do not assume the render's ray order: random ray ids, rays without samples, many
    channels; forward and both gradients against index_add. float32 tolerance: sums of up to ~300
    products in another order."""
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    ray_ids = torch.randint(0, n_rays, (n_samples,), generator=gen)
    weights = torch.rand(n_samples, generator=gen, dtype=dtype).to(device).requires_grad_()
    colors = torch.rand(n_samples, channels, generator=gen, dtype=dtype).to(device).requires_grad_()
    t_final = torch.rand(n_rays, generator=gen, dtype=dtype).to(device)
    samples = ops.RenderSamples(ray_ids.to(device), torch.zeros(n_samples, dtype=dtype, device=device), weights,
                                t_final, torch.zeros(n_samples, dtype=torch.int32, device=device))
    grad_out = torch.randn(n_rays, channels, generator=gen, dtype=dtype).to(device)
    results = []
    for name in (backend, "torch"):
        out = ops.composite(samples, colors, 0.5, backend=name)
        results.append((out, *torch.autograd.grad(out, (weights, colors), grad_out)))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, **tol)


@pytest.mark.skipif("cpu" not in COMPOSITE_BACKENDS, reason="compiled extension unavailable")
def test_compiled_ops_pass_opcheck():
    gen = torch.Generator().manual_seed(1)
    ray_ids = torch.randint(0, 7, (40,), generator=gen)
    weights, colors = torch.rand(40, generator=gen), torch.rand(40, 3, generator=gen)
    torch.library.opcheck(torch.ops.dream3d.composite_forward, (ray_ids, weights, colors, 7))
    torch.library.opcheck(torch.ops.dream3d.composite_backward, (ray_ids, weights, colors, torch.rand(7, 3)))


@pytest.mark.skipif("cpu" not in COMPOSITE_BACKENDS, reason="compiled extension unavailable")
def test_compiled_rejects_ray_ids_out_of_range():
    samples = ops.RenderSamples(torch.tensor([0, 3]), torch.zeros(2), torch.ones(2), torch.ones(3),
                                torch.zeros(2, dtype=torch.int32))
    with pytest.raises(ValueError, match=r"ray_ids must lie in \[0, 3\)"):
        ops.composite(samples, torch.ones(2, 3), backend="cpu")
    with pytest.raises(TypeError, match="float64"):
        ops.composite(samples, torch.ones(2, 3, dtype=torch.float64), backend="cpu")
