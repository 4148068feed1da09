"""Score distillation (DreamFusion's SDS) with a Stable Diffusion model in diffusers' folder layout
(unet/, vae/, text_encoder/, tokenizer/, scheduler/). The model is found offline like the CLIP weights:
a local folder, $DREAM3D_SD_MODEL, then the Hugging Face hub cache; it is downloaded only when asked.

Per step: the rendered RGB (N, 3, H, W) in [0, 1] is resized to the VAE's input and encoded to latents
z (the posterior mean: no extra noise to draw); with t and eps drawn from the caller's generator,
z_t = sqrt(abar_t) z + sqrt(1 - abar_t) eps goes through the frozen UNet with and without the prompt,
eps_hat = eps_u + s (eps_c - eps_u), and dL/dz = w(t) (eps_hat - eps) with w(t) = 1 - abar_t, the UNet's
Jacobian skipped. The loss 0.5 ||z - sg(z - g)||^2 / N has exactly that gradient."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .clip import GuidanceError

ENV_MODEL = "DREAM3D_SD_MODEL"
DEFAULT_MODEL = "CompVis/stable-diffusion-v1-4"  # the Stable Diffusion Dream3D builds on
COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


@dataclass(frozen=True)
class SDSpec:
    model: str = DEFAULT_MODEL    # a folder in diffusers' layout, or a hub repository id
    cache_dir: str | None = None  # the hub cache to look in (default: huggingface_hub's)
    download: bool = False        # fetch a repository missing from the cache (needs a network)


def import_diffusers():
    """diffusers, or a GuidanceError saying how to install it."""
    from ..text2img.sd_folder import Text2ImgError, import_diffusers as import_sd

    try:
        return import_sd()
    except Text2ImgError as err:
        raise GuidanceError(f"--guidance sds: {err}") from err


def _is_model_folder(path: Path) -> bool:
    return path.is_dir() and all((path / c).is_dir() for c in COMPONENTS)


def locate_model(spec: SDSpec) -> str:
    """A local folder holding the model's components, or (spec.download) the repository id to fetch;
    else GuidanceError listing where it looked. Never touches the network."""
    value, source = spec.model, "--sd-model"
    if os.environ.get(ENV_MODEL) and spec.model == DEFAULT_MODEL:
        value, source = os.environ[ENV_MODEL], f"${ENV_MODEL}"
    path = Path(value).expanduser()
    if path.exists() or value.startswith((".", "/", "~")):
        if _is_model_folder(path):
            return str(path)
        missing = [c for c in COMPONENTS if not (path / c).is_dir()] if path.is_dir() else []
        raise GuidanceError(f"{source} {value}: " + (f"not a diffusers model folder (missing {', '.join(missing)})"
                                                    if path.is_dir() else "no such folder"))
    looked = [f"{source} {value} (not a local folder)"]
    from huggingface_hub import constants, try_to_load_from_cache

    cache = spec.cache_dir or constants.HF_HUB_CACHE
    hit = try_to_load_from_cache(value, "model_index.json", cache_dir=cache)
    if isinstance(hit, str) and _is_model_folder(Path(hit).parent):
        return str(Path(hit).parent)
    looked.append(f"the Hugging Face cache {cache} (repository {value})")
    if spec.download:
        return value
    raise GuidanceError(
        f"Stable Diffusion {value} was not found offline. Looked in: " + "; ".join(looked) + ". Supply it with "
        f"--sd-model FOLDER (diffusers' layout: {', '.join(c + '/' for c in COMPONENTS)}), by setting "
        f"{ENV_MODEL}=FOLDER, or by placing it in the cache above (--sd-cache-dir sets it); or pass "
        "--sd-download to fetch it when online. --guidance clip or none run without it.")


def view_suffix(c2w: torch.Tensor, overhead_above: float = 60.0) -> str:
    """DreamFusion's view-dependent prompt: "overhead" above 60 degrees of elevation, else "front" for
    azimuths within 45 degrees of +Z (the library's front), "back" within 45 of -Z, "side" between."""
    x, y, z = (float(v) for v in c2w[:3, 3])
    if math.degrees(math.atan2(y, math.hypot(x, z))) > overhead_above:
        return "overhead"
    azimuth = abs(math.degrees(math.atan2(x, z)))  # 0 at +Z, 180 at -Z
    return "front" if azimuth < 45 else "back" if azimuth > 135 else "side"


def timestep_range(step: int, num_timesteps: int, t_min: float, t_max: float, t_max_end: float,
                   anneal_steps: int) -> tuple[int, int]:
    """Inclusive integer timesteps [lo, hi] at ``step``: fractions of the schedule, t_max moving linearly
    to t_max_end over anneal_steps (large t shape the object, small t refine it)."""
    top = t_max_end if anneal_steps <= 0 else t_max + (t_max_end - t_max) * min(1.0, step / anneal_steps)
    lo = min(num_timesteps - 1, int(t_min * num_timesteps))
    return lo, max(lo, min(num_timesteps - 1, int(top * num_timesteps)))


class SDSOutput(NamedTuple):
    loss: torch.Tensor      # the surrogate whose gradient is the SDS gradient
    residual: torch.Tensor  # w(t) * mean (eps_hat - eps)^2 per image: (N,), the logged "sds" value
    t: torch.Tensor         # (N,) timesteps


class StableDiffusionGuide(torch.nn.Module):
    """A frozen Stable Diffusion for SDS: ``embed_text`` once per prompt variant, ``sds`` per step."""

    def __init__(self, tokenizer, text_encoder, vae, unet, alphas_cumprod: torch.Tensor, dtype=torch.float32):
        super().__init__()
        self.tokenizer, self.dtype = tokenizer, dtype
        self.text_encoder = text_encoder.eval().requires_grad_(False)
        self.vae = vae.eval().requires_grad_(False)
        self.unet = unet.eval().requires_grad_(False)
        self.register_buffer("alphas_cumprod", alphas_cumprod.float())
        self.vae_factor = 2 ** (len(vae.config.block_out_channels) - 1)
        self.image_size = int(unet.config.sample_size) * self.vae_factor
        self.scaling = float(vae.config.scaling_factor)

    @property
    def num_timesteps(self) -> int:
        return len(self.alphas_cumprod)

    @property
    def device(self) -> torch.device:
        return self.alphas_cumprod.device

    def enable_checkpointing(self) -> None:
        """Recompute the VAE encoder's activations in the backward (the render's gradient goes through
        it at 512 px; the UNet needs none: SDS skips its Jacobian)."""
        self.vae.enable_gradient_checkpointing()

    @torch.no_grad()
    def embed_text(self, prompts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(prompts, padding="max_length", max_length=self.tokenizer.model_max_length,
                                truncation=True, return_tensors="pt").input_ids.to(self.device)
        return self.text_encoder(tokens)[0].to(self.dtype)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) in [0, 1] -> float32 latents, differentiable; resized to the VAE's input."""
        if images.shape[-2:] != (self.image_size, self.image_size):
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear",
                                   align_corners=False, antialias=images.shape[-1] > self.image_size)
        posterior = self.vae.encode((images * 2 - 1).to(self.dtype)).latent_dist
        return posterior.mean.float() * self.scaling

    def sds(self, images: torch.Tensor, cond: torch.Tensor, uncond: torch.Tensor, t: torch.Tensor,
            noise: torch.Tensor, guidance_scale: float) -> SDSOutput:
        """SDS on (N, 3, H, W) renders with per-image text embeddings ``cond`` (N, L, C), the empty
        prompt's ``uncond`` (1, L, C), timesteps ``t`` (N,) and noise like the latents."""
        latents = self.encode(images)
        if noise.shape != latents.shape:
            raise ValueError(f"noise must have the latents' shape {tuple(latents.shape)}, got {tuple(noise.shape)}")
        t = t.to(self.device)
        abar = self.alphas_cumprod[t].view(-1, 1, 1, 1)
        with torch.no_grad():
            noisy = abar.sqrt() * latents + (1 - abar).sqrt() * noise
            n = len(latents)
            eps = self.unet(torch.cat([noisy, noisy]).to(self.dtype), torch.cat([t, t]),
                            encoder_hidden_states=torch.cat([uncond.expand(n, -1, -1), cond])).sample.float()
            eps_uncond, eps_cond = eps.chunk(2)
            eps_hat = eps_uncond + guidance_scale * (eps_cond - eps_uncond)
            residual = eps_hat - noise
            grad = torch.nan_to_num((1 - abar) * residual)
            target = latents - grad
        loss = 0.5 * (latents - target).square().sum() / n
        return SDSOutput(loss, ((1 - abar).flatten() * residual.square().mean(dim=(1, 2, 3))), t)


def load_sd(spec: SDSpec, device="cpu", location: str | None = None, checkpointing: bool = False) -> StableDiffusionGuide:
    """Loads the frozen components, in float16 on CUDA (the field stays float32) and float32 elsewhere."""
    from ..text2img.sd_folder import Text2ImgError, load_parts

    import_diffusers()  # a missing diffusers is named as --guidance sds's
    location = location or locate_model(spec)
    device = torch.device(device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    try:
        tokenizer, text_encoder, vae, unet, scheduler = load_parts(
            location, device, dtype, cache_dir=spec.cache_dir, local_files_only=not spec.download)
    except Text2ImgError as err:
        raise GuidanceError(f"--guidance sds: {err}") from err
    guide = StableDiffusionGuide(tokenizer, text_encoder, vae, unet, scheduler.alphas_cumprod, dtype).to(device)
    if checkpointing:
        guide.enable_checkpointing()
    return guide
