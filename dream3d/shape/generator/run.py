"""A G_S training run end to end: options -> data -> (resumed) training loop -> checkpoints,
evaluations (COV, MMD, 1-NNA against held-out shapes), sample renders, report.html, metrics.json and
generator.pt (the EMA generator, for load_generator)."""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Callable

import imageio.v3 as iio
import torch
from tqdm import tqdm

from ...devices import torch_threads
from ...eval import shape_metrics, surface_point_sets
from ...out_dir import claim_out_dir
from .._atomic import atomic_path
from ..sdf_grid import SDFGrid
from . import distributed
from .data import Batches, DataError, make_data
from .report import sample_sheet, write_json, write_report
from .train import (CHECKPOINT, GENERATOR_FILE, TrainError, TrainOptions, Trainer, load_checkpoint, resolve_device,
                    save_checkpoint, set_rng_states)

EVAL_SEED = 2_000_003  # the fixed z of every evaluation (its own generator: the training draws stay put)
N_RENDER = 6


def prepare_out(options: TrainOptions) -> Path:
    return claim_out_dir(options.out, options.resume, options.overwrite, CHECKPOINT, TrainError)


class Evaluator:
    """COV / MMD / 1-NNA of the EMA generator's shapes from fixed z against a fixed held-out set, and a
    render of the first few."""

    def __init__(self, data, options: TrainOptions, resolution: int):
        self.options, self.resolution = options, resolution
        items = data.heldout_items(options.eval_shapes)
        self.reference = [SDFGrid(data.load(item, cache=True)) for item in
                          tqdm(items, desc="held-out shapes", leave=False, disable=not options.progress)]
        points = surface_point_sets(self.reference, options.eval_points, seed=10_000)
        # a held-out shape with no surface at this resolution could never be matched: leave it out
        self.reference_points = [p for p in points if p is not None]
        if len(self.reference_points) < 2:
            raise DataError(f"fewer than 2 held-out shapes have a surface at {resolution}^3")

    def __call__(self, G, step: int) -> tuple[dict, list[SDFGrid]]:
        z = torch.randn(len(self.reference_points), G.z_dim, generator=torch.Generator().manual_seed(EVAL_SEED))
        device = next(G.parameters()).device
        grids = G.synthesize(G.mapping(z.to(device)), self.resolution)
        points = surface_point_sets(grids, self.options.eval_points, seed=20_000)
        metrics = shape_metrics(points, self.reference_points)
        # inf (every generated shape empty) is stored as None: metrics.json stays strict JSON
        return {"step": step, **{k: v if math.isfinite(v) else None for k, v in metrics.items()}}, grids


def metrics_line(metrics: dict) -> str:
    """'COV .. MMD .. 1-NNA ..'; a missing value (MMD of all-empty shapes) reads n/a."""
    def f(key, digits):
        value = metrics.get(key)
        return "n/a" if value is None else f"{value:.{digits}f}"
    return (f"COV {f('cov', 3)}  MMD {f('mmd', 5)}  1-NNA {f('1nna', 3)}  "
            f"(empty {metrics.get('empty_generated', 0)}/{metrics.get('n_generated', '?')})")


def train(options: TrainOptions, log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
          callback: Callable[[int], None] | None = None) -> dict:
    """Runs (or resumes) training; returns the summary also written to OUT/metrics.json."""
    with torch_threads(options.threads):
        return _train(options, log, callback)


