"""Mesh files: loading every format (scenes flattened), clear errors for bad files, normalisation
into the [-1, 1]^3 cube, and atomic export with vertex colours that survive a reload."""
from __future__ import annotations

import os

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from dream3d import shape
from shape_helpers import fresh_seed, random_pose


@pytest.mark.parametrize("suffix", [".obj", ".ply", ".glb", ".stl", ".off"])
def test_load_every_format(tmp_path, suffix):
    mesh = trimesh.creation.icosphere(2, 0.5)
    path = tmp_path / f"m{suffix}"
    mesh.export(path)
    loaded = shape.load_mesh(path)
    assert isinstance(loaded, trimesh.Trimesh)
    assert loaded.is_watertight and np.isclose(loaded.volume, mesh.volume, rtol=1e-4)


def test_scene_is_flattened_with_its_transforms(tmp_path):
    box, ball = trimesh.creation.box((0.2, 0.2, 0.2)), trimesh.creation.icosphere(1, 0.1)
    scene = trimesh.Scene()
    scene.add_geometry(box, transform=trimesh.transformations.translation_matrix((2, 0, 0)))
    scene.add_geometry(ball, transform=trimesh.transformations.translation_matrix((0, 3, 0)))
    scene.export(tmp_path / "s.glb")
    mesh = shape.load_mesh(tmp_path / "s.glb")
    assert len(mesh.faces) == len(box.faces) + len(ball.faces)
    np.testing.assert_allclose(mesh.bounds, [[-0.1, -0.1, -0.1], [2.1, 3.1, 0.1]], atol=1e-6)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="nowhere.obj"):
        shape.load_mesh("/nowhere.obj")


BAD = {
    "empty.obj": b"",
    "garbage.glb": os.urandom(300),
    "garbage.ply": b"ply\nformat ascii 1.0\nelement vertex 3\nend_header\n1 2\n",
    "garbage.off": b"hello",
    "garbage.stl": b"solid x\n garbage\n",
    "words.obj": b"this is not a mesh\n",
    "unknown.xyz1": b"1 2 3",
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_files_raise_value_error_naming_the_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(BAD[name])
    with pytest.raises(ValueError, match=name):
        shape.load_mesh(path)


def test_point_cloud_is_not_a_mesh(tmp_path):
    trimesh.PointCloud(np.random.default_rng(0).random((20, 3))).export(tmp_path / "pc.ply")
    with pytest.raises(ValueError, match="no triangles: it is a point cloud of 20 points"):
        shape.load_mesh(tmp_path / "pc.ply")


def test_normalize_fits_the_cube_keeping_the_aspect():
    seed = fresh_seed()
    rng = np.random.default_rng(seed)
    mesh = trimesh.creation.box(rng.uniform(0.1, 10, 3))
    mesh.apply_translation(rng.uniform(-50, 50, 3))
    before = mesh.copy()
    out, transform = shape.normalize_mesh(mesh, padding=0.1)
    np.testing.assert_allclose(out.bounds.mean(axis=0), 0, atol=1e-9, err_msg=f"seed {seed}")
    assert np.isclose(np.abs(out.bounds).max(), 0.9), f"seed {seed}"
    np.testing.assert_allclose(out.extents / out.extents.max(), mesh.extents / mesh.extents.max())
    np.testing.assert_allclose(trimesh.transform_points(mesh.vertices, transform), out.vertices, atol=1e-9)
    np.testing.assert_array_equal(mesh.vertices, before.vertices)  # the input is left alone


def test_normalize_rejects_bad_input():
    with pytest.raises(ValueError, match="padding"):
        shape.normalize_mesh(trimesh.creation.box(), padding=1.0)
    with pytest.raises(ValueError, match="zero extent"):
        shape.normalize_mesh(trimesh.Trimesh([[1, 1, 1]] * 3, [[0, 1, 2]], process=False))


@pytest.mark.parametrize("suffix", [".glb", ".ply", ".obj"])
def test_export_and_reload_with_vertex_colours(tmp_path, suffix):
    seed = fresh_seed()
    mesh = random_pose(trimesh.creation.icosphere(2, 0.7), seed)
    colors = np.random.default_rng(seed).random((len(mesh.vertices), 3))
    path = tmp_path / f"out{suffix}"
    shape.export_mesh(mesh, path, vertex_colors=colors)
    assert os.listdir(tmp_path) == [path.name]  # no temporary or side file
    loaded = shape.load_mesh(path)
    assert len(loaded.faces) == len(mesh.faces)
    # Loaders may reorder vertices: match them by position.
    dist, index = cKDTree(mesh.vertices).query(loaded.vertices)
    assert dist.max() < 1e-5, f"seed {seed}"
    expected = np.round(colors[index] * 255)
    np.testing.assert_array_equal(loaded.visual.vertex_colors[:, :3], expected, err_msg=f"seed {seed}")


def test_export_replaces_atomically_and_validates(tmp_path):
    path = tmp_path / "m.ply"
    shape.export_mesh(trimesh.creation.box(), path)
    with pytest.raises(ValueError, match=r"\(8, 3\)"):
        shape.export_mesh(trimesh.creation.box(), path, vertex_colors=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        shape.export_mesh(trimesh.creation.box(), path, vertex_colors=np.full((8, 3), 2.0))
    with pytest.raises(ValueError, match=".stl"):
        shape.export_mesh(trimesh.creation.box(), tmp_path / "m.stl")
    assert os.listdir(tmp_path) == ["m.ply"] and len(shape.load_mesh(path).faces) == 12
