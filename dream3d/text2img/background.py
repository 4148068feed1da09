"""Removes the solid background G_I draws behind a shape: the background colour is the median of a
border strip (the shape is framed inside it, as in the training renders), and every pixel within
``threshold`` of it (max over channels) is background."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .sd_folder import Text2ImgError


@dataclass
class Cutout:
    image: torch.Tensor       # (3, H, W): the shape over ``fill``
    mask: torch.Tensor        # (H, W) bool: the shape
    background: torch.Tensor  # (3,) the estimated background colour
    border_spread: float      # median |border - background|: large when the background is not solid


def border_pixels(image: torch.Tensor, border: int) -> torch.Tensor:
    """(3, K) the pixels of a ``border``-wide frame."""
    h, w = image.shape[-2:]
    frame = torch.zeros(h, w, dtype=torch.bool)
    frame[:border], frame[-border:], frame[:, :border], frame[:, -border:] = True, True, True, True
    return image[:, frame]


def remove_background(image: torch.Tensor, threshold: float = 0.08, border: int | None = None,
                      fill=(1.0, 1.0, 1.0), open_iterations: int = 1) -> Cutout:
    """Cuts the shape out of a (3, H, W) image in [0, 1]; ``border`` defaults to 2% of the side."""
    if image.dim() != 3 or image.shape[0] != 3:
        raise Text2ImgError(f"expected a (3, H, W) image, got {tuple(image.shape)}")
    h, w = image.shape[-2:]
    border = border or max(1, round(0.02 * min(h, w)))
    if not 0 < 2 * border < min(h, w):
        raise Text2ImgError(f"border {border} does not fit a {h}x{w} image")
    image = image.float()
    strip = border_pixels(image, border)
    background = strip.median(dim=1).values
    spread = float((strip - background[:, None]).abs().amax(0).median())
    mask = (image - background[:, None, None]).abs().amax(0) > threshold
    if open_iterations > 0:  # drop isolated speckles (JPEG-like noise of the decoder)
        from scipy import ndimage

        mask = torch.from_numpy(ndimage.binary_opening(mask.numpy(), iterations=open_iterations))
    colour = torch.as_tensor(fill, dtype=image.dtype).view(3, 1, 1)
    return Cutout(torch.where(mask, image, colour), mask, background, spread)