def _train(options: TrainOptions, log, callback) -> dict:
    cfg = options.generator_config()
    if options.steps < 0 or options.eval_every < 1 or options.checkpoint_every < 1 or options.eval_shapes < 2:
        raise TrainError("steps must be >= 0, eval_every and checkpoint_every >= 1, eval_shapes >= 2")
    rank, local_rank, world = distributed.world_from_env()
    device = resolve_device(options.device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", local_rank)
    if world > 1:
        distributed.init(device)
    main = rank == 0
    # the data first: a missing or empty folder must not leave an output folder behind
    data = make_data(options.data, cfg.data_resolution, options.per_category, options.pool, options.seed,
                     cache_dir=Path(options.out) / "library-cache")
    out = prepare_out(options) if main else Path(options.out)
    distributed.barrier()
    batches = Batches(data, cfg.batch_size, rank, world)
    torch.manual_seed(options.seed * 1000 + rank)  # ranks draw different z and patches
    trainer = Trainer(cfg, device, options.amp)
    path = out / CHECKPOINT
    state = load_checkpoint(path, options) if options.resume and path.exists() else None
    history = {k: [] for k in ("step", "loss_g", "loss_d", "r1", "real_logit", "fake_logit")}
    evaluations, step = [], 0
    if state:
        trainer.load_state_dict(state)
        history, evaluations, step = state["history"], state.get("evaluations", []), state["step"]
        if world == 1:
            set_rng_states(state["rng"])
        else:
            torch.manual_seed(options.seed * 1000 + rank + 7919 * step)
        log(f"[dream3d-train-shape] resumed at step {step}")
    elif options.resume:
        log(f"[dream3d-train-shape] no checkpoint in {out}: starting from step 0")
    log(f"[dream3d-train-shape] {cfg.name} config, data: {data.description}, {batches.steps_per_epoch} "
        f"steps per epoch, device {device}{', bf16 autocast' if trainer.amp else ''}, {world} rank(s)")
    evaluator = Evaluator(data, options, cfg.data_resolution) if main else None
    samples_png = reference_png = None
    if main:
        reference_png = sample_sheet(evaluator.reference[:N_RENDER])

    def evaluate_and_report(step: int):
        nonlocal samples_png
        metrics, grids = evaluator(trainer.G_ema, step)
        if not evaluations or evaluations[-1]["step"] != step:
            evaluations.append(metrics)
        samples_png = sample_sheet(grids[:N_RENDER])
        (out / "snapshots").mkdir(exist_ok=True)
        with atomic_path(out / "snapshots" / f"samples-{step:06d}.png") as tmp:
            iio.imwrite(tmp, samples_png)
        trainer.G_ema.save(out / "snapshots" / f"generator-{step:06d}.pt", {"step": step})
        log(f"[dream3d-train-shape] step {step}: {metrics_line(metrics)}")

    def checkpoint(step: int):
        # the evaluations ride along so that a resumed run's report keeps its whole curve
        save_checkpoint(path, trainer, options, step, history, {"evaluations": evaluations})
        trainer.G_ema.save(out / GENERATOR_FILE, {"step": step})

    def summary(step: int, t0: float) -> dict:
        last = evaluations[-1] if evaluations else {}
        return {"config": cfg.name, "data": data.description, "steps": step, "device": str(device),
                "ranks": world, "wall_s": round(time.perf_counter() - t0, 2),
                **{k: last[k] for k in ("cov", "mmd", "1nna") if k in last},
                **{f"final_{k}": history[k][-1] for k in ("loss_g", "loss_d") if history[k]},
                "evaluations": evaluations, "generator_config": cfg.to_dict()}

    t0 = time.perf_counter()
    if main and not evaluations:
        evaluate_and_report(step)  # the untrained generator: the baseline of the curve
    bar = tqdm(total=options.steps, initial=step, desc="G_S", unit="step", disable=not (main and options.progress))
    try:
        while step < options.steps:
            real = batches.batch(step)
            losses = trainer.step(real, step)
            step += 1
            for k in history:
                history[k].append(step if k == "step" else losses[k])
            bar.update(1)
            bar.set_postfix(loss_g=f"{losses['loss_g']:.3f}", loss_d=f"{losses['loss_d']:.3f}")
            if not (math.isfinite(losses["loss_g"]) and math.isfinite(losses["loss_d"])):
                raise TrainError(f"the losses are not finite at step {step}: {losses}")
            if main and (step % options.eval_every == 0 or step == options.steps):
                evaluate_and_report(step)
            if main and (step % options.checkpoint_every == 0 or step == options.steps):
                checkpoint(step)
                result = summary(step, t0)
                write_json(out / "metrics.json", result)
                write_report(out, f"G_S training ({cfg.name})", {k: v for k, v in result.items()
                             if k not in ("evaluations", "generator_config")}, history, evaluations,
                             samples_png, reference_png)
            distributed.barrier()
            if callback is not None:
                callback(step)
    finally:
        bar.close()
    result = summary(step, t0)
    if main:
        if not path.exists():
            checkpoint(step)
        write_json(out / "metrics.json", result)
        write_report(out, f"G_S training ({cfg.name})", {k: v for k, v in result.items()
                     if k not in ("evaluations", "generator_config")}, history, evaluations, samples_png,
                     reference_png)
    return result


__all__ = ["DataError", "TrainError", "TrainOptions", "train"]
