"""dream3d-build-prior-data with a tiny G_S and a tiny CLIP: complete shards, a resume that rebuilds
only what is missing (the same bytes), per-rank shards that add up to the single-rank build, and the
errors for a changed plan or a missing generator."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

pytest.importorskip("open_clip")

from dream3d.prior.build_data import main  # noqa: E402
from dream3d.prior.data import load_data, read_manifest, read_shard, shard_path  # noqa: E402
from prior_helpers import build_args, make_tiny_clip, make_tiny_generator  # noqa: E402


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prior_models")
    return make_tiny_generator(folder / "generator.pt"), make_tiny_clip(folder / "clip")


@pytest.fixture(scope="module")
def built(models, tmp_path_factory):
    threads = torch.get_num_threads()
    out = tmp_path_factory.mktemp("built") / "data"
    assert main(build_args(out, *models)) == 0
    torch.set_num_threads(threads)
    return out


def _bytes(folder):
    """Each shard's tensors as bytes (the files' metadata order is not fixed between processes)."""
    from safetensors.torch import load_file

    return {p.name: {k: v.numpy().tobytes() for k, v in load_file(p).items()}
            for p in sorted(folder.glob("shard-*.safetensors"))}


def test_shards_are_complete(built):
    plan = read_manifest(built)
    assert (plan.num_shards, plan.views, plan.embed_dim, plan.w_dim) == (3, 2, 32, 8)
    assert plan.clip["config"]["embed_dim"] == 32 and len(plan.generator["sha256"]) == 16
    _, emb, w = load_data(built)
    assert emb.shape == (5, 2, 32) and w.shape == (5, 8)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(5, 2))  # CLIP embeddings are unit-norm
    assert not torch.allclose(emb[:, 0], emb[:, 1])  # the views differ
    shard = read_shard(built, plan, 2)
    assert shard["z"].shape == (1, 8)


def test_w_is_the_generators_mapping_of_z(built, models):
    from dream3d.shape.generator import load_generator

    plan = read_manifest(built)
    shard = read_shard(built, plan, 0)
    G = load_generator(models[0])
    torch.testing.assert_close(G.mapping(shard["z"]), shard["w"])


def test_resume_rebuilds_only_missing_shards_identically(built, models, tmp_path, capsys):
    out = tmp_path / "data"
    shutil.copytree(built, out)
    before = _bytes(out)
    shard_path(out, 1).unlink()
    kept = shard_path(out, 0).stat().st_mtime_ns
    capsys.readouterr()
    assert main(build_args(out, *models)) == 0
    log = capsys.readouterr().out
    assert "2 of my 3 shards done, 1 to build" in log and "images/s (render" in log
    assert _bytes(out) == before  # each shard draws from its own seed
    assert shard_path(out, 0).stat().st_mtime_ns == kept
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left
    assert main(build_args(out, *models, extra=["--seed", "1"])) == 2
    assert "built with other settings (seed differ)" in capsys.readouterr().err


def test_ranks_write_disjoint_shards_that_make_the_single_rank_build(built, models, tmp_path, monkeypatch):
    out = tmp_path / "data"
    owned = {}
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        assert main(build_args(out, *models)) == 0
        owned[rank] = set(_bytes(out)) - set().union(*owned.values())
    assert owned == {0: {"shard-00000.safetensors", "shard-00002.safetensors"}, 1: {"shard-00001.safetensors"}}
    assert _bytes(out) == _bytes(built)


TORCHRUN_SCRIPT = """
import json
import sys
from dream3d.prior.build_data import main as build
from dream3d.prior.train import main as train
assert build(json.loads(sys.argv[1])) == 0 and train(json.loads(sys.argv[2])) == 0
"""


@pytest.mark.slow
def test_torchrun_builds_shards_and_resumes_training_under_ddp(built, models, tmp_path):
    """One 2-rank launch (process start-up dominates): the ranks build disjoint shards equal to the
    single-rank build, then continue a single-rank 4-step training run to 6 steps under DDP (the same
    global batch, split)."""
    from dream3d.prior import load_prior
    from dream3d.prior.train import CHECKPOINT, main as train
    from prior_helpers import train_args

    data, run = tmp_path / "data", tmp_path / "run"
    assert train(train_args(built, run, steps=4)) == 0
    script = tmp_path / "both.py"
    script.write_text(TORCHRUN_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", str(script),
                             json.dumps(build_args(data, *models)),
                             json.dumps(train_args(built, run, steps=6, extra=["--resume"]))],
                            capture_output=True, text=True, env=env, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "rank 0/2" in result.stdout and "rank 1/2" in result.stdout
    assert _bytes(data) == _bytes(built)
    assert result.stdout.count("resumed") == 1 and "on 2 rank(s)" in result.stdout  # rank 0 reports
    state = torch.load(run / CHECKPOINT, weights_only=True)
    assert state["step"] == 6 and [s for s, _ in state["history"]] == [2, 4, 6]
    prior, meta = load_prior(run / "prior.pt")
    assert meta["step"] == 6 and prior.config.latent_dim == 8
    assert not torch.equal(state["model"]["net.query"], prior.state_dict()["net.query"])  # the EMA is exported


def test_missing_generator_is_named(models, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DREAM3D_MODELS", raising=False)
    args = build_args(tmp_path / "data", tmp_path / "nope.pt", models[1])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--generator" in err and "no such file" in err and "dream3d-train-shape" in err
    args = [a for a in build_args(tmp_path / "data", "x", models[1]) if a not in ("--generator", "x")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "not configured" in err and "dream3d-train-shape" in err
    assert not (tmp_path / "data").exists()
