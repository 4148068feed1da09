"""What a run leaves in --out when it fails to set up, and what --resume says and keeps: a failed prior
takes back the folder it made, --resume on a folder with no run names the problem, a resumed run says
which step it continues from and its metrics add up every invocation's timings."""
from __future__ import annotations

import json

import pytest

from dream3d.cli import main
from dream3d.pipeline import PriorError, build_config, run
from dream3d.pipeline.run_folder import removed_on_failure

TINY = {"resolution": 24, "view_size": 24, "n_views": 4, "rays_per_step": 256, "color_width": 16,
        "turntable_frames": 1, "turntable_size": 16, "threads": 1, "prior": "library"}


def test_a_failed_prior_removes_the_folders_the_run_made(tmp_path):
    out = tmp_path / "runs" / "saucer"
    with pytest.raises(PriorError, match="names no shape"):
        run(build_config({**TINY, "prompt": "a flying saucer", "out": str(out), "steps": 1}), log=print)
    assert not (tmp_path / "runs").exists()


def test_a_failed_prior_empties_an_empty_folder_again_and_keeps_a_full_one(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PriorError):
        run(build_config({**TINY, "prompt": "a flying saucer", "out": str(tmp_path / "empty")}), log=print)
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "notes.txt").write_text("mine")
    with pytest.raises(PriorError):
        run(build_config({**TINY, "prompt": "a flying saucer", "out": str(tmp_path / "full"), "overwrite": True}),
            log=print)
    assert (tmp_path / "full" / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_resume_on_a_folder_with_no_run_says_so(tmp_path, capsys, make):
    out = tmp_path / "nothing"
    if make == "empty":
        out.mkdir()
    assert main(["--resume", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"there is no run to resume in {out}" in err and "prompt is empty" not in err
    assert out.exists() == (make == "empty")


def test_resume_says_its_step_and_metrics_keep_every_invocations_timings(tmp_path):
    options = {**TINY, "prompt": "a wooden chair", "out": str(tmp_path / "run"), "steps": 4, "checkpoint_every": 2}

    def kill(step):
        if step == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(build_config(options), callback=kill, log=print)
    lines: list[str] = []
    metrics = run(build_config({**options, "resume": True}), log=lines.append)
    assert any("resuming" in line and "from its checkpoint at step 2 of 4" in line for line in lines), lines
    first, second = metrics["invocations"]
    assert (first["resumed_from_step"], second["resumed_from_step"]) == (0, 2)
    assert first["timings_s"]["optimise"] > 0 and "evaluate" not in first["timings_s"]  # cut short in step 3
    for stage in ("prior", "targets", "optimise"):
        assert metrics["timings_s"][stage] == pytest.approx(first["timings_s"][stage] + second["timings_s"][stage],
                                                            abs=2e-3)
    assert metrics["wall_s"] >= first["wall_s"] + second["timings_s"]["optimise"]
    saved = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert saved["timings_s"] == metrics["timings_s"] and len(saved["invocations"]) == 2


def _fail_in(out, also=None):
    with pytest.raises(RuntimeError):
        with removed_on_failure(out):
            out.mkdir(parents=True)
            (out / "config.yaml").write_text("x")
            if also is not None:  # another run writing beside this one meanwhile (a batch's other rank)
                also.mkdir(parents=True)
                (also / "metrics.json").write_text("{}")
            raise RuntimeError("the prior failed")


def test_the_folders_made_for_a_failed_run_go(tmp_path):
    _fail_in(tmp_path / "batch" / "a-flying-saucer")
    assert list(tmp_path.iterdir()) == []


def test_a_neighbour_written_meanwhile_stays(tmp_path):
    neighbour = tmp_path / "batch" / "a-red-chair"
    _fail_in(tmp_path / "batch" / "a-flying-saucer", also=neighbour)
    assert (neighbour / "metrics.json").is_file()
    assert not (tmp_path / "batch" / "a-flying-saucer").exists()
