"""Batches of prompts: one process, and two torchrun ranks over gloo sharing the prompts."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import yaml

from dream3d.cli import main

TINY = {"resolution": 24, "view_size": 24, "n_views": 4, "rays_per_step": 256, "color_width": 16, "steps": 2,
        "turntable_frames": 1, "turntable_size": 16, "threads": 1, "prior": "library"}
PROMPTS = "# a batch\na red chair\n\na flying saucer\na low table\n"  # the saucer has no library shape


def _write_inputs(tmp_path):
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "prompts.txt").write_text(PROMPTS)
    return ["--config", str(tmp_path / "run.yaml"), "--prompts-file", str(tmp_path / "prompts.txt"),
            "--out", str(tmp_path / "batch")]


def _check_index(batch, world_size):
    index = json.loads((batch / "index.json").read_text())
    assert index["world_size"] == world_size
    runs = index["runs"]
    assert [r["prompt"] for r in runs] == ["a red chair", "a flying saucer", "a low table"]
    assert [r["rank"] for r in runs] == [i % world_size for i in range(3)]
    assert [r["status"] for r in runs] == ["done", "failed", "done"]
    assert "names no shape of the built-in library" in runs[1]["error"]
    for r in (runs[0], runs[2]):
        assert (batch / r["out"] / "metrics.json").is_file() and "psnr_heldout" in r


def test_one_process_runs_every_prompt_and_indexes_them(tmp_path):
    assert main(_write_inputs(tmp_path)) == 1  # one prompt failed; the others ran
    _check_index(tmp_path / "batch", 1)


def test_torchrun_shards_prompts_across_two_gloo_ranks(tmp_path):
    args = _write_inputs(tmp_path)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                             "-m", "dream3d.cli", *args], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0, "the failed prompt makes the batch's exit status non-zero"
    assert "rank 1/2: prompt 'a flying saucer'" in result.stderr, result.stderr[-3000:]
    assert "rank 0/2: prompt 'a low table'" in result.stderr
    _check_index(tmp_path / "batch", 2)


def test_a_batch_run_again_is_refused_without_resume_and_keeps_its_finished_prompts_with_it(tmp_path, capsys):
    args = _write_inputs(tmp_path)
    batch = tmp_path / "batch"
    assert main(args) == 1
    index = (batch / "index.json").read_text()
    finished = batch / "a-red-chair" / "metrics.json"
    finished_at = finished.stat().st_mtime_ns
    capsys.readouterr()

    assert main(args) == 2  # refused before touching anything
    assert "holds a batch already (2 of 3 prompts finished)" in capsys.readouterr().err
    assert (batch / "index.json").read_text() == index

    assert main([*args, "--resume"]) == 1  # the saucer fails again; the finished prompts are kept, not rerun
    assert "prompt 'a red chair' finished before: kept" in capsys.readouterr().err
    _check_index(batch, 1)
    assert finished.stat().st_mtime_ns == finished_at
