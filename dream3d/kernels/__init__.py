"""Triton backend of the dream3d ops (imported as ``dream3d.kernels``); see docs/ARCHITECTURE.md.

On CPU tensors the kernels run under the Triton interpreter: set TRITON_INTERPRET=1 before importing.
"""
from .sdf_density import prior_loss, sdf_to_density, sdf_to_density_backward
from .sdf_render import sdf_render_backward, sdf_render_forward
from .total_variation import total_variation
from .trilinear import trilinear_backward, trilinear_forward
from .volume_render import render_backward, render_forward

__all__ = ["render_forward", "render_backward", "trilinear_forward", "trilinear_backward",
           "total_variation", "sdf_to_density", "sdf_to_density_backward", "prior_loss",
           "sdf_render_forward", "sdf_render_backward"]
