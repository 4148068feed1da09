"""dream3d.ops: fused DVGO volume-rendering kernels with one functional API.

Every op runs on one of four backends: ``cpu`` (C++/OpenMP), ``cuda`` (CUDA C++), ``triton`` and
``torch`` (the plain reference that defines the answer); ``backend="auto"`` picks the fastest available
for the tensors' device. See docs/API.md.
"""
from ._dispatch import BACKENDS, available_backends
from .composite import composite
from .sdf_density import prior_loss, sdf_to_density
from .sdf_render import SDFRenderOutput, sdf_render
from .total_variation import total_variation
from .trilinear import trilinear
from .volume_render import RenderSamples, volume_render
from .volume_render_ref import March

__all__ = ["BACKENDS", "March", "RenderSamples", "available_backends", "composite", "total_variation",
           "trilinear", "volume_render", "act_shift_from_alpha_init", "sdf_to_density", "prior_loss",
           "SDFRenderOutput", "sdf_render"]


def act_shift_from_alpha_init(alpha_init: float) -> float:
    """DVGO's activation shift b = log(1 / (1 - alpha_init) - 1): an all-zero grid has alpha = alpha_init."""
    import math

    if not 0.0 < alpha_init < 1.0:
        raise ValueError(f"alpha_init must lie in (0, 1), got {alpha_init}")
    return math.log(1.0 / (1.0 - alpha_init) - 1.0)
