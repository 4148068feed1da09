"""The losses of CLIP guidance besides the similarity itself."""
from __future__ import annotations

import torch


def annealed_target(step: int, start: float, target: float, anneal_steps: int) -> float:
    """DreamFields' transmittance target: linear from ``start`` to ``target`` over ``anneal_steps``, then
    held (a low target early lets the shape form before transparency is asked for)."""
    if anneal_steps <= 0:
        return target
    return start + (target - start) * min(1.0, step / anneal_steps)


def transmittance_loss(transmittance: torch.Tensor, target: float) -> torch.Tensor:
    """-min(target, mean T): rewards see-through pixels until their mean transmittance reaches the target,
    which removes the floaters and fog that CLIP alone tolerates, and no more than that."""
    return -torch.clamp(transmittance.mean(), max=target)


def clip_loss(similarity: torch.Tensor) -> torch.Tensor:
    """-cos(E_I(render), E_T(prompt)), averaged over the augmented copies."""
    return -similarity.mean()
