"""R-precision results as a terminal table, CSV, JSON and a bar chart (SVG and PNG, one layout drawn
twice). A result row: group, model, k, mean, stderr, n. Every file is written atomically."""
from __future__ import annotations

import csv
import html
import io
import json
import math
from pathlib import Path

from ..shape._atomic import atomic_path

COLUMNS = ("group", "model", "k", "mean", "stderr", "n")
PALETTE = ("#1f6feb", "#8fb8f7", "#d1242f", "#f2a0a5", "#1a7f37", "#8ed19d", "#9a6700", "#e5c07b")


def _pm(mean: float, stderr: float) -> str:
    return f"{mean:.3f}" + ("" if math.isnan(stderr) else f" ± {stderr:.3f}")


def table(rows: list[dict]) -> str:
    """One line per group, one column per (model, k): mean ± standard error."""
    groups = list(dict.fromkeys(r["group"] for r in rows))
    columns = list(dict.fromkeys((r["model"], r["k"]) for r in rows))
    cell = {(r["group"], r["model"], r["k"]): r for r in rows}
    head = ["group", "n", *[f"{m} top-{k}" for m, k in columns]]
    body = []
    for g in groups:
        n = next(r["n"] for r in rows if r["group"] == g)
        body.append([g, str(n), *[_pm(cell[g, m, k]["mean"], cell[g, m, k]["stderr"]) if (g, m, k) in cell else "-"
                                  for m, k in columns]])
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    fmt = lambda line: "  ".join(v.ljust(w) for v, w in zip(line, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(head), "  ".join("-" * w for w in widths), *map(fmt, body)])


def write_csv(path: Path, rows: list[dict], columns=COLUMNS) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue())


def _json_safe(value):
    """nan (the error of a single object) becomes null: JSON has no nan."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(path: Path, data: dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_json_safe(data), indent=2) + "\n")


def _layout(rows: list[dict], width: int = 720, height: int = 360):
    """Bars (x, y, w, h, colour), error bars (x, y0, y1), texts (x, y, text, anchor) and lines of a
    grouped bar chart: one cluster per group, one bar per (model, k), the axis from 0 to 1."""
    groups = list(dict.fromkeys(r["group"] for r in rows))
    series = list(dict.fromkeys((r["model"], r["k"]) for r in rows))
    cell = {(r["group"], r["model"], r["k"]): r for r in rows}
    left, right, top, bottom = 56, 16, 16 + 16 * len(series), 40
    plot_w, plot_h = width - left - right, height - top - bottom
    y_of = lambda v: top + plot_h * (1 - v)  # noqa: E731
    bars, errors, texts, lines = [], [], [], []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        lines.append((left, y_of(tick), width - right, y_of(tick), "#dddddd"))
        texts.append((left - 6, y_of(tick) + 4, f"{tick:.2f}", "end"))
    slot = plot_w / max(1, len(groups))
    bar_w = slot * 0.8 / max(1, len(series))
    for gi, g in enumerate(groups):
        x0 = left + gi * slot + slot * 0.1
        texts.append((left + (gi + 0.5) * slot, height - bottom + 18, g, "middle"))
        for si, (m, k) in enumerate(series):
            r = cell.get((g, m, k))
            if r is None:
                continue
            x = x0 + si * bar_w
            bars.append((x, y_of(r["mean"]), bar_w * 0.9, plot_h * r["mean"], PALETTE[si % len(PALETTE)]))
            if not math.isnan(r["stderr"]):
                lo, hi = max(0.0, r["mean"] - r["stderr"]), min(1.0, r["mean"] + r["stderr"])
                errors.append((x + bar_w * 0.45, y_of(lo), y_of(hi)))
    for si, (m, k) in enumerate(series):
        y = 6 + 16 * si
        bars.append((left, y, 10, 10, PALETTE[si % len(PALETTE)]))
        texts.append((left + 16, y + 9, f"{m} top-{k}", "start"))
    lines.append((left, top, left, top + plot_h, "#444444"))
    lines.append((left, top + plot_h, width - right, top + plot_h, "#444444"))
    return bars, errors, texts, lines


def write_svg(path: Path, rows: list[dict], width: int = 720, height: int = 360) -> None:
    bars, errors, texts, lines = _layout(rows, width, height)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<rect width="{width}" height="{height}" fill="white"/>']
    parts += [f'<line x1="{a:.1f}" y1="{b:.1f}" x2="{c:.1f}" y2="{d:.1f}" stroke="{s}"/>' for a, b, c, d, s in lines]
    parts += [f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{c}"/>' for x, y, w, h, c in bars]
    parts += [f'<line x1="{x:.1f}" y1="{a:.1f}" x2="{x:.1f}" y2="{b:.1f}" stroke="black"/>' for x, a, b in errors]
    parts += [f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{html.escape(t)}</text>'
              for x, y, t, anchor in texts]
    parts.append("</svg>\n")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(parts))


def write_png(path: Path, rows: list[dict], width: int = 720, height: int = 360) -> None:
    from PIL import Image, ImageDraw

    bars, errors, texts, lines = _layout(rows, width, height)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    for a, b, c, d, s in lines:
        draw.line([(a, b), (c, d)], fill=s)
    for x, y, w, h, c in bars:
        draw.rectangle([x, y, x + w, y + h], fill=c)
    for x, a, b in errors:
        draw.line([(x, a), (x, b)], fill="black")
    for x, y, t, anchor in texts:
        tw = draw.textlength(t)
        dx = {"start": 0, "middle": -tw / 2, "end": -tw}[anchor]
        draw.text((x + dx, y - 10), t, fill="black")
    with atomic_path(path) as tmp:
        image.save(tmp)


def write_results(out: Path, result: dict) -> None:
    """rprecision.json (everything), rprecision.csv (groups), rprecision_runs.csv (each run and model)
    and the plot as rprecision.svg and rprecision.png."""
    write_json(out / "rprecision.json", result)
    write_csv(out / "rprecision.csv", result["results"])
    per_run = [{"group": r["group"], "prompt": r["prompt"], "folder": r["folder"], "model": m, **s}
               for r in result["runs"] for m, s in r["scores"].items()]
    write_csv(out / "rprecision_runs.csv", per_run,
              ("group", "prompt", "folder", "model", *[f"top{k}" for k in result["ks"]]))
    write_svg(out / "rprecision.svg", result["results"])
    write_png(out / "rprecision.png", result["results"])


def write_strip(path: Path, views) -> None:
    """(V, 3, S, S) uint8 views side by side as one PNG (folders created)."""
    import imageio.v3 as iio

    path.parent.mkdir(parents=True, exist_ok=True)
    strip = views.permute(2, 0, 3, 1).reshape(views.shape[2], -1, 3).numpy()  # (S, V * S, 3)
    with atomic_path(path) as tmp:
        iio.imwrite(tmp, strip)
