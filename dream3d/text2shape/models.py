"""Finds and loads the stage-1 models of the text-to-shape route: G_S, G_M, and the CLIP that G_M's
data were embedded with (recorded in prior.pt, so prompts are embedded the same way)."""
from __future__ import annotations

import atexit
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from ..guidance import GuidanceError
from ..guidance.clip import CHECKPOINT_SUFFIXES, ClipGuide, ClipSpec, import_open_clip, load_clip
from ..models_dir import CLIP, GENERATOR, PRIOR, ModelsError, model_file, models_folder
from ..prior import DiffusionPrior, PriorError, load_prior
from ..prior.build_data import file_digest, load_shape_generator


class Text2ShapeError(ValueError):
    """The text-to-shape route cannot run; the message says what is missing or wrong and what to do."""


@dataclass(frozen=True)
class ModelPaths:
    generator: Path
    prior: Path
    clip_folder: Path | None = None       # MODELS/clip when it exists
    clip_model: str | None = None         # overrides the architecture recorded in prior.pt
    clip_checkpoint: str | None = None    # overrides MODELS/clip and the caches
    clip_cache_dir: str | None = None


def resolve_paths(models=None, generator=None, prior=None, clip_model=None, clip_checkpoint=None,
                  clip_cache_dir=None) -> ModelPaths:
    """Every missing model is named at once, each with how to make it."""
    try:
        folder = models_folder(models)
    except ModelsError as err:
        raise Text2ShapeError(str(err)) from err
    found, problems = {}, []
    for key, name, explicit, flag in (("generator", GENERATOR, generator, "--generator"),
                                      ("prior", PRIOR, prior, "--prior")):
        try:
            found[key] = model_file(name, explicit, folder, flag)
        except ModelsError as err:
            problems.append(str(err))
    if problems:
        unique = list(dict.fromkeys(problems))  # "not configured" is the same message for both
        raise Text2ShapeError("; ".join(unique))
    clip_folder = folder / CLIP if folder is not None and (folder / CLIP).is_dir() else None
    return ModelPaths(found["generator"], found["prior"], clip_folder, clip_model, clip_checkpoint, clip_cache_dir)


@dataclass
class Models:
    generator: torch.nn.Module
    prior: DiffusionPrior
    clip: ClipGuide
    meta: dict          # what prior.pt records (clip, generator, data, step)
    paths: ModelPaths


_CONFIG_DIRS: list[str] = []


def _registered_config(name: str, config: dict) -> str:
    """A JSON architecture recorded in prior.pt, written to a folder that lives as long as the process
    (open_clip rescans its config paths whenever one is added)."""
    if not _CONFIG_DIRS:
        _CONFIG_DIRS.append(tempfile.mkdtemp(prefix="dream3d-clip-configs-"))
        atexit.register(shutil.rmtree, _CONFIG_DIRS[0], True)
    digest = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:8]
    folder = Path(_CONFIG_DIRS[0]) / digest
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(config))
    return str(path)


def clip_spec(paths: ModelPaths, recorded: dict) -> ClipSpec:
    """The CLIP to embed prompts with: the architecture recorded in prior.pt (or --clip-model), its
    weights from --clip-checkpoint, else MODELS/clip, else the usual offline caches."""
    if not recorded:
        raise Text2ShapeError(f"{paths.prior} records no CLIP; retrain it with dream3d-train-prior")
    name = recorded["model"]
    model = paths.clip_model
    if model is None:
        config_file = paths.clip_folder / f"{name}.json" if paths.clip_folder else None
        if config_file is not None and config_file.is_file():
            model = str(config_file)
        elif name in import_open_clip().list_models():
            model = name
        elif "config" in recorded:
            model = _registered_config(name, recorded["config"])
        else:
            raise Text2ShapeError(f"the prior's CLIP architecture {name!r} is not an open_clip name and has no "
                                  f"config: put {name}.json in MODELS/clip/ or give --clip-model FILE.json")
    checkpoint = paths.clip_checkpoint
    if checkpoint is None and paths.clip_folder is not None and any(
            p.suffix in CHECKPOINT_SUFFIXES for p in paths.clip_folder.iterdir()):
        checkpoint = str(paths.clip_folder)
    return ClipSpec(model=model, pretrained=recorded.get("pretrained", "openai"), checkpoint=checkpoint,
                    cache_dir=paths.clip_cache_dir)


def load_models(paths: ModelPaths, device="cpu", log=print) -> Models:
    """G_M first (it says which CLIP and which G_S it was trained with), then CLIP and G_S, checked
    against it."""
    try:
        prior, meta = load_prior(paths.prior, device)
        clip = load_clip(clip_spec(paths, meta.get("clip", {})), device)
        generator = load_shape_generator(paths.generator, device)
    except (PriorError, GuidanceError) as err:
        raise Text2ShapeError(str(err)) from err
    embed_dim = clip.embed_text(["a chair"]).shape[-1]
    if embed_dim != prior.config.embed_dim:
        raise Text2ShapeError(f"CLIP gives {embed_dim}-dim embeddings but {paths.prior} was trained on "
                              f"{prior.config.embed_dim}-dim ones ({meta.get('clip', {}).get('model')}); "
                              "give the CLIP its data were built with")
    if int(generator.w_dim) != prior.config.latent_dim:
        raise Text2ShapeError(f"G_S {paths.generator} has w_dim {generator.w_dim} but {paths.prior} samples "
                              f"{prior.config.latent_dim}-dim w: they were not trained together")
    recorded = meta.get("generator", {}).get("sha256")
    if recorded and file_digest(paths.generator) != recorded:
        log(f"[text2shape] warning: {paths.generator} is not the G_S file {paths.prior}'s data were built with "
            "(sha256 differs); its w space may differ")
    return Models(generator, prior, clip, meta, paths)
