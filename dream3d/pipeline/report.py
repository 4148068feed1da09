"""report.html: what a run made, on one page without scripts: the prompt, the prior and the turntable,
a plot of every logged series, the metrics, where the time went, and a link to every file of the run."""
from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np

from ..shape._atomic import atomic_path
from .config import RunConfig
from .plots import svg_curve

# (history key, title, y-axis label); keys not named here are plotted under their own name
CURVES = (("loss", "total loss", "loss"), ("rgb", "photometric MSE", "MSE"),
          ("mask", "opacity-to-mask MSE", "MSE"), ("psnr", "batch PSNR (dB)", "PSNR (dB)"),
          ("clip", "CLIP loss", "loss"), ("clip_score", "CLIP score (cosine with the prompt)", "cosine"),
          ("sds", "SDS residual, w(t) * mean (eps_hat - eps)^2", "residual"),
          ("t", "SDS timestep t (mean over views)", "t"), ("trans", "transmittance loss", "loss"),
          ("trans_target", "transmittance target", "target"), ("prior", "shape-prior loss", "loss"),
          ("tv", "total variation", "TV"))

# What each file of a run folder holds; files not named here are linked without a note.
FILE_NOTES = {
    "prior.npz": "the shape prior's SDF grid", "prior.glb": "the shape prior's mesh",
    "mesh.glb": "the trained field's mesh, textured (glTF)", "mesh.obj": "the same mesh (OBJ)",
    "mesh.mtl": "the OBJ mesh's material", "mesh_texture.png": "the meshes' baked colour texture",
    "mesh.ply": "the same mesh with vertex colours (PLY)", "field.safetensors": "the trained field (dream3d-export rebuilds "
    "the outputs from it)", "turntable.gif": "the trained field orbited once", "turntable.mp4": "the same, H.264",
    "config.yaml": "every option of the run", "metrics.json": "the metrics and timings on this page",
    "history.json": "every logged series, per step", "timings.json": "each invocation's stage timings", "checkpoint.pt": "the last checkpoint (dream3d-run --resume)",
}
# Shown in their own sections rather than in the metrics table.
_OWN_SECTION = frozenset({"timings_s", "wall_s", "output_timings_s", "invocations", "export", "turntable",
                          "field_file", "mesh_files"})


def png_data_uri(image: np.ndarray) -> str:
    import imageio.v3 as iio

    return "data:image/png;base64," + base64.b64encode(iio.imwrite("<bytes>", image, extension=".png")).decode()


def curve_series(history: dict) -> list[tuple[str, str, str]]:
    """(key, title, y label) of every logged series: the known ones in CURVES' order, then any other key
    the objective logs (titled by its name), so that a new objective's values reach the report too."""
    known = [curve for curve in CURVES if curve[0] in history]
    named = {key for key, _, _ in CURVES} | {"step"}
    return known + [(key, key, key) for key in history if key not in named]


def timings_table(timings: dict, wall: float | None, detail: dict | None = None) -> str:
    """Seconds and share of the wall time per stage (with the outputs' parts under it), the time outside
    every stage, and the wall time."""
    def row(name: str, seconds: float, indent: bool = False) -> str:
        share = f"{100 * seconds / wall:.0f}%" if wall else ""
        label = f"&nbsp;&nbsp;{html.escape(name)}" if indent else html.escape(name)
        return f"<tr><th>{label}</th><td>{seconds:.2f}</td><td>{share}</td></tr>"

    rows = []
    for name, seconds in sorted(timings.items(), key=lambda item: _stage_rank(item[0])):
        rows.append(row(name, seconds))
        if name == "outputs" and detail:
            rows += [row(part, s, indent=True) for part, s in detail.items()]
    if wall is not None:
        rows.append(row("outside the stages (setup, metrics)", max(0.0, wall - sum(timings.values()))))
        rows.append(f"<tr><th>wall time</th><td><b>{wall:.2f}</b></td><td>100%</td></tr>")
    return f"<table><tr><th>stage</th><th>seconds</th><th>share</th></tr>{''.join(rows)}</table>"


