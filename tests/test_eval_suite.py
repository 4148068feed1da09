"""dream3d-bench-suite end to end: two configurations of tiny runs on the first prompts of a set, scored
by a tiny CLIP whose embeddings are all zero (a known answer: top-1 0, top-3 1 among 3 candidates); the
comparison's minutes per prompt come from the runs' wall times; a second call reuses the runs."""
from __future__ import annotations

import csv
import json

import pytest
import yaml

pytest.importorskip("open_clip")

from dream3d.eval.suite_cli import main  # noqa: E402
from test_eval_rprecision import TINY, clips, one_thread  # noqa: E402, F401  (fixtures)


def test_suite_runs_scores_and_compares_configurations(clips, tmp_path, capsys):  # noqa: F811
    config, _, zero = clips
    (tmp_path / "prompts.txt").write_text("a red wooden chair\na white yacht\na black desk lamp\n")
    (tmp_path / "mlp.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "grid.yaml").write_text(yaml.safe_dump({**TINY, "color_model": "grid", "color_grid_channels": 4}))
    out = tmp_path / "suite"
    args = ["--config", f"mlp={tmp_path / 'mlp.yaml'}", "--config", f"grid={tmp_path / 'grid.yaml'}",
            "--prompts", str(tmp_path / "prompts.txt"), "--limit", "2", "--out", str(out), "--device", "cpu",
            "--model", f"{config}={zero}", "--views", "2", "--size", "24", "--top-k", "3"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    suite = json.loads((out / "suite.json").read_text())
    assert [line["config"] for line in suite["results"]] == ["mlp", "grid"]
    for line in suite["results"]:
        index = json.loads((out / line["config"] / "index.json").read_text())["runs"]
        assert [e["prompt"] for e in index] == ["a red wooden chair", "a white yacht"]
        assert (line["done"], line["prompts"]) == (2, 2)
        assert line["min_per_prompt"] == pytest.approx(sum(e["wall_s"] for e in index) / 2 / 60, abs=1e-4)
        assert line["peak_rss_mb"] > 50 and line["peak_cuda_mb"] is None
        scores = line["rprecision"]
        assert scores["tiny-eval-clip@zero top-1"]["mean"] == 0.0  # every cosine ties: never first
        assert scores["tiny-eval-clip@zero top-3"]["mean"] == 1.0  # always within 3 of the 3 candidates
        assert scores["tiny-eval-clip@zero top-1"]["stderr"] == 0.0
    assert json.loads((out / "rprecision.json").read_text())["n_candidates"] == 3  # the whole set
    with open(out / "suite.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["config"] for r in rows] == ["mlp", "grid"] and float(rows[1]["tiny-eval-clip@zero top-3"]) == 1.0
    assert "min/prompt" in printed and "grid" in printed
    first = (out / "mlp" / "index.json").stat().st_mtime_ns
    assert main(args) == 0  # reuses the finished batches
    assert (out / "mlp" / "index.json").stat().st_mtime_ns == first
    assert "reusing" in capsys.readouterr().err
    assert json.loads((out / "suite.json").read_text())["results"] == suite["results"]


def test_suite_refuses_bad_configurations(tmp_path, capsys):
    assert main(["--config", "fancy", "--out", str(tmp_path / "o")]) == 2
    assert "not a built-in configuration" in capsys.readouterr().err
    assert main(["--config", "none", "--config", "none", "--out", str(tmp_path / "o")]) == 2
    assert "must differ" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("prompt: a chair\n")
    assert main(["--config", f"x={tmp_path / 'bad.yaml'}", "--out", str(tmp_path / "o")]) == 2
    assert "prompt and out come from the suite" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
