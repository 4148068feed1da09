"""G_M's options: the architecture and diffusion settings that a checkpoint must match, with the
paper's Table 3 as ``paper`` and a small ``tiny`` for tests."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass


class PriorError(ValueError):
    """A prior checkpoint, config or data set cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class PriorConfig:
    embed_dim: int = 512        # CLIP embedding size (ViT-B/32: 512); set from the data when training
    latent_dim: int = 512       # G_S's w size; set from the data when training
    dim: int = 512              # transformer width
    depth: int = 6
    dim_head: int = 64
    heads: int = 8
    ff_mult: int = 4            # SwiGLU hidden size = ff_mult * dim
    rotary_dim: int = 32        # rotary positions on the first min(rotary_dim, dim_head) channels of a head
    timesteps: int = 100
    cosine_s: float = 0.008
    cond_drop_prob: float = 0.0  # > 0 trains the null condition that classifier-free guidance needs

    def __post_init__(self):
        for name in ("embed_dim", "latent_dim", "dim", "depth", "dim_head", "heads", "ff_mult", "rotary_dim",
                     "timesteps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise PriorError(f"prior config: {name} must be a positive integer, got {value!r}")
        if self.rotary_dim % 2 or self.dim_head % 2:
            raise PriorError("prior config: rotary_dim and dim_head must be even")
        if not 0.0 <= self.cond_drop_prob < 1.0:
            raise PriorError(f"prior config: cond_drop_prob must lie in [0, 1), got {self.cond_drop_prob}")
        if not self.cosine_s > 0:
            raise PriorError(f"prior config: cosine_s must be > 0, got {self.cosine_s}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PriorConfig":
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise PriorError(f"prior config: unknown option(s) {', '.join(unknown)}")
        return cls(**data)


CONFIGS: dict[str, PriorConfig] = {
    # Table 3 of the paper (DALLE2-pytorch's DiffusionPrior settings)
    "paper": PriorConfig(),
    "tiny": PriorConfig(embed_dim=32, latent_dim=16, dim=32, depth=2, dim_head=8, heads=2, rotary_dim=8,
                        timesteps=20),
}


@dataclass(frozen=True)
class TrainOptions:
    """Optimisation settings; the defaults are Table 3's (AdamW, EMA 0.9999, batch 1024)."""

    steps: int = 500_000
    batch: int = 1024
    lr: float = 1.1e-4
    weight_decay: float = 6.02e-2
    ema_decay: float = 0.9999
    grad_clip: float = 0.5      # max gradient norm (DALLE2-pytorch's prior trainer); 0 turns it off
    seed: int = 0
    val_shapes: int = 0         # the data's last shapes, held out for a validation loss

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def named_config(name: str) -> PriorConfig:
    if name not in CONFIGS:
        raise PriorError(f"unknown prior config {name!r}; configs: {', '.join(CONFIGS)}")
    return CONFIGS[name]
