"""Stage 2: the prior-initialised DVGO field, optimised towards an objective (objectives.py: the
prior's renders, or CLIP guidance) plus the shape-prior loss and TV; checkpoints are written atomically
and a resumed run continues bit for bit where the checkpoint left it."""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from .. import devices, ops
from ..cameras import pixel_rays, random_orbit_cameras
from ..field import ColorMLP, DensityGrid, DVGOField, FeatureGridColor
from ..shape import SDFGrid, render_grids
from ..shape._atomic import atomic_path
from .config import RESUMABLE_CHANGES, ConfigError, RunConfig
from .priors import resample

CHECKPOINT = "checkpoint.pt"
CHECKPOINT_FORMAT = 1
# A fixed light rather than a headlight: the colour model sees positions only, so targets must not
# change shade with the viewpoint for the field to be able to match them.
LIGHT = (0.4, 0.8, 0.45)


def resolve_device(name: str) -> torch.device:
    return devices.resolve_device(name, ConfigError)


def view_cameras(config: RunConfig, n_views: int, seed_offset: int = 0) -> torch.Tensor:
    """Views all around the object: azimuth uniform in [0, 360), elevation uniform in [-15, 60]."""
    gen = torch.Generator().manual_seed(config.seed * 1000 + seed_offset)
    return random_orbit_cameras(n_views, config.camera_radius, gen, (-15.0, 60.0))


