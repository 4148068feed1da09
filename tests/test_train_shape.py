"""dream3d-train-shape on the tiny config: a few steps with finite losses and every output, exact
checkpoint reloads, a bit-for-bit resume, data folders (resampled onto the cube; missing or empty ones
refused) and refused option changes."""
import json

import pytest
import torch

from dream3d.shape import SDFGrid, grid_points, save_sdf
from dream3d.shape.generator import load_generator, read_checkpoint
from dream3d.shape.generator.cli import main as cli_main
from dream3d.shape.generator.data import Batches, DataError, FolderData, LibraryData, onto_cube
from dream3d.shape.generator.run import TrainError, TrainOptions, metrics_line, train
from dream3d.shape.generator.train import Trainer
from dream3d.shape.generator import get_config


def sphere_folder(path, n=4):
    path.mkdir()
    for i in range(n):
        lo, hi = (-1.2,) * 3, (1.1,) * 3
        p = grid_points(10, lo, hi)
        save_sdf(path / f"s{i}.npz", SDFGrid(p.norm(dim=-1) - (0.4 + 0.1 * i), lo, hi))
    return path


def options(out, data, steps, **kw):
    base = dict(out=str(out), config="tiny", data=data, steps=steps, eval_every=2, checkpoint_every=2,
                eval_shapes=3, eval_points=64, threads=1, progress=False, per_category=1)
    base.update(kw)
    return TrainOptions(**base)


QUIET = dict(log=lambda s: None)


def test_onto_cube_resamples_linear_fields_exactly_and_clamps_outside():
    lo, hi = (-1.5, -1.0, -0.5), (1.0, 1.5, 1.0)
    p = grid_points((6, 7, 5), lo, hi)
    f = lambda q: 0.3 * q[..., 0] - 0.2 * q[..., 1] + 0.1 * q[..., 2]  # noqa: E731
    out = onto_cube(SDFGrid(f(p), lo, hi), 9)
    q = grid_points(9)
    inside = (q[..., 2] <= 1.0) & (q[..., 2] >= -0.5)
    torch.testing.assert_close(out[inside], f(q)[inside], atol=1e-5, rtol=0)
    clamped = q.clone()
    clamped[..., 2] = clamped[..., 2].clamp(-0.5, 1.0)
    torch.testing.assert_close(out, f(clamped), atol=1e-5, rtol=0)


def test_library_epochs_are_fresh_shuffled_and_split_across_ranks():
    data = LibraryData(8, per_category=2, seed=3)
    e0, e1 = data.epoch_items(0), data.epoch_items(1)
    assert len(e0) == 26 and {s for _, s in e0} == {1, 2} and {s for _, s in e1} == {3, 4}
    assert e0 == LibraryData(8, per_category=2, seed=3).epoch_items(0)
    assert e0 != sorted(e0)
    pooled = LibraryData(8, per_category=2, pool=3)
    assert {s for _, s in pooled.epoch_items(1)} == {3, 1}
    held = {s for _, s in data.heldout_items(30)}
    assert min(held) >= 1_000_000
    ranks = [Batches(data, 4, r, 2) for r in range(2)]
    a, b = ranks[0].items(0) + ranks[0].items(1), ranks[1].items(0) + ranks[1].items(1)
    assert not set(a) & set(b)
    assert ranks[0].steps_per_epoch == 3 and ranks[0].items(3) == data.epoch_items(1)[0::2][:4]


def test_tiny_run_writes_every_output_and_the_checkpoint_reloads_exactly(tmp_path):
    out = tmp_path / "run"
    result = train(options(out, "library", 4), **QUIET)
    assert result["steps"] == 4 and 0 <= result["cov"] <= 1 and 0 <= result["1nna"] <= 1
    assert all(torch.isfinite(torch.tensor([result["final_loss_g"], result["final_loss_d"]])))
    assert [e["step"] for e in result["evaluations"]] == [0, 2, 4]
    for name in ("report.html", "metrics.json", "generator.pt", "checkpoint.pt", "snapshots/generator-000004.pt",
                 "snapshots/samples-000002.png"):
        assert (out / name).is_file(), name
    assert json.loads((out / "metrics.json").read_text())["steps"] == 4
    assert "<svg" in (out / "report.html").read_text() and "data:image/png" in (out / "report.html").read_text()
    state = read_checkpoint(out / "checkpoint.pt")
    trainer = Trainer(get_config("tiny"), torch.device("cpu"))
    trainer.load_state_dict(state)
    for key, value in trainer.state_dict().items():
        if "opt" not in key:
            for name, tensor in value.items():
                assert torch.equal(tensor, state[key][name]), (key, name)
    G = load_generator(out / "generator.pt")
    for name, tensor in G.state_dict().items():
        assert torch.equal(tensor, state["generator_ema"][name]), name
    grids = G.synthesize(G.mapping(torch.randn(2, G.z_dim)), 10)
    assert grids[0].resolution == (10, 10, 10) and torch.isfinite(grids[0].values).all()


