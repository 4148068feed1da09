"""Official SDF-StyleGAN weights -> G_S. The official code (github.com/Zhengxinyang/SDF-StyleGAN, a
PyTorch Lightning module) keeps the mapping network as ``S``, the synthesis network as ``G`` and the
decoder MLP as ``M``, with EMA copies ``SE``, ``GE``, ``ME``; this reads those names and shapes, builds
the matching G_S configuration (variant "official") and loads the weights::

    G = convert_official(torch.load("last.ckpt", map_location="cpu"))   # EMA weights by default
    G.save("generator.pt")

What is not carried over: the discriminators, and w's running mean (the official code keeps none; it
starts at 0 here, so use truncation only after updating it). ``noise_const`` buffers (official noise is
always random) are drawn fresh.
"""
from __future__ import annotations

import re

import torch

from .config import GeneratorConfig, get_config
from .generator import ShapeGenerator

OFFICIAL_FEATURE_EXTENT = 1.01  # utils/feture_interpolation.py: the volume spans [-1.01, 1.01]^3
OFFICIAL_LR_MLP = 0.1           # StyleGAN2_3D's default lr_mlp, the mapping layers' lr multiplier


def _indices(state: dict, pattern: str) -> list[int]:
    return sorted({int(m.group(1)) for k in state if (m := re.fullmatch(pattern, k))})


def official_config(state: dict, hparams: dict | None = None, prefix: tuple[str, str, str] = ("S.", "G.", "M.")
                    ) -> GeneratorConfig:
    """The G_S configuration whose parameter shapes match an official state dict (un-prefixed names are
    looked up under ``prefix``: mapping, synthesis, decoder)."""
    s, g, m = prefix
    hp = dict(hparams or {})
    mapping = _indices(state, re.escape(s) + r"net\.(\d+)\.weight")
    blocks = _indices(state, re.escape(g) + r"blocks\.(\d+)\.conv1\.weight")
    mlp = _indices(state, re.escape(m) + r"mapping\.(\d+)\.weight")
    if not mapping or not blocks or len(mlp) < 2:
        raise ValueError(f"not an official SDF-StyleGAN state dict: no {s}net.*, {g}blocks.* or {m}mapping.* weights")
    latent = state[f"{s}net.0.weight"].shape[1]
    channels = tuple(int(state[f"{g}blocks.{b}.conv1.weight"].shape[0]) for b in blocks)
    features = int(state[f"{g}blocks.0.to_feature.conv.weight"].shape[0])
    hidden = int(state[f"{m}mapping.{mlp[0]}.weight"].shape[0])
    base = get_config("paper")
    return GeneratorConfig(
        name="official", variant="official", z_dim=latent, w_dim=latent, mapping_layers=len(mapping),
        mapping_lr_mult=float(hp.get("lr_mlp", OFFICIAL_LR_MLP)), channels=channels, feature_channels=features,
        feature_extent=OFFICIAL_FEATURE_EXTENT, decoder_hidden=hidden, decoder_layers=len(mlp) - 1,
        grid_resolution=int(hp.get("D_vol_size", base.grid_resolution)),
        data_resolution=int(hp.get("fine_D_vol_size", base.data_resolution)),
        patch_size=int(hp.get("local_patch_res", base.patch_size)),
        n_patches=int(hp.get("local_patch_number", base.n_patches)),
        style_mixing=float(hp.get("mixed_prob", base.style_mixing)), r1_gamma=float(hp.get("r1_gamma", base.r1_gamma)),
        lr=float(hp.get("learning_rate", base.lr)))


def official_to_gs_names(state: dict, prefix: tuple[str, str, str]) -> dict:
    """Official parameter names -> G_S's (the variant "official" modules keep the official names below
    their new roots; the MLP's Sequential indices become hidden.i and out). The blur filters' fixed
    buffers are dropped; any other official name that has no place raises ValueError."""
    s, g, m = prefix
    mlp = _indices(state, re.escape(m) + r"mapping\.(\d+)\.weight")
    out, unplaced = {}, []
    for key, value in state.items():
        if key.startswith(s):
            out["mapping." + key[len(s):]] = value
        elif key.startswith(g):
            rest = key[len(g):]
            if re.fullmatch(r"blocks\.\d+\.to_feature\.upsample\.\d+\.f", rest):
                continue  # Blur3d's constant [1, 2, 1]
            out["synthesis." + rest] = value
        elif key.startswith(m):
            match = re.fullmatch(r"mapping\.(\d+)\.(weight|bias)", key[len(m):])
            if not match:
                unplaced.append(key)
                continue
            index = mlp.index(int(match.group(1)))
            name = "decoder.out" if index == len(mlp) - 1 else f"decoder.hidden.{index}"
            out[f"{name}.{match.group(2)}"] = value
    if unplaced:
        raise ValueError(f"official parameters with no place in G_S: {', '.join(unplaced[:5])}")
    return out


def convert_official(checkpoint: dict, ema: bool = True) -> ShapeGenerator:
    """G_S (eval mode) holding an official checkpoint's generator: a Lightning checkpoint
    ({'state_dict', 'hyper_parameters'}) or a bare state dict. ``ema``: the EMA copies (SE, GE, ME)
    when present, else the trained ones (S, G, M)."""
    state = checkpoint.get("state_dict", checkpoint)
    hparams = checkpoint.get("hyper_parameters", {})
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("expected a state dict of tensors (or a Lightning checkpoint holding one)")
    prefix = ("SE.", "GE.", "ME.") if ema and any(k.startswith("GE.") for k in state) else ("S.", "G.", "M.")
    config = official_config(state, hparams, prefix)
    generator = ShapeGenerator(config)
    mapped = official_to_gs_names({k: v for k, v in state.items() if k.startswith(prefix)}, prefix)
    own = generator.state_dict()
    for key in own:  # buffers the official code does not have (noise_const, w_avg) keep their init
        if key.endswith("noise_const") or key == "mapping.w_avg":
            mapped.setdefault(key, own[key])
    generator.load_weights(mapped, "the official state dict")
    return generator.eval().requires_grad_(False)
