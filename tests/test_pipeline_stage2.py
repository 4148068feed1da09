"""Stage 2's regularisers: the shape-prior loss, capped at the prior's own density (prior_cap)."""
from __future__ import annotations

import pytest
import torch

from dream3d import ops
from dream3d.field import ColorMLP, DensityGrid, DVGOField
from dream3d.pipeline.stage2 import regularisers
from dream3d.scene import sphere_sdf


def _prior_gradient(field: DVGOField, sdf: torch.Tensor, prior_density: torch.Tensor | None) -> torch.Tensor:
    field.density.values.grad = None
    prior, _ = regularisers(field, sdf, prior_density)
    prior.backward()
    return field.density.values.grad


def test_capped_prior_loss_restores_the_prior_but_pushes_no_further():
    sdf = sphere_sdf(16, radius=0.5)
    field = DVGOField(DensityGrid.from_sdf(sdf), ColorMLP(n_frequencies=1, width=8))
    prior_density = ops.sdf_to_density(sdf, 0.05, act_shift=field.density.act_shift)
    inside = sdf < 0
    with torch.no_grad():  # half the inside voxels denser than the prior, the other half fainter
        denser = inside & (torch.arange(16)[:, None, None] % 2 == 0)
        field.density.values[denser] += 3.0
        field.density.values[inside & ~denser] -= 3.0
    uncapped = _prior_gradient(field, sdf, None)
    capped = _prior_gradient(field, sdf, prior_density)
    assert (uncapped[inside] < 0).all()  # eq. 4 as written: every inside voxel pushed denser
    assert (capped[denser] == 0).all()
    torch.testing.assert_close(capped[inside & ~denser], uncapped[inside & ~denser])
    assert (capped[~inside] == 0).all()


def test_ray_margin_keeps_the_object_and_its_outline():
    from dream3d.pipeline import build_config, resolve_prior
    from dream3d.pipeline.objectives import make_targets

    options = {"prompt": "a chair", "out": "unused", "resolution": 24, "view_size": 24, "n_views": 2,
               "point_targets": False}
    grid = resolve_prior(build_config(options)).grid
    every = make_targets(build_config({**options, "ray_margin": -1}), grid, "cpu")
    near = make_targets(build_config({**options, "ray_margin": 1}), grid, "cpu")
    assert len(every.rgb) == 2 * 24 * 24
    assert (near.mask > 0).sum() == (every.mask > 0).sum()  # every pixel of the object is kept ...
    assert (near.mask == 0).sum() > 0  # ... with a rim of background around it ...
    assert len(near.rgb) < len(every.rgb) / 2  # ... and not the empty rest
    assert len(near.rays_o) == len(near.rays_d) == len(near.rgb) == len(near.mask)


def test_point_targets_are_the_sub_pixel_rays_each_pixel_averages():
    from dream3d.pipeline import build_config, resolve_prior
    from dream3d.pipeline.objectives import make_targets

    options = {"prompt": "a chair", "out": "unused", "resolution": 24, "view_size": 16, "n_views": 2,
               "ray_margin": -1, "point_targets": False}
    grid = resolve_prior(build_config(options)).grid
    pixels = make_targets(build_config(options), grid, "cpu")
    points = make_targets(build_config({**options, "point_targets": True}), grid, "cpu")
    assert len(pixels.rgb) == 2 * 16 * 16 and len(points.rgb) == 4 * len(pixels.rgb)
    # each point target is one ray's colour: a miss is the white background, a hit the shaded surface
    assert set(points.mask.unique().tolist()) == {0.0, 1.0}
    assert (points.rgb[points.mask == 0] == 1).all() and (points.rgb[points.mask == 1] < 1).any(dim=1).all()
    # ... and a pixel's 2x2 of them average to its antialiased target, and their rays through it to its own
    sub = points.rgb.reshape(2, 16, 2, 16, 2, 3).mean((2, 4)).reshape(-1, 3)
    torch.testing.assert_close(sub, pixels.rgb, atol=1e-5, rtol=0)
    mean_dir = torch.nn.functional.normalize(points.rays_d.reshape(2, 16, 2, 16, 2, 3).mean((2, 4)), dim=-1)
    torch.testing.assert_close(mean_dir.reshape(-1, 3), pixels.rays_d, atol=1e-4, rtol=0)
    margin = make_targets(build_config({**options, "point_targets": True, "ray_margin": 1}), grid, "cpu")
    assert (margin.mask > 0).sum() == (points.mask > 0).sum() and len(margin.rgb) < len(points.rgb)


