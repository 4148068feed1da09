"""The text-to-shape route end to end on tiny models (G_S, CLIP and a G_M trained here on data built
from them, all saved to a models folder and loaded back): dream3d-shape's outputs, the image and
embedding inputs, dream3d-run's --prior text2shape, and the errors for missing or mismatched models."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("open_clip")

from dream3d.models_dir import ENV_MODELS  # noqa: E402
from dream3d.pipeline import PriorError, build_config, resolve_prior  # noqa: E402
from dream3d.shape import SDFGrid, load_sdf  # noqa: E402
from dream3d.text2shape import (Text2ShapeError, load_models, resolve_paths, shape_from_embedding,  # noqa: E402
                                text_to_shape, write_shape)
from dream3d.text2shape.cli import main  # noqa: E402
from dream3d.text2shape.models import clip_spec  # noqa: E402
from prior_helpers import TINY_CLIP, make_stage1_models  # noqa: E402


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """MODELS/{generator.pt, prior.pt, clip/tiny-prior-clip.{json,pt}}, the prior trained on data built
    from this G_S and CLIP."""
    threads = torch.get_num_threads()
    models = make_stage1_models(tmp_path_factory.mktemp("t2s"), train_steps=6)
    torch.set_num_threads(threads)
    return models


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv(ENV_MODELS, raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def loaded(models_dir):
    return load_models(resolve_paths(models_dir))


def test_shape_cli_writes_every_output(models_dir, tmp_path, capsys):
    out = tmp_path / "chair"
    args = ["--prompt", "a swivel chair", "--models", str(models_dir), "--out", str(out), "--resolution", "20",
            "--preview-size", "32", "--device", "cpu"]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["preview.png", "shape.glb", "shape.json", "shape.npz"]
    grid = load_sdf(out / "shape.npz")
    assert grid.resolution == (20, 20, 20) and torch.isfinite(grid.values).all()
    assert grid.values.min() < 0 < grid.values.max()
    import imageio.v3 as iio
    import trimesh
    assert iio.imread(out / "preview.png").shape == (32, 4 * 32, 3)
    assert len(trimesh.load(out / "shape.glb", force="mesh").vertices) > 0
    info = json.loads((out / "shape.json").read_text())
    assert info["prompt"] == "a swivel chair" and info["source"] == "text" and len(info["w"]) == 8
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # the staging folder is gone
    assert main(args) == 2 and "not empty" in capsys.readouterr().err  # refused without --overwrite
    assert main(args + ["--overwrite", "--seed", "3"]) == 0
    assert json.loads((out / "shape.json").read_text())["seed"] == 3


def test_seeds_repeat_and_embeddings_go_in_directly(loaded):
    a = text_to_shape(loaded, prompt="a lamp", resolution=12, seed=1)
    b = text_to_shape(loaded, prompt="a lamp", resolution=12, seed=1)
    c = text_to_shape(loaded, prompt="a lamp", resolution=12, seed=2)
    assert torch.equal(a.grid.values, b.grid.values) and not torch.equal(a.w, c.w)
    direct = shape_from_embedding(loaded, loaded.clip.embed_text(["a lamp"]), resolution=12, seed=1)
    assert torch.equal(direct.w, a.w)
    ddim = text_to_shape(loaded, prompt="a lamp", resolution=12, sampler="ddim", steps=4)
    assert ddim.grid.resolution == (12, 12, 12) and torch.isfinite(ddim.grid.values).all()


def test_an_image_conditions_the_prior(loaded, tmp_path):
    import imageio.v3 as iio

    pixels = (np.random.default_rng(0).random((40, 60, 4)) * 255).astype(np.uint8)
    iio.imwrite(tmp_path / "photo.png", pixels)
    shape = text_to_shape(loaded, image=tmp_path / "photo.png", resolution=12)
    assert shape.source == "image" and shape.grid.resolution == (12, 12, 12)
    text = text_to_shape(loaded, prompt="a photo", resolution=12)
    assert not torch.equal(shape.embedding, text.embedding)
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(Text2ShapeError, match="not a readable image"):
        text_to_shape(loaded, image=tmp_path / "notes.png")
    with pytest.raises(Text2ShapeError, match="exactly one"):
        text_to_shape(loaded, prompt="a", image=tmp_path / "photo.png")


def test_dream3d_run_text2shape_prior_uses_the_same_route(models_dir, loaded, monkeypatch):
    monkeypatch.setenv(ENV_MODELS, str(models_dir))
    prior = resolve_prior(build_config({"prompt": "a chair", "out": "x", "prior": "text2shape", "resolution": 16,
                                        "shape_seed": 2}))
    assert prior.source == "text2shape" and prior.grid.resolution == (16, 16, 16)
    same = text_to_shape(loaded, prompt="a chair", resolution=16, seed=2)
    torch.testing.assert_close(prior.grid.values, same.grid.values)
    # --models names the folder explicitly, over the environment
    monkeypatch.setenv(ENV_MODELS, str(models_dir.parent / "nowhere"))
    named = resolve_prior(build_config({"prompt": "a chair", "out": "x", "prior": "text2shape", "resolution": 16,
                                        "shape_seed": 2, "models": str(models_dir)}))
    torch.testing.assert_close(named.grid.values, same.grid.values)
    finer = resolve_prior(build_config({"prompt": "a chair", "out": "x", "prior": "text2shape", "resolution": 16,
                                        "shape_seed": 2, "models": str(models_dir), "prior_resolution": 24}))
    assert finer.grid.resolution == (24, 24, 24)


def test_missing_models_are_named_with_how_to_make_them(models_dir, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    base = ["--prompt", "a chair", "--out", str(out)]
    assert main(base) == 2
    err = capsys.readouterr().err
    for needle in ("not configured", "--models", ENV_MODELS, "generator.pt", "prior.pt", "dream3d-train-shape",
                   "dream3d-train-prior"):
        assert needle in err, needle
    assert main(base + ["--models", str(tmp_path / "nowhere")]) == 2
    assert "no such folder" in capsys.readouterr().err
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(models_dir / "generator.pt", partial / "generator.pt")
    monkeypatch.setenv(ENV_MODELS, str(partial))
    assert main(base) == 2
    err = capsys.readouterr().err
    assert "prior.pt is missing" in err and "dream3d-train-prior" in err and "generator.pt" not in err
    with pytest.raises(PriorError, match="text2shape: .*prior.pt is missing"):
        resolve_prior(build_config({"prompt": "a chair", "out": "x", "prior": "text2shape"}))
    assert not out.exists()


def test_mismatched_models_are_refused(models_dir, tmp_path, capsys):
    from dream3d.shape.generator import ShapeGenerator, get_config

    swapped = tmp_path / "swapped"
    shutil.copytree(models_dir, swapped)
    shutil.copy(models_dir / "generator.pt", swapped / "prior.pt")  # a G_S file where G_M belongs
    out = tmp_path / "out"
    assert main(["--prompt", "a chair", "--models", str(swapped), "--out", str(out)]) == 2
    assert "not a G_M prior checkpoint" in capsys.readouterr().err
    shutil.copy(models_dir / "prior.pt", swapped / "prior.pt")
    ShapeGenerator(get_config("tiny", w_dim=4)).save(swapped / "generator.pt")
    assert main(["--prompt", "a chair", "--models", str(swapped), "--out", str(out)]) == 2
    assert "w_dim 4" in capsys.readouterr().err
    assert not out.exists()


def test_a_shape_without_surface_leaves_nothing(tmp_path):
    with pytest.raises(Text2ShapeError, match="no surface"):
        write_shape(tmp_path / "out", SDFGrid(torch.ones(8, 8, 8)), {})
    assert list(tmp_path.iterdir()) == []


def test_a_recorded_json_architecture_is_rebuilt(models_dir, tmp_path):
    paths = resolve_paths(models_dir)
    spec = clip_spec(paths, {"model": "not-registered-clip", "pretrained": "", "config": TINY_CLIP})
    assert spec.model.endswith("not-registered-clip.json") and json.loads(open(spec.model).read()) == TINY_CLIP
    assert spec.checkpoint == str(models_dir / "clip")
    with pytest.raises(Text2ShapeError, match="put not-registered-clip-2.json in MODELS/clip/"):
        clip_spec(paths, {"model": "not-registered-clip-2"})
