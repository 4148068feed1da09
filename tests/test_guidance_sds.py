"""Score distillation with a tiny Stable Diffusion saved in diffusers' layout and loaded back through
the same code as a real model: the gradient is w(t) (eps_hat - eps) through the VAE and reaches the
density grid and the colour model; with a denoiser whose answer is known, steps at a fixed timestep and
noise lower the SDS residual; a run resumes bit for bit on the CPU; a missing model stops the run with
the lookup message; view suffixes and the timestep schedule by hand."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

pytest.importorskip("diffusers")
pytest.importorskip("transformers")

from dream3d.cameras import orbit_camera  # noqa: E402
from dream3d.guidance import GuidanceError  # noqa: E402
from dream3d.guidance.sds import ENV_MODEL, SDSpec, load_sd, locate_model, timestep_range, view_suffix  # noqa: E402
from dream3d.pipeline import build_config, resolve_prior  # noqa: E402
from dream3d.pipeline.objectives import ScoreDistillation, make_objective  # noqa: E402
from dream3d.pipeline.field_init import build_field  # noqa: E402
from pipeline_helpers import whole_and_resumed  # noqa: E402
from sd_helpers import build_tiny_sd  # noqa: E402
from test_guidance_clip import _fake_hub_file  # noqa: E402


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory):
    return build_tiny_sd(tmp_path_factory.mktemp("tiny_sd"))


@pytest.fixture(autouse=True)
def no_env_model(monkeypatch):
    monkeypatch.delenv(ENV_MODEL, raising=False)


@pytest.fixture(autouse=True)
def one_thread():
    """One thread, as the preview runs use: on a busy 2-core machine torch's per-op thread barriers made
    these small steps several times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _options(root, **extra):
    return {"prompt": "a red chair", "guidance": "sds", "sd_model": str(root), "resolution": 24,
            "sds_render_size": 16, "threads": 1, "color_width": 32, "view_size": 16, "turntable_frames": 2,
            "turntable_size": 16, **extra}


def _setup(root, tmp_path, **extra):
    config = build_config({**_options(root, **extra), "out": str(tmp_path / "o")})
    grid = resolve_prior(config).grid
    return config, make_objective(config, grid, "cpu", str(root)), build_field(config, grid, config.resolution, "cpu")


def test_view_suffixes_and_timestep_schedule():
    assert [view_suffix(orbit_camera(4.0, az, 10.0)) for az in (0, 30, -44, 60, 120, 150, 180, 230, 300)] == [
        "front", "front", "front", "side", "side", "back", "back", "side", "side"]
    assert view_suffix(orbit_camera(4.0, 180.0, 61.0)) == "overhead"
    assert timestep_range(0, 1000, 0.02, 0.98, 0.5, 100) == (20, 980)
    assert timestep_range(50, 1000, 0.02, 0.98, 0.5, 100) == (20, 740)
    assert timestep_range(500, 1000, 0.02, 0.98, 0.5, 100) == (20, 500)
    assert timestep_range(7, 1000, 0.02, 0.98, 0.98, 0) == (20, 980)


def test_loaded_components_are_the_saved_ones(tiny_sd):
    from diffusers import UNet2DConditionModel

    guide = load_sd(SDSpec(str(tiny_sd)))
    saved = UNet2DConditionModel.from_pretrained(tiny_sd / "unet")
    for name, value in saved.state_dict().items():
        assert torch.equal(value, guide.unet.state_dict()[name]), name
    assert guide.image_size == 16 and guide.num_timesteps == 1000 and guide.dtype == torch.float32
    emb = guide.embed_text(["a red chair, front view", "a red chair, back view"])
    assert emb.shape == (2, 16, 32) and not torch.equal(emb[0], emb[1])
    assert not any(p.requires_grad for p in guide.parameters())


def test_sds_gradient_is_w_times_the_noise_residual(tiny_sd):
    guide = load_sd(SDSpec(str(tiny_sd)))
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 16, 16, generator=gen, requires_grad=True)
    cond, uncond = guide.embed_text(["a lamp, side view", "a lamp, back view"]), guide.embed_text([""])
    t, noise, scale = torch.tensor([100, 700]), torch.randn(2, 4, 8, 8, generator=gen), 7.5
    out = guide.sds(images, cond, uncond, t, noise, scale)
    (grad_images,) = torch.autograd.grad(out.loss, images)
    # by hand: the same latents, the UNet on both prompts, CFG, w(t) = 1 - abar_t
    latents = guide.encode(images)
    abar = guide.alphas_cumprod[t].view(-1, 1, 1, 1)
    noisy = abar.sqrt() * latents.detach() + (1 - abar).sqrt() * noise
    with torch.no_grad():
        e_u = guide.unet(noisy, t, encoder_hidden_states=uncond.expand(2, -1, -1)).sample
        e_c = guide.unet(noisy, t, encoder_hidden_states=cond).sample
    g = (1 - abar) * (e_u + scale * (e_c - e_u) - noise)
    (expected,) = torch.autograd.grad(latents, images, grad_outputs=g / 2)
    torch.testing.assert_close(grad_images, expected, rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(out.residual, (1 - abar).flatten() * (g / (1 - abar)).square().mean(dim=(1, 2, 3)))


def test_vae_checkpointing_gives_the_same_gradient(tiny_sd):
    gen = torch.Generator().manual_seed(1)
    images = torch.rand(1, 3, 16, 16, generator=gen, requires_grad=True)
    args = (torch.tensor([300]), torch.randn(1, 4, 8, 8, generator=gen), 5.0)
    grads = []
    for checkpointing in (False, True):
        guide = load_sd(SDSpec(str(tiny_sd)), checkpointing=checkpointing)
        assert guide.vae.encoder.gradient_checkpointing == checkpointing
        cond, uncond = guide.embed_text(["a lamp"]), guide.embed_text([""])
        grads.append(torch.autograd.grad(guide.sds(images, cond, uncond, *args).loss, images)[0])
    assert grads[0].abs().sum() > 0
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-8)


