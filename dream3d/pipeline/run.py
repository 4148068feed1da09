"""One run end to end: prompt and prior -> optimised field -> every output file, timing each stage."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable

import torch

from ..devices import resolve_device, torch_threads
from ..out_dir import claim_out_dir, ensure_writable
from .checkpoint import CHECKPOINT, load_checkpoint
from .config import ConfigError, RunConfig, save_config, validate
from .mesh import chamfer, export_meshes_or_none
from .outputs import save_prior, write_json, write_outputs
from .invocations import Invocations
from .priors import resolve_prior
from .report import write_report
from .run_folder import removed_on_failure
from .objectives import locate_guidance, make_objective
from .stage2 import optimise
from .views import SUPERSAMPLE, psnr, render_prior, render_views, view_cameras

N_HELDOUT_VIEWS = 4


def prepare_out_dir(config: RunConfig) -> Path:
    """Refuses a non-empty --out unless resuming or overwriting; proves it writable."""
    out = claim_out_dir(config.out, config.resume, config.overwrite, CHECKPOINT, ConfigError)
    ensure_writable(out, ConfigError)
    return out


def resumed_from(config: RunConfig, out: Path, log: Callable[[str], None]) -> int | None:
    """The step a resumed run continues from (its checkpoint checked against the options now, before any
    work), said in the log; None for a fresh run."""
    if not config.resume:
        return None
    if not (out / CHECKPOINT).exists():
        log(f"[dream3d] no checkpoint in {out}: starting from step 0")
        return 0
    step = load_checkpoint(out / CHECKPOINT, config)["step"]
    if step == config.steps:
        log(f"[dream3d] {out} is trained to its last step ({step}): rebuilding the evaluation and outputs")
    else:
        log(f"[dream3d] resuming {out} from its checkpoint at step {step} of {config.steps}")
    return step


def no_run_to_resume(out: str | Path) -> ConfigError:
    """The error of --resume (with no --prompt) on a folder that holds no run's config.yaml: what is wrong,
    rather than that the prompt is empty."""
    out = Path(out)
    state = "does not exist" if not out.exists() else "holds no config.yaml" if out.is_dir() else "is a file"
    return ConfigError(f"--resume: there is no run to resume in {out} (it {state}); start one there with "
                       "--prompt and without --resume")


def run(config: RunConfig, callback: Callable[[int], None] | None = None,
        log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> dict:
    """Runs stage 2 and writes every output into config.out; returns the metrics (also metrics.json)."""
    with torch_threads(config.threads):
        return _run(config, callback, log)


def _run(config: RunConfig, callback, log) -> dict:
    validate(config)
    weights = locate_guidance(config)  # missing CLIP weights stop the run here, before any work
    device = resolve_device(config.device, ConfigError)
    # a prior or guidance that fails takes back the folder it made (one that held a run stays)
    with removed_on_failure(config.out):
        out = prepare_out_dir(config)
        invocations = Invocations(out, resumed_from(config, out, log))
        stage = lambda name: invocations.stage(name, log)  # noqa: E731
        with stage("prior"):
            prior = resolve_prior(config, log)  # before config.yaml: a bad prior leaves no half-started run behind
            save_config(config, out / "config.yaml")
            prior_mesh = save_prior(out, prior.grid) if prior.source != "none" else None
            log(f"[dream3d] prior: {prior.description}")
        with stage("targets" if config.guidance == "none" else "guidance"):
            objective = make_objective(config, prior.grid, device, weights)
    with stage("optimise"):
        field, history = optimise(config, prior.grid, objective, out, device,
                                  _timing_checkpoints(config, invocations, callback))
    with stage("evaluate"):
        cams = view_cameras(config, N_HELDOUT_VIEWS, seed_offset=1)
        size = config.eval_size or config.view_size
        # rendered as the prior's pictures are (SUPERSAMPLE^2 rays a pixel): a one-ray image against an
        # antialiased one would score a field's sharp edges as error and a pixel-soft field as right
        rgb, opacity = render_views(field, cams, size, config.fov, supersample=SUPERSAMPLE)
        exported = export_meshes_or_none(out, field, config, log)
        mesh = exported.pop("mesh") if exported else None
        metrics = {"prompt": config.prompt, "prior_source": prior.source, "prior": prior.description,
                   **({"prior_normalization": prior.details} if prior.details else {}),
                   **({"prompt_words": prior.words} if prior.words else {}),
                   "steps": config.steps, "device": str(device),
                   "threads": torch.get_num_threads(),
                   **({"mesh_files": exported.pop("files"), **exported} if exported else {}),
                   **objective.evaluate(rgb),
                   "final": {k: values[-1] for k, values in history.items() if k != "step"}}
        if prior_mesh is not None:  # with --prior none there is no prior to compare with: left out, not NaN
            truth, truth_mask = render_prior(prior.grid, cams, size, config.fov, device)
            metrics.update(psnr_heldout=psnr(rgb, truth), mask_mse_heldout=float((opacity - truth_mask).square().mean()))
            if mesh is not None:
                metrics["chamfer_to_prior"] = chamfer(mesh, prior_mesh)
    with stage("outputs"):
        entries, prior_png = write_outputs(out, field, config, history,  # the meshes came with the evaluation
                                           prior.grid if prior_mesh is not None else None)
        metrics.update(entries)
    metrics["invocations"] = invocations.all
    metrics["timings_s"], metrics["wall_s"] = invocations.totals(), invocations.wall_s()
    write_json(out / "metrics.json", metrics)
    write_report(out, config, metrics, history, prior_png)  # last: it links every file
    clip = f", CLIP score {metrics['clip_score_heldout']:.3f}" if "clip_score_heldout" in metrics else ""
    vs_prior = (f"held-out PSNR {metrics['psnr_heldout']:.2f} dB (vs the prior's renders){clip}"
                if "psnr_heldout" in metrics else f"no prior to compare with{clip}")
    if "chamfer_to_prior" in metrics:
        vs_prior += f", Chamfer to prior {metrics['chamfer_to_prior']:.4f}"
    this = invocations.current["wall_s"]
    over = f" ({metrics['wall_s']:.1f} s over {len(invocations.all)} invocations)" if len(invocations.all) > 1 else ""
    log(f"[dream3d] done in {this:.1f} s{over}: {vs_prior}; outputs in {out}")
    return metrics


def _timing_checkpoints(config: RunConfig, invocations: Invocations, callback):
    """The step callback, which also records the optimisation's time at each checkpoint (what a killed
    run keeps of it)."""
    t0 = time.perf_counter()

    def on_step(step: int) -> None:
        if step % config.checkpoint_every == 0:
            invocations.record("optimise", time.perf_counter() - t0)
        if callback is not None:
            callback(step)
    return on_step
