"""Training G_S: the GAN loop (generator step, critics step with lazy R1, generator EMA), periodic
evaluation and sample renders, atomic checkpoints, and a resume that continues bit for bit on the CPU
(every random generator's state is saved with the weights and optimisers)."""
from __future__ import annotations

import copy
import random
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ... import devices
from .._atomic import atomic_path
from ..sdf_grid import grid_points
from . import distributed
from .config import GeneratorConfig, get_config
from .discriminators import VolumeDiscriminator, crop_patches, patch_points, patch_starts, sdf_with_normals
from .generator import ARCHITECTURE, GENERATOR_FORMAT, ShapeGenerator
from .losses import discriminator_loss, generator_loss, r1_penalty

CHECKPOINT = "checkpoint.pt"
GENERATOR_FILE = "generator.pt"  # the EMA generator alone, for load_generator and the models folder
# options a resumed run may change; all others must match the checkpoint's
RESUMABLE = ("steps", "eval_every", "checkpoint_every", "device", "amp", "threads", "resume", "overwrite",
             "progress", "eval_shapes", "eval_points")


class TrainError(ValueError):
    """Bad options or an output folder/checkpoint that cannot be used."""


@dataclass
class TrainOptions:
    out: str
    config: str = "small"
    overrides: dict = field(default_factory=dict)   # GeneratorConfig fields, e.g. {"batch_size": 8}
    data: str = "library"
    steps: int = 10000
    seed: int = 0
    per_category: int = 4      # library shapes per category per epoch
    pool: int = 0              # library seeds cycle through 1..pool (0: fresh seeds every epoch)
    eval_every: int = 1000     # evaluation (metrics, renders, snapshot) every N steps and at the end
    eval_shapes: int = 26
    eval_points: int = 1024
    checkpoint_every: int = 500
    device: str = "cpu"
    amp: bool = False
    threads: int = 0
    resume: bool = False
    overwrite: bool = False
    progress: bool = True

    def generator_config(self) -> GeneratorConfig:
        try:
            return get_config(self.config, **self.overrides)
        except (TypeError, ValueError) as err:
            raise TrainError(f"generator config: {err}") from err


