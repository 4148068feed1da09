"""Stable Diffusion folders in diffusers' layout (any 1.x / 2.x): checked before any work and loaded from
local files only. A G_I folder is such a folder plus GI_META, which names its placeholder token and
prompt template; its learned embedding sits beside it in diffusers' textual-inversion format."""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

GI_META = "dream3d_gi.json"
EMBEDDING_FILE = "learned_embeds.safetensors"  # {token: (1, D)}: what load_textual_inversion reads
PARTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
INSTALL_HINT = "pip install -e '.[sd]' (diffusers, transformers, accelerate)"


class Text2ImgError(ValueError):
    """G_I cannot be trained or run; the message says what is missing or wrong and what to do."""


def import_diffusers():
    try:
        import diffusers
        import transformers  # noqa: F401  (the text encoder and tokenizer)
    except ImportError as err:
        raise Text2ImgError(f"Stable Diffusion needs diffusers and transformers: {INSTALL_HINT}; "
                            f"import failed with: {err}") from err
    return diffusers


def check_sd_folder(folder: str | os.PathLike, what: str = "--base-model") -> Path:
    """The folder if it holds a diffusers Stable Diffusion model (model_index.json and every part);
    otherwise a Text2ImgError naming what is missing."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise Text2ImgError(f"{what} {folder}: no such folder (expected a diffusers Stable Diffusion folder)")
    index = folder / "model_index.json"
    if not index.is_file():
        raise Text2ImgError(f"{what} {folder} is not a diffusers model folder: no model_index.json (save one "
                            "with StableDiffusionPipeline.save_pretrained, or download a model in diffusers "
                            "layout, e.g. with huggingface-cli download)")
    try:
        parts = json.loads(index.read_text())
    except json.JSONDecodeError as err:
        raise Text2ImgError(f"{index} is not valid JSON: {err}") from err
    missing = [p for p in PARTS if p not in parts or not (folder / p).is_dir()]
    if "tokenizer" in missing:
        raise Text2ImgError(f"{what} {folder} has no tokenizer/ folder: the prompt cannot be tokenised (copy the "
                            "tokenizer of the base model, e.g. its tokenizer/ vocab.json and merges.txt)")
    if missing:
        raise Text2ImgError(f"{what} {folder} is not a Stable Diffusion model: missing {', '.join(missing)}")
    return folder


def read_gi_meta(folder: Path) -> dict | None:
    """GI_META of a G_I folder, or None for a plain Stable Diffusion folder."""
    path = folder / GI_META
    if not path.is_file():
        return None
    meta = json.loads(path.read_text())
    for key in ("token", "template"):
        if key not in meta:
            raise Text2ImgError(f"{path} lacks {key!r}; rerun dream3d-finetune-sd")
    return meta


def load_parts(folder: str | os.PathLike, device="cpu", dtype=None, cache_dir: str | None = None,
               local_files_only: bool = True):
    """(tokenizer, text_encoder, vae, unet, noise_scheduler) of a model folder or hub id, the networks in
    ``dtype`` (default float32) on ``device``."""
    diffusers = import_diffusers()
    from transformers import CLIPTextModel, CLIPTokenizer

    kw = {"local_files_only": local_files_only, "cache_dir": cache_dir}
    nets = {**kw, "torch_dtype": dtype or torch.float32}
    try:
        tokenizer = CLIPTokenizer.from_pretrained(folder, subfolder="tokenizer", **kw)
        text_encoder = CLIPTextModel.from_pretrained(folder, subfolder="text_encoder", **nets).to(device)
        vae = diffusers.AutoencoderKL.from_pretrained(folder, subfolder="vae", **nets).to(device)
        unet = diffusers.UNet2DConditionModel.from_pretrained(folder, subfolder="unet", **nets).to(device)
        scheduler = diffusers.DDPMScheduler.from_pretrained(folder, subfolder="scheduler", **kw)
    except Exception as err:  # a damaged, incomplete or mismatched part raises many types
        raise Text2ImgError(f"cannot load the Stable Diffusion model in {folder}: {type(err).__name__}: {err}") from err
    return tokenizer, text_encoder, vae, unet, scheduler


def load_pipeline(folder: Path, device="cpu", dtype=None):
    """StableDiffusionPipeline from a checked folder, with no safety checker (it renders shapes)."""
    diffusers = import_diffusers()
    try:
        pipe = diffusers.StableDiffusionPipeline.from_pretrained(
            folder, local_files_only=True, safety_checker=None, feature_extractor=None,
            requires_safety_checker=False, dtype=dtype)
    except (OSError, ValueError) as err:
        raise Text2ImgError(f"cannot load the Stable Diffusion model in {folder}: {type(err).__name__}: {err}") from err
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)
