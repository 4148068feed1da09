"""UV atlas and texture baking: the cut mesh is the same surface, its UVs lie in the image, and the
image holds the colour function's values where the surface maps."""
from __future__ import annotations

import numpy as np
import pytest

from dream3d import shape
from dream3d.shape.texture_bake import bake_texture


def test_baked_texture_holds_the_colours_at_the_uvs():
    mesh = shape.extract_mesh(shape.torus(0.5, 0.2).to_grid(24))
    baked = bake_texture(mesh, lambda p: p * 0.5 + 0.5, size=128)
    np.testing.assert_array_equal(baked.vertices, mesh.vertices[baked.source])
    assert len(baked.faces) == len(mesh.faces)
    assert baked.uv.min() >= 0 and baked.uv.max() <= 1
    height, width, _ = baked.image.shape
    assert 64 <= height <= 256 and 64 <= width <= 256
    cols = np.clip((baked.uv[:, 0] * width).astype(int), 0, width - 1)
    rows = np.clip(((1 - baked.uv[:, 1]) * height).astype(int), 0, height - 1)
    expected = np.clip(baked.vertices * 0.5 + 0.5, 0, 1) * 255
    assert np.abs(baked.image[rows, cols] - expected).mean() < 3.0
    textured = baked.to_trimesh()
    assert textured.visual.uv.shape == (len(baked.vertices), 2)
    assert abs(textured.area - mesh.area) < 1e-6 * mesh.area


def test_bad_input():
    mesh = shape.extract_mesh(shape.sphere(0.5).to_grid(12))
    with pytest.raises(ValueError, match="texture size"):
        bake_texture(mesh, lambda p: p, size=8)
    with pytest.raises(ValueError, match=r"\(\d+, 3\) finite colours"):
        bake_texture(mesh, lambda p: p[:, :2], size=32)
