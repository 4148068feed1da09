"""Host-side helpers shared by the kernel launchers."""
from __future__ import annotations

import contextlib

import torch


# No FMA contraction on the GPU: products and sums round one by one as in the torch reference, so the
# decisions taken on rounded values (t < t_far, T >= t_thres, w > weight_thres) match the reference's
# as closely as possible. (The Triton interpreter never contracts; the kernels are memory bound, so
# the cost on the GPU is small.)
COMPILE_OPTIONS = {"enable_fp_fusion": False}


def scalars(like: torch.Tensor, *values: float) -> torch.Tensor:
    """``values`` as a small tensor of like's dtype and device: Triton passes Python floats as fp32
    scalars, which would round a float64 op's constants; a tensor of the input dtype keeps them exact."""
    return torch.tensor(values, dtype=like.dtype, device=like.device)


def params(like: torch.Tensor, box: tuple, shape, *values: float) -> torch.Tensor:
    """The bbox, its index scales (n - 1) / (hi - lo) and ``values`` as one small tensor of like's dtype
    (see scalars). Layout: lo[3], hi[3], scale[3], then ``values`` in order.
    """
    scales = [(n - 1) / (box[a + 3] - box[a]) for a, n in enumerate(shape)]
    return scalars(like, *box, *scales, *values)


def device_guard(t: torch.Tensor):
    """Makes t's GPU current while launching (Triton launches on the current device); a no-op on CPU."""
    return torch.cuda.device(t.device) if t.is_cuda else contextlib.nullcontext()
