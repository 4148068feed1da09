"""G_M's denoiser after DALLE2-pytorch's DiffusionPriorNetwork: the tokens [condition, timestep,
noisy latent, learned query] go through a causal pre-norm transformer with rotary positions and SwiGLU
feed-forwards, and the last token's output is the predicted (normalised) latent x_0."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import PriorConfig


class Rotary(nn.Module):
    """Rotary position embedding of the first ``dim`` channels of each head (the rest pass through)."""

    def __init__(self, dim: int, base: float = 10000.0):
        super().__init__()
        self.dim = dim
        self.register_buffer("inv_freq", 1.0 / base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, H, N, Dh)."""
        positions = torch.arange(x.shape[-2], device=x.device, dtype=torch.float32)
        freqs = torch.outer(positions, self.inv_freq.to(x.device))
        freqs = torch.cat([freqs, freqs], dim=-1).to(x.dtype)
        rot, rest = x[..., :self.dim], x[..., self.dim:]
        first, second = rot.chunk(2, dim=-1)
        rotated = torch.cat([-second, first], dim=-1)
        return torch.cat([rot * freqs.cos() + rotated * freqs.sin(), rest], dim=-1)


class CausalAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int, rotary_dim: int):
        super().__init__()
        self.heads, self.dim_head = heads, dim_head
        self.to_qkv = nn.Linear(dim, 3 * heads * dim_head, bias=False)
        self.to_out = nn.Linear(heads * dim_head, dim, bias=False)
        self.rotary = Rotary(min(rotary_dim, dim_head))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k, v = self.to_qkv(x).view(b, n, 3, self.heads, self.dim_head).permute(2, 0, 3, 1, 4)
        q, k = self.rotary(q), self.rotary(k)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.to_out(out.transpose(1, 2).reshape(b, n, self.heads * self.dim_head))


class SwiGLU(nn.Module):
    def __init__(self, dim: int, mult: int):
        super().__init__()
        self.proj_in = nn.Linear(dim, 2 * mult * dim, bias=False)
        self.proj_out = nn.Linear(mult * dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj_in(x).chunk(2, dim=-1)
        return self.proj_out(value * F.silu(gate))


class Block(nn.Module):
    def __init__(self, c: PriorConfig):
        super().__init__()
        self.norm_attn = nn.LayerNorm(c.dim, bias=False)
        self.attn = CausalAttention(c.dim, c.heads, c.dim_head, c.rotary_dim)
        self.norm_ff = nn.LayerNorm(c.dim, bias=False)
        self.ff = SwiGLU(c.dim, c.ff_mult)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm_attn(x))
        return x + self.ff(self.norm_ff(x))


class PriorNetwork(nn.Module):
    """(x_t, t, condition, keep) -> predicted x_0. The condition arrives L2-normalised and scaled by
    sqrt(embed_dim); where ``keep`` is False a learned null condition replaces it (classifier-free
    guidance). Widths that differ from ``dim`` get linear projections in and out."""

    def __init__(self, c: PriorConfig):
        super().__init__()
        self.config = c
        self.cond_in = nn.Linear(c.embed_dim, c.dim) if c.embed_dim != c.dim else nn.Identity()
        self.latent_in = nn.Linear(c.latent_dim, c.dim) if c.latent_dim != c.dim else nn.Identity()
        self.latent_out = nn.Linear(c.dim, c.latent_dim) if c.latent_dim != c.dim else nn.Identity()
        self.time_embed = nn.Embedding(c.timesteps, c.dim)
        self.null_cond = nn.Parameter(torch.randn(c.dim))
        self.query = nn.Parameter(torch.randn(c.dim))
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.depth))
        self.norm_out = nn.LayerNorm(c.dim, bias=False)
        self.proj_out = nn.Linear(c.dim, c.dim, bias=False)

    def forward(self, x_t: torch.Tensor, t: torch.Tensor, cond: torch.Tensor,
                keep: torch.Tensor | None = None) -> torch.Tensor:
        b = x_t.shape[0]
        cond = self.cond_in(cond)
        if keep is None:  # the null condition stays in the graph (with zero gradient) for DDP's sake
            keep = torch.ones(b, dtype=torch.bool, device=cond.device)
        cond = torch.where(keep[:, None], cond, self.null_cond.to(cond.dtype).expand_as(cond))
        tokens = torch.stack([cond, self.time_embed(t), self.latent_in(x_t), self.query.expand(b, -1)], dim=1)
        for block in self.blocks:
            tokens = block(tokens)
        return self.latent_out(self.proj_out(self.norm_out(tokens[:, -1])))
