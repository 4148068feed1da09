"""G_M's parts against closed forms (cosine schedule, DDIM vs DDPM, rotary positions, causality), the
tiny model's learning on a fixed batch, its checkpoint file and its errors."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from dream3d.prior import CONFIGS, DiffusionPrior, PriorError, load_prior, save_prior
from dream3d.prior.network import PriorNetwork, Rotary
from dream3d.prior.schedule import CosineSchedule, cosine_betas

TINY = dataclasses.replace(CONFIGS["tiny"], latent_dim=8)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny ops: thread barriers cost more than they save on a busy CPU
    yield
    torch.set_num_threads(threads)


def test_cosine_schedule_matches_its_closed_form():
    T, s = 100, 0.008
    ab = torch.cumprod(1 - cosine_betas(T, s), 0)
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731
    for t in (0, 10, 50, 90):  # alpha_bar_t = f(t + 1) / f(0) where no beta is clipped
        assert ab[t].item() == pytest.approx(f(t + 1) / f(0), rel=1e-10)
    assert (ab[1:] < ab[:-1]).all() and ab[-1] < 1e-3 and ab[0] > 0.999
    sched = CosineSchedule(T, s)
    x0, noise, t = torch.randn(4, 8, dtype=torch.float64), torch.randn(4, 8, dtype=torch.float64), torch.tensor([0, 5, 50, 99])
    expected = ab[t].sqrt()[:, None] * x0 + (1 - ab[t]).sqrt()[:, None] * noise
    torch.testing.assert_close(sched.q_sample(x0, t, noise), expected)


def test_ddim_with_eta_one_is_the_ddpm_posterior_and_ends_at_x0():
    sched = CosineSchedule(20)
    gen = torch.Generator().manual_seed(1)
    x_t, x0, noise = (torch.randn(3, 5, generator=gen, dtype=torch.float64) for _ in range(3))
    for t in (19, 7, 1):
        torch.testing.assert_close(sched.ddim_step(x_t, t, t - 1, x0, noise, eta=1.0),
                                   sched.ddpm_step(x_t, t, x0, noise), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(sched.ddpm_step(x_t, 0, x0, noise), x0, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(sched.ddim_step(x_t, 3, -1, x0, None), x0, rtol=1e-9, atol=1e-9)


def test_rotary_scores_depend_on_relative_position_only():
    rot = Rotary(8)
    q, k = torch.randn(16, dtype=torch.float64), torch.randn(16, dtype=torch.float64)
    seq_q, seq_k = q.expand(1, 1, 6, 16), k.expand(1, 1, 6, 16)
    rq, rk = rot(seq_q.float()).double()[0, 0], rot(seq_k.float()).double()[0, 0]
    assert rq[2] @ rk[0] == pytest.approx((rq[5] @ rk[3]).item(), rel=1e-4)
    assert rq[2] @ rk[0] != pytest.approx((rq[2] @ rk[1]).item(), rel=1e-3)
    torch.testing.assert_close(rq[:, 8:], seq_q[0, 0, :, 8:].double())  # channels past rotary_dim pass through


def test_the_network_is_causal_and_reads_the_condition():
    torch.manual_seed(0)
    net = PriorNetwork(TINY).eval()
    x, t, c = torch.randn(2, 8), torch.tensor([3, 7]), torch.randn(2, 32)
    hidden = {}
    net.blocks[-1].register_forward_hook(lambda m, i, o: hidden.__setitem__("h", o))
    out = net(x, t, c)
    h1 = hidden["h"].clone()
    out2 = net(x + 1.0, t, c)  # the noisy latent is token 2: tokens 0 and 1 must not see it
    torch.testing.assert_close(hidden["h"][:, :2], h1[:, :2])
    assert not torch.allclose(out, out2)
    assert not torch.allclose(net(x, t, -c), out)
    dropped = net(x, t, c, keep=torch.tensor([False, True]))
    torch.testing.assert_close(dropped[1], out[1])
    torch.testing.assert_close(dropped[0], net(x[:1], t[:1], -c[:1], keep=torch.tensor([False]))[0])  # null condition


def test_tiny_prior_learns_a_fixed_batch():
    torch.manual_seed(0)
    model = DiffusionPrior(TINY)
    gen = torch.Generator().manual_seed(0)
    emb, w = torch.randn(32, 32, generator=gen), 5 + 3 * torch.randn(32, 8, generator=gen)
    model.set_normalisation(w.mean(0), w.std(0))
    t, noise, keep = model.draw(32, gen)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        loss = model(emb, w, t, noise, keep)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.3 * losses[0], (losses[0], losses[-1])


def test_samples_are_denormalised_and_repeatable():
    torch.manual_seed(0)
    model = DiffusionPrior(TINY).eval()
    model.set_normalisation(torch.full((8,), 100.0), torch.full((8,), 0.01))
    emb = torch.randn(3, 32)
    a = model.sample(emb, generator=torch.Generator().manual_seed(4))
    b = model.sample(emb, generator=torch.Generator().manual_seed(4))
    assert a.shape == (3, 8) and torch.equal(a, b)
    assert (a - 100).abs().max() < 1.0  # the normalised sample is O(1): 0.01 * that around 100
    d = model.sample(emb, "ddim", steps=5, generator=torch.Generator().manual_seed(4))
    assert d.shape == (3, 8) and torch.isfinite(d).all()


def test_guidance_needs_conditioning_dropout():
    emb = torch.randn(2, 32)
    with pytest.raises(PriorError, match="conditioning dropout"):
        DiffusionPrior(TINY).sample(emb, guidance_scale=3.0)
    torch.manual_seed(0)
    model = DiffusionPrior(dataclasses.replace(TINY, cond_drop_prob=0.2)).eval()
    plain = model.sample(emb, "ddim", 4, generator=torch.Generator().manual_seed(0))
    guided = model.sample(emb, "ddim", 4, guidance_scale=3.0, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(plain, guided)
    with pytest.raises(PriorError, match="steps must lie"):
        model.sample(emb, "ddpm", steps=5)
    with pytest.raises(PriorError, match="another CLIP"):
        model.sample(torch.randn(2, 16))


def test_checkpoint_reloads_exactly(tmp_path):
    torch.manual_seed(0)
    model = DiffusionPrior(TINY)
    model.set_normalisation(torch.arange(8.0), torch.linspace(1, 2, 8))
    save_prior(tmp_path / "prior.pt", model, meta={"clip": {"model": "x"}})
    loaded, meta = load_prior(tmp_path / "prior.pt", expect=TINY)
    assert meta == {"clip": {"model": "x"}} and not loaded.training
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b), k
    emb = torch.randn(2, 32)
    torch.testing.assert_close(model.eval().sample(emb, generator=torch.Generator().manual_seed(1)),
                               loaded.sample(emb, generator=torch.Generator().manual_seed(1)), rtol=0, atol=0)


def test_bad_checkpoints_are_named(tmp_path):
    model = DiffusionPrior(TINY)
    save_prior(tmp_path / "prior.pt", model)
    with pytest.raises(PriorError, match="another config: .*depth expected 3, found 2"):
        load_prior(tmp_path / "prior.pt", expect=dataclasses.replace(TINY, depth=3))
    torch.save({"format": "something-else", "state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(PriorError, match="not a G_M prior checkpoint.*dream3d-train-prior"):
        load_prior(tmp_path / "other.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "prior.pt").read_bytes()[:500])
    with pytest.raises(PriorError, match="not a readable G_M prior checkpoint"):
        load_prior(tmp_path / "cut.pt")
    with pytest.raises(PriorError, match="no G_M prior checkpoint at"):
        load_prior(tmp_path / "missing.pt")
    payload = torch.load(tmp_path / "prior.pt")
    payload["config"]["dim"] = 64  # weights saved for dim 32
    torch.save(payload, tmp_path / "mixed.pt")
    with pytest.raises(PriorError, match="do not fit"):
        load_prior(tmp_path / "mixed.pt")
