"""Data-parallel training under torchrun. Gradients are averaged by hand after each backward (as
StyleGAN2-ADA does) rather than by DistributedDataParallel's hooks: every step runs several partial
forwards of one network (the critics on real and fake data, the R1 double backward, the generator's
parts called one by one), which DDP's one-forward-one-backward contract does not cover."""
from __future__ import annotations

import os

import torch
import torch.distributed as dist


def world_from_env() -> tuple[int, int, int]:
    """(rank, local rank, world size) from torchrun's environment; (0, 0, 1) without it."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def rank_device(name: str, local_rank: int, world: int) -> torch.device:
    """The device named by --device, as this rank's own GPU (cuda:LOCAL_RANK, made current) when
    several ranks share ``cuda``."""
    device = torch.device(f"cuda:{local_rank}" if name == "cuda" and world > 1 else name)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)  # nccl and the default stream follow the current device
    return device


def init(device: torch.device) -> None:
    """Joins the process group torchrun set up (NCCL on CUDA, gloo otherwise), once."""
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def broadcast_module(module: torch.nn.Module) -> None:
    """Rank 0's parameters and buffers on every rank."""
    if active():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def average_gradients(module: torch.nn.Module) -> None:
    """Each parameter's gradient replaced by its mean over the ranks, in one flat all-reduce."""
    if not active():
        return
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:  # a parameter unused on one rank still takes part, with a zero gradient
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    if not params:
        return
    flat = torch.cat([p.grad.flatten() for p in params])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for p in params:
        p.grad.copy_(flat[offset:offset + p.numel()].view_as(p.grad))
        offset += p.numel()


def barrier() -> None:
    if active():
        dist.barrier()
