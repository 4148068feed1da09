"""SDF-to-density (forward+backward) and the prior-preserving loss (loss+grad) on a 128^3 sphere SDF:
the fused kernels against the autograd reference."""
import torch

from dream3d import ops
from dream3d.scene import sphere_sdf

SHIFT = ops.act_shift_from_alpha_init(1e-6)


def test_sdf_to_density(bench, device, backend):
    sdf = sphere_sdf(128).to(device).requires_grad_()

    def step():
        return torch.autograd.grad(ops.sdf_to_density(sdf, backend=backend).sum(), sdf)

    bench(step, op="sdf_to_density forward+backward", workload="sphere 128^3", unit="voxels",
          count=sdf.numel())


def test_prior_loss(bench, device, backend):
    sdf = sphere_sdf(128).to(device)
    density = ops.sdf_to_density(sdf).requires_grad_()

    def step():
        loss = ops.prior_loss(density, sdf, act_shift=SHIFT, interval=0.5, reduction="mean", backend=backend)
        return torch.autograd.grad(loss, density)

    bench(step, op="prior_loss loss+grad", workload="sphere 128^3", unit="voxels", count=sdf.numel())
