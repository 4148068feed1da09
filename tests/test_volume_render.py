"""Every volume-rendering backend against the torch reference, on fresh random inputs each run."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import example, given, settings, strategies as st

from dream3d import ops
from helpers import BOX, BOXES, assert_close_per_element, dense_weights, examples, kernel_backends, \
    dvgo_march, max_steps, random_box, random_density, random_rays, vector_and_scalar_runs

BACKENDS = kernel_backends()

# float64: the kernels and the reference make the same decisions (march length, early termination,
# weight threshold), so the packed samples must be identical and values agree to rounding.
F64 = dict(rtol=1e-9, atol=1e-11)
# float32: a sample sitting on a threshold may flip; dense per-(ray, step) weights are compared with an
# absolute band of 2e-4 (a flipped sample's weight is below t_thres or weight_thres), the composited
# colour and T_final to 1e-4, and the density gradient per element to 1e-3 relative above a floor of
# 1e-5 (float32 rounding of sums of O(1) terms; measured worst 6e-7 over 1500 draws).
F32_WEIGHTS_ATOL = 2e-4
F32 = dict(rtol=1e-3, atol=1e-4)
F32_GRAD = dict(rtol=1e-3, atol=1e-5)
# the vector path's exp and log1p are within a few ulp of the scalar ones: gradients per element to 1e-4
# relative, above a floor of 1e-6 of the case's largest gradient (the "faint" case's are ~1e-5); measured
# worst excess over the relative part: 7e-9 with gradients ~1.
VECTOR_GRAD_RTOL, VECTOR_GRAD_FLOOR = 1e-4, 1e-6
BOX_KINDS = st.sampled_from(["cube", "fixed", "random"])


def pick_box(kind: str, index: int, seed: int) -> tuple:
    """The cube, one of the fixed non-cubic boxes, or a random one (from its own generator, so the
    cube's draws do not depend on it)."""
    if kind == "cube":
        return BOX
    if kind == "fixed":
        return BOXES[1 + index % (len(BOXES) - 1)]
    return random_box(torch.Generator().manual_seed(seed + 1))


def render_both(backend, device, density, rays_o, rays_d, march, box=BOX):
    out = ops.volume_render(density, rays_o, rays_d, box[:3], box[3:], march, backend=backend)
    ref = ops.volume_render(density, rays_o, rays_d, box[:3], box[3:], march, backend="torch")
    return out, ref


def grads(samples, density, gen):
    """dL/ddensity for L = sum(gw * w) + sum(gT * T_final) with fixed random gw per (ray, step)."""
    g_w = torch.randn(samples.n_rays, 4096, generator=gen, dtype=density.dtype).to(density.device)
    g_t = torch.randn(samples.n_rays, generator=gen, dtype=density.dtype).to(density.device)
    loss = (samples.weights * g_w[samples.ray_ids, samples.step_ids.long()]).sum() + (samples.T_final * g_t).sum()
    return torch.autograd.grad(loss, density)[0]


# A sample whose alpha is ~1e-16 is kept or not depending on how exp rounds 1 - alpha (w > 0 or
# w == 0): backends with different exp implementations may disagree on such samples only.
F64_FLIP_BAND = 1e-14


def sample_index(ray_ids: torch.Tensor, step_ids: torch.Tensor) -> dict:
    """{(ray, step): position in the packed samples}."""
    return {key: i for i, key in enumerate(zip(ray_ids.tolist(), step_ids.tolist()))}


def assert_same_samples(out, ref):
    """Same (ray, step) samples with the same t and weights, but for rounding flips at w ~ 0."""
    def table(s):
        values = list(zip(s.t.cpu().tolist(), s.weights.cpu().tolist()))
        return {key: values[i] for key, i in sample_index(s.ray_ids.cpu(), s.step_ids.cpu()).items()}

    a, b = table(out), table(ref)
    for key in a.keys() ^ b.keys():
        assert (a.get(key) or b.get(key))[1] < F64_FLIP_BAND, f"sample {key} (ray, step) differs"
    common = sorted(a.keys() & b.keys())
    assert len(common) >= max(len(a), len(b)) - 2
    torch.testing.assert_close(torch.tensor([a[k] for k in common], dtype=torch.float64),
                               torch.tensor([b[k] for k in common], dtype=torch.float64), **F64)
    torch.testing.assert_close(out.T_final, ref.T_final, **F64)


@pytest.mark.parametrize("backend,device", BACKENDS)
def test_matches_reference_float64(backend, device):
    @settings(deadline=None, max_examples=examples(backend, 20, 6))
    @given(data=st.data())
    def check(data):
        dims = tuple(data.draw(st.integers(2, 9), label=f"dim{a}") for a in range(3))
        n_rays = data.draw(st.integers(1, 24), label="rays")
        weight_thres = data.draw(st.sampled_from([0.0, 1e-3]), label="weight_thres")
        scale = data.draw(st.sampled_from([0.5, 4.0, 20.0]), label="density scale")  # up to opaque
        seed = data.draw(st.integers(0, 2**31), label="seed")
        box = pick_box(data.draw(BOX_KINDS, label="box kind"), data.draw(st.integers(0, 9), label="box"), seed)
        gen = torch.Generator().manual_seed(seed)
        density = random_density(dims, gen, scale=scale).to(device).requires_grad_()
        rays_o, rays_d = (r.to(device) for r in random_rays(n_rays, gen, box=box))
        march = dvgo_march(dims, box=box, steps_per_voxel=data.draw(st.sampled_from([1.0, 2.0])),
                           weight_thres=weight_thres)
        out, ref = render_both(backend, device, density, rays_o, rays_d, march, box)
        assert_same_samples(out, ref)
        grad_seed = int(torch.randint(0, 2**31, (1,), generator=gen))
        g_out = grads(out, density, torch.Generator().manual_seed(grad_seed))
        g_ref = grads(ref, density, torch.Generator().manual_seed(grad_seed))
        assert_close_per_element(g_out, g_ref, **F64, msg=f"{backend} box {box}")

    check()


@pytest.mark.parametrize("backend,device", BACKENDS)
def test_matches_reference_float32(backend, device):
    """float32, where the CPU kernel marches 8 rays at once with AVX2 (partly filled lanes included)."""
    @settings(deadline=None, max_examples=examples(backend, 20, 6))
    @given(dims=st.tuples(*[st.integers(2, 12)] * 3), n_rays=st.integers(1, 80),
           density_scale=st.sampled_from([0.5, 4.0, 20.0]), seed=st.integers(0, 2**31),
           steps=st.sampled_from([1.0, 2.0]), weight_thres=st.sampled_from([0.0, 1e-3]),
           box_kind=BOX_KINDS, box_index=st.integers(0, 9))
    # one opaque ray: every gradient is below 1e-9, where a tolerance relative to the largest one fails
    @example(dims=(3, 3, 3), n_rays=1, density_scale=20.0, seed=7, steps=1.0, weight_thres=0.0,
             box_kind="cube", box_index=0)
    def check(dims, n_rays, density_scale, seed, steps, weight_thres, box_kind, box_index):
        box = pick_box(box_kind, box_index, seed)
        gen = torch.Generator().manual_seed(seed)
        density = random_density(dims, gen, dtype=torch.float32, scale=density_scale).to(device).requires_grad_()
        rays_o, rays_d = (r.to(device) for r in random_rays(n_rays, gen, dtype=torch.float32, box=box))
        march = dvgo_march(dims, box=box, steps_per_voxel=steps, weight_thres=weight_thres)
        out, ref = render_both(backend, device, density, rays_o, rays_d, march, box)
        k = max_steps(rays_o, rays_d, box, march.step_size)
        w_out, w_ref = dense_weights(out, n_rays, k), dense_weights(ref, n_rays, k)
        # a sample whose weight sits on weight_thres may be kept by one side only
        flip = ((w_out == 0) | (w_ref == 0)) & (torch.maximum(w_out, w_ref) <= march.weight_thres * 1.001)
        what = f"{backend} box {box}"
        torch.testing.assert_close(w_out[~flip], w_ref[~flip], rtol=0, atol=F32_WEIGHTS_ATOL, msg=what)
        torch.testing.assert_close(out.T_final, ref.T_final, **F32, msg=what)
        colors = torch.rand(n_rays * k, 3, generator=gen).to(device)
        rgb = lambda s: ops.composite(s, colors[s.ray_ids * k + s.step_ids.long()], bg=0.5)  # noqa: E731
        torch.testing.assert_close(rgb(out), rgb(ref), **F32, msg=what)
        g_out = torch.autograd.grad(rgb(out).sum(), density)[0]
        g_ref = torch.autograd.grad(rgb(ref).sum(), density)[0]
        assert_close_per_element(g_out, g_ref, **F32_GRAD, msg=what)

    check()


@pytest.mark.parametrize("backend,device", BACKENDS)
@pytest.mark.parametrize("layout", ["permuted", "sliced", "expanded"])
def test_non_contiguous_density(backend, device, layout):
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    base = random_density((6, 5, 7), gen).to(device)
    density = {"permuted": lambda: base.permute(2, 0, 1),
               "sliced": lambda: base[::2, :, 1:],
               "expanded": lambda: base[:1].expand(4, 5, 7)}[layout]()
    density = density.detach().requires_grad_()
    rays_o, rays_d = (r.to(device) for r in random_rays(12, gen))
    out, ref = render_both(backend, device, density, rays_o, rays_d, dvgo_march(density.shape))
    assert_same_samples(out, ref)
    seed = int(torch.randint(0, 2**31, (1,), generator=gen))
    torch.testing.assert_close(grads(out, density, torch.Generator().manual_seed(seed)),
                               grads(ref, density, torch.Generator().manual_seed(seed)), **F64)


@pytest.mark.parametrize("backend,device", BACKENDS)
def test_transparent_and_opaque_grids(backend, device):
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    rays_o, rays_d = (r.to(device) for r in random_rays(18, gen))
    march = dvgo_march((5, 5, 5))
    transparent = torch.full((5, 5, 5), -1e3, dtype=torch.float64, device=device)
    out, ref = render_both(backend, device, transparent, rays_o, rays_d, march)
    assert_same_samples(out, ref)
    torch.testing.assert_close(out.T_final, torch.ones_like(out.T_final), rtol=0, atol=1e-12)
    opaque = torch.full((5, 5, 5), 1e3, dtype=torch.float64, device=device)
    out, ref = render_both(backend, device, opaque, rays_o, rays_d, march)
    assert_same_samples(out, ref)
    # early termination: a ray that enters stops after its first sample inside, which takes all the weight
    hit = out.T_final < 1
    assert torch.all(out.T_final[hit] < 1e-4)
    assert torch.equal(out.ray_ids.cpu(), torch.nonzero(hit).flatten().cpu())
    torch.testing.assert_close(out.weights, torch.ones_like(out.weights), rtol=0, atol=1e-4)


@pytest.mark.parametrize("backend,device", BACKENDS)
def test_near_far_and_missing_rays(backend, device):
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    density = random_density((6, 6, 6), gen).to(device)
    o = torch.tensor([[0.0, 0.0, 3.0], [0.0, 3.0, 3.0], [0.2, -0.1, 0.0]], dtype=torch.float64, device=device)
    d = torch.nn.functional.normalize(torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, -1.0], [0.3, 0.2, 1.0]],
                                                   dtype=torch.float64, device=device), dim=-1)
    out, ref = render_both(backend, device, density, o, d, dvgo_march((6, 6, 6), near=2.5, far=3.4))
    assert_same_samples(out, ref)
    assert out.T_final[1].item() == 1.0  # misses the box
    assert out.t.min().item() >= 2.5 and out.t.max().item() < 3.4


