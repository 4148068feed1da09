"""The models folder: where stage-1 models are found by default (``--models DIR`` or $DREAM3D_MODELS).

    MODELS/generator.pt   G_S, SDF-StyleGAN (made by dream3d-train-shape)
    MODELS/prior.pt       G_M, the diffusion prior (made by dream3d-train-prior: OUT/prior.pt)
    MODELS/clip/          the CLIP that embedded G_M's data: one weights file (.safetensors/.bin/.pt),
                          plus <name>.json for an architecture open_clip does not ship (e.g. a CLIP
                          trained on the shape library). Optional for open_clip's own architectures
                          whose weights sit in the Hugging Face or open_clip caches.
    MODELS/sd/            optional: G_I, the stylised Stable Diffusion (a diffusers folder made by
                          dream3d-finetune-sd: OUT/model); when present, prompts go through it

Explicit paths (--generator, --prior, --clip-checkpoint) override the folder's files."""
from __future__ import annotations

import os
from pathlib import Path

ENV_MODELS = "DREAM3D_MODELS"
GENERATOR = "generator.pt"
PRIOR = "prior.pt"
CLIP = "clip"
SD = "sd"
HOW_TO_MAKE = {
    GENERATOR: "train G_S with dream3d-train-shape and copy its generator checkpoint there",
    PRIOR: "train G_M with dream3d-train-prior (it writes OUT/prior.pt) and copy it there",
}


class ModelsError(ValueError):
    """A stage-1 model is missing; the message names it, where it was looked for and how to make it."""


def models_folder(models: str | os.PathLike | None) -> Path | None:
    """--models if given, else $DREAM3D_MODELS, else None; a named folder that does not exist is an error."""
    value, source = (models, "--models") if models else (os.environ.get(ENV_MODELS), f"${ENV_MODELS}")
    if not value:
        return None
    folder = Path(value).expanduser()
    if not folder.is_dir():
        raise ModelsError(f"{source} {value}: no such folder (expected {GENERATOR}, {PRIOR} and {CLIP}/ in it)")
    return folder


def model_file(name: str, explicit: str | os.PathLike | None, folder: Path | None, flag: str) -> Path:
    """The explicit path if given (it must exist), else the folder's file; else a ModelsError."""
    how = HOW_TO_MAKE[name]
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ModelsError(f"{flag} {explicit}: no such file; {how}")
        return path
    if folder is None:
        raise ModelsError(f"text-to-shape models are not configured: no {flag}, no --models DIR and "
                          f"${ENV_MODELS} is not set. A models folder holds {GENERATOR} (G_S) and {PRIOR} (G_M); "
                          f"{HOW_TO_MAKE[GENERATOR]}; {HOW_TO_MAKE[PRIOR]}")
    path = folder / name
    if not path.is_file():
        raise ModelsError(f"{path} is missing; {how} (or give {flag} PATH)")
    return path
