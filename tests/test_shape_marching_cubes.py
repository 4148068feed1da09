"""Marching cubes: world placement (align_corners), outward faces for SDFs and densities, vertex
colours, clear errors; and the full round trip mesh -> SDF (128^3) -> mesh within 1% Chamfer."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from dream3d import shape
from dream3d.scene import sphere_density
from shape_helpers import TEST_MESHES, fresh_seed, random_pose


def surface_distances(a: trimesh.Trimesh, b: trimesh.Trimesh, seed: int, n: int = 5000):
    """Distances from points sampled on each mesh to the other mesh's surface (exact closest points,
    so unlike sample-to-sample Chamfer there is no sampling floor)."""
    pa, _ = trimesh.sample.sample_surface(a, n, seed=seed)
    pb, _ = trimesh.sample.sample_surface(b, n, seed=seed + 1)
    return trimesh.proximity.closest_point(b, pa)[1], trimesh.proximity.closest_point(a, pb)[1]


@pytest.mark.parametrize("name", list(TEST_MESHES))
def test_round_trip_at_128(name):
    """mesh -> SDF -> marching cubes -> mesh: Chamfer (mean of both directions) under 1% of the
    diagonal (measured ~0.005%), every sample within a voxel (box corners, cut by marching cubes,
    reach ~0.55 voxel), closed, outward, the same volume."""
    seed = fresh_seed()
    mesh = random_pose(TEST_MESHES[name](), seed)
    grid = shape.mesh_to_sdf(mesh, 128)
    out = shape.extract_mesh(grid)
    to_out, to_mesh = surface_distances(mesh, out, seed)
    chamfer = (to_out.mean() + to_mesh.mean()) / 2 / np.linalg.norm(mesh.extents)
    assert chamfer < 0.01, f"seed {seed}: Chamfer {chamfer:.4%} of the diagonal"
    assert max(to_out.max(), to_mesh.max()) < grid.voxel_size[0], f"seed {seed}"
    assert out.is_watertight and out.volume > 0, f"seed {seed}"
    assert abs(out.volume / mesh.volume - 1) < 0.02, f"seed {seed}"


def test_vertices_sit_in_world_coordinates():
    """A sphere off-centre in a non-cubic bbox comes back where it is, at its radius."""
    lo, hi = (-0.3, 0.0, -1.0), (1.3, 1.2, 0.4)
    centre = torch.tensor([0.5, 0.6, -0.3])
    grid = shape.sphere(0.4).translate(centre.tolist()).to_grid((81, 61, 71), lo, hi)
    mesh = shape.extract_mesh(grid)
    radii = np.linalg.norm(mesh.vertices - centre.numpy(), axis=1)
    assert np.abs(radii - 0.4).max() < 2e-3
    np.testing.assert_allclose(mesh.bounds.mean(axis=0), centre.numpy(), atol=2e-3)


def test_faces_point_outward_for_sdfs_and_densities():
    sdf_mesh = shape.extract_mesh(shape.sphere(0.6).to_grid(48))
    density_mesh = shape.extract_mesh(sphere_density(48, radius=0.6), level=1.0)
    for mesh in (sdf_mesh, density_mesh):
        assert mesh.volume > 0
        outward = (mesh.face_normals * mesh.triangles_center).sum(axis=1)
        assert (outward > 0).all()


def test_density_bbox_and_leading_dims():
    density = sphere_density(40, radius=0.5)[None, None]  # (1, 1, X, Y, Z) as DVGO keeps it
    mesh = shape.extract_mesh(density, level=1.0, xyz_min=(0, 0, 0), xyz_max=(2, 2, 2))
    np.testing.assert_allclose(mesh.bounds.mean(axis=0), [1, 1, 1], atol=1e-3)


def test_vertex_colours_from_color_fn():
    mesh = shape.extract_mesh(shape.sphere(0.5).to_grid(32), color_fn=lambda p: p * 0.5 + 0.5)
    expected = np.round(np.clip(mesh.vertices * 0.5 + 0.5, 0, 1) * 255)
    np.testing.assert_allclose(mesh.visual.vertex_colors[:, :3], expected, atol=1)


def test_colour_mesh_round_trips_through_export(tmp_path):
    mesh = shape.extract_mesh(shape.torus(0.5, 0.2).to_grid(48), color_fn=lambda p: torch.sigmoid(p * 4))
    shape.export_mesh(mesh, tmp_path / "t.ply")
    loaded = shape.load_mesh(tmp_path / "t.ply")
    np.testing.assert_array_equal(loaded.visual.vertex_colors, mesh.visual.vertex_colors)


def test_errors():
    empty = shape.sphere(0.1).translate((5, 0, 0)).to_grid(16)
    with pytest.raises(ValueError, match="not crossed"):
        shape.extract_mesh(empty)
    with pytest.raises(ValueError, match="not crossed"):
        shape.extract_mesh(torch.zeros(8, 8, 8))
    nan = shape.sphere(0.5).to_grid(16)
    nan.values[3, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        shape.extract_mesh(nan)
    with pytest.raises(ValueError, match="own bbox"):
        shape.extract_mesh(shape.sphere(0.5).to_grid(16), xyz_min=(0, 0, 0))
    with pytest.raises(ValueError, match=r"\(X, Y, Z\)"):
        shape.extract_mesh(torch.zeros(2, 8, 8, 8))
    with pytest.raises(ValueError, match=r"\(\d+, 3\) colours"):
        shape.extract_mesh(shape.sphere(0.5).to_grid(16), color_fn=lambda p: p[:, :2])


@pytest.mark.parametrize("as_density", [False, True])
def test_closed_caps_a_shape_cut_by_the_bbox(as_density):
    """A box wider than the bbox (x beyond +-1) is cut open at x = +-1 by plain marching cubes; closed
    pads the grid with empty space and presses the cap onto the bbox faces: watertight, outward, the
    volume of the box's part inside the bbox, no vertex outside it."""
    grid = shape.box((3.0, 1.0, 0.8)).to_grid(33)
    field = grid if not as_density else -grid.values  # density: inside above the level
    level = 0.0
    open_mesh = shape.extract_mesh(field, level)
    assert not open_mesh.is_watertight
    mesh = shape.extract_mesh(field, level, closed=True)
    assert mesh.is_watertight and mesh.volume > 0
    assert mesh.vertices.min() >= -1.0 and mesh.vertices.max() <= 1.0
    np.testing.assert_allclose(mesh.bounds[:, 0], [-1.0, 1.0])
    assert abs(mesh.volume / (2.0 * 1.0 * 0.8) - 1) < 0.02