class Trainer:
    """G, its EMA copy, the global and local critics and their optimisers, on one device."""

    def __init__(self, cfg: GeneratorConfig, device: torch.device, amp: bool = False):
        self.cfg, self.device = cfg, device
        self.G = ShapeGenerator(cfg).to(device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.D_global = VolumeDiscriminator(cfg.grid_resolution, cfg.disc_channels).to(device)
        self.D_local = VolumeDiscriminator(cfg.patch_size, cfg.local_disc_channels).to(device)
        for module in (self.G, self.D_global, self.D_local):
            distributed.broadcast_module(module)
        self.G_ema.load_state_dict(self.G.state_dict())
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=cfg.betas)
        d_params = list(self.D_global.parameters()) + list(self.D_local.parameters())
        self.opt_d = torch.optim.Adam(d_params, lr=cfg.lr * cfg.d_lr_mult, betas=cfg.betas)
        self.amp = amp and device.type == "cuda"  # autocast only on CUDA (bfloat16: no loss scaling)
        self.grid_points = grid_points(cfg.grid_resolution, device=device).reshape(-1, 3)

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.amp else nullcontext()

    def fakes(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated (B, R, R, R) grids at grid_resolution and (B * n, p, p, p) surface patches at
        data_resolution (centres from the generated grid)."""
        cfg = self.cfg
        z = torch.randn(batch, cfg.z_dim, device=self.device)
        with self._autocast():
            feats = self.G.features(self.G.mix_styles(z, cfg.style_mixing, update_w_avg=True))
            grid = self.G.sdf(feats, self.grid_points).float().reshape(batch, *(cfg.grid_resolution,) * 3)
            band = max(cfg.surface_band, 2.0 / (cfg.grid_resolution - 1))
            starts = patch_starts(grid, band, cfg.n_patches, cfg.patch_size, cfg.data_resolution)
            points = patch_points(starts, cfg.patch_size, cfg.data_resolution).reshape(batch, -1, 3)
            patches = self.G.sdf(feats, points).float()
        return grid, patches.reshape(batch * cfg.n_patches, *(cfg.patch_size,) * 3)

    def reals(self, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        grid = F.interpolate(real[:, None], size=(cfg.grid_resolution,) * 3, mode="trilinear",
                             align_corners=True)[:, 0]
        starts = patch_starts(real, cfg.surface_band, cfg.n_patches, cfg.patch_size, cfg.data_resolution)
        patches = crop_patches(real, starts, cfg.patch_size).reshape(-1, *(cfg.patch_size,) * 3)
        return grid, patches

    def critic_inputs(self, grid: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        return (sdf_with_normals(grid, 2.0 / (cfg.grid_resolution - 1)),
                sdf_with_normals(patches, 2.0 / (cfg.data_resolution - 1)))

    def critics(self, x_global: torch.Tensor, x_local: torch.Tensor, amp: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
        with self._autocast() if amp else nullcontext():
            return self.D_global(x_global).float(), self.D_local(x_local).float()

    def step(self, real: torch.Tensor, step: int) -> dict:
        """One generator and one critics update on a batch of real (B, D, D, D) grids; the losses."""
        cfg = self.cfg
        real = real.to(self.device)
        batch = real.shape[0]
        # generator: fool both critics (their weights frozen for this backward)
        fake_grid, fake_patches = self.fakes(batch)
        self.D_global.requires_grad_(False)
        self.D_local.requires_grad_(False)
        g_global, g_local = self.critics(*self.critic_inputs(fake_grid, fake_patches))
        loss_g = generator_loss(g_global) + cfg.local_weight * generator_loss(g_local)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        distributed.average_gradients(self.G)
        self.opt_g.step()
        # critics: real against the same fakes, detached; R1 every r1_every steps, scaled up to match
        self.D_global.requires_grad_(True)
        self.D_local.requires_grad_(True)
        real_in = [x.detach() for x in self.critic_inputs(*self.reals(real))]
        fake_in = [x.detach() for x in self.critic_inputs(fake_grid.detach(), fake_patches.detach())]
        r1_step = cfg.r1_gamma > 0 and step % cfg.r1_every == 0
        if r1_step:
            real_in = [x.requires_grad_(True) for x in real_in]
        r_global, r_local = self.critics(*real_in, amp=not r1_step)  # R1's double backward in float32
        f_global, f_local = self.critics(*fake_in)
        loss_d = discriminator_loss(r_global, f_global) + cfg.local_weight * discriminator_loss(r_local, f_local)
        r1 = torch.zeros((), device=self.device)
        if r1_step:
            r1 = r1_penalty(r_global, real_in[0]) + cfg.local_weight * r1_penalty(r_local, real_in[1])
            loss_d = loss_d + (cfg.r1_gamma / 2) * cfg.r1_every * r1
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        distributed.average_gradients(self.D_global)
        distributed.average_gradients(self.D_local)
        self.opt_d.step()
        self.update_ema()
        values = torch.stack([loss_g.detach(), loss_d.detach(), r1.detach(), r_global.mean().detach(),
                              f_global.mean().detach()]).tolist()  # one read-back
        return dict(zip(("loss_g", "loss_d", "r1", "real_logit", "fake_logit"), values))

    @torch.no_grad()
    def update_ema(self) -> None:
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.lerp_(p, 1.0 - self.cfg.ema_decay)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    def state_dict(self) -> dict:
        return {"generator": self.G.state_dict(), "generator_ema": self.G_ema.state_dict(),
                "d_global": self.D_global.state_dict(), "d_local": self.D_local.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.G.load_weights(state["generator"], "the checkpoint's generator")
        self.G_ema.load_weights(state["generator_ema"], "the checkpoint's EMA generator")
        self.D_global.load_state_dict(state["d_global"])
        self.D_local.load_state_dict(state["d_local"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])


def rng_states() -> dict:
    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(path: Path, trainer: Trainer, options: TrainOptions, step: int, history: dict,
                    extra: dict | None = None) -> None:
    """Everything a resume needs, written atomically; load_generator reads its EMA weights too."""
    state = {"architecture": ARCHITECTURE, "format": GENERATOR_FORMAT, "config": trainer.cfg.to_dict(),
             "options": asdict(options), "step": step, "history": history, "rng": rng_states(), **(extra or {}),
             **{k: _cpu(v) for k, v in trainer.state_dict().items()}}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _cpu(tree):
    if isinstance(tree, torch.Tensor):
        return tree.detach().cpu()
    if isinstance(tree, dict):
        return {k: _cpu(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_cpu(v) for v in tree)
    return tree


def load_checkpoint(path: Path, options: TrainOptions) -> dict:
    """The checkpoint's state after checking that its options match (apart from RESUMABLE ones)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch.load raises many types on a damaged file
        raise TrainError(f"cannot resume: {path} is not a readable checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict) or state.get("architecture") != ARCHITECTURE or "options" not in state:
        raise TrainError(f"cannot resume: {path} is not a dream3d-train-shape checkpoint")
    saved, now = state["options"], asdict(options)
    changed = sorted(k for k in now if k not in RESUMABLE and saved.get(k) != now[k])
    if changed:
        raise TrainError("cannot resume: options differ from the checkpoint's: "
                         + ", ".join(f"{k} ({saved.get(k)!r} -> {now[k]!r})" for k in changed))
    if state["step"] > options.steps:
        raise TrainError(f"cannot resume: the checkpoint is at step {state['step']}, past steps={options.steps}")
    return state


def resolve_device(name: str) -> torch.device:
    return devices.resolve_device(name, TrainError)
