"""What a G_S training run shows: sample renders (the SDF renderer), metric and loss curves, in
OUT/report.html (no scripts) beside metrics.json."""
from __future__ import annotations

import html

import numpy as np
import torch

from ...cameras import orbit_camera
from ...pipeline.outputs import write_json
from ...pipeline.plots import svg_curve
from ...pipeline.report import png_data_uri
from .._atomic import atomic_path
from ..render import render_grids
from ..sdf_grid import SDFGrid

LIGHT = (0.4, 0.8, 0.45)


def sample_sheet(grids: list[SDFGrid], size: int = 96) -> np.ndarray:
    """The grids rendered side by side from one three-quarter view, (size, size * n, 3) uint8; a grid
    without a surface renders as background."""
    cams = orbit_camera(3.2, 35.0, 20.0)[None]  # close enough that a shape fills most of the frame
    rgb = render_grids(grids, cams, size=size, fov=40.0, light=LIGHT).rgb[:, 0]  # (B, H, W, 3)
    sheet = torch.cat(list(rgb.clamp(0, 1)), dim=1)
    return (sheet * 255).round().to(torch.uint8).cpu().numpy()


def write_report(out_dir, title: str, summary: dict, history: dict, evaluations: list[dict],
                 samples_png: np.ndarray | None, reference_png: np.ndarray | None) -> None:
    steps = [e["step"] for e in evaluations]
    curves = "".join(svg_curve(f"{name} vs held-out", steps,
                                [float("nan") if e.get(key) is None else e[key] for e in evaluations])
                     for key, name in (("cov", "COV"), ("1nna", "1-NNA"), ("mmd", "MMD (Chamfer)")) if evaluations)
    curves += "".join(svg_curve(key, history["step"], history[key]) for key in ("loss_g", "loss_d", "r1")
                      if history.get(key))
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in sorted(summary.items()))
    images = ""
    if samples_png is not None:
        images += (f'<figure><img src="{png_data_uri(samples_png)}" alt="samples"><figcaption>samples of '
                   f"the EMA generator (fixed z)</figcaption></figure>")
    if reference_png is not None:
        images += (f'<figure><img src="{png_data_uri(reference_png)}" alt="held-out shapes"><figcaption>'
                   f"held-out shapes</figcaption></figure>")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}} figure{{display:inline-block;margin:.5em}}
table{{border-collapse:collapse}} th,td{{border:1px solid #ddd;padding:2px 8px;text-align:left;font-size:90%}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
{images}
<h2>Curves</h2>
{curves}
<h2>Summary</h2>
<table>{rows}</table>
</body></html>
"""
    with atomic_path(out_dir / "report.html") as tmp:
        tmp.write_text(page)


__all__ = ["sample_sheet", "write_json", "write_report"]
