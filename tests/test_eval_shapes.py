"""dream3d-eval-shapes on tiny models: every mode through the route's own functions, the counts of the
protocol, FID ~0 against a reference made of the generated shapes themselves and > 0 against the
library, reruns reusing kept shapes, and refusals (no Inception weights, no G_I) before any work."""
from __future__ import annotations

import json

import pytest
import torch

from dream3d.eval.fid import image_features
from dream3d.eval.text2shape_fid import RenderSpec, prompt_categories, render_set


class TinyFeatures(torch.nn.Module):
    """A small random conv net standing in for Inception (same FID code path)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(),
                                       torch.nn.Conv2d(8, 12, 3, stride=2), torch.nn.ReLU())

    def forward(self, x):
        return self.net(x * 2 - 1).mean((2, 3))


@pytest.fixture(scope="module")
def models_with_gi(tmp_path_factory):
    from text2img_helpers import build_models_with_gi

    return build_models_with_gi(tmp_path_factory.mktemp("eval-gi"))


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.delenv("DREAM3D_MODELS", raising=False)
    monkeypatch.delenv("DREAM3D_INCEPTION", raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_shipped_prompts_name_every_category():
    from dream3d.eval.prompt_sets import load_prompt_set
    from dream3d.eval.text2shape_cli import DEFAULT_PROMPTS
    from dream3d.shape import CATEGORIES, category_from_prompt

    _, prompts = load_prompt_set(str(DEFAULT_PROMPTS))
    assert len(prompts) == 39 and all(category_from_prompt(p) is not None for p in prompts)
    assert prompt_categories(prompts) == list(CATEGORIES)
    assert prompt_categories(["a cat"]) == list(CATEGORIES) and prompt_categories(["a red sofa"]) == ["sofa"]


def test_every_mode_runs_and_a_set_against_itself_is_zero(models_with_gi, tmp_path):
    from types import SimpleNamespace

    from dream3d.eval.text2shape_cli import evaluate, gi_folders, shape_makers
    from dream3d.text2shape import load_models, resolve_paths

    args = SimpleNamespace(models=str(models_with_gi), sd=None, sd_base=None, resolution=12, sd_steps=2,
                           sd_guidance_scale=3.0, sd_scheduler="ddim")
    modes = ["full", "no-finetune", "no-text2img"]
    folders = gi_folders(args, modes)
    assert folders["full"] == models_with_gi / "sd" and folders["no-finetune"].name == "base"  # from dream3d_gi.json
    models = load_models(resolve_paths(models_with_gi), log=lambda *a: None)
    makers = shape_makers(models, modes, folders, args, "cpu")
    spec = RenderSpec(views=2, size=24)
    net = TinyFeatures()
    prompts = ["a chair", "a table"]
    out = tmp_path / "eval"
    results = evaluate(makers, prompts, net, out, spec, shapes_per_prompt=2, seed=5, reference="library",
                       per_category=2, resolution=12, log=lambda *a: None)
    assert results["reference_categories"] == ["chair", "table"] and results["reference_shapes"] == 4
    for mode in modes:
        assert sorted(p.name for p in (out / "shapes" / mode).iterdir()) == ["000-0.npz", "000-1.npz", "001-0.npz",
                                                                             "001-1.npz"]
        assert results["fid"][mode] > 0
    assert json.loads((out / "fid.json").read_text())["fid"] == results["fid"]
    # the generated shapes as the reference: the same renders, FID ~0 (tiny models give some empty grids,
    # which render as blank images on both sides)
    same = evaluate({"no-text2img": makers["no-text2img"]}, prompts, net, out, spec, 2, 5,
                    reference=str(out / "shapes" / "no-text2img"), resolution=12, log=lambda *a: None)
    assert same["fid"]["no-text2img"] == pytest.approx(0, abs=1e-6)
    # a rerun reuses the kept shapes: no generation, the same value
    rerun = evaluate({m: (lambda p, s: pytest.fail("regenerated")) for m in modes}, prompts, net, out, spec, 2, 5,
                     per_category=2, resolution=12, log=lambda *a: None)
    assert rerun["fid"] == pytest.approx(results["fid"], rel=1e-9)


def test_renders_are_the_protocol_views(tmp_path):
    from dream3d.shape import library_sdf_grid

    grids = [library_sdf_grid("chair", 16), library_sdf_grid("lamp", 16)]
    images = render_set(grids, RenderSpec(views=5, size=20))
    assert images.shape == (10, 3, 20, 20) and 0 <= images.min() and images.max() <= 1
    assert (images[:5] - images[5:]).abs().max() > 0.1  # shapes differ, views of one shape differ
    assert (images[0] - images[4]).abs().max() > 0.1
    assert image_features(TinyFeatures(), images).shape == (10, 12)


def test_refusals_before_any_work(models_with_gi, tmp_path, capsys, monkeypatch):
    from dream3d.eval.text2shape_cli import main

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    out = tmp_path / "eval"
    assert main(["--out", str(out), "--models", str(models_with_gi)]) == 2
    assert "Inception-v3 weights for FID were not found offline" in capsys.readouterr().err
    weights = tmp_path / "inception.pth"
    torch.save({"Mixed_7c.branch_pool.conv.weight": torch.zeros(1)}, weights)
    assert main(["--out", str(out), "--models", str(models_with_gi), "--inception", str(weights)]) == 2
    assert "cannot load Inception-v3 weights" in capsys.readouterr().err
    assert main(["--out", str(out), "--prompts", str(tmp_path / "none.txt")]) == 2
    assert "prompt set" in capsys.readouterr().err
    assert not out.exists()
