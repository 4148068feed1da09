"""The regularisation set of prior preservation (DreamBooth): what the original model draws for "a CLS",
for every class of the training renders. Each image has its own seed, and the images already in the
partial folder of an interrupted build are kept, so a rerun finishes the same set."""
from __future__ import annotations

import os
from pathlib import Path

import torch
from tqdm import tqdm

from . import image_folder
from .render_data import CLASS_TEMPLATE
from .sd_folder import Text2ImgError


def class_spec(base: str, classes: list[str], per_class: int, size: int, steps: int, guidance_scale: float,
               seed: int) -> dict:
    return {"kind": "class-images", "base_model": str(base), "classes": sorted(classes), "per_class": per_class,
            "size": size, "steps": steps, "guidance_scale": guidance_scale, "seed": seed,
            "template": CLASS_TEMPLATE}


def build_class_data(folder: str | os.PathLike, pipe, spec: dict, batch_size: int = 4, log=print) -> list[dict]:
    """Generates the set with ``pipe`` (the untouched base model) once, or reuses a matching one."""
    folder = Path(folder)
    records = image_folder.existing(folder, spec, "--class-dir")
    if records is not None:
        log(f"[finetune-sd] reusing {len(records)} class images in {folder}")
        return records
    if spec["per_class"] < 1:
        raise Text2ImgError(f"--class-images must be >= 1 with prior preservation, got {spec['per_class']}")
    partial = folder.parent / f".{folder.name}.partial"
    (partial / "images").mkdir(parents=True, exist_ok=True)
    jobs = [(cls, i) for cls in spec["classes"] for i in range(spec["per_class"])]
    records = [{"file_name": f"images/{cls}-{i:04d}.png", "text": CLASS_TEMPLATE.format(cls=cls), "class": cls}
               for cls, i in jobs]
    todo = [k for k, r in enumerate(records) if not (partial / r["file_name"]).is_file()]
    for start in tqdm(range(0, len(todo), batch_size), desc="class images", unit="batch"):
        chunk = todo[start:start + batch_size]
        generators = [torch.Generator(device="cpu").manual_seed(spec["seed"] * 1_000_003 + k) for k in chunk]
        with torch.no_grad():
            images = pipe([records[k]["text"] for k in chunk], height=spec["size"], width=spec["size"],
                          num_inference_steps=spec["steps"], guidance_scale=spec["guidance_scale"],
                          generator=generators, output_type="pt").images
        for k, image in zip(chunk, images):
            from ..shape._atomic import atomic_path

            with atomic_path(partial / records[k]["file_name"]) as tmp:
                image_folder.write_image(tmp, image.to(device="cpu", dtype=torch.float32))
    return image_folder.finish(partial, folder, records, spec)
