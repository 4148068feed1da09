"""dream3d-train-prior: trains G_M on dream3d-build-prior-data's shards. AdamW (weight decay on
matrices only, as DALLE2-pytorch groups it), gradient clipping, an EMA copy (exported as prior.pt),
atomic checkpoints. Every random draw of step s on rank r comes from a generator seeded by
(seed, r, s), so a resume from a checkpoint continues bit for bit on the CPU. Under torchrun the
batch is split over the ranks (DistributedDataParallel: gloo on the CPU, nccl on CUDA)."""
from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from ..shape._atomic import atomic_path
from ..shape.generator.distributed import rank_device, world_from_env
from .checkpoint import VERSION, read_checkpoint, save_prior
from .config import CONFIGS, PriorConfig, PriorError, TrainOptions, named_config
from .data import load_data
from .model import DiffusionPrior

CHECKPOINT = "checkpoint.pt"
PRIOR_FILE = "prior.pt"
TRAIN_FORMAT = "dream3d-prior-train"
# options a resume may change without changing what the run computes
RESUMABLE = {"steps"}


def step_generator(seed: int, rank: int, step: int) -> torch.Generator:
    key = hashlib.sha256(f"dream3d-prior-train:{seed}:{rank}:{step}".encode()).digest()[:8]
    return torch.Generator().manual_seed(int.from_bytes(key, "little") >> 1)


