"""CLIP guidance through open_clip: the weights are found offline (a checkpoint path, an environment
variable, open_clip's and the Hugging Face hub's caches) before any work starts, the model is loaded
frozen, the prompt is embedded once, and rendered images are scored by cosine similarity."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

ENV_CHECKPOINT = "DREAM3D_CLIP_CHECKPOINT"
CHECKPOINT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
# what open_clip's hub repositories name their weights, most preferred first
HUB_FILENAMES = ("open_clip_model.safetensors", "open_clip_pytorch_model.safetensors", "open_clip_pytorch_model.bin")


class GuidanceError(ValueError):
    """The guidance model cannot be set up; the message says where it looked and what to supply."""


@dataclass(frozen=True)
class ClipSpec:
    """Which CLIP to load: an open_clip architecture (a name such as ViT-B-16, or a JSON config file in
    open_clip's format) and its weights (a pretrained tag found in the caches, or a checkpoint path)."""

    model: str = "ViT-B-16"
    pretrained: str = "openai"
    checkpoint: str | None = None  # a weights file or a folder holding one; else $DREAM3D_CLIP_CHECKPOINT
    cache_dir: str | None = None   # where cached weights live; default: the hub's and open_clip's caches
    download: bool = False         # fetch the weights when no local copy exists (needs a network)


@dataclass(frozen=True)
class ClipWeights:
    model_name: str          # the name open_clip knows the architecture by
    path: str | None         # a local weights file, or None to let open_clip download (spec.download)
    quick_gelu: bool         # OpenAI's weights were trained with QuickGELU
    trusted_pickle: bool     # a file from open_clip's own cache (the OpenAI TorchScript archive)


def import_open_clip():
    try:
        import open_clip
    except ImportError as err:
        raise GuidanceError("--guidance clip needs open_clip_torch and a torchvision that matches torch: "
                            "pip install -e '.[clip]' (scripts/install.sh does it when torchvision is "
                            f"importable); import failed with: {err}") from err
    return open_clip


def _architecture(open_clip, model: str) -> str:
    """The architecture's name; a JSON config file is registered with open_clip under its stem."""
    if model.endswith(".json"):
        path = Path(model).expanduser()
        if not path.is_file():
            raise GuidanceError(f"--clip-model {model}: no such open_clip config file")
        open_clip.add_model_config(path)
        return path.stem
    if model not in open_clip.list_models():
        raise GuidanceError(f"unknown CLIP architecture {model!r}; use an open_clip name (e.g. ViT-B-16, "
                            "ViT-B-32, ViT-L-14) or a JSON config file")
    return model


def _checkpoint_in(folder: Path) -> Path | None:
    files = [p for p in sorted(folder.iterdir()) if p.suffix in CHECKPOINT_SUFFIXES and p.is_file()]
    preferred = [p for name in HUB_FILENAMES for p in files if p.name == name]
    return (preferred or files or [None])[0]


def _explicit_checkpoint(spec: ClipSpec) -> Path | None:
    value, source = spec.checkpoint, "--clip-checkpoint"
    if not value and os.environ.get(ENV_CHECKPOINT):
        value, source = os.environ[ENV_CHECKPOINT], f"${ENV_CHECKPOINT}"
    if not value:
        return None
    path = Path(value).expanduser()
    if path.is_dir():
        found = _checkpoint_in(path)
        if found is None:
            raise GuidanceError(f"{source} {value}: the folder holds no weights file "
                                f"({', '.join(CHECKPOINT_SUFFIXES)})")
        return found
    if not path.is_file():
        raise GuidanceError(f"{source} {value}: no such file")
    return path


def hub_cache_dir(spec: ClipSpec) -> str:
    if spec.cache_dir:
        return spec.cache_dir
    from huggingface_hub import constants
    return constants.HF_HUB_CACHE


def url_cache_dir(spec: ClipSpec) -> str:
    return spec.cache_dir or os.path.expanduser("~/.cache/clip")  # open_clip's download folder


def locate_weights(spec: ClipSpec) -> ClipWeights:
    """Finds the weights without touching the network, or raises GuidanceError listing where it looked
    and the three ways to supply them. Cheap: call it before any work."""
    open_clip = import_open_clip()
    name = _architecture(open_clip, spec.model)
    pretrained_cfg = open_clip.get_pretrained_cfg(name, spec.pretrained) if spec.pretrained else {}
    quick_gelu = bool(pretrained_cfg.get("quick_gelu", False))
    explicit = _explicit_checkpoint(spec)
    if explicit is not None:
        return ClipWeights(name, str(explicit), quick_gelu, trusted_pickle=False)
    if not pretrained_cfg:
        tags = open_clip.list_pretrained_tags_by_model(name)
        raise GuidanceError(f"CLIP {name} has no pretrained weights tagged {spec.pretrained!r} "
                            f"(tags: {', '.join(tags) or 'none'}); give --clip-checkpoint PATH")
    looked = ["--clip-checkpoint (not given)", f"${ENV_CHECKPOINT} (not set)"]
    hub = pretrained_cfg.get("hf_hub", "")
    if hub:
        from huggingface_hub import try_to_load_from_cache

        repo, filename = os.path.split(hub)
        cache = hub_cache_dir(spec)
        for candidate in ([filename] if filename else HUB_FILENAMES):
            hit = try_to_load_from_cache(repo, candidate, cache_dir=cache)
            if isinstance(hit, str) and os.path.isfile(hit):
                return ClipWeights(name, hit, quick_gelu, trusted_pickle=False)
        looked.append(f"the Hugging Face cache {cache} (repository {repo})")
    url = pretrained_cfg.get("url", "")
    if url:
        path = Path(url_cache_dir(spec)) / os.path.basename(url)
        if path.is_file():
            return ClipWeights(name, str(path), quick_gelu, trusted_pickle=True)
        looked.append(f"open_clip's cache file {path}")
    if spec.download:
        return ClipWeights(name, None, quick_gelu, trusted_pickle=False)
    raise GuidanceError(
        f"CLIP weights for {name} ({spec.pretrained}) were not found offline. Looked in: " + "; ".join(looked) +
        ". Supply them with --clip-checkpoint PATH (a .safetensors/.bin/.pt file or a folder holding one), "
        f"by setting {ENV_CHECKPOINT}=PATH, or by placing them in the cache folder above (--clip-cache-dir "
        "sets it); or pass --clip-download to fetch them when online. --guidance none runs without CLIP.")


class ClipGuide(torch.nn.Module):
    """A frozen CLIP: ``embed_text`` for prompts, ``embed_images`` for (N, 3, H, W) renders in [0, 1]
    (resized to the model's input and normalised with its mean and std), both L2-normalised."""

    def __init__(self, model: torch.nn.Module, tokenizer, image_size: int, mean, std):
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.image_size = int(image_size)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    @classmethod
    def from_open_clip(cls, model: torch.nn.Module, model_name: str) -> "ClipGuide":
        """Wraps an open_clip model with its tokenizer and preprocessing (input size, mean, std)."""
        open_clip = import_open_clip()
        preprocess = open_clip.get_model_preprocess_cfg(model)
        size = preprocess.get("size", model.visual.image_size)
        size = size[0] if isinstance(size, (tuple, list)) else size
        mean = preprocess.get("mean", open_clip.OPENAI_DATASET_MEAN)
        std = preprocess.get("std", open_clip.OPENAI_DATASET_STD)
        return cls(model, open_clip.get_tokenizer(model_name), size, mean, std)

    @torch.no_grad()
    def embed_text(self, prompts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(prompts).to(self.mean.device)
        return F.normalize(self.model.encode_text(tokens).float(), dim=-1)

    def embed_images(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[-2:] != (self.image_size, self.image_size):
            images = F.interpolate(images, size=(self.image_size, self.image_size), mode="bilinear",
                                   align_corners=False, antialias=images.shape[-1] > self.image_size)
        return F.normalize(self.model.encode_image((images - self.mean) / self.std).float(), dim=-1)

    def similarity(self, images: torch.Tensor, text_embedding: torch.Tensor) -> torch.Tensor:
        """Cosine similarity of each image with the (1, D) text embedding: (N,)."""
        return self.embed_images(images) @ text_embedding[0]


def load_clip(spec: ClipSpec, device="cpu", weights: ClipWeights | None = None) -> ClipGuide:
    """Builds the architecture and loads its weights (``locate_weights`` first, unless given)."""
    open_clip = import_open_clip()
    weights = weights or locate_weights(spec)
    try:
        if weights.path is None:  # spec.download: open_clip fetches the tag into the cache
            model = open_clip.create_model(weights.model_name, pretrained=spec.pretrained,
                                           cache_dir=spec.cache_dir, device=device)
        else:
            model = open_clip.create_model(weights.model_name, pretrained=weights.path, device=device,
                                           force_quick_gelu=weights.quick_gelu,
                                           weights_only=not weights.trusted_pickle)
    except Exception as err:  # a damaged file or one for another architecture
        raise GuidanceError(f"cannot load CLIP {weights.model_name} weights from "
                            f"{weights.path or 'the hub'}: {type(err).__name__}: {err}") from err
    return ClipGuide.from_open_clip(model, weights.model_name).to(device)