def test_sds_gradient_reaches_the_density_grid_and_the_colour_model(tiny_sd, tmp_path):
    config, objective, field = _setup(tiny_sd, tmp_path, clip_views=2)
    assert isinstance(objective, ScoreDistillation)
    loss, logs = objective(field, 0, torch.Generator().manual_seed(3))
    loss.backward()
    assert set(logs) == set(objective.keys) and logs["sds"] > 0 and 20 <= logs["t"] <= 980
    assert field.density.values.grad.abs().sum() > 0
    for name, p in field.color.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


class KnownDenoiser(torch.nn.Module):
    """eps(z_t) of a point mass at mu (plus a prompt-dependent shift): the ideal denoiser's answer
    (z_t - sqrt(abar) mu) / sqrt(1 - abar), so the SDS residual is sqrt(abar / (1 - abar)) (z - mu*)
    and SDS is the exact gradient of its square: steps must lower it."""

    def __init__(self, unet, alphas_cumprod, mu):
        super().__init__()
        self.config, self.alphas_cumprod, self.mu = unet.config, alphas_cumprod, mu

    def forward(self, sample, timestep, encoder_hidden_states):
        abar = self.alphas_cumprod[timestep].view(-1, 1, 1, 1)
        mu = self.mu + 0.1 * encoder_hidden_states.mean(dim=(1, 2)).view(-1, 1, 1, 1)
        return SimpleNamespace(sample=(sample - abar.sqrt() * mu) / (1 - abar).sqrt())


def test_steps_lower_the_sds_residual_at_a_fixed_timestep_and_noise(tiny_sd, tmp_path):
    config, objective, field = _setup(tiny_sd, tmp_path, w_trans=0.0, sds_t_min=0.5, sds_t_max=0.5,
                                      sds_t_max_end=0.5, sds_guidance_scale=3.0)
    guide = objective.guide
    guide.unet = KnownDenoiser(guide.unet, guide.alphas_cumprod, torch.zeros(1, 4, 8, 8))
    optimizer = torch.optim.Adam([{"params": field.density.parameters(), "lr": 0.2},
                                  {"params": field.color.parameters(), "lr": 0.02}])
    values = []
    for _ in range(8):
        loss, logs = objective(field, 0, torch.Generator().manual_seed(11))  # same view, background, t, noise
        assert logs["t"] == 500
        values.append(logs["sds"])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert all(b < a for a, b in zip(values, values[1:])), values
    assert values[-1] < 0.85 * values[0], values


def test_sds_run_resumes_bitwise(tiny_sd, tmp_path):
    options = {**_options(tiny_sd), "steps": 6, "checkpoint_every": 2, "sds_t_anneal_steps": 4,
               "sds_t_max_end": 0.5}
    whole, cut, step = whole_and_resumed(options, tmp_path, kill_step=3)
    assert step == 2
    assert whole["history"] == cut["history"] and len(whole["history"]["sds"]) == 6
    assert max(whole["history"]["t"][4:]) <= 500  # t_max annealed to 0.5 by step 4
    for name, value in whole["model"].items():
        assert torch.equal(value, cut["model"][name]), name


def test_missing_model_gives_the_lookup_message(tiny_sd, tmp_path, capsys, monkeypatch):
    with pytest.raises(GuidanceError) as err:
        locate_model(SDSpec("someone/sd-model", cache_dir=str(tmp_path)))
    for needle in ("not found offline", str(tmp_path), "someone/sd-model", ENV_MODEL, "--sd-model", "--sd-download"):
        assert needle in str(err.value), needle
    assert locate_model(SDSpec("someone/sd-model", cache_dir=str(tmp_path), download=True)) == "someone/sd-model"
    hub = _fake_hub_file(tmp_path, "someone/sd-model", "model_index.json", b"{}").parent
    with pytest.raises(GuidanceError, match="not found offline"):  # components missing: not a model
        locate_model(SDSpec("someone/sd-model", cache_dir=str(tmp_path)))
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        (hub / part).mkdir()
    assert locate_model(SDSpec("someone/sd-model", cache_dir=str(tmp_path))) == str(hub)
    with pytest.raises(GuidanceError, match="missing unet, vae"):
        locate_model(SDSpec(str(tmp_path)))
    monkeypatch.setenv(ENV_MODEL, str(tiny_sd))
    assert locate_model(SDSpec()) == str(tiny_sd)
    monkeypatch.delenv(ENV_MODEL)

    from dream3d.cli import main

    out = tmp_path / "o"
    code = main(["--prompt", "a chair", "--guidance", "sds", "--sd-cache-dir", str(tmp_path / "empty"), "--out", str(out)])
    message = capsys.readouterr().err
    assert code == 2 and "not found offline" in message and "CompVis/stable-diffusion-v1-4" in message
    assert not out.exists()