def test_cpu_gradients_are_bitwise_repeatable():
    """The CPU backward sums per-thread buffers in a fixed assignment of rays to threads, so repeated
    calls give identical bits (what resumable training relies on)."""
    if "cpu" not in [b for b, _ in BACKENDS]:
        pytest.skip("compiled extension unavailable")
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    density = random_density((24, 24, 24), gen, dtype=torch.float32).requires_grad_()
    rays_o, rays_d = random_rays(3000, gen, dtype=torch.float32)
    march = dvgo_march(density.shape)

    def grad():
        out = ops.volume_render(density, rays_o, rays_d, BOX[:3], BOX[3:], march, backend="cpu")
        return torch.autograd.grad(out.weights.sum() + out.T_final.sum(), density)[0]

    first = grad()
    assert all(torch.equal(first, grad()) for _ in range(5))


def test_cpu_vector_path_matches_scalar_path(tmp_path):
    """For float on a CPU with AVX2 the kernel marches 8 rays at once and takes their samples with one
    vector computation (volume_render_cpu.cpp); DREAM3D_NO_SIMD=1 forces the one-ray-at-a-time path.
    The bbox tests and cells are the same bits; the activation's vector exp and log1p are within a few
    ulp, so the two keep the same samples, but for a sample whose weight or transmittance sits on a
    threshold, with weights, T_final and gradients equal to float rounding."""
    if "cpu" not in ops.available_backends("cpu"):
        pytest.skip("compiled extension unavailable")
    if not torch.ops.dream3d.cpu_simd():
        pytest.skip("the CPU kernels have no vector path here (no AVX2 and FMA): both runs are scalar")
    seed = int(torch.randint(0, 2**31, (1,)))
    vector, scalar = vector_and_scalar_runs(
        tmp_path,
        "import torch\n"
        "from dream3d import ops\n"
        "from helpers import BOX, dvgo_march, random_density, random_rays\n"
        "out = {}\n"
        "for name, scale, offset in (('mixed', 6.0, 0.0), ('dense', 3.0, 4.0), ('faint', 1.0, -6.0),\n"
        "                            ('permuted', 6.0, 0.0)):\n"
        "    gen = torch.Generator().manual_seed(int(sys.argv[2]))\n"
        "    density = random_density((37, 30, 41), gen, dtype=torch.float32, scale=scale, offset=offset)\n"
        "    if name == 'permuted':  # z not the contiguous axis: the vector path gathers values one by one\n"
        "        density = density.permute(2, 0, 1).contiguous().permute(1, 2, 0)\n"
        "    density.requires_grad_()\n"
        "    rays_o, rays_d = random_rays(700, gen, dtype=torch.float32)\n"
        "    s = ops.volume_render(density, rays_o, rays_d, BOX[:3], BOX[3:],\n"
        "                          dvgo_march(density.shape, alpha_init=1e-4), backend='cpu')\n"
        "    g_w = torch.randn(s.weights.shape, generator=gen)\n"
        "    g_t = torch.randn(s.T_final.shape, generator=gen)\n"
        "    (s.weights * g_w).sum().backward(retain_graph=True)\n"
        "    grad_w_only = density.grad.clone()\n"
        "    density.grad = None\n"
        "    (s.T_final * g_t).sum().backward()\n"
        "    out[name] = dict(ray_ids=s.ray_ids, step_ids=s.step_ids, t=s.t, weights=s.weights,\n"
        "                     T_final=s.T_final, grad_w=grad_w_only, grad_t=density.grad)\n"
        "torch.save(out, sys.argv[1])\n", str(seed))
    for name in vector:
        v, s = vector[name], scalar[name]
        what = f"{name} (seed {seed})"
        index_v = sample_index(v["ray_ids"], v["step_ids"])
        index_s = sample_index(s["ray_ids"], s["step_ids"])
        flipped = index_v.keys() ^ index_s.keys()
        assert len(flipped) <= 2, what  # threshold flips only
        common = sorted(index_v.keys() & index_s.keys())
        assert len(common) > 1000, what
        a = torch.tensor([index_v[k] for k in common], dtype=torch.long)
        b = torch.tensor([index_s[k] for k in common], dtype=torch.long)
        assert torch.equal(v["t"][a], s["t"][b]), what  # the same positions, to the bit
        torch.testing.assert_close(v["weights"][a], s["weights"][b], rtol=1e-5, atol=1e-7, msg=what)
        torch.testing.assert_close(v["T_final"], s["T_final"], rtol=1e-5, atol=2e-4, msg=what)
        if flipped:  # a flip at t_thres moves every gradient of its ray by ~1e-4: compared only without
            continue
        for key in ("grad_w", "grad_t"):
            floor = VECTOR_GRAD_FLOOR * s[key].abs().max().item()
            assert_close_per_element(v[key], s[key], rtol=VECTOR_GRAD_RTOL, atol=floor, msg=f"{what} {key}")