def w_statistics(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and std of w over the data (std floored so a constant dimension stays finite)."""
    w64 = w.double()
    return w64.mean(0).float(), w64.std(0, unbiased=False).clamp_min(1e-6).float()


def make_optimizer(model: DiffusionPrior, options: TrainOptions) -> torch.optim.AdamW:
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": options.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=options.lr)


@torch.no_grad()
def ema_update(ema: DiffusionPrior, model: DiffusionPrior, decay: float, step: int) -> None:
    """EMA with a warm-up (decay grows as (1 + s) / (10 + s) up to ``decay``), so early averages are
    not dominated by the random initialisation."""
    d = min(decay, (1 + step) / (10 + step))
    for e, p in zip(ema.parameters(), model.parameters()):
        e.lerp_(p, 1 - d)


class Trainer:
    def __init__(self, config: PriorConfig, options: TrainOptions, plan_json: dict, device, rank: int = 0,
                 world: int = 1):
        self.config, self.options, self.plan_json = config, options, plan_json
        self.device, self.rank, self.world = torch.device(device), rank, world
        torch.manual_seed(options.seed)  # the initial weights
        self.model = DiffusionPrior(config)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.optimizer = make_optimizer(self.model, options)
        self.step = 0
        self.history: list[list[float]] = []  # [step, mean loss over the logging interval]
        self.val_history: list[list[float]] = []  # [step, the EMA model's loss on the held-out shapes]
        self.model.to(self.device)
        self.ema.to(self.device)
        self.net = self.model
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel
            self.net = DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)

    def set_statistics(self, w: torch.Tensor) -> None:
        mean, std = w_statistics(w)
        for m in (self.model, self.ema):
            m.set_normalisation(mean.to(self.device), std.to(self.device))

    def state(self) -> dict:
        return {"format": TRAIN_FORMAT, "version": VERSION, "config": self.config.to_dict(),
                "options": self.options.to_dict(), "data": self.plan_json, "step": self.step,
                "model": self.model.state_dict(), "ema": self.ema.state_dict(),
                "optimizer": self.optimizer.state_dict(), "history": self.history, "val_history": self.val_history}

    def load(self, path: Path) -> None:
        state = read_checkpoint(path, TRAIN_FORMAT, "G_M training checkpoint", "start a new run without --resume")
        saved_config = PriorConfig.from_dict(state["config"])
        if saved_config != self.config:
            diff = [k for k, v in self.config.to_dict().items() if state["config"].get(k) != v]
            raise PriorError(f"{path} was trained with another prior config ({', '.join(diff)} differ); "
                             "resume with the same --config and --cond-drop, or start a new --out")
        changed = [k for k, v in self.options.to_dict().items() if k not in RESUMABLE and state["options"].get(k) != v]
        if changed:
            raise PriorError(f"{path}: resuming may change only --steps; {', '.join(changed)} differ")
        if state["data"] != self.plan_json:
            raise PriorError(f"{path} was trained on other data (its manifest differs); resume with the same --data")
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step, self.history = int(state["step"]), [list(h) for h in state["history"]]
        self.val_history = [list(h) for h in state.get("val_history", [])]

    def train_step(self, embeddings: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """One optimiser step on this rank's share of the batch, drawn from the step's generator; returns
        the loss (a tensor, read back only when logged)."""
        gen = step_generator(self.options.seed, self.rank, self.step)
        per_rank = self.options.batch // self.world
        shape_ids = torch.randint(0, w.shape[0], (per_rank,), generator=gen)
        view_ids = torch.randint(0, embeddings.shape[1], (per_rank,), generator=gen)
        t, noise, keep = self.model.draw(per_rank, gen)
        dev = self.device
        loss = self.net(embeddings[shape_ids, view_ids].to(dev), w[shape_ids].to(dev), t.to(dev), noise.to(dev),
                        None if keep is None else keep.to(dev))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.options.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.options.grad_clip)
        self.optimizer.step()
        ema_update(self.ema, self.model, self.options.ema_decay, self.step)
        self.step += 1
        return loss.detach()


VAL_SEED = "validation"


@torch.no_grad()
def validation_loss(model: DiffusionPrior, embeddings: torch.Tensor, w: torch.Tensor, batch: int, seed: int) -> float:
    """The mean loss over every (held-out shape, view) pair with draws of t and noise fixed by ``seed``,
    so that values at different steps compare. Uses no training randomness."""
    shape_ids = torch.arange(w.shape[0]).repeat_interleave(embeddings.shape[1])
    view_ids = torch.arange(embeddings.shape[1]).repeat(w.shape[0])
    gen = step_generator(seed, -1, 0)
    t, noise, _ = model.draw(len(shape_ids), gen)
    dev, total = model.w_mean.device, 0.0
    for i in range(0, len(shape_ids), batch):
        s, v = shape_ids[i:i + batch], view_ids[i:i + batch]
        loss = model(embeddings[s, v].to(dev), w[s].to(dev), t[i:i + batch].to(dev), noise[i:i + batch].to(dev))
        total += float(loss) * len(s)
    return total / len(shape_ids)


def save_run(out: Path, trainer: Trainer, plan_json: dict, data_folder: str) -> None:
    with atomic_path(out / CHECKPOINT) as tmp:
        torch.save(trainer.state(), tmp)
    save_prior(out / PRIOR_FILE, trainer.ema, meta={"clip": plan_json["clip"], "generator": plan_json["generator"],
                                                   "data": data_folder, "step": trainer.step,
                                                   "normalisation": "w standardised per dimension (w_mean, w_std)"})
    with atomic_path(out / "history.json") as tmp:
        tmp.write_text(json.dumps({"step": trainer.step, "loss": trainer.history, "val_loss": trainer.val_history}))


def _mean_over_ranks(value: torch.Tensor, world: int) -> float:
    if world > 1:
        import torch.distributed as dist
        value = value.clone()
        dist.all_reduce(value)
        value /= world
    return float(value)


def train(args: argparse.Namespace, log=print) -> dict:
    rank, local_rank, world = world_from_env()
    device = rank_device(args.device, local_rank, world)
    if rank != 0:
        log = lambda *a, **k: None  # noqa: E731  (one report per run, from rank 0)
    out = Path(args.out)
    if (out / CHECKPOINT).exists() and not args.resume:
        raise PriorError(f"{out} holds a training run; give --resume to continue it, or another --out")
    plan, embeddings, w = load_data(args.data)  # missing or corrupt shards stop here, before any output
    val_shapes = min(512, plan.shapes // 100) if args.val_shapes < 0 else args.val_shapes
    if val_shapes >= plan.shapes:
        raise PriorError(f"--val-shapes {val_shapes} leaves no training shapes (the data hold {plan.shapes})")
    options = TrainOptions(steps=args.steps, batch=args.batch, lr=args.lr, weight_decay=args.weight_decay,
                           ema_decay=args.ema, grad_clip=args.grad_clip, seed=args.seed, val_shapes=val_shapes)
    if options.batch % world:
        raise PriorError(f"--batch {options.batch} must divide among the {world} ranks")
    config = dataclasses.replace(named_config(args.config), embed_dim=plan.embed_dim, latent_dim=plan.w_dim,
                                 cond_drop_prob=args.cond_drop)
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        return _train(args, log, out, plan, embeddings, w, config, options, device, rank, world)
    finally:
        if world > 1:
            import torch.distributed as dist
            dist.destroy_process_group()


def _train(args, log, out, plan, embeddings, w, config, options, device, rank, world) -> dict:
    cut = w.shape[0] - options.val_shapes
    val_embeddings, val_w = embeddings[cut:], w[cut:]
    embeddings, w = embeddings[:cut], w[:cut]
    trainer = Trainer(config, options, plan.to_json(), device, rank, world)
    trainer.set_statistics(w)
    if args.resume and (out / CHECKPOINT).exists():
        trainer.load(out / CHECKPOINT)
        log(f"[prior-train] resumed {out / CHECKPOINT} at step {trainer.step}")
    elif args.resume:
        log(f"[prior-train] no checkpoint in {out}: starting from step 0")
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    params = sum(p.numel() for p in trainer.model.parameters())
    log(f"[prior-train] {args.config} prior ({params / 1e6:.2f} M parameters), {w.shape[0]} shapes x "
        f"{embeddings.shape[1]} views ({options.val_shapes} more held out), batch {options.batch} on {world} "
        f"rank(s), {device}")
    bar = tqdm(total=options.steps, initial=trainer.step, desc="G_M", unit="step",
               disable=not args.progress or rank != 0)
    losses, t0, start = [], time.perf_counter(), trainer.step
    while trainer.step < options.steps:
        losses.append(trainer.train_step(embeddings, w))
        bar.update(1)
        done = trainer.step
        if done % args.log_every == 0 or done == options.steps or done % args.checkpoint_every == 0:
            mean = _mean_over_ranks(torch.stack(losses).mean(), world)
            if not math.isfinite(mean):
                raise PriorError(f"the loss is {mean} at step {done}; lower --lr (the last checkpoint is kept)")
            trainer.history.append([done, mean])
            bar.set_postfix(loss=f"{mean:.4f}")
            losses = []
        if rank == 0 and (done % args.checkpoint_every == 0 or done == options.steps):
            if options.val_shapes:
                val = validation_loss(trainer.ema, val_embeddings, val_w, options.batch, options.seed)
                trainer.val_history.append([done, val])
                bar.set_postfix(loss=f"{trainer.history[-1][1]:.4f}", val=f"{val:.4f}")
            save_run(out, trainer, plan.to_json(), str(args.data))
    bar.close()
    seconds = time.perf_counter() - t0
    steps = trainer.step - start
    val = f", held-out loss {trainer.val_history[-1][1]:.4f}" if trainer.val_history else ""
    log(f"[prior-train] {steps} steps in {seconds:.1f} s ({steps / max(seconds, 1e-9):.2f} steps/s); "
        f"last loss {trainer.history[-1][1] if trainer.history else float('nan'):.4f}{val}; {out / PRIOR_FILE}")
    return {"step": trainer.step, "history": trainer.history, "val_history": trainer.val_history, "seconds": seconds}


def parser() -> argparse.ArgumentParser:
    d = TrainOptions()
    p = argparse.ArgumentParser(prog="dream3d-train-prior", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, metavar="DIR", help="a folder made by dream3d-build-prior-data")
    p.add_argument("--out", required=True, metavar="DIR", help="writes checkpoint.pt, prior.pt (EMA), history.json")
    p.add_argument("--config", default="paper", choices=sorted(CONFIGS), help="architecture (paper: Table 3)")
    p.add_argument("--steps", type=int, default=d.steps, help=f"optimiser steps (paper: {d.steps})")
    p.add_argument("--batch", type=int, default=d.batch, help="global batch (split over torchrun ranks)")
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--ema", type=float, default=d.ema_decay, help="EMA decay")
    p.add_argument("--grad-clip", type=float, default=d.grad_clip, help="max gradient norm (0: off)")
    p.add_argument("--cond-drop", type=float, default=0.0,
                   help="conditioning dropout (paper: 0; 0.1-0.2 enables --guidance-scale at sampling)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--val-shapes", type=int, default=-1, metavar="N",
                   help="the data's last N shapes are held out; their loss (EMA model) is logged at each "
                   "checkpoint (default -1: 1%% of the shapes, at most 512)")
    p.add_argument("--checkpoint-every", type=int, default=1000)
    p.add_argument("--log-every", type=int, default=100)
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0,
                   help="CPU threads (0: torch's default; small models run fastest on 1 on a busy CPU)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p


def check_args(args) -> None:
    for name in ("steps", "batch", "checkpoint_every", "log_every"):
        if getattr(args, name) < 1:
            raise PriorError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if not args.lr > 0 or args.weight_decay < 0 or not 0 <= args.ema < 1 or args.grad_clip < 0:
        raise PriorError("--lr must be > 0, --weight-decay >= 0, --ema in [0, 1), --grad-clip >= 0")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        check_args(args)
        if args.threads:
            torch.set_num_threads(args.threads)
        train(args)
    except PriorError as err:
        print(f"dream3d-train-prior: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dream3d-train-prior: interrupted; continue with --resume (the last checkpoint is kept)",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
