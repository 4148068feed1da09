"""The image augmentations of CLIP guidance (after DreamFields and PureCLIPNeRF): the render is composited
over a random background through its transmittance, so CLIP cannot score the background instead of the
object, then randomly cropped and resized, several copies per view. Every random draw comes from the
caller's generator, so a resumed run draws the same augmentations."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

BACKGROUNDS = ("solid", "noise", "checkerboard", "fft")


def _uniform(gen: torch.Generator, *shape) -> torch.Tensor:
    return torch.rand(*shape, generator=gen)


def solid_background(size: int, gen: torch.Generator) -> torch.Tensor:
    return _uniform(gen, 3, 1, 1).expand(3, size, size).clone()


def noise_background(size: int, gen: torch.Generator) -> torch.Tensor:
    return _uniform(gen, 3, size, size)


def checkerboard_background(size: int, gen: torch.Generator) -> torch.Tensor:
    """Two random colours in squares of 1/16 to 1/4 of the image side."""
    colors = _uniform(gen, 2, 3)
    square = max(1, int(size * (1 / 16 + _uniform(gen, 1).item() * (1 / 4 - 1 / 16))))
    idx = torch.arange(size) // square
    parity = ((idx[:, None] + idx[None, :]) % 2).bool()
    return torch.where(parity[None], colors[1][:, None, None], colors[0][:, None, None])


def fft_background(size: int, gen: torch.Generator, decay: float = 1.5) -> torch.Tensor:
    """Blurred noise: white noise shaped to a 1/f^decay spectrum, scaled into [0, 1] per channel."""
    freqs = torch.fft.fftfreq(size)
    radius = torch.sqrt(freqs[:, None] ** 2 + torch.fft.rfftfreq(size)[None, :] ** 2).clamp_min(1.0 / size)
    spectrum = torch.complex(torch.randn(3, *radius.shape, generator=gen),
                             torch.randn(3, *radius.shape, generator=gen)) / radius ** decay
    image = torch.fft.irfft2(spectrum, s=(size, size))
    lo = image.amin(dim=(1, 2), keepdim=True)
    hi = image.amax(dim=(1, 2), keepdim=True)
    return (image - lo) / (hi - lo).clamp_min(1e-8)


_MAKERS = {"solid": solid_background, "noise": noise_background, "checkerboard": checkerboard_background,
           "fft": fft_background}


def random_backgrounds(n: int, size: int, gen: torch.Generator, kinds=BACKGROUNDS) -> torch.Tensor:
    """(n, 3, size, size) backgrounds, each of a kind drawn uniformly from ``kinds``."""
    unknown = set(kinds) - set(_MAKERS)
    if not kinds or unknown:
        raise ValueError(f"background kinds must be a non-empty subset of {BACKGROUNDS}, got {tuple(kinds)}")
    picks = torch.randint(0, len(kinds), (n,), generator=gen).tolist()
    return torch.stack([_MAKERS[kinds[k]](size, gen) for k in picks])


def composite_over(premultiplied: torch.Tensor, transmittance: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """rgb = premultiplied + T * bg for (N, 3, H, W) colour rendered on black and (N, 1, H, W) T."""
    return premultiplied + transmittance * background


def random_resized_crops(images: torch.Tensor, copies: int, out_size: int, gen: torch.Generator,
                         scale: tuple[float, float] = (0.8, 1.0)) -> torch.Tensor:
    """``copies`` square crops of each (N, 3, H, W) image, of side sqrt(U(scale)) * min(H, W) at a
    uniform position, resized to out_size (bilinear, antialiased when shrinking): (N * copies, 3, S, S)."""
    n, _, h, w = images.shape
    lo, hi = scale
    if not 0 < lo <= hi <= 1:
        raise ValueError(f"crop scale must satisfy 0 < lo <= hi <= 1, got {scale}")
    crops = []
    for i in range(n):
        for _ in range(copies):
            area = lo + (hi - lo) * _uniform(gen, 1).item()
            side = max(1, min(h, w, round(math.sqrt(area) * min(h, w))))
            top = int(torch.randint(0, h - side + 1, (1,), generator=gen))
            left = int(torch.randint(0, w - side + 1, (1,), generator=gen))
            crop = images[i:i + 1, :, top:top + side, left:left + side]
            crops.append(F.interpolate(crop, size=(out_size, out_size), mode="bilinear", align_corners=False,
                                       antialias=side > out_size))
    return torch.cat(crops)


def augment(premultiplied: torch.Tensor, transmittance: torch.Tensor, copies: int, out_size: int,
            gen: torch.Generator, scale: tuple[float, float] = (0.8, 1.0), kinds=BACKGROUNDS) -> torch.Tensor:
    """The full augmentation: each view over ``copies`` random backgrounds, each then randomly cropped
    and resized: (N * copies, 3, out_size, out_size)."""
    n, _, h, w = premultiplied.shape
    if h != w:
        raise ValueError(f"renders must be square, got {h}x{w}")
    bg = random_backgrounds(n * copies, h, gen, kinds).to(premultiplied)
    fg = premultiplied.repeat_interleave(copies, dim=0)
    t = transmittance.repeat_interleave(copies, dim=0)
    # one crop per composited copy: its own background and its own crop
    return random_resized_crops(composite_over(fg, t, bg), 1, out_size, gen, scale)
