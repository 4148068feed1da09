"""Test set-up: Triton runs on the CPU through its interpreter when there is no GPU. The variable must be
set before triton or the kernels are imported, so it is set here, before any test module loads."""
import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
