"""Line plots as inline SVG (no plotting library, no scripts): a series against the step, with ticks,
tick labels and axis labels, for the reports' pages."""
from __future__ import annotations

import html
import math

WIDTH, HEIGHT = 480, 220
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 26, 42  # margins: room for the tick labels, the title and the x label
MAX_POINTS = 500


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """About ``target`` evenly spaced round values (steps of 1, 2, 2.5 or 5 times a power of ten) whose
    first is <= lo and last >= hi (up to float error), so that the axis ends on a tick."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"ticks need finite bounds, got {lo}, {hi}")
    lo, hi = min(lo, hi), max(lo, hi)
    if hi - lo <= 1e-9 * max(abs(lo), abs(hi)) or hi - lo < 1e-200:  # constant: a band around the value
        half = abs(lo) * 0.1 or 1.0
        lo, hi = lo - half, hi + half
    raw = (hi - lo) / target
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)  # -0.15 / 0.05 = -2.9999999999999996
    while first * step > lo + 1e-9 * step:  # a tick within float error of the bound counts as on it
        first -= 1
    while last * step < hi - 1e-9 * step:
        last += 1
    return [k * step for k in range(first, last + 1)]


def tick_labels(ticks: list[float]) -> list[str]:
    """The ticks as text with the decimals their spacing needs (0.30000000000000004 -> 0.3, 1000.1 stays
    1000.1); scientific notation for very large or small values."""
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(ticks[0]) or 1.0
    largest = max(abs(t) for t in ticks)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    decimals += round(step / 10 ** math.floor(math.log10(step) + 1e-9), 6) == 2.5  # 0.25 needs one more
    if largest and not 1e-4 <= largest < 1e6:
        digits = min(15, max(1, math.floor(math.log10(largest)) - math.floor(math.log10(step)) + 2))
        return [_no_negative_zero(f"{t:.{digits}g}") for t in ticks]
    return [_no_negative_zero(f"{t:.{decimals}f}") for t in ticks]


def _no_negative_zero(text: str) -> str:
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def svg_curve(title: str, steps: list, values: list, y_label: str = "", x_label: str = "step",
              width: int = WIDTH, height: int = HEIGHT) -> str:
    """One series as an SVG polyline (at most ~MAX_POINTS points) inside axes with ticks, tick labels and
    axis labels, in a figure whose caption gives the title and the series' range."""
    points = [(s, v) for s, v in zip(steps, values) if math.isfinite(v)]
    if not points:
        return f"<p>{html.escape(title)}: no data</p>"
    points = points[::max(1, len(points) // MAX_POINTS)] + [points[-1]]
    s0, s1 = points[0][0], points[-1][0]
    v0, v1 = min(p[1] for p in points), max(p[1] for p in points)
    xticks, yticks = nice_ticks(s0, s1), nice_ticks(v0, v1)
    (x_lo, x_hi), (y_lo, y_hi) = (xticks[0], xticks[-1]), (yticks[0], yticks[-1])
    plot_w, plot_h = width - LEFT - RIGHT, height - TOP - BOTTOM

    def x_of(s: float) -> float:
        return LEFT + plot_w * (s - x_lo) / (x_hi - x_lo)

    def y_of(v: float) -> float:
        return TOP + plot_h * (1 - (v - y_lo) / (y_hi - y_lo))

    parts = [f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#999"/>']
    for s, label in zip(xticks, tick_labels(xticks)):
        x = x_of(s)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h + 4}" stroke="#e2e2e2"/>'
                     f'<line x1="{x:.1f}" y1="{TOP + plot_h}" x2="{x:.1f}" y2="{TOP + plot_h + 4}" stroke="#555"/>'
                     f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{label}</text>')
    for v, label in zip(yticks, tick_labels(yticks)):
        y = y_of(v)
        parts.append(f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e2e2e2"/>'
                     f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="#555"/>'
                     f'<text x="{LEFT - 7}" y="{y + 3.5:.1f}" text-anchor="end">{label}</text>')
    line = " ".join(f"{x_of(s):.1f},{y_of(v):.1f}" for s, v in points)
    parts.append(f'<polyline fill="none" stroke="#1f6feb" stroke-width="1.5" points="{line}"/>')
    parts.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">{html.escape(x_label)}</text>')
    if y_label:
        cy = TOP + plot_h / 2
        parts.append(f'<text x="14" y="{cy:.1f}" text-anchor="middle" transform="rotate(-90 14 {cy:.1f})">'
                     f"{html.escape(y_label)}</text>")
    parts.append(f'<text x="{LEFT}" y="{TOP - 9}" font-weight="bold">{html.escape(title)}</text>')
    return (f'<figure><svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}" '
            f'font-family="sans-serif" font-size="11">{"".join(parts)}</svg>'
            f"<figcaption>{html.escape(title)}: {v0:.4g} .. {v1:.4g} over steps {s0}..{s1}</figcaption></figure>")
