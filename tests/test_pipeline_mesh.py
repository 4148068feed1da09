"""The run's mesh: extracted where the field's renders put the surface, closed at the bbox, the priors
back within a voxel right after initialisation, and every export format with its texture."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from dream3d import shape
from dream3d.cameras import orbit_cameras
from dream3d.field import ColorMLP, DensityGrid, DVGOField
from dream3d.pipeline import build_config
from dream3d.pipeline.config import ConfigError
from dream3d.pipeline.field_init import build_field
from dream3d.pipeline.mesh import (_half_opacity_points, chamfer, export_meshes, field_mesh, measured_level,
                                   surface_level)
from dream3d.pipeline.priors import resolve_prior

RESOLUTION = 40


def _prior_case(kind: str, tmp_path) -> dict:
    if kind == "library":
        return dict(prompt="a chair")
    if kind == "mesh":  # no margin, dilated by a voxel: the box reaches past x = +-1, where meshes were cut open
        path = tmp_path / "box.obj"
        trimesh.creation.box(extents=(2.0, 1.0, 0.8)).export(path)
        return dict(prompt="a box", prior_mesh=str(path), prior_mesh_margin=0.0, prior_dilate=1.0)
    path = tmp_path / "beam.npz"  # a beam longer than the bbox, crossed by a ring
    shape.save_sdf(path, shape.union(shape.box((3.0, 0.5, 0.5)), shape.torus(0.6, 0.15)).to_grid(RESOLUTION))
    return dict(prompt="a beam", prior_sdf=str(path))


@pytest.mark.parametrize("kind", ["library", "mesh", "sdf"])
def test_priors_come_back_within_a_voxel_at_initialisation(kind, tmp_path):
    """The field as the offline fit builds it from each kind of prior (the linear init), meshed: closed,
    its surface within half a voxel of the prior's (Chamfer), its volume between the prior's shrunk and
    grown by one voxel."""
    config = build_config({**_prior_case(kind, tmp_path), "out": str(tmp_path / "run"), "preset": "preview",
                           "resolution": RESOLUTION})
    prior = resolve_prior(config, log=lambda line: None)
    field = build_field(config, prior.grid, RESOLUTION, "cpu")
    mesh = field_mesh(field, measured_level(field, config), colors=False)
    voxel = field.density.voxel_size
    prior_mesh = shape.extract_mesh(prior.grid, closed=True)
    assert mesh.is_watertight
    assert chamfer(mesh, prior_mesh, n_points=5000) < 0.5 * voxel
    shrunk, grown = _volume_at(prior.grid, -voxel), _volume_at(prior.grid, voxel)
    assert shrunk < mesh.volume < grown, (shrunk, mesh.volume, prior_mesh.volume, grown)


def _volume_at(grid: shape.SDFGrid, level: float) -> float:
    """The volume inside the prior's ``level`` set (0 when a thin shape has no point that deep)."""
    if not grid.values.min() < level:
        return 0.0
    return shape.extract_mesh(grid, level, closed=True).volume


def _layered_sphere(resolution: int, core: float = 0.45, halo: float = 0.055) -> DVGOField:
    """A dense ball (density 80) in a faint shell (density 12 over ``halo``: alone it reaches only
    0.48 opacity), as training leaves surfaces: the renders' surface is the core's, while the old
    extraction level 1 / (2 beta) = 10 sits at the shell's outside."""
    points = shape.grid_points(resolution).reshape(-1, 3)
    r = points.norm(dim=-1).reshape((resolution,) * 3)
    sigma = torch.where(r < core, 80.0, torch.where(r < core + halo, 12.0, 0.0)).clamp_min(1e-4)
    shift = DensityGrid(torch.zeros(2, 2, 2)).act_shift
    return DVGOField(DensityGrid(sigma + torch.log(-torch.expm1(-sigma)) - shift), ColorMLP(2, 8, 2))


def test_chamfer_is_the_distance_between_the_surfaces_not_between_their_samples():
    """A mesh against itself is 0 (nearest neighbours among a second sampling would give that sampling's
    spacing); two concentric spheres are their radii's difference apart."""
    inner = trimesh.creation.icosphere(subdivisions=5, radius=0.5)
    outer = trimesh.creation.icosphere(subdivisions=5, radius=0.52)
    assert chamfer(inner, inner, n_points=4000) < 1e-6
    assert chamfer(inner, outer, n_points=4000) == pytest.approx(0.02, rel=0.02)


def test_the_mesh_sits_where_the_renders_put_the_surface():
    """Rays through the centre cross half opacity at the core's radius; the mesh's radius matches it
    within a third of a voxel (the level 1 / (2 beta) would put it a shell's width further out)."""
    field = _layered_sphere(64)
    voxel = field.density.voxel_size
    views = orbit_cameras(4.0, [0.0, 90.0, 200.0, 300.0], [0.0, 10.0, -30.0, 60.0])
    level = surface_level(field, views, 48, 40.0, beta=0.05)
    assert level.rays >= 50 and level.density > 12.0
    mesh = field_mesh(field, level, colors=False)
    radius = np.linalg.norm(mesh.vertices, axis=1).mean()
    dirs = torch.nn.functional.normalize(torch.randn(64, 3, generator=torch.Generator().manual_seed(0)), dim=1)
    origins = -3.0 * dirs
    with torch.no_grad():
        points, _ = _half_opacity_points(field.march(origins, dirs), origins, dirs, field.step_size)
    rendered = points.norm(dim=1).mean().item()
    assert abs(radius - rendered) < voxel / 3, (radius, rendered, voxel)