# The stages in the order they run (metrics.json sorts its keys); others follow in their own order.
STAGE_ORDER = ("prior", "targets", "guidance", "optimise", "evaluate", "outputs")


def _stage_rank(name: str) -> int:
    return STAGE_ORDER.index(name) if name in STAGE_ORDER else len(STAGE_ORDER)


def files_list(out_dir: Path) -> str:
    """A link to every file in the run folder (temporary files, which start with a dot, left out), with
    its size and what it holds."""
    items = []
    for path in sorted(p for p in Path(out_dir).iterdir() if not p.name.startswith(".") and p.name != "report.html"):
        if path.is_dir():
            items.append(f'<li><a href="{html.escape(path.name)}/">{html.escape(path.name)}/</a></li>')
            continue
        note = FILE_NOTES.get(path.name)
        items.append(f'<li><a href="{html.escape(path.name)}">{html.escape(path.name)}</a> '
                     f"({_size(path.stat().st_size)}){': ' + html.escape(note) if note else ''}</li>")
    return f"<ul>{''.join(items)}</ul>"


def write_report(out_dir: Path, config: RunConfig, metrics: dict, history: dict, prior_png: np.ndarray) -> None:
    """report.html in out_dir; the files listed are those in out_dir now, so write it last."""
    out_dir = Path(out_dir)
    curves = "".join(svg_curve(title, history["step"], history[key], y_label=y_label)
                     for key, title, y_label in curve_series(history))
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                   for k, v in sorted(metrics.items()) if k not in _OWN_SECTION)
    timings = ""
    if "timings_s" in metrics:
        timings = "<h2>Timings</h2>" + timings_table(metrics["timings_s"], metrics.get("wall_s"),
                                                     metrics.get("output_timings_s"))
        invocations = metrics.get("invocations", [])
        if len(invocations) > 1:
            timings += (f"<p>Summed over {len(invocations)} invocations (resumed from steps "
                        f"{', '.join(str(inv.get('resumed_from_step', 0)) for inv in invocations[1:])}); "
                        "timings.json holds each one's.</p>")
    if "export" in metrics:
        export = metrics["export"]
        options = ", ".join(f"{k} {_fmt(v)}" for k, v in export.items() if k not in ("timings_s", "wall_s"))
        timings += (f"<h3>Re-export (dream3d-export{': ' + html.escape(options) if options else ''})</h3>"
                    + timings_table(export.get("timings_s", {}), export.get("wall_s")))
    prior_figure = ("<p>no shape prior (--prior none: DVGO from its empty init)</p>" if prior_png is None else
                    f'<figure><img src="{png_data_uri(prior_png)}" alt="shape prior">'
                    "<figcaption>shape prior (SDF render)</figcaption></figure>")
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>dream3d: {html.escape(config.prompt)}</title>
<style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto}} figure{{display:inline-block;margin:.5em}}
table{{border-collapse:collapse}} th,td{{border:1px solid #ddd;padding:2px 8px;text-align:left;font-size:90%}}</style>
</head><body>
<h1>{html.escape(config.prompt)}</h1>
<p>preset <b>{html.escape(config.preset)}</b>, guidance <b>{html.escape(config.guidance)}</b>,
prior <b>{html.escape(str(metrics.get("prior_source", "")))}</b>, seed {config.seed}, {config.steps} steps</p>
{prior_figure}
<figure><img src="turntable.gif" width="{max(160, config.turntable_size)}" alt="turntable">
<figcaption>trained field, turntable ({config.turntable_frames} frames, {config.turntable_size} px)</figcaption></figure>
<h2>Loss curves</h2>
{curves}
<h2>Metrics</h2>
<table>{rows}</table>
{timings}
<h2>Files</h2>
{files_list(out_dir)}
</body></html>
"""
    with atomic_path(out_dir / "report.html") as tmp:
        tmp.write_text(page)


def _size(n: int) -> str:
    return f"{n} B" if n < 1000 else f"{n / 1e3:.1f} kB" if n < 1e6 else f"{n / 1e6:.1f} MB"


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return str(value)