def test_resume_continues_bit_for_bit(tmp_path):
    data = str(sphere_folder(tmp_path / "grids"))
    train(options(tmp_path / "straight", data, 4), **QUIET)
    train(options(tmp_path / "resumed", data, 2), **QUIET)
    train(options(tmp_path / "resumed", data, 4, resume=True), **QUIET)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 4 and a["history"] == b["history"]
    for key in ("generator", "generator_ema", "d_global", "d_local"):
        for name, tensor in a[key].items():
            assert torch.equal(tensor, b[key][name]), (key, name)
    for key in ("opt_g", "opt_d"):
        for index, moments in a[key]["state"].items():
            assert torch.equal(moments["exp_avg_sq"], b[key]["state"][index]["exp_avg_sq"])
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert a["evaluations"] == b["evaluations"]


def test_refusals(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        train(options(tmp_path / "a", str(tmp_path / "missing"), 1), **QUIET)
    assert not (tmp_path / "a").exists()
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no grids here")
    with pytest.raises(DataError, match="holds no SDF grid files"):
        FolderData(tmp_path / "empty", 8)
    assert cli_main(["--config", "tiny", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "b")]) == 2
    data = str(sphere_folder(tmp_path / "grids"))
    train(options(tmp_path / "run", data, 2), **QUIET)
    with pytest.raises(TrainError, match="not empty"):
        train(options(tmp_path / "run", data, 2), **QUIET)
    with pytest.raises(TrainError, match=r"seed \(0 -> 1\)"):
        train(options(tmp_path / "run", data, 4, resume=True, seed=1), **QUIET)
    if not torch.cuda.is_available():
        with pytest.raises(TrainError, match="no CUDA device"):
            train(options(tmp_path / "d", data, 1, device="cuda"), **QUIET)
    with pytest.raises(TrainError, match="generator config"):
        train(options(tmp_path / "c", data, 1, overrides={"no_such_field": 1}), **QUIET)


def _rank_worker(rank, world, port, out):
    import os

    import torch.distributed as dist

    from dream3d.shape.generator import distributed

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.manual_seed(100 + rank)  # different initial weights and draws on each rank
        trainer = Trainer(get_config("tiny"), torch.device("cpu"))
        res = get_config("tiny").data_resolution
        p = grid_points(res)
        for step in range(2):  # each rank its own data
            radius = 0.3 + 0.2 * torch.rand(2, 1, 1, 1)
            trainer.step(p.norm(dim=-1)[None] - radius, step)
        # parameters only: the mapping's running mean of w is tracked per rank (rank 0's is saved)
        flat = torch.cat([t.detach().flatten() for m in (trainer.G, trainer.D_global, trainer.D_local)
                          for t in m.parameters()])
        torch.save(flat, f"{out}/rank{rank}.pt")
    finally:
        distributed.barrier()
        dist.destroy_process_group()


@pytest.mark.slow
def test_two_gloo_ranks_stay_in_step(tmp_path):
    """Rank 0's weights are broadcast and gradients averaged: two ranks that start from different
    weights and see different data hold identical parameters after their steps."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_rank_worker, args=(2, port, str(tmp_path)), nprocs=2, join=True)
    a, b = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert torch.equal(a, b)


def test_metrics_line_reads_na_for_all_empty_shapes():
    line = metrics_line({"cov": 0.0, "mmd": None, "1nna": 1.0, "empty_generated": 26, "n_generated": 26})
    assert line == "COV 0.000  MMD n/a  1-NNA 1.000  (empty 26/26)"
