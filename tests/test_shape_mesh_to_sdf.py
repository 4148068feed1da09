"""mesh_to_sdf against brute force and closed forms: exact distances in the band, the far-field
bound, the sign of closed meshes in random poses, the documented behaviour of open and inside-out
meshes, grid-aligned ties, and bad input."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import trimesh

from dream3d import shape
from dream3d.shape._triangles import box_cells, box_chunks, triangle_distances
from shape_helpers import TEST_MESHES, fresh_seed, random_pose


def reference_sdf(mesh: trimesh.Trimesh, points: np.ndarray) -> np.ndarray:
    """Brute-force SDF, negative inside: the distance to every triangle (trimesh.triangles.closest_point;
    trimesh.proximity prunes candidates and was seen 2e-5 off next to the surface), the sign from
    trimesh's ray-test containment."""
    distance = np.full(len(points), np.inf)
    triangles = mesh.triangles
    for chunk in np.array_split(np.arange(len(points)), max(1, len(points) * len(triangles) // 2_000_000)):
        query = np.repeat(points[chunk], len(triangles), axis=0)
        closest = trimesh.triangles.closest_point(np.tile(triangles, (len(chunk), 1, 1)), query)
        distance[chunk] = np.linalg.norm(closest - query, axis=1).reshape(len(chunk), -1).min(axis=1)
    return np.where(mesh.contains(points), -distance, distance)


@pytest.mark.parametrize("name", list(TEST_MESHES))
def test_matches_brute_force(name):
    """Exact within the band, an upper bound within one voxel diagonal beyond it, the sign right."""
    seed = fresh_seed()
    mesh = random_pose(TEST_MESHES[name](), seed)
    band = 3
    grid = shape.mesh_to_sdf(mesh, 64, band=band)
    h = grid.voxel_size[0]
    rng = np.random.default_rng(seed)
    flat = grid.values.reshape(-1).numpy()
    near = np.flatnonzero(np.abs(flat) <= band * h)
    sample = np.concatenate([rng.choice(near, 1500, replace=False),
                             rng.choice(len(flat), 1500, replace=False)])
    got = flat[sample]
    want = reference_sdf(mesh, grid.coordinates().reshape(-1, 3).numpy().astype(np.float64)[sample])
    excess = np.abs(got) - np.abs(want)
    in_band = np.abs(want) <= band * h
    assert np.abs(excess[in_band]).max() < 1e-5, f"seed {seed}"
    assert excess.min() > -1e-5 and excess.max() <= math.sqrt(3) * h, f"seed {seed}"
    on_surface = np.abs(want) < 1e-5
    assert (np.sign(got) == np.sign(want))[~on_surface].all(), f"seed {seed}"


def test_grid_aligned_box_is_exact():
    """Box corners on voxels and face diagonals through grid lines: ties everywhere, and the
    top-left rule must still count each crossing once. The mesh box equals the analytic box."""
    grid = shape.mesh_to_sdf(trimesh.creation.box((1.0, 1.0, 1.0)), 65)  # voxel = 1/32: 0.5 is on the grid
    expected = shape.box((1.0, 1.0, 1.0)).to_grid(65).values
    on_surface = expected.abs() < 1e-6
    assert bool((torch.sign(grid.values) == torch.sign(expected))[~on_surface].all())
    assert float((grid.values.abs() - expected.abs()).abs().max()) < 1e-5  # exact everywhere for a box


def test_sign_ignores_face_orientation_and_unites_overlaps():
    a = trimesh.creation.box((0.8, 0.4, 0.4))
    b = trimesh.creation.box((0.4, 0.8, 0.4))
    b.invert()  # inside out
    grid = shape.mesh_to_sdf(trimesh.util.concatenate([a, b]), 48)
    solid = (shape.box((0.8, 0.4, 0.4)) | shape.box((0.4, 0.8, 0.4))).to_grid(48).values
    far_from_surface = solid.abs() > 1e-4
    assert bool(((grid.values < 0) == (solid < 0))[far_from_surface].all())


def test_open_box_is_closed_over():
    """Documented behaviour: a box with its +Y face removed has the solid box's sign (the rays
    through the hole are outvoted); its distances are to the open surface, so they jump at the hole."""
    box = trimesh.creation.box((1.0, 1.0, 1.0))
    keep = ~np.isclose(box.triangles_center[:, 1], 0.5)
    open_box = trimesh.Trimesh(box.vertices, box.faces[keep])
    assert not open_box.is_watertight and len(open_box.faces) == 10
    grid = shape.mesh_to_sdf(open_box, 48)
    solid = shape.box((1.0, 1.0, 1.0)).to_grid(48).values
    far_from_surface = solid.abs() > 1e-4
    assert bool(((grid.values < 0) == (solid < 0))[far_from_surface].all())
    above_hole = torch.tensor([[0.0, 0.6, 0.0]])
    ijk = tuple(((above_hole[0] + 1) / 2 * 47).round().long().tolist())
    assert float(grid.values[ijk]) > 0


def test_sphere_with_a_missing_triangle_keeps_its_sign():
    sphere = trimesh.creation.icosphere(3, 0.7)
    holed = trimesh.Trimesh(sphere.vertices, sphere.faces[1:])
    grid = shape.mesh_to_sdf(holed, 48)
    assert bool(((grid.values < 0) == (shape.mesh_to_sdf(sphere, 48).values < 0)).all())


def test_open_sheet_is_outside_everywhere():
    sheet = trimesh.Trimesh([[-0.5, 0, -0.5], [0.5, 0, -0.5], [0.5, 0, 0.5], [-0.5, 0, 0.5]],
                            [[0, 1, 2], [0, 2, 3]])
    grid = shape.mesh_to_sdf(sheet, 32)
    assert float(grid.values.min()) >= 0
    assert float(grid.values.min()) < 0.05  # the unsigned distance, small at the sheet


def test_parts_beyond_the_bbox_still_count_for_the_sign():
    """A long bar through the whole grid: every column along it starts inside."""
    grid = shape.mesh_to_sdf(trimesh.creation.box((3.0, 0.5, 0.5)), 33)
    assert bool((grid.values[:, 16, 16] < 0).all())


def test_non_cubic_grid_and_bbox():
    mesh = trimesh.creation.icosphere(3, 0.5).apply_translation((1.0, 0.5, 0.0))
    grid = shape.mesh_to_sdf(mesh, (40, 24, 33), (0.2, -0.2, -0.6), (1.8, 1.2, 0.6))
    assert grid.resolution == (40, 24, 33)
    points = grid.coordinates().reshape(-1, 3).numpy().astype(np.float64)
    sample = np.random.default_rng(0).choice(len(points), 1000, replace=False)
    want = reference_sdf(mesh, points[sample])
    got = grid.values.reshape(-1).numpy()[sample]
    assert np.abs(got - want).max() <= math.sqrt(3) * max(grid.voxel_size)
    assert (np.sign(got) == np.sign(want)).all()


def test_progress_reports_every_stage():
    seen = []
    shape.mesh_to_sdf(trimesh.creation.icosphere(2, 0.5), 24,
                      progress=lambda stage, f: seen.append((stage, f)))
    assert {s for s, _ in seen} == {"distance", "far field", "sign"}
    assert all(0 <= f <= 1 for _, f in seen) and seen[-1] == ("sign", 1.0)


def test_bad_input():
    with pytest.raises(ValueError, match="no"):
        shape.mesh_to_sdf(trimesh.Trimesh(), 16)
    with pytest.raises(ValueError, match="band"):
        shape.mesh_to_sdf(trimesh.creation.icosphere(1, 0.1).apply_translation((5, 0, 0)), 16)
    with pytest.raises(ValueError, match="resolution"):
        shape.mesh_to_sdf(trimesh.creation.icosphere(1), 1)
    with pytest.raises(ValueError, match="zero area"):
        shape.mesh_to_sdf(trimesh.Trimesh([[0, 0, 0], [1, 0, 0], [2, 0, 0]], [[0, 1, 2]], process=False), 16)


def test_triangle_distances_match_trimesh():
    """Random triangles, slivers included, against trimesh's closest points."""
    rng = np.random.default_rng(fresh_seed())
    tris = rng.normal(size=(5000, 3, 3))
    slivers = tris[::7]
    jitter = 1e-6 * rng.normal(size=(len(slivers), 3))
    slivers[:, 2] = slivers[:, 0] + 1e-4 * (slivers[:, 1] - slivers[:, 0]) + jitter
    p = rng.normal(size=(5000, 3)) * 2
    got = triangle_distances(p, tris[:, 0], tris[:, 1], tris[:, 2])
    want = np.linalg.norm(trimesh.triangles.closest_point(tris, p) - p, axis=1)
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_box_cells_enumerate_every_cell_once():
    rng = np.random.default_rng(fresh_seed())
    lo = rng.integers(0, 5, (30, 3))
    hi = lo + rng.integers(-1, 4, (30, 3))  # some boxes empty
    got = sorted((int(b), *c.tolist()) for start, stop in box_chunks(lo, hi, 17)
                 for b, c in zip(*box_cells(lo, hi, start, stop)))
    want = sorted((b, *c) for b in range(30)
                  for c in itertools.product(*[range(int(lo[b, d]), int(hi[b, d]) + 1) for d in range(3)]))
    assert got == want
