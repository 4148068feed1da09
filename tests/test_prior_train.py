"""dream3d-train-prior on synthetic shards: a run writes its files and learns, a killed run resumes
bit for bit, and bad data or options stop it with a clear error before it writes anything."""
from __future__ import annotations

import json

import pytest
import torch

from dream3d.prior import PriorError, load_prior
from dream3d.prior.data import load_data, read_manifest, shard_path
from dream3d.prior.train import CHECKPOINT, Trainer, main
from prior_helpers import synthetic_data, train_args


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("prior_data") / "data"
    synthetic_data(folder)
    return folder


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # main() sets --threads 1


def _state(out):
    return torch.load(out / CHECKPOINT, weights_only=True)


def test_data_loads_whole(data):
    plan, emb, w = load_data(data)
    assert (plan.num_shards, emb.shape, w.shape) == (3, (12, 3, 32), (12, 8))
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(12, 3))


def test_training_writes_a_prior_that_learned(data, tmp_path):
    out = tmp_path / "run"
    extra = ["--log-every", "10", "--checkpoint-every", "20", "--val-shapes", "2"]
    assert main(train_args(data, out, steps=40, extra=extra)) == 0
    history = json.loads((out / "history.json").read_text())
    losses = [loss for _, loss in history["loss"]]
    assert history["step"] == 40 and [s for s, _ in history["loss"]] == [10, 20, 30, 40]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]
    val = history["val_loss"]
    assert [s for s, _ in val] == [20, 40] and val[1][1] < val[0][1]  # the EMA model improves on held-out shapes
    prior, meta = load_prior(out / "prior.pt")
    assert meta["step"] == 40 and meta["clip"]["embed_dim"] == 32 and prior.config.latent_dim == 8
    _, _, w = load_data(data)
    train_w = w[:-2]  # the normalisation comes from the training shapes and rides in the checkpoint
    torch.testing.assert_close(prior.w_mean, train_w.mean(0))
    torch.testing.assert_close(prior.w_std, train_w.std(0, unbiased=False))
    torch.testing.assert_close(prior.state_dict()["net.query"], _state(out)["ema"]["net.query"])


def test_a_killed_run_resumes_bit_for_bit(data, tmp_path, monkeypatch, capsys):
    assert main(train_args(data, tmp_path / "whole", steps=10)) == 0
    real_step = Trainer.train_step

    def killed_at_6(self, *args):
        if self.step == 6:
            raise KeyboardInterrupt
        return real_step(self, *args)

    monkeypatch.setattr(Trainer, "train_step", killed_at_6)
    assert main(train_args(data, tmp_path / "cut", steps=10)) == 130
    assert "continue with --resume" in capsys.readouterr().err
    assert _state(tmp_path / "cut")["step"] == 4  # the last checkpoint (every 4) before the kill
    monkeypatch.setattr(Trainer, "train_step", real_step)
    assert main(train_args(data, tmp_path / "cut", steps=10, extra=["--resume"])) == 0
    whole, cut = _state(tmp_path / "whole"), _state(tmp_path / "cut")
    assert whole["step"] == cut["step"] == 10
    for part in ("model", "ema"):
        for key, value in whole[part].items():
            assert torch.equal(value, cut[part][key]), (part, key)
    for a, b in zip(whole["optimizer"]["state"].values(), cut["optimizer"]["state"].values()):
        assert torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])
    assert whole["history"] == cut["history"]


def test_resume_refuses_changed_options(data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(train_args(data, out, steps=4)) == 0
    assert main(train_args(data, out, steps=4)) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(train_args(data, out, steps=8, extra=["--resume", "--lr", "5e-4"])) == 2
    assert "only --steps; lr differ" in capsys.readouterr().err
    assert main(train_args(data, out, steps=8, extra=["--resume", "--cond-drop", "0.1"])) == 2
    assert "another prior config (cond_drop_prob differ)" in capsys.readouterr().err


@pytest.mark.parametrize("damage,message", [
    ("missing", "shard-00001.safetensors.*run dream3d-build-prior-data again with the same options"),
    ("truncated", "shard-00001.safetensors is corrupt"),
    ("wrong_shape", "embedding should be \\(5, 3, 32\\)"),
])
def test_bad_shards_stop_training_before_any_output(tmp_path, capsys, damage, message):
    data = tmp_path / "data"
    synthetic_data(data)
    path = shard_path(data, 1)
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:-40])
    else:
        from dream3d.prior.data import write_shard
        write_shard(data, 1, torch.zeros(5, 2, 32), torch.zeros(5, 8), torch.zeros(5, 8))
    assert main(train_args(data, tmp_path / "run")) == 2
    assert __import__("re").search(message, capsys.readouterr().err)
    assert not (tmp_path / "run").exists()


def test_empty_or_missing_data_folders_are_named(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(train_args(tmp_path / "empty", tmp_path / "run")) == 2
    assert "holds no manifest.json" in capsys.readouterr().err
    assert main(train_args(tmp_path / "nowhere", tmp_path / "run")) == 2
    assert "no data folder" in capsys.readouterr().err
    synthetic_data(tmp_path / "data")
    assert main(train_args(tmp_path / "data", tmp_path / "run", extra=["--val-shapes", "12"])) == 2
    assert "leaves no training shapes" in capsys.readouterr().err
    (tmp_path / "empty" / "manifest.json").write_text("{not json")
    with pytest.raises(PriorError, match="not a prior data manifest"):
        read_manifest(tmp_path / "empty")
    assert not (tmp_path / "run").exists()

