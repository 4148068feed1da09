"""G_M: a diffusion model of G_S's latent w conditioned on a CLIP embedding, predicting x_0.

Normalisation: the condition is L2-normalised and scaled by sqrt(embed_dim), as in DALLE2-pytorch.
w is not unit-norm (it is the mapping network's output), so it is standardised per dimension with the
training data's mean and std, which live in the model's buffers (and so in every checkpoint); samples
are mapped back with the same statistics."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import PriorConfig, PriorError
from .network import PriorNetwork
from .schedule import CosineSchedule

SAMPLERS = ("ddpm", "ddim")


class DiffusionPrior(nn.Module):
    def __init__(self, config: PriorConfig):
        super().__init__()
        self.config = config
        self.net = PriorNetwork(config)
        self.schedule = CosineSchedule(config.timesteps, config.cosine_s)
        self.register_buffer("w_mean", torch.zeros(config.latent_dim))
        self.register_buffer("w_std", torch.ones(config.latent_dim))

    def set_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        if mean.shape != self.w_mean.shape or std.shape != self.w_std.shape:
            raise PriorError(f"w statistics of shape {tuple(mean.shape)}, {tuple(std.shape)} do not fit "
                             f"latent_dim {self.config.latent_dim}")
        if not (torch.isfinite(mean).all() and torch.isfinite(std).all() and (std > 0).all()):
            raise PriorError("w statistics must be finite with std > 0")
        self.w_mean.copy_(mean)
        self.w_std.copy_(std)

    def normalise(self, w: torch.Tensor) -> torch.Tensor:
        return (w - self.w_mean) / self.w_std

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.w_std + self.w_mean

    def condition(self, embedding: torch.Tensor) -> torch.Tensor:
        if embedding.dim() != 2 or embedding.shape[1] != self.config.embed_dim:
            raise PriorError(f"the condition must be (B, {self.config.embed_dim}) CLIP embeddings, got "
                             f"{tuple(embedding.shape)}: was the prior trained with another CLIP?")
        return F.normalize(embedding.float(), dim=-1) * math.sqrt(self.config.embed_dim)

    def forward(self, embedding: torch.Tensor, w: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
                keep: torch.Tensor | None = None) -> torch.Tensor:
        """The training loss (L2 on x_0) for given draws of t, noise and the condition's keep mask, so
        that the caller owns every random number (repeatable resumes)."""
        x0 = self.normalise(w)
        pred = self.net(self.schedule.q_sample(x0, t, noise), t, self.condition(embedding), keep)
        return F.mse_loss(pred, x0)

    def draw(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(t, noise, keep) for a training batch, from ``generator`` (on the CPU)."""
        t = torch.randint(0, self.config.timesteps, (batch,), generator=generator)
        noise = torch.randn(batch, self.config.latent_dim, generator=generator)
        keep = None
        if self.config.cond_drop_prob > 0:
            keep = torch.rand(batch, generator=generator) >= self.config.cond_drop_prob
        return t, noise, keep

    def predict_x0(self, x_t: torch.Tensor, t: int, cond: torch.Tensor, guidance_scale: float) -> torch.Tensor:
        tt = torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device)
        pred = self.net(x_t, tt, cond)
        if guidance_scale != 1.0:
            null = self.net(x_t, tt, cond, torch.zeros(x_t.shape[0], dtype=torch.bool, device=x_t.device))
            pred = null + guidance_scale * (pred - null)
        return pred

    @torch.no_grad()
    def sample(self, embedding: torch.Tensor, sampler: str = "ddpm", steps: int | None = None,
               guidance_scale: float = 1.0, eta: float = 0.0, generator: torch.Generator | None = None) -> torch.Tensor:
        """w (B, latent_dim) for (B, embed_dim) CLIP embeddings. ddpm walks every timestep; ddim walks
        ``steps`` evenly spaced ones (all by default). guidance_scale > 1 needs a prior trained with
        cond_drop_prob > 0. Noise comes from ``generator`` (CPU)."""
        if sampler not in SAMPLERS:
            raise PriorError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
        T = self.config.timesteps
        steps = T if steps is None else steps
        if not 1 <= steps <= T or (sampler == "ddpm" and steps != T):
            raise PriorError(f"steps must lie in [1, {T}] (ddpm: exactly {T}), got {steps}")
        if guidance_scale != 1.0 and self.config.cond_drop_prob == 0:
            raise PriorError("guidance_scale != 1 needs a prior trained with conditioning dropout "
                             "(dream3d-train-prior --cond-drop 0.1); this one was trained without")
        device = self.w_mean.device
        cond = self.condition(embedding.to(device))
        b = cond.shape[0]

        def noise():
            return torch.randn(b, self.config.latent_dim, generator=generator).to(device)

        x = noise()
        if sampler == "ddpm":
            for t in reversed(range(T)):
                x = self.schedule.ddpm_step(x, t, self.predict_x0(x, t, cond, guidance_scale), noise())
        else:
            times = torch.linspace(T - 1, 0, steps).round().long().tolist()
            for t, t_prev in zip(times, times[1:] + [-1]):
                x0 = self.predict_x0(x, t, cond, guidance_scale)
                x = self.schedule.ddim_step(x, t, t_prev, x0, noise() if eta > 0 else None, eta)
        return self.denormalise(x)
