"""Analytic SDFs against closed forms: distances at known points, signs, 1-Lipschitz bounds,
transforms and combinators, and sampling onto grids (align_corners=True voxel positions)."""
from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings, strategies as st

from dream3d import shape

F64 = torch.float64
seeds = st.integers(0, 2**31 - 1)


def points(n: int, seed: int, spread: float = 3.0) -> torch.Tensor:
    return (torch.rand(n, 3, generator=torch.Generator().manual_seed(seed), dtype=F64) - 0.5) * spread


def lipschitz_ratio(sdf: shape.SDF, seed: int, n: int = 4000) -> float:
    """max |f(p) - f(q)| / |p - q| over random pairs, near and far apart."""
    p = points(n, seed)
    q = p + torch.randn(n, 3, generator=torch.Generator().manual_seed(seed + 1), dtype=F64) * \
        torch.logspace(-4, 0, n, dtype=F64)[:, None]
    return float(((sdf(p) - sdf(q)).abs() / (p - q).norm(dim=-1)).max())


EXACT = {
    "sphere": shape.sphere(0.7),
    "box": shape.box((0.8, 0.4, 1.2)),
    "torus": shape.torus(0.6, 0.15),
    "capsule": shape.capsule((-0.3, -0.2, 0.1), (0.4, 0.5, -0.2), 0.2),
    "cylinder": shape.cylinder(0.3, 1.1),
    "moved": shape.box((0.5, 0.3, 0.2)).rotate((1, 2, 3), 37).translate((0.1, -0.2, 0.3)).scale(1.3),
    "mirrored": shape.sphere(0.2).translate((0.5, 0, 0)).mirror(0),
}
BOUNDS = {
    "union": shape.sphere(0.5) | shape.box((1.2, 0.3, 0.3)),
    "intersection": shape.sphere(0.6) & shape.box((0.8, 0.8, 0.8)),
    "difference": shape.box((1, 1, 1)) - shape.sphere(0.6),
    "smooth_union": shape.smooth_union(shape.sphere(0.4).translate((-0.3, 0, 0)),
                                       shape.sphere(0.4).translate((0.3, 0, 0)), k=0.2),
    "stretched": shape.sphere(0.5).scale((1.5, 0.5, 1.0)),
    "shell": shape.sphere(0.6).shell(0.1),
    "rounded": shape.box((0.6, 0.6, 0.6)).round(0.1),
}


@pytest.mark.parametrize("name", list(EXACT) + list(BOUNDS))
@settings(deadline=None, max_examples=10)
@given(seed=seeds)
def test_lipschitz_at_most_one(name, seed):
    sdf = {**EXACT, **BOUNDS}[name]
    assert lipschitz_ratio(sdf, seed) <= 1 + 1e-6


@pytest.mark.parametrize("name", list(EXACT))
@settings(deadline=None, max_examples=10)
@given(seed=seeds)
def test_exact_sdfs_have_unit_gradient(name, seed):
    """An exact SDF has |grad| = 1 almost everywhere (a bound has less somewhere)."""
    p = points(2000, seed).requires_grad_()
    (grad,) = torch.autograd.grad(EXACT[name](p).sum(), p)
    norms = grad.norm(dim=-1)
    # Points on the medial axis (e.g. the sphere's centre) have undefined gradients: allow a few.
    assert float(((norms - 1).abs() < 1e-6).double().mean()) > 0.99


@settings(deadline=None, max_examples=30)
@given(seed=seeds, radius=st.floats(0.1, 1.0))
def test_sphere_closed_form(seed, radius):
    p = points(500, seed)
    torch.testing.assert_close(shape.sphere(radius)(p), p.norm(dim=-1) - radius)


@settings(deadline=None, max_examples=30)
@given(seed=seeds, size=st.tuples(*[st.floats(0.1, 1.5)] * 3))
def test_box_closed_form(seed, size):
    """Box distance: to the nearest face inside, and to the nearest face, edge or corner outside."""
    half = torch.tensor(size, dtype=F64) / 2
    p = points(500, seed)
    nearest = torch.maximum(torch.minimum(p, half), -half)  # the closest point of the solid box
    outside = (p.abs() > half).any(dim=-1)
    expected = torch.where(outside, (p - nearest).norm(dim=-1), -(half - p.abs()).amin(dim=-1))
    torch.testing.assert_close(shape.box(size)(p), expected)


def test_torus_lies_in_the_xz_plane():
    t = shape.torus(0.5, 0.1)
    p = torch.tensor([[0.5, 0, 0], [0, 0, -0.5], [0, 0.1, 0.5], [0, 0, 0], [0, 0.5, 0], [0.5, 0.5, 0]],
                     dtype=F64)
    torch.testing.assert_close(t(p), torch.tensor([-0.1, -0.1, 0.0, 0.4, math.hypot(0.5, 0.5) - 0.1, 0.4],
                                                  dtype=F64))


def test_capsule_and_cylinder_closed_forms():
    c = shape.capsule((0, -0.5, 0), (0, 0.5, 0), 0.2)
    p = torch.tensor([[0, 0, 0], [0.3, 0, 0], [0, 1.0, 0], [0, -0.5, 0.2], [0.3, 0.9, 0]], dtype=F64)
    torch.testing.assert_close(c(p), torch.tensor([-0.2, 0.1, 0.3, 0.0, 0.3], dtype=F64))
    cyl = shape.cylinder(0.3, 1.0)
    p = torch.tensor([[0, 0, 0], [0, 0.6, 0], [0.4, 0, 0], [0.6, 0.9, 0], [0.25, 0.45, 0]], dtype=F64)
    torch.testing.assert_close(cyl(p), torch.tensor([-0.3, 0.1, 0.1, 0.5, -0.05], dtype=F64))


