"""Text to shape: a CLIP embedding -> G_M -> w -> G_S -> SDF grid. Until the stylised Stable Diffusion
(G_I) is in, a prompt's CLIP text embedding stands in for the image embedding (the paper's "w/o
text-to-image" ablation); ``--image`` feeds the CLIP image embedding of a user's picture instead, and
``shape_from_embedding`` takes any embedding (e.g. of a G_I render, once it exists)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..prior import SAMPLERS, PriorError
from ..shape import SDFGrid
from .models import Models, Text2ShapeError


@dataclass
class Shape:
    grid: SDFGrid
    w: torch.Tensor          # (w_dim,) G_S's latent
    embedding: torch.Tensor  # (D,) the CLIP embedding G_M was conditioned on
    source: str              # "text" | "image" | "embedding"


def read_image(path: str | Path) -> torch.Tensor:
    """(3, S, S) in [0, 1]: the centre square of the picture (CLIP's crop), transparency over white."""
    import imageio.v3 as iio

    path = Path(path)
    if not path.is_file():
        raise Text2ShapeError(f"--image {path}: no such file")
    try:
        pixels = np.asarray(iio.imread(path))
    except Exception as err:  # imageio raises many types for a non-image
        raise Text2ShapeError(f"--image {path} is not a readable image ({type(err).__name__}: {err})") from err
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    if pixels.ndim != 3 or pixels.shape[-1] not in (3, 4):
        raise Text2ShapeError(f"--image {path}: expected an RGB(A) or grey picture, got shape {pixels.shape}")
    scale = 65535.0 if pixels.dtype == np.uint16 else 255.0 if pixels.dtype.kind in "ui" else 1.0
    image = torch.from_numpy(pixels.astype(np.float32) / scale).clamp(0, 1)
    if image.shape[-1] == 4:
        image = image[..., :3] * image[..., 3:] + (1 - image[..., 3:])
    h, w = image.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return image[top:top + s, left:left + s].permute(2, 0, 1).contiguous()


@torch.no_grad()
def shape_from_embedding(models: Models, embedding: torch.Tensor, resolution: int = 64, seed: int = 0,
                         sampler: str = "ddpm", steps: int | None = None, guidance_scale: float = 1.0,
                         source: str = "embedding") -> Shape:
    if embedding.dim() == 1:
        embedding = embedding[None]
    if not isinstance(resolution, int) or resolution < 8:
        raise Text2ShapeError(f"resolution must be an integer >= 8, got {resolution!r}")
    if sampler not in SAMPLERS:
        raise Text2ShapeError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    try:
        w = models.prior.sample(embedding, sampler=sampler, steps=steps, guidance_scale=guidance_scale,
                                generator=torch.Generator().manual_seed(seed))
    except PriorError as err:
        raise Text2ShapeError(str(err)) from err
    device = next(models.generator.parameters()).device
    grid = models.generator.synthesize(w.to(device), resolution)[0]
    return Shape(grid, w[0].cpu(), embedding[0].cpu(), source)


def text_to_shape(models: Models, prompt: str | None = None, image: str | Path | None = None,
                  **options) -> Shape:
    """The shape for a prompt (its CLIP text embedding) or a picture (its CLIP image embedding)."""
    if (prompt is None) == (image is None):
        raise Text2ShapeError("give a prompt or an image (exactly one)")
    if prompt is not None:
        if not prompt.strip():
            raise Text2ShapeError("the prompt is empty")
        embedding, source = models.clip.embed_text([prompt]), "text"
    else:
        device = models.clip.mean.device
        with torch.no_grad():
            embedding, source = models.clip.embed_images(read_image(image)[None].to(device)), "image"
    return shape_from_embedding(models, embedding, source=source, **options)
