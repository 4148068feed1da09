"""COV, MMD, 1-NNA and the Chamfer matrix on sets whose answers are known."""
import pytest
import torch

from dream3d.eval import (chamfer_matrix, coverage, minimum_matching_distance, one_nna, shape_metrics,
                          surface_points)
from dream3d.shape import SDFGrid, grid_points


def clouds(n, points=64, seed=0, spread=1.0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.rand(n, 1, 3, generator=g) * spread
    return [c + 0.05 * torch.randn(points, 3, generator=g) for c in centres]


def brute_chamfer(x, y):
    d = ((x[:, None] - y[None]) ** 2).sum(-1)
    return float(d.min(1).values.mean() + d.min(0).values.mean())


def test_chamfer_matrix_matches_brute_force_in_any_chunking():
    a, b = clouds(3, seed=1), clouds(4, seed=2)
    expected = torch.tensor([[brute_chamfer(x, y) for y in b] for x in a], dtype=torch.float64)
    for chunk in (1, 5, 100):
        torch.testing.assert_close(chamfer_matrix(a, b, chunk=chunk, dtype=torch.float64), expected,
                                   rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(chamfer_matrix(a, b), expected, rtol=1e-3, atol=1e-6)
    plain = chamfer_matrix(a[:1], b[:1], squared=False)
    d = torch.cdist(a[0], b[0])
    assert plain.item() == pytest.approx(float(d.min(1).values.mean() + d.min(0).values.mean()), rel=1e-5)
    with pytest.raises(ValueError, match="one N"):
        chamfer_matrix([torch.zeros(5, 3)], [torch.zeros(6, 3)])


def test_identical_sets():
    ref = clouds(12, seed=3)
    m = shape_metrics(ref, ref, dtype=torch.float64)
    assert m["cov"] == 1.0
    assert m["mmd"] == pytest.approx(0.0, abs=1e-9)
    # each shape's nearest other is its twin in the other set: the classifier is always wrong
    assert m["1nna"] == 0.0


def test_two_draws_of_one_distribution_give_one_nna_near_one_half():
    gen, ref = clouds(150, points=8, seed=4, spread=3.0), clouds(150, points=8, seed=5, spread=3.0)
    m = shape_metrics(gen, ref, chunk=2048)
    assert 0.4 < m["1nna"] < 0.6, m


def test_disjoint_far_sets():
    ref = clouds(10, seed=6)
    gen = [x + 100.0 for x in clouds(10, seed=7)]
    m = shape_metrics(gen, ref)
    assert m["1nna"] == 1.0
    assert m["cov"] == pytest.approx(0.1)  # every far shape's nearest reference is the same corner one
    assert m["mmd"] > 100 ** 2


def test_shifted_copy_mmd_is_the_shift_chamfer():
    ref = clouds(8, seed=8, spread=10.0)
    shift = torch.tensor([0.03, -0.02, 0.01])
    gen = [x + shift for x in ref]
    m = shape_metrics(gen, ref, dtype=torch.float64)
    expected = sum(brute_chamfer(x, x + shift) for x in ref) / len(ref)
    assert m["mmd"] == pytest.approx(expected, rel=1e-6)
    assert shape_metrics(gen, ref)["mmd"] == pytest.approx(expected, rel=1e-3)  # float32: cancellation
    assert m["cov"] == 1.0
    # single-point clouds: the Chamfer of a shift t is 2 |t|^2
    one = [torch.zeros(1, 3, dtype=torch.float64), torch.full((1, 3), 50.0, dtype=torch.float64)]
    assert shape_metrics([p + shift.double() for p in one], one, dtype=torch.float64)["mmd"] == pytest.approx(2 * float(shift.double().square().sum()), rel=1e-9)


def test_coverage_and_mmd_by_hand():
    d = torch.tensor([[1.0, 5.0, 9.0], [2.0, 0.5, 9.0]])  # 2 generated x 3 reference
    assert coverage(d) == pytest.approx(2 / 3)
    assert minimum_matching_distance(d) == pytest.approx((1.0 + 0.5 + 9.0) / 3)


def test_one_nna_tie_rule():
    # one generated and one reference shape, both 1 from a second reference: g's nearest are r0 (1) only
    d_gg = torch.tensor([[0.0]])
    d_rr = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    d_gr = torch.tensor([[1.0, 3.0]])
    # g: nearest r0 -> wrong (0); r0: tie between g (1) and r1 (1) -> 0.5; r1: nearest r0 -> right (1)
    assert one_nna(d_gg, d_rr, d_gr) == pytest.approx((0 + 0.5 + 1) / 3)


def test_surface_points_of_a_sphere_grid_and_empty_grids():
    p = grid_points(24)
    sphere = SDFGrid(p.norm(dim=-1) - 0.6)
    pts = surface_points(sphere, 500, seed=1)
    assert pts.shape == (500, 3)
    assert (pts.norm(dim=-1) - 0.6).abs().max() < 0.02
    assert surface_points(SDFGrid(torch.ones(8, 8, 8)), 10) is None
    m = shape_metrics([SDFGrid(torch.ones(8, 8, 8)), sphere], [sphere])
    assert m["empty_generated"] == 1 and m["cov"] == 1.0 and m["mmd"] < 5e-3  # two 2048-point samples of one sphere