def render_prior(grid: SDFGrid, cameras: torch.Tensor, size: int, fov: float, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Shaded renders of the prior on white: rgb (V, H, W, 3) and mask (V, H, W) (2x2 supersampled:
    the field's edges are soft, so hard-edged targets would cost it PSNR it cannot win back)."""
    out = render_grids(grid, cameras, size=size, fov=fov, background="white", light=LIGHT, device=device,
                       supersample=2)
    return out.rgb[0], out.mask[0]


def build_field(config: RunConfig, grid: SDFGrid, resolution: int, device) -> DVGOField:
    """The field initialised from the prior at ``resolution`` (paper eq. 9); the colour model's initial
    weights come from the run's seed. color_model "mlp": the paper's MLP on a positional encoding of x
    (eq. 6c); "grid": DVGO's feature grid (k0) at the density's resolution with a small MLP on the
    gathered features (on the CPU preview it is 1.4x slower per step than the MLP: the 12-channel
    scatter of its backward costs more than the deeper MLP)."""
    torch.manual_seed(config.seed)
    sdf = resample(grid, resolution).values.to(device)
    density = DensityGrid.from_sdf(sdf, beta=config.beta, xyz_min=grid.xyz_min, xyz_max=grid.xyz_max)
    if config.color_model == "grid":
        color = FeatureGridColor(resolution, config.color_grid_channels, config.color_width,
                                 xyz_min=grid.xyz_min, xyz_max=grid.xyz_max)
    else:
        color = ColorMLP(config.color_frequencies, config.color_width, config.color_depth)
    return DVGOField(density, color).to(device)


def render_views(field: DVGOField, cameras: torch.Tensor, size: int, fov: float, bg=1.0,
                 chunk: int = 16384, weight_thres: float = 1e-4,
                 grad: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The field's images from ``cameras``: rgb (V, H, W, 3) and opacity (V, H, W), differentiable
    only when ``grad``."""
    device = field.density.values.device
    rgbs, opacities = [], []
    with torch.set_grad_enabled(grad):
        for c2w in cameras:
            rays_o, rays_d = pixel_rays(c2w, size, size, fov, device=device)
            parts = [field.render(rays_o[i:i + chunk], rays_d[i:i + chunk], bg=bg, weight_thres=weight_thres,
                                  depth=False) for i in range(0, len(rays_o), chunk)]
            rgbs.append(torch.cat([p.rgb for p in parts]).reshape(size, size, 3))
            opacities.append(torch.cat([p.opacity for p in parts]).reshape(size, size))
    return torch.stack(rgbs), torch.stack(opacities)


def psnr_from_mse(mse: float) -> float:
    return 100.0 if mse == 0 else -10.0 * math.log10(mse)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return psnr_from_mse(float((a - b).square().mean()))


class Progress:
    """A tqdm bar on a terminal, else (logs, batch jobs) a line every ~5% on stderr; both show the loss
    and the objective's headline value (PSNR or CLIP score)."""

    def __init__(self, total: int, start: int, metric: str):
        from tqdm import tqdm

        self.total, self.start_step, self.metric, self.t0 = total, start, metric, time.perf_counter()
        interactive = sys.stderr.isatty()
        self.bar = tqdm(total=total, initial=start, desc="stage 2", unit="step", file=sys.stderr) if interactive else None
        self.every = max(1, total // 20)

    def update(self, step: int, losses: dict) -> None:
        loss, value = losses["loss"], losses[self.metric]
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix({"loss": f"{loss:.4f}", self.metric: f"{value:.3f}"})
        elif step % self.every == 0 or step == self.total:
            elapsed = time.perf_counter() - self.t0
            rate = (step - self.start_step) / elapsed if elapsed > 0 else 0.0
            eta = (self.total - step) / rate if rate > 0 else float("nan")
            print(f"  step {step:>6}/{self.total}  loss {loss:.5f}  {self.metric} {value:.4f}  "
                  f"{rate:5.2f} step/s  eta {eta:5.0f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def save_checkpoint(path: Path, config: RunConfig, step: int, field: DVGOField, optimizer, gen: torch.Generator,
                    history: dict) -> None:
    state = {"format": CHECKPOINT_FORMAT, "step": step, "config": config.to_dict(),
             "resolution": field.density.resolution[0], "model": field.state_dict(),
             "optimizer": optimizer.state_dict(), "generator": gen.get_state(), "torch_rng": torch.get_rng_state(),
             "history": history}
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, config: RunConfig) -> dict:
    """The checkpoint's state, after checking that it belongs to a run with the same options (apart from
    those in RESUMABLE_CHANGES, e.g. more steps)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch.load raises many types on a damaged file
        raise ConfigError(f"cannot resume: {path} is not a readable checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"cannot resume: {path} is not a dream3d checkpoint of format {CHECKPOINT_FORMAT}")
    saved, now = state["config"], config.to_dict()
    changed = sorted(k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k])
    if changed:
        raise ConfigError("cannot resume: options differ from the checkpoint's: " +
                          ", ".join(f"{k} ({saved.get(k)!r} -> {now[k]!r})" for k in changed))
    if state["step"] > config.steps:
        raise ConfigError(f"cannot resume: the checkpoint is at step {state['step']}, past steps={config.steps}")
    return state


def make_optimizer(config: RunConfig, field: DVGOField) -> torch.optim.Adam:
    """Adam with DVGO's split: the grids (density, and a colour feature grid) at their own rates, the
    MLP weights at lr_color."""
    groups = [{"params": list(field.density.parameters()), "lr": config.lr_grid}]
    features = [p for name, p in field.color.named_parameters() if name == "features"]
    if features:
        groups.append({"params": features, "lr": config.lr_color_grid})
    groups.append({"params": [p for name, p in field.color.named_parameters() if name != "features"],
                   "lr": config.lr_color})
    return torch.optim.Adam(groups)


def optimise(config: RunConfig, grid: SDFGrid, objective, out_dir: Path, device,
             callback: Callable[[int], None] | None = None) -> tuple[DVGOField, dict]:
    """Runs (or resumes, when ``out_dir`` holds a checkpoint and config.resume) the optimisation;
    returns the field and the per-step history. ``callback(step)`` runs after each step's checkpoint."""
    path = out_dir / CHECKPOINT
    start_res = config.coarse_resolution or config.resolution
    state = load_checkpoint(path, config) if config.resume and path.exists() else None
    field = build_field(config, grid, state["resolution"] if state else start_res, device)
    gen = torch.Generator().manual_seed(config.seed)
    history = {k: [] for k in ("step", "loss", *objective.keys, "prior", "tv")}
    step = 0
    if state:
        field.load_state_dict(state["model"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history, step = state["history"], state["step"]
    optimizer = make_optimizer(config, field)
    if state:
        optimizer.load_state_dict(state["optimizer"])
    prior_sdf = resample(grid, field.density.resolution[0]).values.to(device)
    progress = Progress(config.steps, step, objective.progress_key)
    try:
        while step < config.steps:
            if step in config.upsample_steps:  # coarse-to-fine: a finer grid, a fresh optimiser (as DVGO)
                field.upsample(_resolution_after(config, step))
                prior_sdf = resample(grid, field.density.resolution[0]).values.to(device)
                optimizer = make_optimizer(config, field)
            losses = _step(config, field, optimizer, prior_sdf, objective, step, gen)
            step += 1
            for key, value in (("step", step), *losses.items()):
                history[key].append(value)
            if step % config.checkpoint_every == 0 or step == config.steps:
                save_checkpoint(path, config, step, field, optimizer, gen, history)
            progress.update(step, losses)
            if callback is not None:
                callback(step)
    finally:
        progress.close()
    return field, history


def _resolution_after(config: RunConfig, step: int) -> int:
    """Grid size after the upsample at ``step``: geometric from coarse to final over the upsample steps."""
    k, n = config.upsample_steps.index(step) + 1, len(config.upsample_steps)
    return round(config.coarse_resolution * (config.resolution / config.coarse_resolution) ** (k / n))


def regularisers(field: DVGOField, prior_sdf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The terms every step adds: the shape-prior loss (eq. 4, mean, with the renderer's alpha) and the
    density grid's total variation."""
    grid = field.density
    prior = ops.prior_loss(grid.values, prior_sdf, act_shift=grid.act_shift, interval=field.step_size,
                           reduction="mean")
    return prior, ops.total_variation(grid.values)


def _step(config: RunConfig, field: DVGOField, optimizer, prior_sdf: torch.Tensor, objective, step: int,
          gen: torch.Generator) -> dict:
    guidance, logs = objective(field, step, gen)
    prior, tv = regularisers(field, prior_sdf)
    loss = guidance + config.w_prior * prior + config.w_tv * tv
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    total, prior, tv = torch.stack([loss.detach(), prior.detach(), tv.detach()]).tolist()  # one read-back
    return {"loss": total, **logs, "prior": prior, "tv": tv}


def ensure_writable(out_dir: Path) -> None:
    """Creates ``out_dir`` and proves it writable with a probe file, so a read-only folder fails now
    with a clear message rather than after minutes of optimisation."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(out_dir / ".write-probe"):
            pass
        os.unlink(out_dir / ".write-probe")
    except OSError as err:
        raise ConfigError(f"--out {out_dir} is not writable: {err.strerror or err}") from err
