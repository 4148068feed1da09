"""Running G_I: "PROMPT in the style of TOKEN" -> a render-style image on a solid background, and the
background removed (its colour estimated from the image border), so that the image G_M is conditioned
on looks like the shape renders its data were embedded from.

A plain Stable Diffusion folder (no dream3d_gi.json) runs the prompt as it is: the paper's "without
fine-tuning" ablation."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from .sd_folder import Text2ImgError, check_sd_folder, import_diffusers, load_pipeline, read_gi_meta

SCHEDULERS = {"ddim": "DDIMScheduler", "pndm": "PNDMScheduler", "ddpm": "DDPMScheduler",
              "euler": "EulerDiscreteScheduler", "euler-a": "EulerAncestralDiscreteScheduler",
              "dpm++": "DPMSolverMultistepScheduler"}


@dataclass
class StylisedSD:
    pipe: object
    folder: Path
    meta: dict | None    # None: a plain Stable Diffusion model

    def prompt(self, prompt: str) -> str:
        if not prompt or not prompt.strip():
            raise Text2ImgError("the prompt is empty")
        if self.meta is None:
            return prompt
        return self.meta["template"].format(prompt=prompt.strip(), token=self.meta["token"])


def load_gi(folder: str | os.PathLike, device="cpu", dtype=None) -> StylisedSD:
    """G_I (or a plain Stable Diffusion folder) from local files; float16 on CUDA unless ``dtype``."""
    folder = check_sd_folder(folder, "--sd")
    meta = read_gi_meta(folder)
    if dtype is None:
        dtype = torch.float16 if torch.device(device).type == "cuda" else torch.float32
    pipe = load_pipeline(folder, device, dtype)
    if meta is not None and meta["token"] not in pipe.tokenizer.get_vocab():
        raise Text2ImgError(f"{folder}: the tokenizer does not know the token {meta['token']!r} named in its "
                            "dream3d_gi.json; the folder is damaged, rerun dream3d-finetune-sd")
    return StylisedSD(pipe, folder, meta)


def set_scheduler(gi: StylisedSD, name: str) -> None:
    if name not in SCHEDULERS:
        raise Text2ImgError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")
    cls = getattr(import_diffusers(), SCHEDULERS[name])
    if type(gi.pipe.scheduler) is not cls:
        gi.pipe.scheduler = cls.from_config(gi.pipe.scheduler.config)


@torch.no_grad()
def generate(gi: StylisedSD, prompts: list[str], seeds: list[int], steps: int = 50, guidance_scale: float = 7.5,
             scheduler: str = "ddim", size: int | None = None) -> torch.Tensor:
    """(N, 3, H, W) float32 images in [0, 1] on the CPU; image i from seeds[i] alone (repeatable
    whatever the batch)."""
    if len(prompts) != len(seeds):
        raise Text2ImgError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    if steps < 1:
        raise Text2ImgError(f"steps must be >= 1, got {steps}")
    set_scheduler(gi, scheduler)
    size = size or gi.pipe.unet.config.sample_size * gi.pipe.vae_scale_factor
    generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
    images = gi.pipe([gi.prompt(p) for p in prompts], height=size, width=size, num_inference_steps=steps,
                     guidance_scale=guidance_scale, generator=generators, output_type="pt").images
    return images.float().cpu().clamp(0, 1)