def test_lr_decay_takes_every_group_to_its_fraction_over_the_run():
    from dream3d.pipeline import build_config
    from dream3d.pipeline.field_init import make_optimizer
    from dream3d.pipeline.stage2 import decay_lr

    field = DVGOField(DensityGrid.from_sdf(sphere_sdf(8, radius=0.5)), ColorMLP(n_frequencies=1, width=8))
    options = {"prompt": "a chair", "out": "unused", "steps": 100, "lr_grid": 0.2, "lr_color": 1e-2}
    optimizer = make_optimizer(build_config({**options, "lr_decay": 0.1}), field)
    decay_lr(build_config({**options, "lr_decay": 0.1}), optimizer, 50)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.2 * 0.1 ** 0.5, 1e-2 * 0.1 ** 0.5])
    decay_lr(build_config({**options, "lr_decay": 0.1}), optimizer, 100)
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.02, 1e-3])
    kept = make_optimizer(build_config(options), field)  # lr_decay 1: the rates stay where they start
    decay_lr(build_config(options), kept, 100)
    assert [g["lr"] for g in kept.param_groups] == [0.2, 1e-2]


def test_bad_lr_decay_and_eval_size_are_named():
    from dream3d.pipeline import build_config
    from dream3d.pipeline.config import ConfigError

    options = {"prompt": "a chair", "out": "unused"}
    with pytest.raises(ConfigError, match="lr_decay"):
        build_config({**options, "lr_decay": 0.0})
    with pytest.raises(ConfigError, match="eval_size"):
        build_config({**options, "eval_size": 4})
    assert build_config({**options, "eval_size": 32}).eval_size == 32


def test_supersampled_views_average_the_finer_render():
    from dream3d.cameras import random_orbit_cameras
    from dream3d.pipeline.views import render_views

    field = DVGOField(DensityGrid.from_sdf(sphere_sdf(16, radius=0.5)), ColorMLP(n_frequencies=1, width=8))
    cams = random_orbit_cameras(1, 4.0, torch.Generator().manual_seed(0), (0.0, 30.0))
    rgb, opacity = render_views(field, cams, 8, 40.0, supersample=2)
    fine_rgb, fine_opacity = render_views(field, cams, 16, 40.0)
    assert rgb.shape == (1, 8, 8, 3) and opacity.shape == (1, 8, 8)
    torch.testing.assert_close(opacity[0, 3:5, 3:5], fine_opacity[0, 6:10, 6:10].reshape(2, 2, 2, 2).mean((1, 3)))
    torch.testing.assert_close(rgb[0, 2, 5], fine_rgb[0, 4:6, 10:12].reshape(4, 3).mean(0))


def test_offline_preview_fits_many_views_and_keeps_the_evaluation_at_48_px():
    from dream3d.pipeline import build_config

    options = {"prompt": "a chair", "out": "unused", "preset": "preview"}
    offline = build_config({**options, "guidance": "none"})
    # 24 views let the silhouettes' soft edges fit the training views only (-1.9 dB held out, 3 categories)
    assert offline.n_views >= 64
    assert (offline.eval_size or offline.view_size) == 48
    for preset in ("preview", "high", "paper"):  # every offline fit learns the prior's edges, not its pixels
        assert build_config({**options, "preset": preset, "guidance": "none"}).point_targets
    assert not build_config({**options, "guidance": "clip", "preset": "preview"}).point_targets


@pytest.mark.parametrize("w_prior, w_tv, logged", [(1.0, 0.0, ["prior"]), (0.0, 1e-3, ["tv"]),
                                                    (0.5, 1e-3, ["prior", "tv"]), (0.0, 0.0, [])])
def test_only_regularisers_of_nonzero_weight_are_added_and_logged(w_prior, w_tv, logged):
    from dream3d.pipeline import build_config
    from dream3d.pipeline.field_init import build_field, make_optimizer
    from dream3d.pipeline.stage2 import _step, active_regularisers
    from dream3d.shape import SDFGrid

    config = build_config({"prompt": "a chair", "out": "x", "resolution": 16, "color_width": 8,
                           "w_prior": w_prior, "w_tv": w_tv})
    assert list(active_regularisers(config)) == logged
    sdf = sphere_sdf(16, radius=0.5)
    field = build_field(config, SDFGrid(sdf), 16, "cpu")
    guidance = lambda field, step, gen: (field.density.values.square().mean(), {})  # noqa: E731
    with torch.no_grad():  # the terms before the step, which the step adds and logs
        prior, tv = regularisers(field, sdf)
        expected = guidance(field, 0, None)[0] + w_prior * prior + w_tv * tv
    out = _step(config, field, make_optimizer(config, field), sdf, guidance, 0, torch.Generator())
    assert sorted(k for k in out if k != "loss") == logged
    assert out["loss"] == pytest.approx(float(expected), rel=1e-6)
    for name, value in (("prior", prior), ("tv", tv)):
        if name in logged:
            assert out[name] == pytest.approx(float(value), rel=1e-6)
