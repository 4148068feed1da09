"""--prior none, the paper's "w/o 3D prior" ablation: DVGO from its empty init with no prior loss, grown
by a guidance that has a target (here CLIP, a tiny random one); metrics that compare with a prior are
left out, and the report copes."""
from __future__ import annotations

import json
import math

import pytest
import torch

from dream3d.pipeline import ConfigError, build_config, run

pytest.importorskip("open_clip")

TINY = {"prompt": "a red chair", "prior": "none", "guidance": "clip", "resolution": 16, "clip_render_size": 32,
        "clip_augments": 1, "color_width": 16, "view_size": 16, "turntable_frames": 1, "turntable_size": 16,
        "threads": 1, "trans_anneal_steps": 4, "steps": 4, "checkpoint_every": 2}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    from prior_helpers import make_tiny_clip

    config, weights = make_tiny_clip(tmp_path_factory.mktemp("clip"))
    return {"clip_model": config, "clip_checkpoint": weights}


def test_prior_none_needs_a_guidance_with_a_target(tmp_path, capsys):
    with pytest.raises(ConfigError, match="give --guidance clip or sds"):
        build_config({**TINY, "guidance": "none", "out": str(tmp_path / "o")})
    from dream3d.cli import main

    assert main(["--prompt", "a chair", "--prior", "none", "--out", str(tmp_path / "o")]) == 2
    assert "--prior none starts DVGO from its empty init" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_prior_none_has_nothing_to_preview(tmp_path, capsys):
    from dream3d.cli import main

    assert main(["--prompt", "a chair", "--prior", "none", "--guidance", "clip", "--prior-only",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--prior none has none" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_prior_none_has_no_prior_loss(tmp_path):
    assert build_config({**TINY, "out": "o"}).w_prior == 0
    with pytest.raises(ConfigError, match="w_prior must be 0"):
        build_config({**TINY, "out": "o", "w_prior": 0.03})
    with pytest.raises(ConfigError, match="no --prior-mesh"):
        build_config({**TINY, "out": "o", "prior_sdf": "g.npz"})


def test_prior_none_starts_every_voxel_at_the_same_small_opacity():
    """DVGO's alpha_init of a grid trained from scratch (1e-2 per voxel): at the prior runs' 1e-6 the
    renderer would keep no sample and the field could not grow."""
    from dream3d.pipeline.field_init import EMPTY_ALPHA_PER_VOXEL, build_field
    from dream3d.pipeline.priors import resolve_prior

    config = build_config({**TINY, "out": "o"})
    field = build_field(config, resolve_prior(config).grid, config.resolution, "cpu")
    values = field.density.values.detach()
    assert values.shape == (16, 16, 16) and torch.all(values == values[0, 0, 0])
    sigma = torch.nn.functional.softplus(values[0, 0, 0] + field.density.act_shift)
    voxel = 2 / 15
    assert 1 - math.exp(-float(sigma) * voxel) == pytest.approx(EMPTY_ALPHA_PER_VOXEL, rel=1e-4)
    from dream3d.field import DensityGrid

    assert field.density.act_shift == DensityGrid.empty(4).act_shift  # the shift field files are read with


def test_a_prior_none_run_leaves_out_the_prior_metrics_and_writes_its_report(tmp_path, tiny_clip):
    out = tmp_path / "run"
    metrics = run(build_config({**TINY, **tiny_clip, "out": str(out)}), log=print)
    saved = json.loads((out / "metrics.json").read_text())
    for key in ("psnr_heldout", "mask_mse_heldout", "chamfer_to_prior"):
        assert key not in metrics and key not in saved
    assert saved["prior_source"] == "none" and -1 <= saved["clip_score_heldout"] <= 1
    assert not (out / "prior.npz").exists() and not (out / "prior.glb").exists()
    page = (out / "report.html").read_text()
    assert "a red chair" in page and "nan" not in page.lower()
