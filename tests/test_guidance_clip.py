"""CLIP guidance with a tiny open_clip model built here from a small config (random weights), saved to
a checkpoint file and loaded back through the same local-path code as real weights: where the weights
are looked for, that they load, an end-to-end run, its resume, and the missing-weights stop."""
from __future__ import annotations

import json

import pytest
import torch

open_clip = pytest.importorskip("open_clip")

from dream3d.guidance import ENV_CHECKPOINT, ClipSpec, GuidanceError, load_clip, locate_weights  # noqa: E402
from dream3d.pipeline import build_config, run  # noqa: E402
from dream3d.pipeline.checkpoint import CHECKPOINT  # noqa: E402
from pipeline_helpers import checkpoint_state, whole_and_resumed  # noqa: E402
from prior_helpers import save_tiny_clip  # noqa: E402

TINY_CLIP = {"embed_dim": 32,
             "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2}}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    """(config path, checkpoint path, the model that was saved)."""
    config, weights, model = save_tiny_clip(tmp_path_factory.mktemp("tiny_clip"), "tiny-clip", TINY_CLIP)
    return config, weights, model.eval()


@pytest.fixture(autouse=True)
def no_env_checkpoint(monkeypatch):
    monkeypatch.delenv(ENV_CHECKPOINT, raising=False)


def test_loaded_weights_are_the_saved_ones(tiny_clip):
    config, checkpoint, model = tiny_clip
    guide = load_clip(ClipSpec(model=config, checkpoint=checkpoint))
    assert guide.image_size == 32
    tokens = open_clip.get_tokenizer("tiny-clip")(["a red chair"])
    with torch.no_grad():
        expected = torch.nn.functional.normalize(model.encode_text(tokens), dim=-1)
    torch.testing.assert_close(guide.embed_text(["a red chair"]), expected)
    assert not any(p.requires_grad for p in guide.parameters())  # frozen


def test_image_gradients_flow_through_the_frozen_model(tiny_clip):
    config, checkpoint, _ = tiny_clip
    guide = load_clip(ClipSpec(model=config, checkpoint=checkpoint))
    images = torch.rand(3, 3, 48, 48, requires_grad=True)  # resized to 32 inside
    sim = guide.similarity(images, guide.embed_text(["a lamp"]))
    assert sim.shape == (3,) and ((sim >= -1) & (sim <= 1)).all()
    sim.sum().backward()
    assert images.grad.abs().sum() > 0


def test_weights_are_found_in_a_folder_and_through_the_environment(tiny_clip, tmp_path, monkeypatch):
    config, checkpoint, _ = tiny_clip
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "open_clip_pytorch_model.bin").write_bytes(open(checkpoint, "rb").read())
    (folder / "notes.txt").write_text("not weights")
    assert locate_weights(ClipSpec(model=config, checkpoint=str(folder))).path == str(folder / "open_clip_pytorch_model.bin")
    monkeypatch.setenv(ENV_CHECKPOINT, checkpoint)
    assert locate_weights(ClipSpec(model=config)).path == checkpoint
    with pytest.raises(GuidanceError, match="no such file"):
        locate_weights(ClipSpec(model=config, checkpoint=str(tmp_path / "missing.pt")))
    with pytest.raises(GuidanceError, match="holds no weights file"):
        locate_weights(ClipSpec(model=config, checkpoint=str(tmp_path)))


def _fake_hub_file(cache, repo, filename, data=b"weights"):
    """The Hugging Face cache layout: models--org--name/{refs/main, snapshots/<rev>/<file>}."""
    root = cache / ("models--" + repo.replace("/", "--"))
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text("0123abcd")
    snapshot = root / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / filename).write_bytes(data)
    return snapshot / filename


def test_pretrained_tags_are_found_in_the_caches_without_the_network(tmp_path):
    # ViT-B-16 / openai: the hub repository timm/vit_base_patch16_clip_224.openai, else open_clip's url cache
    spec = ClipSpec(model="ViT-B-16", pretrained="openai", cache_dir=str(tmp_path))
    with pytest.raises(GuidanceError) as err:
        locate_weights(spec)
    message = str(err.value)
    for needle in ("not found offline", str(tmp_path), "timm/vit_base_patch16_clip_224.openai", ENV_CHECKPOINT,
                   "--clip-checkpoint", "--clip-download", "--guidance none"):
        assert needle in message, needle
    url_file = tmp_path / "ViT-B-16.pt"
    url_file.write_bytes(b"x")
    found = locate_weights(spec)
    assert found.path == str(url_file) and found.quick_gelu and found.trusted_pickle
    hub_file = _fake_hub_file(tmp_path, "timm/vit_base_patch16_clip_224.openai", "open_clip_model.safetensors")
    found = locate_weights(spec)
    assert found.path == str(hub_file) and found.quick_gelu and not found.trusted_pickle
    assert locate_weights(ClipSpec(model="ViT-B-16", cache_dir=str(tmp_path / "empty"), download=True)).path is None


def test_bad_models_and_tags_say_what_exists(tiny_clip, tmp_path):
    with pytest.raises(GuidanceError, match="unknown CLIP architecture 'ViT-Q-99'"):
        locate_weights(ClipSpec(model="ViT-Q-99"))
    with pytest.raises(GuidanceError, match="no such open_clip config file"):
        locate_weights(ClipSpec(model=str(tmp_path / "nope.json")))
    with pytest.raises(GuidanceError, match="tags: .*laion2b_s34b_b88k"):
        locate_weights(ClipSpec(model="ViT-B-16", pretrained="imaginary"))
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(GuidanceError, match="cannot load CLIP"):
        load_clip(ClipSpec(model=tiny_clip[0], checkpoint=str(broken)))


TINY_RUN = {"prompt": "a red chair", "guidance": "clip", "resolution": 32, "clip_render_size": 32,
            "clip_augments": 2, "color_width": 32, "view_size": 32, "turntable_frames": 4, "turntable_size": 32,
            "threads": 1, "trans_anneal_steps": 20}


@pytest.fixture(scope="module")
def clip_run(tiny_clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("clip_run") / "run"
    config, checkpoint, _ = tiny_clip
    metrics = run(build_config({**TINY_RUN, "clip_model": config, "clip_checkpoint": checkpoint, "out": str(out),
                                "steps": 60, "checkpoint_every": 20}), log=print)
    return out, metrics


def test_clip_run_writes_every_output(clip_run):
    out, metrics = clip_run
    for name in ("prior.npz", "prior.glb", "mesh.glb", "turntable.gif", "turntable.mp4", "config.yaml",
                 "metrics.json", "report.html", "field.safetensors", CHECKPOINT):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    saved = json.loads((out / "metrics.json").read_text())
    assert set(saved["timings_s"]) == {"prior", "guidance", "optimise", "evaluate", "outputs"}
    assert -1 <= saved["clip_score_heldout"] <= 1
    assert saved["final"]["trans_target"] == pytest.approx(0.88)  # annealed all the way
    page = (out / "report.html").read_text()
    assert "CLIP score" in page and "transmittance loss" in page


def test_clip_loss_goes_down(clip_run, tiny_clip):
    """The CLIP loss of the same views and augmentations (one fixed generator) before and after the run:
    per-step values are too noisy (random views and backgrounds) to compare."""
    from dream3d.pipeline import resolve_prior
    from dream3d.pipeline.objectives import ClipGuidance
    from dream3d.pipeline.field_init import build_field

    out, _ = clip_run
    config = build_config({**TINY_RUN, "clip_model": tiny_clip[0], "clip_checkpoint": tiny_clip[1],
                           "out": str(out), "clip_views": 4, "clip_augments": 4})
    objective = ClipGuidance(config, load_clip(ClipSpec(model=tiny_clip[0], checkpoint=tiny_clip[1])))
    field = build_field(config, resolve_prior(config).grid, config.resolution, "cpu")

    def fixed_clip_loss():
        with torch.no_grad():
            return objective(field, 10**6, torch.Generator().manual_seed(123))[1]["clip"]

    before = fixed_clip_loss()
    field.load_state_dict(checkpoint_state(out)["model"])
    after = fixed_clip_loss()
    assert after < before - 0.01, (before, after)


def test_clip_run_resumes_bitwise(tiny_clip, tmp_path):
    config, checkpoint, _ = tiny_clip
    options = {**TINY_RUN, "clip_model": config, "clip_checkpoint": checkpoint, "steps": 12, "checkpoint_every": 5}
    whole, cut, _ = whole_and_resumed(options, tmp_path, kill_step=7)
    assert whole["history"] == cut["history"]
    for name, value in whole["model"].items():
        assert torch.equal(value, cut["model"][name]), name


def test_cli_missing_weights_stop_before_any_work(tmp_path, capsys):
    from dream3d.cli import main

    out = tmp_path / "o"
    code = main(["--prompt", "a chair", "--guidance", "clip", "--clip-cache-dir", str(tmp_path / "cache"),
                 "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "not found offline" in err and str(tmp_path / "cache") in err and ENV_CHECKPOINT in err
    assert not out.exists()  # stopped before the output folder was made


@pytest.mark.parametrize("shading, colour_moves", [("shaded", False), ("color", True)])
def test_shaded_guidance_moves_only_the_density(tiny_clip, tmp_path, shading, colour_moves):
    from dream3d.pipeline import resolve_prior
    from dream3d.pipeline.field_init import build_field
    from dream3d.pipeline.objectives import ClipGuidance

    config = build_config({**TINY_RUN, "clip_model": tiny_clip[0], "clip_checkpoint": tiny_clip[1],
                           "out": str(tmp_path), "clip_shading": shading})
    objective = ClipGuidance(config, load_clip(ClipSpec(model=tiny_clip[0], checkpoint=tiny_clip[1])))
    field = build_field(config, resolve_prior(config).grid, config.resolution, "cpu")
    loss, logs = objective(field, 0, torch.Generator().manual_seed(0))
    loss.backward()
    assert field.density.values.grad.abs().sum() > 0 and -1 <= logs["clip_score"] <= 1
    colour_grads = [p.grad for p in field.color.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in colour_grads) == colour_moves
