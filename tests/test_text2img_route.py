"""G_I in the text-to-shape route: background removal against known masks, and dream3d-shape with a G_I
folder (--sd or MODELS/sd) on tiny G_S, CLIP, G_M and Stable Diffusion models: the embedding G_M gets is
CLIP's of the cut-out G_I image, the images are written beside the shape, --no-sd falls back to text."""
from __future__ import annotations

import json

import pytest
import torch

from dream3d.text2img import Text2ImgError, remove_background


def disc_image(size=64, background=(0.2, 0.6, 0.3), colour=(0.9, 0.1, 0.1), hole=False, noise=0.01, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.arange(size) + 0.5, torch.arange(size) + 0.5, indexing="ij")
    r = ((x - size / 2) ** 2 + (y - size / 2) ** 2).sqrt()
    mask = r < size * 0.3
    if hole:
        mask &= r > size * 0.12
    image = torch.where(mask, torch.tensor(colour).view(3, 1, 1), torch.tensor(background).view(3, 1, 1))
    return (image + noise * torch.randn(image.shape, generator=gen)).clamp(0, 1), mask


@pytest.mark.parametrize("hole", [False, True])
def test_background_colour_and_mask_are_recovered(hole, torch_seed):
    background = torch.rand(3, generator=torch.Generator().manual_seed(torch_seed)) * 0.5
    image, truth = disc_image(background=tuple(background.tolist()), colour=(0.95, 0.9, 0.9), hole=hole)
    cut = remove_background(image, fill=(1.0, 1.0, 1.0))
    torch.testing.assert_close(cut.background, background, rtol=0, atol=0.01)
    iou = (cut.mask & truth).sum() / (cut.mask | truth).sum()
    assert iou > 0.97  # the ring's hole is background too: the shape's own holes stay open
    assert cut.border_spread < 0.05
    assert torch.equal(cut.image[:, ~cut.mask], torch.ones(3, int((~cut.mask).sum())))
    torch.testing.assert_close(cut.image[:, cut.mask], image[:, cut.mask])
    with pytest.raises(Text2ImgError, match=r"\(3, H, W\)"):
        remove_background(image[None])
    with pytest.raises(Text2ImgError, match="does not fit"):
        remove_background(image, border=40)


def test_a_busy_border_reports_a_large_spread():
    image = torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(1))
    assert remove_background(image).border_spread > 0.2


# --- dream3d-shape with G_I ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def models_with_gi(tmp_path_factory):
    from text2img_helpers import build_models_with_gi

    return build_models_with_gi(tmp_path_factory.mktemp("t2s-gi"))


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.delenv("DREAM3D_MODELS", raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_shape_cli_runs_the_prompt_through_gi(models_with_gi, tmp_path):
    import imageio.v3 as iio

    from dream3d.text2img.generate import load_gi
    from dream3d.text2img.route import gi_embedding
    from dream3d.text2shape import load_models, resolve_paths, shape_from_embedding
    from dream3d.text2shape.cli import main

    out = tmp_path / "chair"
    common = ["--models", str(models_with_gi), "--resolution", "12", "--preview-size", "16", "--device", "cpu",
              "--sd-steps", "2", "--seed", "4"]
    assert main(["--prompt", "a swivel chair", "--out", str(out), *common]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["gi_cutout.png", "gi_image.png", "preview.png", "shape.glb",
                                                     "shape.json", "shape.npz"]
    info = json.loads((out / "shape.json").read_text())
    assert info["source"] == "gi" and info["sd_prompt"] == "a swivel chair in the style of <*>"
    assert info["sd"] == str(models_with_gi / "sd")
    assert iio.imread(out / "gi_image.png").shape == (32, 32, 3)
    assert iio.imread(out / "gi_cutout.png").shape == (32, 32, 4)
    # the same seed through the functions: G_M was given CLIP's embedding of the cut-out image
    models = load_models(resolve_paths(models_with_gi), log=lambda *a: None)
    step = gi_embedding(load_gi(models_with_gi / "sd"), models.clip, "a swivel chair", seed=4, steps=2)
    torch.testing.assert_close(step.embedding[0], models.clip.embed_images(step.cutout.image[None])[0])
    shape = shape_from_embedding(models, step.embedding, resolution=12, seed=4, source="gi")
    torch.testing.assert_close(torch.tensor(info["w"]), shape.w, rtol=1e-5, atol=1e-6)
    # --no-sd: the text embedding (the "without text-to-image" ablation); --sd must exist
    assert main(["--prompt", "a swivel chair", "--out", str(tmp_path / "text"), "--no-sd", *common]) == 0
    assert json.loads((tmp_path / "text" / "shape.json").read_text())["source"] == "text"
    assert main(["--prompt", "a chair", "--out", str(tmp_path / "x"), "--sd", str(tmp_path / "nope"), *common]) == 2
    assert not (tmp_path / "x").exists()


def test_dream3d_run_prior_goes_through_gi_too(models_with_gi):
    from dream3d.text2img.generate import load_gi
    from dream3d.text2img.route import gi_embedding
    from dream3d.text2shape import generate_prior, load_models, resolve_paths

    shape = generate_prior("a chair", 12, seed=2, models=str(models_with_gi))
    assert shape.source == "gi"
    models = load_models(resolve_paths(models_with_gi), log=lambda *a: None)
    step = gi_embedding(load_gi(models_with_gi / "sd"), models.clip, "a chair", seed=2)
    torch.testing.assert_close(shape.embedding, step.embedding[0])
