"""One run end to end: prompt and prior -> optimised field -> every output file, timing each stage."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import torch

from ..devices import resolve_device, torch_threads
from ..out_dir import claim_out_dir, ensure_writable
from ..shape import export_mesh
from .checkpoint import CHECKPOINT
from .config import ConfigError, RunConfig, save_config, validate
from .mesh import chamfer, textured_mesh
from .outputs import prior_image, save_field, save_prior, write_json, write_report, write_turntable
from .priors import resolve_prior
from .objectives import locate_guidance, make_objective
from .stage2 import optimise
from .views import psnr, render_prior, render_views, view_cameras

N_HELDOUT_VIEWS = 4


def prepare_out_dir(config: RunConfig) -> Path:
    """Refuses a non-empty --out unless resuming or overwriting; proves it writable."""
    out = claim_out_dir(config.out, config.resume, config.overwrite, CHECKPOINT, ConfigError)
    ensure_writable(out, ConfigError)
    return out


@contextmanager
def _stage(name: str, timings: dict, log: Callable[[str], None]):
    t0 = time.perf_counter()
    yield
    timings[name] = round(time.perf_counter() - t0, 3)
    log(f"[dream3d] stage {name}: {timings[name]:.1f} s")


def run(config: RunConfig, callback: Callable[[int], None] | None = None,
        log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> dict:
    """Runs stage 2 and writes every output into config.out; returns the metrics (also metrics.json)."""
    with torch_threads(config.threads):
        return _run(config, callback, log)


def _run(config: RunConfig, callback, log) -> dict:
    validate(config)
    weights = locate_guidance(config)  # missing CLIP weights stop the run here, before any work
    device = resolve_device(config.device, ConfigError)
    out = prepare_out_dir(config)
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    with _stage("prior", timings, log):
        prior = resolve_prior(config, log)  # before config.yaml: a bad prior leaves no half-started run behind
        save_config(config, out / "config.yaml")
        prior_mesh = save_prior(out, prior.grid)
        log(f"[dream3d] prior: {prior.description}")
    with _stage("targets" if config.guidance == "none" else "guidance", timings, log):
        objective = make_objective(config, prior.grid, device, weights)
    if config.resume and not (out / CHECKPOINT).exists():
        log(f"[dream3d] no checkpoint in {out}: starting from step 0")
    with _stage("optimise", timings, log):
        field, history = optimise(config, prior.grid, objective, out, device, callback)
    with _stage("evaluate", timings, log):
        cams = view_cameras(config, N_HELDOUT_VIEWS, seed_offset=1)
        truth, truth_mask = render_prior(prior.grid, cams, config.view_size, config.fov, device)
        rgb, opacity = render_views(field, cams, config.view_size, config.fov)
        mesh = textured_mesh(field, config.beta)
        metrics = {"prompt": config.prompt, "prior_source": prior.source, "prior": prior.description,
                   **({"prior_normalization": prior.details} if prior.details else {}),
                   "steps": config.steps, "device": str(device),
                   "threads": torch.get_num_threads(),
                   "psnr_heldout": psnr(rgb, truth), "mask_mse_heldout": float((opacity - truth_mask).square().mean()),
                   "chamfer_to_prior": chamfer(mesh, prior_mesh), "mesh_vertices": len(mesh.vertices),
                   "mesh_faces": len(mesh.faces), **objective.evaluate(rgb),
                   "final": {k: values[-1] for k, values in history.items() if k != "step"}}
    with _stage("outputs", timings, log):
        export_mesh(mesh, out / "mesh.glb")
        metrics["field_file"] = save_field(out, field, config)
        metrics["turntable"] = write_turntable(out, field, config)
        metrics["timings_s"] = timings
        metrics["wall_s"] = round(time.perf_counter() - t_start, 3)  # for the report; final below
        write_report(out, config, metrics, history, prior_image(prior.grid, config))
    metrics["wall_s"] = round(time.perf_counter() - t_start, 3)
    write_json(out / "metrics.json", metrics)
    clip = f", CLIP score {metrics['clip_score_heldout']:.3f}" if "clip_score_heldout" in metrics else ""
    log(f"[dream3d] done in {metrics['wall_s']:.1f} s: held-out PSNR {metrics['psnr_heldout']:.2f} dB (vs the "
        f"prior's renders){clip}, Chamfer to prior {metrics['chamfer_to_prior']:.4f}; outputs in {out}")
    return metrics
