"""Stage 2: the prior-initialised DVGO field, optimised towards an objective (objectives/: the
prior's renders, or CLIP guidance) plus the shape-prior loss and TV; checkpoints are written atomically
and a resumed run continues bit for bit where the checkpoint left it."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch

from .. import ops
from ..field import DVGOField
from ..shape import SDFGrid
from .checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint
from .config import RunConfig
from .field_init import build_field, make_optimizer
from .priors import resample
from .progress import Progress


def optimise(config: RunConfig, grid: SDFGrid, objective, out_dir: Path, device,
             callback: Callable[[int], None] | None = None) -> tuple[DVGOField, dict]:
    """Runs (or resumes, when ``out_dir`` holds a checkpoint and config.resume) the optimisation;
    returns the field and the per-step history. ``callback(step)`` runs after each step's checkpoint."""
    path = out_dir / CHECKPOINT
    start_res = config.coarse_resolution or config.resolution
    state = load_checkpoint(path, config) if config.resume and path.exists() else None
    field = build_field(config, grid, state["resolution"] if state else start_res, device)
    gen = torch.Generator().manual_seed(config.seed)
    history = {k: [] for k in ("step", "loss", *objective.keys, *active_regularisers(config))}
    step = 0
    if state:
        field.load_state_dict(state["model"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history, step = state["history"], state["step"]
    optimizer = make_optimizer(config, field)
    if state:
        optimizer.load_state_dict(state["optimizer"])
    prior_sdf, prior_density = _prior_at(config, grid, field, device)
    progress = Progress(config.steps, step, objective.progress_key)
    try:
        while step < config.steps:
            if step in config.upsample_steps:  # coarse-to-fine: a finer grid, a fresh optimiser (as DVGO)
                field.upsample(_resolution_after(config, step))
                prior_sdf, prior_density = _prior_at(config, grid, field, device)
                optimizer = make_optimizer(config, field)
            decay_lr(config, optimizer, step)
            losses = _step(config, field, optimizer, prior_sdf, objective, step, gen, prior_density)
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


def decay_lr(config: RunConfig, optimizer: torch.optim.Optimizer, step: int) -> None:
    """Every group's rate at ``step``: its start times lr_decay ** (step / steps), DVGO's exponential decay
    (its 0.1 over the run), so that late steps refine instead of jittering the surface by lr_grid."""
    if config.lr_decay == 1.0:
        return
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] * config.lr_decay ** (step / config.steps)


def _prior_at(config: RunConfig, grid: SDFGrid, field: DVGOField, device) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The prior's SDF at the field's resolution, and (prior_cap) its raw density there (eq. 9)."""
    sdf = resample(grid, field.density.resolution[0]).values.to(device)
    if not config.prior_cap:
        return sdf, None
    return sdf, ops.sdf_to_density(sdf, config.beta, act_shift=field.density.act_shift)


def _resolution_after(config: RunConfig, step: int) -> int:
    """Grid size after the upsample at ``step``: geometric from coarse to final over the upsample steps."""
    k, n = config.upsample_steps.index(step) + 1, len(config.upsample_steps)
    return round(config.coarse_resolution * (config.resolution / config.coarse_resolution) ** (k / n))


def regularisers(field: DVGOField, prior_sdf: torch.Tensor,
                 prior_density: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The terms every step adds: the shape-prior loss (eq. 4, mean, with the renderer's alpha) and the
    density grid's total variation. With ``prior_density`` (the prior's own raw density) the prior
    loss sees min(V, prior_density): it keeps the prior's voxels from fading but no longer pushes them
    denser without end (with Adam every voxel inside would gain lr_grid a step however small its
    gradient, and the surface between them would move out)."""
    return prior_term(field, prior_sdf, prior_density), ops.total_variation(field.density.values)


def prior_term(field: DVGOField, prior_sdf: torch.Tensor, prior_density: torch.Tensor | None = None) -> torch.Tensor:
    """The shape-prior loss of ``regularisers``."""
    grid = field.density
    values = grid.values if prior_density is None else torch.minimum(grid.values, prior_density)
    return ops.prior_loss(values, prior_sdf, act_shift=grid.act_shift, interval=field.step_size, reduction="mean")


def active_regularisers(config: RunConfig) -> tuple[str, ...]:
    """The regularisers a run adds and logs: those of non-zero weight (--prior none and the offline
    preview set w_prior or w_tv to 0; computing them anyway cost time and drew flat curves)."""
    return tuple(name for name, weight in (("prior", config.w_prior), ("tv", config.w_tv)) if weight)


def _step(config: RunConfig, field: DVGOField, optimizer, prior_sdf: torch.Tensor, objective, step: int,
          gen: torch.Generator, prior_density: torch.Tensor | None = None) -> dict:
    guidance, logs = objective(field, step, gen)
    terms = {}
    for name in active_regularisers(config):
        if name == "prior":
            terms[name] = config.w_prior, prior_term(field, prior_sdf, prior_density)
        else:
            terms[name] = config.w_tv, ops.total_variation(field.density.values)
    loss = guidance + sum(weight * value for weight, value in terms.values())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    values = torch.stack([loss.detach(), *(value.detach() for _, value in terms.values())]).tolist()  # one read-back
    return {"loss": values[0], **logs, **dict(zip(terms, values[1:]))}
