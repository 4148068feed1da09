"""Bad input raises a ValueError or TypeError that names the argument; nothing crashes."""
from __future__ import annotations

import math

import pytest
import torch

from dream3d import ops

BACKENDS = ["torch"] + [b for b in ops.available_backends("cpu") if b not in ("torch", "triton")]
OK = ops.March(step_size=0.1, act_shift=-4.0, interval=0.5)


def good():
    return torch.zeros(4, 4, 4), torch.zeros(3, 3) + 2.0, torch.tensor([[0.0, 0.0, -1.0]] * 3)


CASES = [
    ("density", TypeError, lambda d, o, r: dict(density=d.double())),
    ("density", ValueError, lambda d, o, r: dict(density=d[0])),
    ("density", ValueError, lambda d, o, r: dict(density=d[:1])),
    ("density", TypeError, lambda d, o, r: dict(density=d.long())),
    ("density", TypeError, lambda d, o, r: dict(density=d.numpy())),
    ("density", ValueError, lambda d, o, r: dict(density=d.clone().fill_(float("nan")))),
    ("rays_o", ValueError, lambda d, o, r: dict(rays_o=o[:, :2])),
    ("rays_d", ValueError, lambda d, o, r: dict(rays_d=r[:2])),
    ("rays_d", ValueError, lambda d, o, r: dict(rays_d=r * float("inf"))),
    ("march", TypeError, lambda d, o, r: dict(march=dict(OK._asdict()))),
    ("march", TypeError, lambda d, o, r: dict(march=tuple(OK))),
    ("march.step_size", ValueError, lambda d, o, r: dict(march=OK._replace(step_size=0.0))),
    ("march.step_size", ValueError, lambda d, o, r: dict(march=OK._replace(step_size=-1.0))),
    ("march.step_size", TypeError, lambda d, o, r: dict(march=OK._replace(step_size=None))),
    ("march.step_size", ValueError, lambda d, o, r: dict(march=OK._replace(step_size=torch.ones(2)))),
    ("march.interval", ValueError, lambda d, o, r: dict(march=OK._replace(interval=0.0))),
    ("march.act_shift", TypeError, lambda d, o, r: dict(march=OK._replace(act_shift="big"))),
    ("march.act_shift", ValueError, lambda d, o, r: dict(march=OK._replace(act_shift=float("nan")))),
    ("march.t_thres", ValueError, lambda d, o, r: dict(march=OK._replace(t_thres=1.5))),
    ("march.weight_thres", ValueError, lambda d, o, r: dict(march=OK._replace(weight_thres=-0.1))),
    ("march.weight_thres", TypeError, lambda d, o, r: dict(march=OK._replace(weight_thres=True))),
    ("march.near", ValueError, lambda d, o, r: dict(march=OK._replace(near=2.0, far=1.0))),
    ("xyz_min", ValueError, lambda d, o, r: dict(xyz_min=[0, 0])),
    ("xyz_min", ValueError, lambda d, o, r: dict(xyz_min=[1, 1, 1], xyz_max=[0, 0, 0])),
    ("xyz_max", TypeError, lambda d, o, r: dict(xyz_max=3)),
    ("backend", ValueError, lambda d, o, r: dict(backend="fortran")),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,error,change", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_volume_render_rejects(backend, name, error, change):
    density, rays_o, rays_d = good()
    kwargs = dict(density=density, rays_o=rays_o, rays_d=rays_d, xyz_min=[-1, -1, -1], xyz_max=[1, 1, 1],
                  march=OK, backend=backend)
    kwargs.update(change(density, rays_o, rays_d))
    with pytest.raises(error, match=name):
        ops.volume_render(**kwargs)


def test_good_input_renders():
    """The good arguments (a tensor bbox among them) render to the right values: the rays at (2, 2) miss
    the box (T = 1, no samples), a ray along -z through it crosses 2 / 0.125 = 16 samples of the constant
    density 0, each keeping exp(-softplus(-4) * 0.5); the auto backend agrees with the reference."""
    density, rays_o, rays_d = good()
    rays_o = torch.cat([rays_o, torch.tensor([[0.1, -0.2, 2.0]])])
    rays_d = torch.cat([rays_d, torch.tensor([[0.0, 0.0, -1.0]])])
    march = OK._replace(step_size=0.125)
    out = ops.volume_render(density, rays_o, rays_d, [-1, -1, -1], torch.ones(3), march)
    ref = ops.volume_render(density, rays_o, rays_d, [-1, -1, -1], torch.ones(3), march, backend="torch")
    keep = math.exp(-math.log1p(math.exp(OK.act_shift)) * OK.interval)
    expected_t = torch.tensor([1.0, 1.0, 1.0, keep**16])
    for s in (out, ref):
        torch.testing.assert_close(s.T_final, expected_t, rtol=1e-6, atol=0)
        assert s.ray_ids.tolist() == [3] * 16 and s.step_ids.tolist() == list(range(16))
        torch.testing.assert_close(s.weights, keep ** torch.arange(16.0) * (1 - keep), rtol=1e-5, atol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_trilinear_rejects(backend):
    grid, points = torch.zeros(2, 3, 3, 3), torch.zeros(5, 3)
    with pytest.raises(ValueError, match="grid"):
        ops.trilinear(grid[0], points, [-1] * 3, [1] * 3, backend=backend)
    with pytest.raises(ValueError, match="grid"):
        ops.trilinear(grid[:, :1], points, [-1] * 3, [1] * 3, backend=backend)
    with pytest.raises(ValueError, match="points"):
        ops.trilinear(grid, points[:, :2], [-1] * 3, [1] * 3, backend=backend)
    with pytest.raises(TypeError, match="points"):
        ops.trilinear(grid, points.double(), [-1] * 3, [1] * 3, backend=backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_total_variation_rejects(backend):
    with pytest.raises(ValueError, match="grid"):
        ops.total_variation(torch.zeros(3, 3), backend=backend)
    with pytest.raises(ValueError, match="axis_weights"):
        ops.total_variation(torch.zeros(3, 3, 3), (1.0, 1.0), backend=backend)


def test_backend_device_mismatch():
    density, rays_o, rays_d = good()
    with pytest.raises(ValueError, match="backend='cuda'"):
        ops.volume_render(density, rays_o, rays_d, [-1] * 3, [1] * 3, OK, backend="cuda")


def test_compiled_ops_check_arguments_themselves():
    """Direct callers of torch.ops.dream3d get a Python error, not a crash."""
    if "cpu" not in ops.available_backends("cpu"):
        pytest.skip("compiled extension unavailable")
    with pytest.raises((ValueError, RuntimeError), match="step_size"):
        torch.ops.dream3d.render_forward(torch.zeros(3, 3, 3), torch.zeros(1, 3), torch.ones(1, 3),
                                         [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0], 0.0, 0.0, 1.0, 0.0, 1e10, 0.0, 0.0)
    with pytest.raises((ValueError, RuntimeError), match="points"):
        torch.ops.dream3d.trilinear_forward(torch.zeros(1, 3, 3, 3), torch.zeros(4, 2),
                                            [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0])


BOX6 = [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0]


def _saved_render():
    """render_backward's arguments from a real forward: (density, rays_o, rays_d, box, 7 scalars) and the
    saved/incoming tensors by name."""
    gen = torch.Generator().manual_seed(0)
    density = torch.rand(4, 4, 4, generator=gen)
    rays_o = torch.tensor([[0.0, 0.0, -2.0], [0.3, -0.2, -2.0]])
    rays_d = torch.tensor([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    scalars = (0.1, -1.0, 0.5, 0.0, 1e10, 1e-4, 0.0)
    _, step_ids, _, weights, t_final, offsets = torch.ops.dream3d.render_forward(
        density, rays_o, rays_d, BOX6, *scalars)
    assert weights.numel() > 0
    saved = dict(ray_offsets=offsets, step_ids=step_ids, weights=weights, T_final=t_final,
                 grad_weights=torch.ones_like(weights), grad_T_final=torch.ones_like(t_final))
    return (density, rays_o, rays_d, BOX6, *scalars), saved


RENDER_BACKWARD_CASES = [
    ("grad_weights", ValueError, lambda s: s["grad_weights"][:-1]),
    ("grad_weights", TypeError, lambda s: s["grad_weights"].double()),
    ("step_ids", TypeError, lambda s: s["step_ids"].long()),
    ("step_ids", ValueError, lambda s: torch.cat([s["step_ids"], s["step_ids"][:1]])),
    ("weights", TypeError, lambda s: s["weights"].double()),
    ("T_final", ValueError, lambda s: s["T_final"][:1]),
    ("grad_T_final", TypeError, lambda s: s["grad_T_final"].half()),
    ("grad_T_final", ValueError, lambda s: torch.ones(5)),
    ("ray_offsets", TypeError, lambda s: s["ray_offsets"].int()),
    ("ray_offsets", ValueError, lambda s: s["ray_offsets"][:-1]),
    ("ray_offsets", ValueError, lambda s: s["ray_offsets"] + 1),  # past N
    ("ray_offsets", ValueError, lambda s: s["ray_offsets"].flip(0)),  # decreasing
]


@pytest.mark.parametrize("name,error,change", RENDER_BACKWARD_CASES)
def test_compiled_render_backward_checks_every_tensor(name, error, change):
    """Every saved and incoming tensor of the compiled backward: dtype, length (and on the CPU the
    offsets' range), the error naming it. On a GPU the same checks keep a misplaced tensor from
    reaching the kernel (an illegal address would poison the CUDA context)."""
    if "cpu" not in ops.available_backends("cpu"):
        pytest.skip("compiled extension unavailable")
    args, saved = _saved_render()
    saved[name] = change(saved)
    order = ("ray_offsets", "step_ids", "weights", "T_final", "grad_weights", "grad_T_final")
    with pytest.raises(error, match=name):
        torch.ops.dream3d.render_backward(*args, *(saved[k] for k in order))


def test_compiled_render_backward_accepts_its_forward():
    if "cpu" not in ops.available_backends("cpu"):
        pytest.skip("compiled extension unavailable")
    args, saved = _saved_render()
    order = ("ray_offsets", "step_ids", "weights", "T_final", "grad_weights", "grad_T_final")
    grad = torch.ops.dream3d.render_backward(*args, *(saved[k] for k in order))
    assert grad.shape == args[0].shape and bool(grad.abs().sum() > 0)


@pytest.mark.parametrize("grad_values,error", [
    (torch.ones(4, 2, dtype=torch.float64), TypeError),
    (torch.ones(3, 2), ValueError),
    (torch.ones(4, 3), ValueError),
    (torch.ones(8), ValueError),
])
def test_compiled_trilinear_backward_checks_grad_values(grad_values, error):
    if "cpu" not in ops.available_backends("cpu"):
        pytest.skip("compiled extension unavailable")
    with pytest.raises(error, match="grad_values"):
        torch.ops.dream3d.trilinear_backward(torch.zeros(2, 3, 3, 3), torch.zeros(4, 3), BOX6, grad_values,
                                             True)


def test_compiled_composite_checks_ray_ids_on_cpu():
    """On the CPU ray ids out of range are an error (on a GPU the kernels skip them: no host sync)."""
    if "cpu" not in ops.available_backends("cpu"):
        pytest.skip("compiled extension unavailable")
    with pytest.raises(ValueError, match="ray_ids"):
        torch.ops.dream3d.composite_forward(torch.tensor([0, 3]), torch.ones(2), torch.ones(2, 3), 3)


CUDA_KERNELS = torch.cuda.is_available() and "cuda" in ops.available_backends("cuda")


@pytest.mark.skipif(not CUDA_KERNELS, reason="needs a GPU and the CUDA kernels")
def test_cuda_ops_name_a_cpu_tensor_and_keep_the_context():
    """A CPU tensor among CUDA ones (dispatch then picks the CUDA kernel) fails with its name, before
    the device guard and the kernel: the CUDA context stays usable."""
    args, saved = _saved_render()
    order = ("ray_offsets", "step_ids", "weights", "T_final", "grad_weights", "grad_T_final")
    args_cuda = tuple(a.cuda() if isinstance(a, torch.Tensor) else a for a in args)
    saved_cuda = {k: v.cuda() for k, v in saved.items()}
    for name in order:
        mixed = {**saved_cuda, name: saved[name]}
        with pytest.raises(ValueError, match=name):
            torch.ops.dream3d.render_backward(*args_cuda, *(mixed[k] for k in order))
    with pytest.raises(ValueError, match="grad_values"):
        torch.ops.dream3d.trilinear_backward(torch.zeros(2, 3, 3, 3, device="cuda"),
                                             torch.zeros(4, 3, device="cuda"), BOX6, torch.ones(4, 2), True)
    grad = torch.ops.dream3d.render_backward(*args_cuda, *(saved_cuda[k] for k in order))
    torch.cuda.synchronize()  # an earlier illegal address would surface here
    assert grad.is_cuda and bool(torch.isfinite(grad).all())  # values: the renderer's reference tests
