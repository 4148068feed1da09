"""Shared harness of the pipeline tests: a run, the same run killed between checkpoints and resumed."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from dream3d.pipeline import build_config, run
from dream3d.pipeline.checkpoint import CHECKPOINT


def checkpoint_state(out: Path) -> dict:
    return torch.load(out / CHECKPOINT, weights_only=False)


def whole_and_resumed(options: dict, tmp_path: Path, kill_step: int) -> tuple[dict, dict, int]:
    """Runs ``options`` to the end in tmp_path/whole; runs them again in tmp_path/cut, killed (a
    KeyboardInterrupt) after step ``kill_step``, then resumed to the end. Returns both final checkpoints
    and the step of the checkpoint the kill left."""
    run(build_config({**options, "out": str(tmp_path / "whole")}), log=print)

    def kill(step):
        if step == kill_step:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(build_config({**options, "out": str(tmp_path / "cut")}), callback=kill, log=print)
    step_after_kill = checkpoint_state(tmp_path / "cut")["step"]
    run(build_config({**options, "out": str(tmp_path / "cut"), "resume": True}), log=print)
    return checkpoint_state(tmp_path / "whole"), checkpoint_state(tmp_path / "cut"), step_after_kill
