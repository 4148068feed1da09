"""G_S (SDF-StyleGAN): z -> w -> feature volume -> SDF at any point; SDF grids at any resolution;
checkpoints that carry their configuration."""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn

from ..sdf_grid import DEFAULT_MAX, DEFAULT_MIN, SDFGrid, _check_resolution, grid_points
from .._atomic import atomic_path
from .config import GeneratorConfig
from .decoder import SDFDecoder
from .mapping import MappingNetwork
from .synthesis import SynthesisNetwork
from .synthesis_official import OfficialSynthesisNetwork

ARCHITECTURE = "dream3d.sdf-stylegan"
GENERATOR_FORMAT = 1


class ShapeGenerator(nn.Module):
    """SDF-StyleGAN's generator.

    ``G.mapping(z)`` gives w (B, w_dim); ``G.features(w)`` the (B, C, R, R, R) feature volume over
    [-feature_extent, feature_extent]^3 (w may also be per-layer styles (B, num_ws, w_dim));
    ``G.sdf(features, points)`` the SDF at points; ``G.synthesize(w, resolution)`` SDF grids."""

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config
        official = config.variant == "official"
        self.mapping = MappingNetwork(config.z_dim, config.w_dim, config.mapping_layers, config.mapping_lr_mult,
                                      eps=1e-6 if official else 1e-8)
        synthesis = OfficialSynthesisNetwork if official else SynthesisNetwork
        self.synthesis = synthesis(config.w_dim, config.channels, config.feature_channels)
        self.decoder = SDFDecoder(config.feature_channels, config.decoder_hidden, config.decoder_layers,
                                  config.feature_extent)

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    @property
    def w_dim(self) -> int:
        return self.config.w_dim

    @property
    def num_ws(self) -> int:
        return self.synthesis.num_ws

    def sample_z(self, batch: int, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        return torch.randn(batch, self.z_dim, generator=generator, device=device)

    def mix_styles(self, z: torch.Tensor, prob: float, update_w_avg: bool = False) -> torch.Tensor:
        """Per-layer styles (B, num_ws, w_dim) from z; with probability ``prob`` a sample switches, at a
        random layer, to the w of a second random z (style mixing regularisation). Draws from torch's
        global generator."""
        ws = self.mapping(z, update_w_avg=update_w_avg)[:, None].repeat(1, self.num_ws, 1)
        if prob > 0:
            other = self.mapping(torch.randn_like(z))
            cutoff = torch.randint(1, self.num_ws, (len(z),), device=z.device)
            cutoff = torch.where(torch.rand(len(z), device=z.device) < prob, cutoff, self.num_ws)
            later = torch.arange(self.num_ws, device=z.device)[None, :] >= cutoff[:, None]
            ws = torch.where(later[..., None], other[:, None], ws)
        return ws

    def features(self, w: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        return self.synthesis(w, noise_mode)

    def sdf(self, features: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
        return self.decoder(features, points)

    def forward(self, z: torch.Tensor, points: torch.Tensor, noise_mode: str = "random") -> torch.Tensor:
        return self.sdf(self.features(self.mapping(z), noise_mode), points)

    @torch.no_grad()
    def synthesize(self, w: torch.Tensor, resolution=64, chunk: int = 65536, noise_mode: str = "const",
                   xyz_min=DEFAULT_MIN, xyz_max=DEFAULT_MAX) -> list[SDFGrid]:
        """SDF grids (one per row of w, (B, w_dim) or (B, num_ws, w_dim)) at ``resolution`` over the
        bbox, decoding ``chunk`` points at a time. noise_mode 'const' (default): the same w always
        gives the same grid."""
        if w.dim() not in (2, 3) or w.shape[-1] != self.w_dim:
            raise ValueError(f"w must be (B, {self.w_dim}) or (B, {self.num_ws}, {self.w_dim}), got {tuple(w.shape)}")
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        res = _check_resolution(resolution)
        points = grid_points(res, xyz_min, xyz_max, device=w.device).reshape(-1, 3)
        grids = []
        for wi in w:
            feats = self.features(wi[None], noise_mode)
            values = torch.cat([self.sdf(feats, points[i:i + chunk])[0] for i in range(0, len(points), chunk)])
            grids.append(SDFGrid(values.reshape(res).float().cpu(), xyz_min, xyz_max))
        return grids

    def save(self, path: str | os.PathLike, extra: dict | None = None) -> None:
        """Writes the config and weights (atomically) for :func:`load_generator`."""
        state = {"architecture": ARCHITECTURE, "format": GENERATOR_FORMAT, "config": self.config.to_dict(),
                 "generator": {k: v.detach().cpu() for k, v in self.state_dict().items()}, **(extra or {})}
        with atomic_path(path) as tmp:
            torch.save(state, tmp)

    def load_weights(self, state_dict: dict, source: str = "the state dict") -> None:
        """load_state_dict with a ValueError naming the first mismatches instead of torch's long one."""
        own = self.state_dict()
        missing = sorted(set(own) - set(state_dict))
        unexpected = sorted(set(state_dict) - set(own))
        shapes = [f"{k} {tuple(state_dict[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
                  if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)]
        if missing or unexpected or shapes:
            parts = [f"missing {', '.join(missing[:5])}" if missing else "",
                     f"unexpected {', '.join(unexpected[:5])}" if unexpected else "",
                     f"shape mismatch {', '.join(shapes[:5])}" if shapes else ""]
            raise ValueError(f"{source} does not fit this generator ({self.config.name}): "
                             + "; ".join(p for p in parts if p))
        self.load_state_dict(state_dict)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """A G_S file (from :meth:`ShapeGenerator.save` or a training checkpoint), checked for its
    architecture tag."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no generator checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch.load raises many types on a damaged file
        raise ValueError(f"{path} is not a readable checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict) or state.get("architecture") != ARCHITECTURE:
        found = state.get("architecture") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{path} is not an SDF-StyleGAN generator checkpoint of dream3d (architecture "
                         f"{found!r}, expected {ARCHITECTURE!r})")
    if state.get("format", 0) > GENERATOR_FORMAT:
        raise ValueError(f"{path}: format {state['format']} is newer than this reader's ({GENERATOR_FORMAT})")
    return state


def load_generator(path: str | os.PathLike, config: GeneratorConfig | None = None, device="cpu") -> ShapeGenerator:
    """The generator stored at ``path`` in eval mode (a training checkpoint gives its EMA weights).
    With ``config``, a checkpoint whose architecture differs from it is refused with the differences."""
    state = read_checkpoint(path)
    saved = GeneratorConfig.from_dict(state["config"])
    if config is not None:
        diff = config.architecture_differences(saved)
        if diff:
            raise ValueError(f"{path} holds a generator of another configuration ({saved.name}): "
                             + ", ".join(diff))
    generator = ShapeGenerator(saved)
    generator.load_weights(state.get("generator_ema", state["generator"]), str(path))
    return generator.to(device).eval().requires_grad_(False)
