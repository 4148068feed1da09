"""Geometry-only (shaded) renders for CLIP guidance, the shading modes of ClipGuidance, and the
steering measures and check of the library CLIP."""
from __future__ import annotations

import math

import pytest
import torch

from dream3d.cameras import orbit_cameras
from dream3d.guidance.shading import AMBIENT, DIFFUSE, shaded_views, solid_composite
from dream3d.pipeline.config import ConfigError, RunConfig, build_config
from dream3d.pipeline.field_init import build_field
from dream3d.shape import SDFGrid
from dream3d.shape.sdf_grid import grid_points


def sphere_field(resolution=24, radius=0.5):
    grid = SDFGrid(grid_points(resolution).norm(dim=-1) - radius)
    return build_field(RunConfig(color_width=16), grid, resolution, "cpu"), grid


def test_shaded_sphere_is_bright_in_the_middle_dark_at_the_rim_and_moves_only_density():
    field, _ = sphere_field()
    shade, transmittance = shaded_views(field, orbit_cameras(3.0, [0.0], [0.0]), 32, 40.0, 1e-4)
    assert shade.shape == transmittance.shape == (1, 1, 32, 32)
    centre = float(shade[0, 0, 14:18, 14:18].mean().detach() / (1 - transmittance[0, 0, 14:18, 14:18].mean().detach()))
    assert centre == pytest.approx(AMBIENT + DIFFUSE, abs=0.05)  # facing the headlight
    assert transmittance[0, 0, 0, 0] > 0.99 and transmittance[0, 0, 16, 16] < 0.05
    rim_row = shade[0, 0, 16] / (1 - transmittance[0, 0, 16]).clamp_min(1e-6)
    covered = (1 - transmittance[0, 0, 16]) > 0.5
    assert rim_row[covered][0] < centre - 0.2  # the sphere's edge turns away from the light
    shade.sum().backward()
    assert field.density.values.grad.abs().sum() > 0
    assert all(p.grad is None for p in field.color.parameters())  # colour cannot change a shaded image


def test_shading_moves_the_density_through_its_normals_too():
    """The shade's gradient reaches the density through the normals as well as the opacities: with the
    normals detached (as the colour MLP reads them) the gradient is a different one."""
    def shade_gradient(field):
        shade, _ = shaded_views(field, orbit_cameras(3.0, [0.0], [0.0]), 16, 40.0, 1e-4)
        shade.sum().backward()
        return field.density.values.grad

    field, _ = sphere_field(resolution=16)
    through_normals = shade_gradient(field)
    points = torch.nn.functional.normalize(torch.randn(8, 3), dim=-1) * 0.5
    assert field.density.normals(points, differentiable=True).requires_grad
    assert not field.density.normals(points).requires_grad  # the colour MLP's: no gradient
    field, _ = sphere_field(resolution=16)
    normals = field.density.normals
    field.density.normals = lambda p, **options: normals(p)  # detached
    opacities_only = shade_gradient(field)
    assert not torch.allclose(through_normals, opacities_only)


def test_solid_composite_paints_object_and_background():
    shading = torch.tensor([[[[0.5, 0.0]]]])
    transmittance = torch.tensor([[[[0.0, 1.0]]]])
    out = solid_composite(shading, transmittance, torch.tensor([[1.0, 0.5, 0.0]]), torch.tensor([[0.2, 0.4, 0.6]]))
    assert torch.allclose(out[0, :, 0, 0], torch.tensor([0.5, 0.25, 0.0]))
    assert torch.allclose(out[0, :, 0, 1], torch.tensor([0.2, 0.4, 0.6]))


def test_shading_mode_and_radius_follow_the_guiding_model():
    from dream3d.pipeline.objectives.clip import guidance_radius, shading_mode

    library = RunConfig(clip_model="/anywhere/library-clip.json")
    other = RunConfig(clip_model="ViT-B-16", camera_radius=4.0)
    assert shading_mode(library) == "shaded" and shading_mode(other) == "color"
    assert shading_mode(RunConfig(clip_model="ViT-B-16", clip_shading="mix")) == "mix"
    assert guidance_radius(library) == pytest.approx(3.25) and guidance_radius(other) == 4.0
    assert guidance_radius(RunConfig(clip_radius=2.5)) == 2.5
    with pytest.raises(ConfigError, match="clip_shading"):
        build_config({"prompt": "a chair", "out": "x", "clip_shading": "grey"})
    with pytest.raises(ConfigError, match="clip_radius"):
        build_config({"prompt": "a chair", "out": "x", "clip_radius": 1.0})
    from dream3d.cli import _parser

    assert vars(_parser().parse_args(["--clip-shading", "mix"]))["clip_shading"] == "mix"
    with pytest.raises(SystemExit):
        _parser().parse_args(["--clip-shading", "grey"])


def test_shape_measures_tell_a_table_from_a_chair():
    from dream3d.library_clip.steer_measures import chamfer, height_over_width, sdf_occupancy, volume
    from dream3d.shape import library_sdf_grid

    table, chair = (sdf_occupancy(library_sdf_grid(c, 24)) for c in ("table", "chair"))
    assert height_over_width(table) < 0.8 < 1.2 < height_over_width(chair)
    assert chamfer(table, table) == 0 < chamfer(table, chair)
    _, sphere = sphere_field(32, 0.6)
    assert volume(sdf_occupancy(sphere)) == pytest.approx(4 / 3 * math.pi * 0.6 ** 3, rel=0.1)


def test_steer_check_runs_and_rejects_bad_pairs(tmp_path, capsys):
    pytest.importorskip("open_clip")
    from dream3d.library_clip.steer_check import main

    assert main(["--pairs", "sphere:chair", "--steps", "2", "--out", str(tmp_path),
                 "--set", "resolution=16", "clip_render_size=32", "clip_augments=1", "clip_views=1"]) == 0
    row = capsys.readouterr().out
    assert "sphere -> a chair" in row and "h/w 1.00 ->" in row
    assert (tmp_path / "sphere-to-chair.png").is_file() and (tmp_path / "steer.json").is_file()
    assert main(["--pairs", "sphere-chair"]) == 2
    assert main(["--pairs", "cube:chair"]) == 2
    assert "START:TARGET" in capsys.readouterr().err
