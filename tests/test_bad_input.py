"""Bad input raises a ValueError or TypeError that names the argument; nothing crashes."""
from __future__ import annotations

import pytest
import torch

from dream3d import ops

BACKENDS = ["torch"] + [b for b in ops.available_backends("cpu") if b not in ("torch", "triton")]
OK = dict(step_size=0.1, act_shift=-4.0, interval=0.5)


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
    ("step_size", ValueError, lambda d, o, r: dict(step_size=0.0)),
    ("step_size", ValueError, lambda d, o, r: dict(step_size=-1.0)),
    ("interval", ValueError, lambda d, o, r: dict(interval=0.0)),
    ("act_shift", TypeError, lambda d, o, r: dict(act_shift="big")),
    ("act_shift", ValueError, lambda d, o, r: dict(act_shift=float("nan"))),
    ("t_thres", ValueError, lambda d, o, r: dict(t_thres=1.5)),
    ("weight_thres", ValueError, lambda d, o, r: dict(weight_thres=-0.1)),
    ("near", ValueError, lambda d, o, r: dict(near=2.0, far=1.0)),
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
                  backend=backend, **OK)
    kwargs.update(change(density, rays_o, rays_d))
    with pytest.raises(error, match=name):
        ops.volume_render(**kwargs)


def test_good_input_renders():
    density, rays_o, rays_d = good()
    out = ops.volume_render(density, rays_o, rays_d, [-1, -1, -1], torch.ones(3), **OK)
    assert out.T_final.shape == (3,)


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
        ops.volume_render(density, rays_o, rays_d, [-1] * 3, [1] * 3, backend="cuda", **OK)


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