def test_degenerate_capsule_is_a_sphere():
    p = points(100, 3)
    torch.testing.assert_close(shape.capsule((0.1, 0, 0), (0.1, 0, 0), 0.3)(p),
                               shape.sphere(0.3).translate((0.1, 0, 0))(p))


@settings(deadline=None, max_examples=20)
@given(seed=seeds, axis=st.tuples(*[st.floats(-1, 1)] * 3).filter(lambda a: sum(x * x for x in a) > 0.01),
       degrees=st.floats(-360, 360), offset=st.tuples(*[st.floats(-1, 1)] * 3), factor=st.floats(0.2, 3))
def test_transforms_move_the_shape(seed, axis, degrees, offset, factor):
    """f'(T(x)) = f(x) for T = translate . rotate, and scale multiplies distances."""
    base = shape.box((0.5, 0.2, 0.9))
    moved = base.rotate(axis, degrees).translate(offset)
    rot = shape.rotation_matrix(axis, degrees)
    p = points(300, seed)
    torch.testing.assert_close(moved(p @ rot.T + torch.tensor(offset, dtype=F64)), base(p))
    torch.testing.assert_close(base.scale(factor)(p * factor), base(p) * factor)


def test_rotation_follows_the_right_hand_rule():
    marker = shape.sphere(0.1).translate((1, 0, 0)).rotate((0, 1, 0), 90)  # +X about +Y goes to -Z
    assert float(marker(torch.tensor([[0.0, 0.0, -1.0]], dtype=F64))) == pytest.approx(-0.1)


def test_combinators():
    a, b = shape.sphere(0.5), shape.sphere(0.5).translate((0.6, 0, 0))
    p = points(1000, 7)
    da, db = a(p), b(p)
    torch.testing.assert_close((a | b)(p), torch.minimum(da, db))
    torch.testing.assert_close(shape.union(a, b, shape.sphere(0.1))(p),
                               torch.minimum(torch.minimum(da, db), p.norm(dim=-1) - 0.1))
    torch.testing.assert_close((a & b)(p), torch.maximum(da, db))
    torch.testing.assert_close((a - b)(p), torch.maximum(da, -db))
    smooth = a.smooth_union(b, 0.1)(p)
    assert bool((smooth <= torch.minimum(da, db) + 1e-12).all())  # blends only add material
    far_apart = (da - db).abs() >= 0.1
    torch.testing.assert_close(smooth[far_apart], torch.minimum(da, db)[far_apart])


def test_bad_arguments():
    with pytest.raises(ValueError, match="scale"):
        shape.sphere(1).scale(0)
    with pytest.raises(ValueError, match="axis"):
        shape.sphere(1).rotate((0, 0, 0), 10)
    with pytest.raises(ValueError, match="k > 0"):
        shape.smooth_union(shape.sphere(1), shape.sphere(1), 0)
    with pytest.raises(TypeError):
        shape.union()
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        shape.sphere(1)(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="mirror axis"):
        shape.sphere(1).mirror(3)
    with pytest.raises(ValueError, match="resolution"):
        shape.sphere(1).to_grid((8, 8))


@pytest.mark.parametrize("resolution", [17, (9, 12, 5)])
def test_to_grid_samples_the_voxel_positions(resolution):
    """Voxel (i, j, k) sits at xyz_min + (i, j, k) * (xyz_max - xyz_min) / (shape - 1)."""
    lo, hi = (-0.5, -1.0, 0.0), (1.5, 1.0, 0.8)
    sdf = shape.torus(0.5, 0.2).translate((0.4, 0.1, 0.3))
    grid = shape.to_grid(sdf, resolution, lo, hi)
    res = (resolution,) * 3 if isinstance(resolution, int) else resolution
    assert grid.values.shape == res and grid.values.dtype == torch.float32
    assert grid.xyz_min == lo and grid.xyz_max == hi
    i, j, k = res[0] - 1, res[1] // 2, 1
    point = torch.tensor([[lo[a] + idx * (hi[a] - lo[a]) / (res[a] - 1) for a, idx in enumerate((i, j, k))]])
    assert float(grid.values[i, j, k]) == pytest.approx(float(sdf(point)), abs=1e-6)
    torch.testing.assert_close(grid.values, sdf(grid.coordinates().reshape(-1, 3)).reshape(res))


def test_chair_reads_like_its_description():
    seat = shape.box((0.9, 0.1, 0.9))
    leg = shape.cylinder(0.05, 0.8).translate((0.38, -0.45, 0.38))
    chair = seat | leg | leg.mirror(0) | leg.mirror(2) | leg.mirror(0).mirror(2)
    feet = torch.tensor([[sx * 0.38, -0.8, sz * 0.38] for sx in (-1, 1) for sz in (-1, 1)])
    assert bool((chair(feet) < 0).all())
    assert float(chair(torch.tensor([[0.0, -0.5, 0.0]]))) > 0  # nothing under the middle of the seat
    assert chair.to_grid(32).values.min() < 0
