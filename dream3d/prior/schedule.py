"""The cosine noise schedule (Nichol & Dhariwal, s = 0.008) with the forward process q(x_t | x_0),
DDPM's posterior step and DDIM's step, all given a prediction of x_0 (G_M predicts x_0)."""
from __future__ import annotations

import math

import torch


def cosine_betas(timesteps: int, s: float = 0.008) -> torch.Tensor:
    """beta_t from alpha_bar(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2), clipped to 0.999 (float64)."""
    x = torch.linspace(0, timesteps, timesteps + 1, dtype=torch.float64)
    alphas_cumprod = torch.cos(((x / timesteps) + s) / (1 + s) * math.pi * 0.5) ** 2
    alphas_cumprod = alphas_cumprod / alphas_cumprod[0]
    return (1 - alphas_cumprod[1:] / alphas_cumprod[:-1]).clamp(0, 0.999)


def _gather(values: torch.Tensor, t: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """values[t] shaped to broadcast over x's trailing dims, in x's dtype."""
    return values.to(x.device)[t].to(x.dtype).view(-1, *([1] * (x.dim() - 1)))


class CosineSchedule(torch.nn.Module):
    """Buffers derived from (timesteps, s) only, so they stay out of the state dict (non-persistent)."""

    def __init__(self, timesteps: int, s: float = 0.008):
        super().__init__()
        self.timesteps = timesteps
        betas = cosine_betas(timesteps, s)
        alphas_cumprod = torch.cumprod(1 - betas, dim=0)
        prev = torch.cat([torch.ones(1, dtype=torch.float64), alphas_cumprod[:-1]])
        posterior_variance = betas * (1 - prev) / (1 - alphas_cumprod)
        buffers = {
            "betas": betas,
            "alphas_cumprod": alphas_cumprod,
            "alphas_cumprod_prev": prev,
            "sqrt_alphas_cumprod": alphas_cumprod.sqrt(),
            "sqrt_one_minus_alphas_cumprod": (1 - alphas_cumprod).sqrt(),
            # variance 0 at t = 0: log of the next value instead (as in DDPM's code)
            "posterior_log_variance": torch.log(torch.cat([posterior_variance[1:2], posterior_variance[1:]])),
            "posterior_mean_coef1": betas * prev.sqrt() / (1 - alphas_cumprod),
            "posterior_mean_coef2": (1 - prev) * (1 - betas).sqrt() / (1 - alphas_cumprod),
        }
        for name, value in buffers.items():
            self.register_buffer(name, value, persistent=False)

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        return _gather(self.sqrt_alphas_cumprod, t, x0) * x0 + _gather(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise

    def ddpm_step(self, x_t: torch.Tensor, t: int, x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """A draw of x_{t-1} from q(x_{t-1} | x_t, x_0 = the prediction); the mean alone at t = 0."""
        tt = torch.full((x_t.shape[0],), t, dtype=torch.long, device=x_t.device)
        mean = _gather(self.posterior_mean_coef1, tt, x_t) * x0 + _gather(self.posterior_mean_coef2, tt, x_t) * x_t
        if t == 0:
            return mean
        return mean + (0.5 * _gather(self.posterior_log_variance, tt, x_t)).exp() * noise

    def ddim_step(self, x_t: torch.Tensor, t: int, t_prev: int, x0: torch.Tensor, noise: torch.Tensor | None,
                  eta: float = 0.0) -> torch.Tensor:
        """DDIM's update from step t to t_prev (-1: to x_0); eta = 0 is deterministic, eta = 1 with every
        step is DDPM's posterior."""
        ab = float(self.alphas_cumprod[t])
        ab_prev = float(self.alphas_cumprod[t_prev]) if t_prev >= 0 else 1.0
        eps = (x_t - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
        sigma = eta * math.sqrt((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev))
        out = math.sqrt(ab_prev) * x0 + math.sqrt(max(1 - ab_prev - sigma ** 2, 0.0)) * eps
        if sigma > 0 and noise is not None:
            out = out + sigma * noise
        return out
