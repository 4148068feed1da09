"""SDF-to-density (paper eq. 9) and the prior-preserving loss (eq. 4): every backend against the torch
reference, the paper's properties, extreme inputs, gradients."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from dream3d import ops
from helpers import assert_close_per_element, kernel_backends

BACKENDS = kernel_backends()
ALL_BACKENDS = [("torch", "cpu")] + BACKENDS
SHIFT = ops.act_shift_from_alpha_init(1e-6)
TOL = {torch.float32: dict(rtol=1e-5, atol=1e-5), torch.float64: dict(rtol=1e-12, atol=1e-12)}


def random_sdf(shape, gen, dtype, extreme=True):
    """Mostly near the surface (|sdf| ~ beta), some far inside/outside up to |sdf / beta| = 1e4."""
    sdf = torch.randn(shape, generator=gen, dtype=dtype) * 0.1
    if extreme:
        flat = sdf.view(-1)
        picks = torch.randint(0, flat.numel(), (max(1, flat.numel() // 10),), generator=gen)
        flat[picks] = (torch.rand(picks.numel(), generator=gen, dtype=dtype) * 2 - 1) * 500.0
    return sdf


@pytest.mark.parametrize("backend,device", BACKENDS)
@settings(deadline=None, max_examples=20)
@given(data=st.data())
def test_sdf_to_density_matches_reference(backend, device, data):
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64]), label="dtype")
    shape = tuple(data.draw(st.lists(st.integers(1, 9), min_size=1, max_size=4), label="shape"))
    beta = data.draw(st.sampled_from([0.01, 0.05, 0.2]), label="beta")
    shift = data.draw(st.sampled_from([None, SHIFT, -2.0]), label="act_shift")
    gen = torch.Generator().manual_seed(data.draw(st.integers(0, 2**31), label="seed"))
    sdf = random_sdf(shape, gen, dtype).to(device).requires_grad_()
    out = ops.sdf_to_density(sdf, beta, shift, backend=backend)
    # the oracle is the reference in float64, so float32 kernels are held to float32 rounding of the answer
    sdf64 = sdf.detach().double().requires_grad_()
    ref = ops.sdf_to_density(sdf64, beta, shift, backend="torch")
    torch.testing.assert_close(out, ref.to(dtype), **TOL[dtype])
    g = torch.randn(shape, generator=gen, dtype=dtype).to(device)
    (g_out,) = torch.autograd.grad(out, sdf, g)
    (g_ref,) = torch.autograd.grad(ref, sdf64, g.double())
    assert torch.isfinite(g_out).all()
    # per element (no division by the largest gradient): a cancellation in 1 - sigmoid inside the surface
    # (|sdf / beta| of 10-15, gradients ~1e-4 of the largest) must show
    assert_close_per_element(g_out, g_ref, **TOL[dtype], msg=f"{backend} dV/dsdf")


@pytest.mark.parametrize("backend,device", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("beta", [0.01, 0.05, 0.2])
def test_sdf_to_density_at_the_surface_closed_form(backend, device, dtype, beta):
    """At sdf = 0 (either sign of zero, and a subnormal either side) sigmoid = 1/2, so Sigma = 1 / (2 beta),
    V = softplus^-1(Sigma) - b and dV/dsdf = -1 / (4 beta^2 (1 - exp(-Sigma))): the derivative of the
    sigmoid at 0 is where a reference leaning on clamp's or abs' derivative at 0 gave 0."""
    sdf = torch.tensor([0.0, -0.0, 1e-300, -1e-300] if dtype == torch.float64 else [0.0, -0.0, 1e-40, -1e-40],
                       dtype=dtype, device=device, requires_grad=True)
    for shift in (None, SHIFT, 1.0):
        sigma = torch.tensor(1 / (2 * beta), dtype=torch.float64)
        v = sigma + torch.log(-torch.expm1(-sigma)) - (shift or 0.0)
        dv = -1 / (4 * beta**2 * -torch.expm1(-sigma))
        out = ops.sdf_to_density(sdf, beta, shift, backend=backend)
        (g,) = torch.autograd.grad(out.sum(), sdf)
        what = f"{backend} {dtype} beta {beta} act_shift {shift}"
        assert_close_per_element(out, v.expand(4), **TOL[dtype], msg=what)
        assert_close_per_element(g, dv.expand(4), **TOL[dtype], msg=what)


@pytest.mark.parametrize("backend,device", ALL_BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_prior_loss_gradient_at_the_surface_closed_form(backend, device, dtype):
    """sdf = 0 (+0 or -0) is not inside (sdf < 0 is): no loss, gradient exactly 0; the smallest negative
    sdf is inside, with dL/dV = -interval sigmoid(V + b) exp(-softplus(V + b) interval) (sum reduction),
    at V = -b (the activation's kink region: sigmoid = 1/2, softplus = log 2) and elsewhere."""
    tiny = 1e-300 if dtype == torch.float64 else 1e-40
    sdf = torch.tensor([0.0, -0.0, -tiny, tiny, -tiny, -1.0], dtype=dtype, device=device)
    density = torch.tensor([-SHIFT, -SHIFT, -SHIFT, -SHIFT, 3.0, -5.0], dtype=dtype, device=device,
                           requires_grad=True)
    interval = 0.5
    loss = ops.prior_loss(density, sdf, act_shift=SHIFT, interval=interval, backend=backend)
    (g,) = torch.autograd.grad(loss, density)
    x = density.detach().cpu().double() + SHIFT
    inside = torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    alpha = -torch.expm1(-F.softplus(x) * interval)
    expected = -interval * torch.sigmoid(x) * torch.exp(-F.softplus(x) * interval) * inside
    assert_close_per_element(loss, -(alpha * inside).sum(), **TOL[dtype], msg=backend)
    assert_close_per_element(g, expected, **TOL[dtype], msg=backend)
    assert g[0].item() == 0.0 and g[1].item() == 0.0 and g[3].item() == 0.0
    torch.testing.assert_close(expected[2], torch.tensor(-interval * 0.5 * 2 ** -interval, dtype=torch.float64))


@pytest.mark.parametrize("backend", ["torch"] + [b for b, d in BACKENDS if d == "cpu"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_paper_properties(backend, dtype):
    beta = 0.05
    sdf = torch.linspace(-1e4 * beta, 1e4 * beta, 20001, dtype=dtype).requires_grad_()
    v = ops.sdf_to_density(sdf, beta, backend=backend)
    (g,) = torch.autograd.grad(v.sum(), sdf)
    assert torch.isfinite(v).all() and torch.isfinite(g).all()
    assert torch.all(v.diff() <= 0)  # monotone: denser inside
    assert torch.all(v[sdf > 20 * beta] == 0)  # zero far outside
    surface = torch.zeros(1, dtype=dtype)
    sigma_surface = F.softplus(ops.sdf_to_density(surface, beta, backend=backend))
    torch.testing.assert_close(sigma_surface, torch.full_like(surface, 1 / (2 * beta)), rtol=1e-4, atol=0)
    deep = ops.sdf_to_density(torch.full((1,), -1e4 * beta, dtype=dtype), beta, backend=backend)
    torch.testing.assert_close(F.softplus(deep), torch.full_like(deep, 1 / beta), rtol=1e-5, atol=0)


@pytest.mark.parametrize("backend,device", [(b, d) for b, d in BACKENDS if d == "cpu"])
def test_sdf_to_density_where_sigma_is_subnormal(backend, device):
    """Outside the surface s = sigmoid(-sdf / beta) falls through float32's subnormals (sdf / beta from
    87.3 to 104); with a shift low enough V is still positive there. float32 holds s only to half a
    subnormal ulp u = 2^-150 there, so V (through log s) and dV/dsdf (through s / (1 - exp(-s / beta)))
    can follow the float64 reference to a relative u / s and no closer: the tolerance adds that bound
    to the usual float32 one. CPU backends only: GPU kernels built with fast math flush subnormals to
    0, and give V = 0 in this band."""
    beta = 0.05
    sdf = (beta * torch.linspace(80.0, 100.0, 2001, dtype=torch.float64)).float().to(device).requires_grad_()
    sdf64 = sdf.detach().double().requires_grad_()
    u_over_s = (2.0 ** -150 / torch.sigmoid(-sdf64.detach() / beta)).cpu()
    for shift in (SHIFT, -150.0):
        out = ops.sdf_to_density(sdf, beta, shift, backend=backend)
        ref = ops.sdf_to_density(sdf64, beta, shift, backend="torch")
        (g_out,) = torch.autograd.grad(out.sum(), sdf)
        (g_ref,) = torch.autograd.grad(ref.sum(), sdf64)
        assert torch.isfinite(out).all() and torch.isfinite(g_out).all()
        ref, g_ref = ref.detach().cpu(), g_ref.cpu()
        assert torch.all((out.detach().cpu().double() - ref).abs() <= 1e-5 + 1e-5 * ref.abs() + 2 * u_over_s)
        assert torch.all((g_out.cpu().double() - g_ref).abs() <= (1e-5 + 2 * u_over_s) * g_ref.abs() + 1e-5)
        if shift == -150.0:
            assert (ref > 0).all() and (out > 0).all()  # the band is not clamped to 0


@pytest.mark.parametrize("backend", ["torch"] + [b for b, d in BACKENDS if d == "cpu"])
def test_shift_compensation_is_exact_above_the_floor(backend):
    beta = 0.05
    sdf = torch.linspace(-0.5, 1.5, 4001, dtype=torch.float64)
    sigma = torch.sigmoid(-sdf / beta) / beta
    v = ops.sdf_to_density(sdf, beta, act_shift=SHIFT, backend=backend)
    above = sigma > F.softplus(torch.tensor(SHIFT, dtype=torch.float64)) * 1.001
    assert above.sum() > 100 and (~above).sum() > 100
    torch.testing.assert_close(F.softplus(v[above] + SHIFT), sigma[above], rtol=1e-10, atol=0)
    assert torch.all(v[~above] < 1e-2)  # at (or next to) the floor V = 0


@pytest.mark.parametrize("backend,device", BACKENDS)
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_prior_loss_matches_reference(backend, device, reduction, dtype):
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    sdf = random_sdf((7, 6, 5), gen, dtype).to(device)
    density = (torch.randn(7, 6, 5, generator=gen, dtype=dtype) * 8).to(device).requires_grad_()
    out = ops.prior_loss(density, sdf, act_shift=SHIFT, interval=0.5, reduction=reduction, backend=backend)
    ref = ops.prior_loss(density, sdf, act_shift=SHIFT, interval=0.5, reduction=reduction, backend="torch")
    torch.testing.assert_close(out, ref, **TOL[dtype])
    (g_out,) = torch.autograd.grad(out * 2.5, density)
    (g_ref,) = torch.autograd.grad(ref * 2.5, density)
    torch.testing.assert_close(g_out, g_ref, **TOL[dtype])
    assert torch.all(g_out[sdf >= 0] == 0)


@pytest.mark.parametrize("backend", ["torch"] + [b for b, d in BACKENDS if d == "cpu"])
def test_prior_loss_closed_form_and_empty_inside(backend):
    density = torch.zeros(3, 3, 3, dtype=torch.float64, requires_grad=True)
    sdf = torch.ones(3, 3, 3, dtype=torch.float64)
    sdf[0] = -1.0  # 9 voxels inside
    alpha = 1 - torch.exp(-F.softplus(torch.tensor(SHIFT, dtype=torch.float64)) * 0.5)
    total = ops.prior_loss(density, sdf, act_shift=SHIFT, interval=0.5, backend=backend)
    torch.testing.assert_close(total, -9 * alpha)
    mean = ops.prior_loss(density, sdf, act_shift=SHIFT, interval=0.5, reduction="mean", backend=backend)
    torch.testing.assert_close(mean, -alpha)
    nothing_inside = ops.prior_loss(density, sdf.abs(), act_shift=SHIFT, interval=0.5, reduction="mean",
                                    backend=backend)
    assert nothing_inside.item() == 0.0


@pytest.mark.parametrize("backend", ["torch"] + [b for b, d in BACKENDS if d == "cpu"])
def test_gradcheck_float64(backend):
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    sdf = (torch.randn(4, 5, generator=gen, dtype=torch.float64) * 0.05).requires_grad_()
    assert torch.autograd.gradcheck(lambda s: ops.sdf_to_density(s, 0.05, backend=backend), (sdf,))
    density = torch.randn(4, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda v: ops.prior_loss(v, sdf.detach(), act_shift=-2.0, interval=0.5, reduction="mean",
                                 backend=backend), (density,))


@pytest.mark.parametrize("backend", ["torch"] + [b for b, d in BACKENDS if d == "cpu"])
def test_bad_input(backend):
    with pytest.raises(ValueError, match="sdf"):
        ops.sdf_to_density(torch.tensor([0.0, float("nan")]), backend=backend)
    with pytest.raises(ValueError, match="sdf"):
        ops.sdf_to_density(torch.zeros(0, 3), backend=backend)
    with pytest.raises(ValueError, match="beta"):
        ops.sdf_to_density(torch.zeros(3), beta=0.0, backend=backend)
    with pytest.raises(TypeError, match="sdf"):
        ops.sdf_to_density(torch.zeros(3, dtype=torch.int32), backend=backend)
    with pytest.raises(ValueError, match="sdf"):
        ops.prior_loss(torch.zeros(3, 3), torch.zeros(3, 4), act_shift=0.0, interval=0.5, backend=backend)
    with pytest.raises(ValueError, match="reduction"):
        ops.prior_loss(torch.zeros(3), torch.zeros(3), act_shift=0.0, interval=0.5, reduction="max",
                       backend=backend)
