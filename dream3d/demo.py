"""A short demo of the fused volume renderer: renders a sphere from an orbiting camera with every
backend available here, checks each against the torch reference, times forward+backward, and writes
the picture (by default into the system's temp folder, never the working folder; the path is printed).
Run: ``python -m dream3d.demo [--out FILE.png] [--resolution 128]``. Exits with status 1, naming the
backend, when a backend's picture differs from the reference's by more than TOLERANCE."""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from . import ops
from .cameras import orbit_camera, pixel_rays
from .shape._atomic import atomic_path
from .scene import BOX_MAX, BOX_MIN, position_colors, sphere_density

# Largest |difference| per colour channel (colours in [0, 1]) allowed between a backend's float32 picture and
# the reference's: float32 rounding is ~1e-6 here; a sample flipping at a threshold moves a pixel by
# less than t_thres = 1e-4.
TOLERANCE = 1e-4


def default_out() -> Path:
    """Where the picture goes without --out: a dream3d folder in the system's temp folder."""
    return Path(tempfile.gettempdir()) / "dream3d" / "demo.png"


def render_image(density, rays_o, rays_d, backend, march):
    samples = ops.volume_render(density, rays_o, rays_d, BOX_MIN, BOX_MAX, march, backend=backend)
    colors = position_colors(samples.points(rays_o, rays_d))
    return ops.composite(samples, colors, bg=1.0)


def timed(fn, repeats=3):
    fn()  # warm-up (and JIT build, when it happens)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help=f"where to write the picture (default {default_out()})")
    parser.add_argument("--resolution", type=int, default=128, help="grid resolution per axis")
    parser.add_argument("--image-size", type=int, default=128, help="picture height and width")
    args = parser.parse_args(argv)

    density = sphere_density(args.resolution).requires_grad_()
    rays_o, rays_d = pixel_rays(orbit_camera(4.0, 30.0, 20.0), args.image_size, args.image_size, 40.0)
    march = ops.March(step_size=0.5 * 2 / (args.resolution - 1), act_shift=ops.act_shift_from_alpha_init(1e-6),
                      interval=0.5)
    reference = render_image(density, rays_o, rays_d, "torch", march)
    step = lambda backend: render_image(density, rays_o, rays_d, backend, march).sum().backward()  # noqa: E731
    ref_time = timed(lambda: step("torch"))
    print(f"{'backend':8s} {'fwd+bwd':>10s} {'speed-up':>9s} {'max |diff|':>11s}")
    print(f"{'torch':8s} {ref_time * 1e3:8.1f}ms {1.0:8.1f}x {0.0:11.2e}")
    image = reference
    mismatched = []
    for backend in ops.available_backends("cpu"):
        if backend in ("torch", "triton"):  # triton on CPU is the (slow) interpreter
            continue
        image = render_image(density, rays_o, rays_d, backend, march)
        diff = (image - reference).abs().max().item()
        seconds = timed(lambda: step(backend))
        print(f"{backend:8s} {seconds * 1e3:8.1f}ms {ref_time / seconds:8.1f}x {diff:11.2e}")
        if not diff <= TOLERANCE:  # NaN included
            mismatched.append(f"{backend} ({diff:.2e})")
    pixels = (image.detach().clamp(0, 1) * 255).round().to(torch.uint8)
    import imageio.v3 as iio

    out = (args.out or default_out()).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        iio.imwrite(tmp, pixels.reshape(args.image_size, args.image_size, 3).numpy())
    print(f"wrote the picture to {out}")
    if mismatched:
        raise SystemExit(f"dream3d.demo: backend {', '.join(mismatched)} differs from the torch reference by "
                         f"more than {TOLERANCE:g}")


if __name__ == "__main__":
    main()
