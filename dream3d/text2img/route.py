"""G_I's step in the text-to-shape route: prompt -> G_I image -> background removed -> CLIP image
embedding (what G_M is conditioned on). The G_I folder is --sd PATH, else MODELS/sd when present."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..models_dir import SD
from .background import Cutout, remove_background
from .generate import StylisedSD, generate
from .sd_folder import Text2ImgError


@dataclass
class GIStep:
    prompt: str             # what G_I was given
    image: torch.Tensor     # (3, H, W) G_I's image
    cutout: Cutout          # its background removed
    embedding: torch.Tensor  # (1, D) CLIP image embedding of the cutout

    def files(self) -> dict[str, np.ndarray]:
        """gi_image.png (as generated) and gi_cutout.png (RGBA: the shape, transparent background)."""
        rgb = (self.image.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        alpha = self.cutout.mask.to(torch.uint8).numpy()[..., None] * 255
        return {"gi_image.png": rgb, "gi_cutout.png": np.concatenate([rgb, alpha], axis=-1)}


def find_gi(models_folder: Path | None, explicit: str | os.PathLike | None = None) -> Path | None:
    """--sd PATH (it must exist) or MODELS/sd when it is a folder; None: no G_I, the route embeds text."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_dir():
            raise Text2ImgError(f"--sd {explicit}: no such folder (expected a G_I folder from dream3d-finetune-sd)")
        return path
    if models_folder is not None and (Path(models_folder) / SD).is_dir():
        return Path(models_folder) / SD
    return None


def gi_embedding(gi: StylisedSD, clip, prompt: str, seed: int = 0, steps: int = 50, guidance_scale: float = 7.5,
                 scheduler: str = "ddim", threshold: float = 0.08, fill=(1.0, 1.0, 1.0)) -> GIStep:
    image = generate(gi, [prompt], [seed], steps=steps, guidance_scale=guidance_scale, scheduler=scheduler)[0]
    cutout = remove_background(image, threshold=threshold, fill=fill)
    device = clip.mean.device
    with torch.no_grad():
        embedding = clip.embed_images(cutout.image[None].to(device))
    return GIStep(gi.prompt(prompt), image, cutout, embedding)
