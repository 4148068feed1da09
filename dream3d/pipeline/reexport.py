"""A finished run's outputs rebuilt from its trained field (field.safetensors) and config.yaml, without
training: the mesh files, the turntable, metrics.json and report.html, at new sizes if asked
(dream3d-export). Each file is replaced atomically; the field, the prior and config.yaml are only read."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable

from ..devices import resolve_device, torch_threads
from ..eval.fields import FIELD_FILE, load_field
from ..shape import extract_mesh, load_sdf
from .config import ConfigError, RunConfig, build_config, load_config_file
from .mesh import chamfer, export_meshes_or_none
from .outputs import prior_image, read_history, timed, write_json, write_turntable
from .report import write_report

# What dream3d-run has written once it has finished (metrics.json comes last but for the report); and
# prior.npz, unless the run had no prior (--prior none).
FINISHED_RUN_FILES = ("config.yaml", FIELD_FILE, "metrics.json")
PRIOR_FILE = "prior.npz"


class ExportError(ValueError):
    """The folder is not a finished run, or an option is out of range."""


def finished_run(run_dir: str | Path) -> Path:
    """run_dir, after checking that it holds every file a finished dream3d-run leaves."""
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise ExportError(f"{run_dir} does not exist")
    if not run_dir.is_dir():
        raise ExportError(f"{run_dir} is a file, not a dream3d-run folder")
    missing = [name for name in FINISHED_RUN_FILES if not (run_dir / name).is_file()]
    if missing:
        hint = ("; its training has not finished: complete it with dream3d-run --resume --out "
                f"{run_dir}" if (run_dir / "config.yaml").is_file() else "")
        raise ExportError(f"{run_dir} is not a finished dream3d-run folder: it has no {', '.join(missing)}{hint}")
    return run_dir


def export_config(run_dir: Path, overrides: dict) -> RunConfig:
    """The run's options from its config.yaml with ``overrides`` (output options) on top, checked as
    dream3d-run checks them."""
    saved = load_config_file(run_dir / "config.yaml")
    return build_config({k: v for k, v in overrides.items() if v is not None},
                        {**saved, "out": str(run_dir), "resume": False, "overwrite": False})


def _read_metrics(path: Path) -> dict:
    try:
        metrics = json.loads(path.read_text())
    except ValueError as err:
        raise ExportError(f"{path} is not valid JSON ({err}): not a finished run's metrics") from err
    if not isinstance(metrics, dict):
        raise ExportError(f"{path} holds a {type(metrics).__name__}, not a run's metrics")
    return metrics


def reexport(run_dir: str | Path, mesh_resolution: int | None = None, turntable_size: int | None = None,
             turntable_frames: int | None = None, device: str | None = None, threads: int | None = None,
             log: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> dict:
    """Rebuilds run_dir's mesh files, turntable, metrics.json and report.html from its field; returns
    the updated metrics. Options left None keep the run's own."""
    run_dir = finished_run(run_dir)
    try:
        config = export_config(run_dir, {"mesh_resolution": mesh_resolution, "turntable_size": turntable_size,
                                         "turntable_frames": turntable_frames, "device": device, "threads": threads})
    except ConfigError as err:
        raise ExportError(f"{run_dir}: {err}") from err
    metrics = _read_metrics(run_dir / "metrics.json")
    if metrics.get("prior_source") != "none" and not (run_dir / PRIOR_FILE).is_file():
        raise ExportError(f"{run_dir} is not a finished dream3d-run folder: it has no {PRIOR_FILE}")
    with torch_threads(config.threads):
        return _reexport(run_dir, config, metrics, log)


def _reexport(run_dir: Path, config: RunConfig, metrics: dict, log) -> dict:
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    with timed(timings, "load"):
        try:
            field = load_field(run_dir, resolve_device(config.device, ConfigError))
            prior = load_sdf(run_dir / PRIOR_FILE) if metrics.get("prior_source") != "none" else None
        except ValueError as err:  # a damaged field or prior file names itself
            raise ExportError(str(err)) from err
    with timed(timings, "mesh"):
        exported = export_meshes_or_none(run_dir, field, config, log, "dream3d-export")
        if exported is not None:
            mesh = exported.pop("mesh")
            metrics.update(mesh_files=exported.pop("files"), **exported)
            if prior is not None:
                metrics["chamfer_to_prior"] = chamfer(mesh, extract_mesh(prior, closed=True))
    if exported is not None:
        log(f"[dream3d-export] mesh at {exported['mesh_resolution']}^3: {exported['mesh_faces']} faces "
            f"({timings['mesh']:.1f} s)")
    with timed(timings, "turntable"):
        metrics["turntable"] = write_turntable(run_dir, field, config)
    log(f"[dream3d-export] turntable: {config.turntable_frames} frames at {config.turntable_size} px "
        f"({timings['turntable']:.1f} s)")
    prior_png = None
    if prior is not None:
        with timed(timings, "prior image"):
            prior_png = prior_image(prior, config)
    metrics["export"] = {"mesh_resolution": metrics.get("mesh_resolution"), "turntable_size": config.turntable_size,
                         "turntable_frames": config.turntable_frames, "timings_s": timings,
                         "wall_s": round(time.perf_counter() - t0, 3)}
    write_json(run_dir / "metrics.json", metrics)
    write_report(run_dir, config, metrics, read_history(run_dir), prior_png)
    chamfer_text = f": Chamfer to prior {metrics['chamfer_to_prior']:.4f}" if "chamfer_to_prior" in metrics else ""
    log(f"[dream3d-export] done in {time.perf_counter() - t0:.1f} s{chamfer_text}; outputs in {run_dir}")
    return metrics
