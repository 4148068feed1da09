"""report.html: plots with axes (ticks, tick labels, axis labels), a timings table with every stage and
the wall time, and a link to every file of the run folder."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dream3d.pipeline import build_config
from dream3d.pipeline.plots import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, nice_ticks, svg_curve, tick_labels
from dream3d.pipeline.report import write_report

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(finite, finite)
def test_ticks_cover_the_range_evenly_in_round_steps(a, b):
    lo, hi = min(a, b), max(a, b)
    ticks = nice_ticks(lo, hi)
    gaps = np.diff(ticks)
    assert ticks[0] <= lo + 1e-9 * gaps[0] and ticks[-1] >= hi - 1e-9 * gaps[0], ticks
    assert 3 <= len(ticks) <= 12, ticks
    assert np.allclose(gaps, gaps[0], rtol=1e-6), ticks
    mantissa = gaps[0] / 10 ** math.floor(math.log10(gaps[0]) + 1e-9)
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 2.5, 5)), gaps[0]


@pytest.mark.parametrize("lo,hi,labels", [
    (0.1, 0.7, ["0.0", "0.2", "0.4", "0.6", "0.8"]), (1, 300, ["0", "100", "200", "300"]),
    (-0.35, -0.15, ["-0.35", "-0.30", "-0.25", "-0.20", "-0.15"]), (1000.1, 1000.5, ["1000.1", "1000.2", "1000.3",
                                                                                     "1000.4", "1000.5"]),
    (-0.1, 0.25, ["-0.1", "0.0", "0.1", "0.2", "0.3"]), (0, 2.5e6, ["0", "5e+05", "1e+06", "1.5e+06", "2e+06", "2.5e+06"])])
def test_tick_labels_are_round_and_distinct(lo, hi, labels):
    assert tick_labels(nice_ticks(lo, hi)) == labels


def _texts(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_curve_has_ticks_labels_and_stays_inside_its_axes():
    steps = list(range(1, 301))
    values = [15 + 16 * (1 - math.exp(-s / 80)) for s in steps]
    svg = svg_curve("batch PSNR (dB)", steps, values, y_label="PSNR (dB)")
    texts = _texts(svg)
    for label in ("0", "100", "200", "300", "15", "20", "25", "30", "35", "step", "PSNR (dB)", "batch PSNR (dB)"):
        assert label in texts, (label, texts)
    points = re.search(r'<polyline[^>]* points="([^"]+)"', svg).group(1).split()
    xy = np.array([[float(c) for c in p.split(",")] for p in points])
    assert xy[:, 0].min() >= LEFT and xy[:, 0].max() <= WIDTH - RIGHT
    assert xy[:, 1].min() >= TOP and xy[:, 1].max() <= HEIGHT - BOTTOM
    assert xy[0, 1] > xy[-1, 1]  # a rising series ends higher up the page


def test_constant_and_empty_series():
    svg = svg_curve("flat", [0, 1, 2], [2.0, 2.0, 2.0])
    assert "<polyline" in svg and "2.0" in _texts(svg)
    assert "no data" in svg_curve("nothing", [0, 1], [float("nan"), float("inf")])


@pytest.fixture
def run_folder(tmp_path):
    for name in ("mesh.glb", "turntable.gif", "config.yaml", "field.safetensors", "extra.bin"):
        (tmp_path / name).write_bytes(b"x" * 10)
    (tmp_path / ".mesh.tmp.glb").write_bytes(b"half")  # an atomic write under way
    return tmp_path


def _report(folder, metrics):
    config = build_config({"prompt": "a chair", "out": str(folder), "turntable_frames": 5, "turntable_size": 40})
    history = {"step": [1, 2, 3], "loss": [0.3, 0.2, 0.1], "psnr": [20.0, 22.0, 23.0]}
    write_report(folder, config, metrics, history, np.zeros((8, 8, 3), np.uint8))
    return (folder / "report.html").read_text()


def test_report_links_every_file_and_times_every_stage(run_folder):
    metrics = {"prior_source": "library", "psnr_heldout": 30.0,
               "timings_s": {"evaluate": 1.0, "optimise": 30.0, "outputs": 5.0, "prior": 0.5, "targets": 0.5},
               "output_timings_s": {"mesh": 1.0, "turntable": 4.0}, "wall_s": 40.0,
               "invocations": [{"resumed_from_step": 0}, {"resumed_from_step": 200}]}
    page = _report(run_folder, metrics)
    for name in ("mesh.glb", "turntable.gif", "config.yaml", "field.safetensors", "extra.bin"):
        assert f'<a href="{name}">{name}</a>' in page, name
    assert ".mesh.tmp" not in page
    timings = page[page.index("<h2>Timings"):page.index("<h2>Files")]
    rows = re.findall(r"<tr><th>(?:&nbsp;)*([^<]+)</th><td>(?:<b>)?([\d.]+)", timings)
    assert [name for name, _ in rows] == ["prior", "targets", "optimise", "evaluate", "outputs", "mesh", "turntable",
                                          "outside the stages (setup, metrics)", "wall time"]
    assert dict(rows)["outside the stages (setup, metrics)"] == "3.00" and dict(rows)["wall time"] == "40.00"
    assert "2 invocations (resumed from steps 200)" in page
    assert "5 frames, 40 px" in page
    assert page.count("<polyline") == 2 and "timings_s" not in page  # timings in their own table only


def test_report_of_a_reexport_shows_its_options_and_timings(run_folder):
    metrics = {"timings_s": {"optimise": 3.0}, "wall_s": 3.5,
               "export": {"mesh_resolution": 96, "turntable_size": 40, "turntable_frames": 5,
                          "timings_s": {"load": 0.1, "mesh": 0.4, "turntable": 2.0}, "wall_s": 2.6}}
    page = _report(run_folder, metrics)
    export = page[page.index("<h3>Re-export"):page.index("<h2>Files")]
    assert "mesh_resolution 96" in export and "turntable_size 40" in export
    assert re.search(r"<th>turntable</th><td>2.00</td><td>77%</td>", export), export
