"""What a run leaves in its folder: the shape prior (SDF grid and mesh), the trained field, a turntable,
a textured mesh, config.yaml, metrics.json and report.html. Every file is written atomically."""
from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

import numpy as np
import torch
import trimesh

from ..cameras import turntable
from ..field import DVGOField
from ..shape import SDFGrid, export_mesh, extract_mesh, save_sdf
from ..shape._atomic import atomic_path
from .config import RunConfig
from .views import render_prior, render_views


def save_prior(out_dir: Path, grid: SDFGrid) -> trimesh.Trimesh:
    """prior.npz and prior.glb; returns the prior's mesh."""
    save_sdf(out_dir / "prior.npz", grid)
    mesh = extract_mesh(grid)
    export_mesh(mesh, out_dir / "prior.glb")
    return mesh


def save_field(out_dir: Path, field: DVGOField, config: RunConfig) -> str:
    """The trained field's tensors as field.safetensors; the options needed to rebuild the model ride
    along as metadata."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in field.state_dict().items()}
    meta = {k: str(getattr(config, k)) for k in ("beta", "color_model", "color_frequencies", "color_width",
                                                 "color_depth", "color_grid_channels")}
    with atomic_path(out_dir / "field.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return "field.safetensors"


def write_turntable(out_dir: Path, field: DVGOField, config: RunConfig) -> list[str]:
    """turntable.gif and turntable.mp4 (H.264 through imageio-ffmpeg): the field orbited once."""
    import imageio.v3 as iio

    cams = turntable(config.turntable_frames, radius=config.camera_radius, elevation=20.0)
    rgb, _ = render_views(field, cams, config.turntable_size, config.fov)
    frames = (rgb.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    with atomic_path(out_dir / "turntable.gif") as tmp:
        iio.imwrite(tmp, frames, duration=80, loop=0)
    with atomic_path(out_dir / "turntable.mp4") as tmp:
        # macro_block_size 1: the frames' size need not be a multiple of 16
        iio.imwrite(tmp, frames, fps=12, codec="libx264", macro_block_size=1)
    return ["turntable.gif", "turntable.mp4"]


def write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _png_data_uri(image: np.ndarray) -> str:
    import imageio.v3 as iio

    return "data:image/png;base64," + base64.b64encode(iio.imwrite("<bytes>", image, extension=".png")).decode()


def prior_image(grid: SDFGrid, config: RunConfig, size: int = 160) -> np.ndarray:
    cams = turntable(1, radius=config.camera_radius, elevation=20.0)
    rgb, _ = render_prior(grid, cams, size, config.fov, "cpu")
    return (rgb[0].clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _svg_curve(title: str, steps: list, values: list, width: int = 480, height: int = 160) -> str:
    """One series as an inline SVG polyline (at most ~500 points), with its range in the caption."""
    points = [(s, v) for s, v in zip(steps, values) if math.isfinite(v)]
    if not points:
        return f"<p>{html.escape(title)}: no data</p>"
    points = points[::max(1, len(points) // 500)] + [points[-1]]
    (s0, s1), (v0, v1) = (points[0][0], points[-1][0]), (min(p[1] for p in points), max(p[1] for p in points))
    pad = 8
    def xy(s, v):
        x = pad + (width - 2 * pad) * ((s - s0) / (s1 - s0) if s1 > s0 else 0.5)
        y = height - pad - (height - 2 * pad) * ((v - v0) / (v1 - v0) if v1 > v0 else 0.5)
        return f"{x:.1f},{y:.1f}"
    line = " ".join(xy(s, v) for s, v in points)
    return (f'<figure><svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">'
            f'<rect width="{width}" height="{height}" fill="#fafafa" stroke="#ccc"/>'
            f'<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{line}"/></svg>'
            f"<figcaption>{html.escape(title)}: {v0:.4g} .. {v1:.4g} over steps {s0}..{s1}</figcaption></figure>")


CURVES = (("loss", "total loss"), ("rgb", "photometric MSE"), ("mask", "opacity-to-mask MSE"),
          ("psnr", "batch PSNR (dB)"), ("clip", "CLIP loss"), ("clip_score", "CLIP score (cosine with the prompt)"),
          ("sds", "SDS residual, w(t) * mean (eps_hat - eps)^2"), ("t", "SDS timestep t (mean over views)"),
          ("trans", "transmittance loss"), ("trans_target", "transmittance target"), ("prior", "shape-prior loss"),
          ("tv", "total variation"))


def curve_series(history: dict) -> list[tuple[str, str]]:
    """(key, title) of every logged series: the known ones in CURVES' order, then any other key the
    objective logs (titled by its name), so that a new objective's values reach the report too."""
    known = [(key, title) for key, title in CURVES if key in history]
    named = {key for key, _ in CURVES} | {"step"}
    return known + [(key, key) for key in history if key not in named]


def write_report(out_dir: Path, config: RunConfig, metrics: dict, history: dict, prior_png: np.ndarray) -> None:
    """report.html: the prompt, the prior, the turntable, the loss curves and the metrics; no scripts."""
    curves = "".join(_svg_curve(title, history["step"], history[key]) for key, title in curve_series(history))
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                   for k, v in sorted(metrics.items()))
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>dream3d: {html.escape(config.prompt)}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}} figure{{display:inline-block;margin:.5em}}
table{{border-collapse:collapse}} th,td{{border:1px solid #ddd;padding:2px 8px;text-align:left;font-size:90%}}</style>
</head><body>
<h1>{html.escape(config.prompt)}</h1>
<p>preset <b>{html.escape(config.preset)}</b>, guidance <b>{html.escape(config.guidance)}</b>,
prior <b>{html.escape(str(metrics.get("prior_source", "")))}</b>, seed {config.seed}, {config.steps} steps</p>
<figure><img src="{_png_data_uri(prior_png)}" alt="shape prior"><figcaption>shape prior (SDF render)</figcaption></figure>
<figure><img src="turntable.gif" width="{max(160, config.turntable_size)}" alt="turntable">
<figcaption>trained field, turntable</figcaption></figure>
<h2>Loss curves</h2>
{curves}
<h2>Metrics</h2>
<table>{rows}</table>
<p>Files: prior.npz, prior.glb, mesh.glb, turntable.gif, config.yaml, metrics.json, the field's tensors.</p>
</body></html>
"""
    with atomic_path(out_dir / "report.html") as tmp:
        tmp.write_text(page)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return str(value)