@pytest.mark.parametrize("backend,device", [("torch", "cpu")] + BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_samples_on_grid_nodes_closed_form(backend, device, dtype):
    """Axis-aligned rays through grid nodes of a non-cubic box with the step equal to the voxel: the
    first sample lies on the entry face (on a box corner for the rays along box edges), every sample on a
    node, the exit face's node excluded (t_k < t_far). So raw_k is the node's value, and weights, T_final
    and the gradient follow in closed form: dL/dV at a node is the sum over the samples on it of
    interval sigmoid(raw_k + b) (g_k T_k (1 - alpha_k) - S_k), S_k = sum_{j>k} g_j w_j + g_T T_final."""
    box, dims = BOXES[1], (5, 3, 9)  # voxel 0.5 along x and z, 0.125 along y: every node exact in float32
    gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    density = random_density(dims, gen, scale=1.5).to(dtype).to(device).requires_grad_()
    shift, interval, step = ops.act_shift_from_alpha_init(0.1), 0.5, 0.5
    node = lambda a, i: box[a] + i * (box[a + 3] - box[a]) / (dims[a] - 1)  # noqa: E731
    rays, paths = [], []  # origin, direction, and the nodes each ray samples in order
    for i, j in [(0, 0), (4, 2), (2, 1), (1, 2)]:  # along z: box edges (corner entries), then interior
        rays.append(([node(0, i), node(1, j), -3.0], [0.0, 0.0, 1.0]))
        paths.append([(i, j, k) for k in range(dims[2] - 1)])  # enters at z = -2 (t = 1), node 8 excluded
    for j, k in [(0, 8), (2, 3)]:  # along -x: enters at x = 1.5 (a corner for the first ray)
        rays.append(([3.0, node(1, j), node(2, k)], [-1.0, 0.0, 0.0]))
        paths.append([(i, j, k) for i in range(dims[0] - 1, 0, -1)])
    rays_o = torch.tensor([r[0] for r in rays], dtype=dtype, device=device)
    rays_d = torch.tensor([r[1] for r in rays], dtype=dtype, device=device)
    march = ops.March(step_size=step, act_shift=shift, interval=interval, t_thres=0.0)
    out = ops.volume_render(density, rays_o, rays_d, box[:3], box[3:], march, backend=backend)
    v = density.detach().cpu().double()
    g_w = torch.randn(len(rays), 16, generator=gen, dtype=torch.float64)
    g_t = torch.randn(len(rays), generator=gen, dtype=torch.float64)
    weights, t_final, expected_grad, ids = [], [], torch.zeros_like(v), []
    for r, path in enumerate(paths):
        raw = torch.stack([v[p] for p in path]) + shift
        keep = torch.exp(-F.softplus(raw) * interval)  # 1 - alpha
        trans = torch.cat([raw.new_ones(1), torch.cumprod(keep, 0)[:-1]])
        w = trans * (1 - keep)
        final = torch.prod(keep)
        suffix = (g_w[r, :len(path)] * w).flip(0).cumsum(0).flip(0) - g_w[r, :len(path)] * w + g_t[r] * final
        d_raw = interval * torch.sigmoid(raw) * (g_w[r, :len(path)] * trans * keep - suffix)
        for p, d in zip(path, d_raw):
            expected_grad[p] += d
        weights.append(w), t_final.append(final)
        ids += [(r, k) for k in range(len(path))]
    assert list(zip(out.ray_ids.tolist(), out.step_ids.tolist())) == ids
    t_entry = [1.0] * 4 + [1.5] * 2
    expected_t = torch.tensor([t_entry[r] + k * step for r, k in ids], dtype=torch.float64)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-14)
    assert_close_per_element(out.t, expected_t, rtol=0, atol=0, msg=f"{backend} t")
    assert_close_per_element(out.weights, torch.cat(weights), **tol, msg=f"{backend} weights")
    assert_close_per_element(out.T_final, torch.stack(t_final), **tol, msg=f"{backend} T_final")
    loss = (out.weights * g_w.to(dtype).to(device)[out.ray_ids, out.step_ids.long()]).sum() + \
        (out.T_final * g_t.to(dtype).to(device)).sum()
    (grad,) = torch.autograd.grad(loss, density)
    assert_close_per_element(grad, expected_grad, **tol, msg=f"{backend} dL/dV")


def test_march_is_documented_where_volume_render_is():
    """The public functional API stays documented: every field of ops.March is described in March's and
    volume_render's docstrings and in docs/API.md's volume_render section, and every public op has a
    docstring of its own."""
    from pathlib import Path

    api = (Path(__file__).resolve().parents[1] / "docs" / "API.md").read_text()
    section = api.split("## volume_render", 1)[1].split("\n## ", 1)[0]
    for field in ops.March._fields:
        for where, text in (("March", ops.March.__doc__), ("volume_render", ops.volume_render.__doc__),
                            ("docs/API.md", section)):
            assert field in text, f"{field} undocumented in {where}"
    def own_doc(name):  # a NamedTuple without a docstring gets "Name(field, ...)"
        doc = (getattr(ops, name).__doc__ or "").strip()
        return doc and not doc.startswith(f"{name}(")

    undocumented = [n for n in ops.__all__ if callable(getattr(ops, n)) and n != "BACKENDS" and not own_doc(n)]
    assert not undocumented
