"""Options of G_I's fine-tuning, checked before any work; the ones a resumed run must share with the run
it continues."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from .sd_folder import Text2ImgError
from .token import DEFAULT_INITIALIZER, DEFAULT_TOKEN

MIXED_PRECISION = ("auto", "no", "fp16", "bf16")
# may differ between a run and its resumption
RESUMABLE_CHANGES = {"steps", "checkpoint_every", "keep_checkpoints", "resume", "log_every", "device"}


@dataclass
class FinetuneConfig:
    base_model: str
    out: str
    shapes: str = "library"            # "library" or a folder of SDF grids
    categories: list[str] | None = None
    per_category: int = 8              # library shapes per category
    views: int = 24                    # renders per shape
    grid_resolution: int = 64          # SDF grid the renders are traced on
    size: int = 512                    # image size (SD 1.x: 512, SD 2.x-768: 768)
    data_dir: str | None = None        # default OUT/data
    class_dir: str | None = None       # default OUT/class_images
    prior_weight: float = 1.0          # 0 turns prior preservation off
    class_images: int = 50             # per class
    class_steps: int = 50
    class_guidance_scale: float = 7.5
    token: str = DEFAULT_TOKEN
    initializer: str = DEFAULT_INITIALIZER
    steps: int = 3000
    batch_size: int = 1                # per process; the class batch is as large again
    lr_unet: float = 2e-6
    lr_embedding: float = 5e-4
    warmup: int = 100
    weight_decay: float = 1e-2
    max_grad_norm: float = 1.0
    mixed_precision: str = "auto"      # auto: bf16 (or fp16) on CUDA, none on the CPU
    gradient_checkpointing: bool | None = None  # None: on with CUDA
    adam_8bit: bool | None = None      # None: when bitsandbytes is importable and on CUDA
    checkpoint_every: int = 500
    keep_checkpoints: int = 2
    log_every: int = 10
    seed: int = 0
    resume: bool = False
    device: str | None = None          # None: accelerate's choice (CUDA when present)

    def check(self) -> "FinetuneConfig":
        positive = ("per_category", "views", "size", "steps", "batch_size", "checkpoint_every", "keep_checkpoints",
                    "log_every", "class_steps")
        bad = [f"{k} = {getattr(self, k)}" for k in positive if getattr(self, k) < 1]
        bad += [f"{k} = {getattr(self, k)}" for k in ("prior_weight", "lr_unet", "lr_embedding", "warmup",
                                                      "weight_decay", "max_grad_norm", "class_images")
                if getattr(self, k) < 0]
        if bad:
            raise Text2ImgError("invalid options: " + ", ".join(bad) + " (counts must be >= 1, rates >= 0)")
        if self.grid_resolution < 8:
            raise Text2ImgError(f"grid_resolution must be >= 8, got {self.grid_resolution}")
        if self.size % 8:
            raise Text2ImgError(f"size must be a multiple of 8 (the VAE's downsampling), got {self.size}")
        if self.mixed_precision not in MIXED_PRECISION:
            raise Text2ImgError(f"mixed_precision must be one of {', '.join(MIXED_PRECISION)}, "
                                f"got {self.mixed_precision!r}")
        if self.prior_weight > 0 and self.class_images < 1:
            raise Text2ImgError("prior preservation (prior_weight > 0) needs class_images >= 1")
        return self

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir) if self.data_dir else Path(self.out) / "data"

    @property
    def class_path(self) -> Path:
        return Path(self.class_dir) if self.class_dir else Path(self.out) / "class_images"

    def to_json(self) -> dict:
        return json.loads(json.dumps(asdict(self)))

    def changed_from(self, saved: dict) -> list[str]:
        """Options that differ from a saved run's, apart from those a resumption may change."""
        mine = self.to_json()
        return sorted(f.name for f in fields(self)
                      if f.name not in RESUMABLE_CHANGES and saved.get(f.name) != mine[f.name])
