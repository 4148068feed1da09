"""G_I on the tiny Stable Diffusion of the tests (32^2 images, 16^2 latents): fine-tuning steps per second
(one optimisation step with prior preservation: VAE encode, text encoder, UNet forward and backward,
AdamW, the embedding rows restored) and generated images per second (DDIM, classifier-free guidance).
They measure the code around the models (data, tokenising, scheduling), not Stable Diffusion's own cost."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from dream3d.text2img.sd_folder import Text2ImgError, import_diffusers  # noqa: E402

try:
    import_diffusers()
except Text2ImgError as err:
    pytest.skip(str(err), allow_module_level=True)

from dream3d.text2img.config import FinetuneConfig  # noqa: E402
from dream3d.text2img.finetune import prepare  # noqa: E402
from dream3d.text2img.generate import generate, load_gi  # noqa: E402
from text2img_helpers import IMAGE_SIZE, write_tiny_sd  # noqa: E402

DEVICE = "cpu"  # the tiny config is a CPU workload; "backend" stays out of the argument names, or
# conftest would parametrise these over every kernel backend


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return write_tiny_sd(tmp_path_factory.mktemp("bench-sd") / "base")


def _info(benchmark, op, unit, count):
    benchmark.group = f"{op} | tiny SD {IMAGE_SIZE}^2 | {DEVICE}"
    benchmark.extra_info.update(op=op, workload=f"tiny SD {IMAGE_SIZE}^2", device=DEVICE, backend="torch",
                                unit=unit, count=count)


def test_finetune_steps(benchmark, base, tmp_path):
    cfg = FinetuneConfig(base_model=str(base), out=str(tmp_path / "run"), categories=["chair"], per_category=1,
                         views=2, grid_resolution=16, size=IMAGE_SIZE, class_images=2, class_steps=2, steps=10**6,
                         batch_size=2, device=DEVICE)
    trainer = prepare(cfg, log=lambda *a: None)
    counter = iter(range(10**6))
    _info(benchmark, "G_I fine-tuning (batch 2 + 2 class)", "steps", 1)
    benchmark(lambda: trainer.step(next(counter)))


def test_generation(benchmark, base):
    gi = load_gi(base, DEVICE)
    _info(benchmark, "G_I generation (DDIM 10 steps, CFG)", "images", 4)
    benchmark(lambda: generate(gi, ["a chair"] * 4, [0, 1, 2, 3], steps=10, guidance_scale=7.5))