def test_a_thin_faint_part_that_renders_opaque_survives_beside_a_dense_block():
    """A dense block (density 80) and, apart from it, a slat three voxels thick at density 12: below the
    floor 1 / (2 beta) = 20, yet opaque head-on (optical depth ~1.5) and at the silhouette. The mesh keeps
    the slat, at about the width it renders (the floor used to lift its level above its peak)."""
    n = 48
    points = shape.grid_points(n).reshape(n, n, n, 3)
    x, y, z = points.unbind(-1)
    voxel = 2.0 / (n - 1)
    block = (x.abs() < 0.3) & (y.abs() < 0.3) & (z - 0.45).abs().lt(0.3)
    slat = (x.abs() < 0.6) & (y.abs() < 1.5 * voxel) & (z + 0.5).abs().lt(0.2)
    sigma = torch.where(block, 80.0, torch.where(slat, 12.0, 0.0)).clamp_min(1e-4)
    shift = DensityGrid(torch.zeros(2, 2, 2)).act_shift
    field = DVGOField(DensityGrid(sigma + torch.log(-torch.expm1(-sigma)) - shift), ColorMLP(2, 8, 2))
    views = orbit_cameras(4.0, [0.0, 90.0, 180.0, 270.0, 45.0, 135.0], [80.0, 60.0, -80.0, -60.0, 10.0, -10.0])
    level = surface_level(field, views, 48, 40.0, beta=0.025)
    mesh = field_mesh(field, level, colors=False)
    in_slat = mesh.vertices[(mesh.vertices[:, 2] < -0.25) & (np.abs(mesh.vertices[:, 0]) < 0.55)]
    assert len(in_slat) > 50, len(in_slat)
    assert np.abs(in_slat[:, 1]).max() < 3 * voxel  # not wrapped into a fat slab either


class PositionColor(torch.nn.Module):
    """Colour that changes across the sphere, so a texture in the wrong place shows."""

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return (points * 0.9 + 0.5).clamp(0.0, 1.0)


def test_export_writes_every_format_with_texture_and_colours(tmp_path):
    """mesh.glb and mesh.obj (+ .mtl, texture .png) carry UVs and the baked texture, mesh.ply the
    vertex colours; the texture looked up at a vertex's UV is the colour model's colour there."""
    field = _layered_sphere(24)
    field.color = PositionColor()
    config = build_config({"prompt": "a ball", "out": str(tmp_path), "preset": "preview", "mesh_resolution": 32})
    result = export_meshes(tmp_path, field, config)
    assert sorted(result["files"]) == ["mesh.glb", "mesh.mtl", "mesh.obj", "mesh.ply", "mesh_texture.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(result["files"])  # no temporary files left
    mesh = result["mesh"]
    assert mesh.is_watertight and result["mesh_resolution"] == 32 and result["mesh_faces"] == len(mesh.faces)
    ply = shape.load_mesh(tmp_path / "mesh.ply")
    np.testing.assert_array_equal(ply.visual.vertex_colors, mesh.visual.vertex_colors)
    for name in ("mesh.glb", "mesh.obj"):
        loaded = trimesh.load(tmp_path / name, force="mesh")
        assert isinstance(loaded.visual, trimesh.visual.TextureVisuals) and loaded.visual.uv is not None
        image = np.asarray(loaded.visual.material.to_simple().image.convert("RGB")) if name == "mesh.glb" \
            else np.asarray(loaded.visual.material.image.convert("RGB"))
        height, width, _ = image.shape
        uv = loaded.visual.uv
        cols = np.clip((uv[:, 0] * width).astype(int), 0, width - 1)
        rows = np.clip(((1 - uv[:, 1]) * height).astype(int), 0, height - 1)
        with torch.no_grad():
            expected = field.color(torch.as_tensor(loaded.vertices, dtype=torch.float32)).numpy() * 255
        assert np.abs(image[rows, cols].astype(float) - expected).mean() < 4.0


def test_mesh_resolution_is_validated():
    with pytest.raises(ConfigError, match="mesh_resolution"):
        build_config({"prompt": "a ball", "out": "x", "mesh_resolution": 4})
    with pytest.raises(ConfigError, match="mesh_resolution"):
        build_config({"prompt": "a ball", "out": "x", "mesh_resolution": 64.5})


def test_a_field_with_no_surface_says_so(tmp_path):
    """DVGO's empty init renders nothing opaque: the level falls back to 1 / (2 beta), which the grid
    never reaches, and the error says so (dream3d-run then writes no mesh)."""
    field = DVGOField(DensityGrid.empty(16), ColorMLP(2, 8, 2))
    config = build_config({"prompt": "a ball", "out": str(tmp_path), "preset": "preview"})
    assert measured_level(field, config).rays == 0
    with pytest.raises(ValueError, match="not crossed"):
        export_meshes(tmp_path, field, config)
    assert not list(tmp_path.iterdir())
