"""A tiny Stable Diffusion in diffusers' folder layout (unet/, vae/, text_encoder/, tokenizer/,
scheduler/, model_index.json) with random weights and an offline CLIP tokenizer built from a small
vocabulary (letters, no merges), saved with each component's save_pretrained so that the guidance
loads it through the same code as a real model."""
from __future__ import annotations

import json
from pathlib import Path

import torch

LETTERS = "abcdefghijklmnopqrstuvwxyz"


def build_tiny_sd(folder: Path) -> Path:
    from dream3d.guidance.sds import import_diffusers

    diffusers = import_diffusers()
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(0)
    vocab = ["<|startoftext|>", "<|endoftext|>", ",", *LETTERS, *[c + "</w>" for c in LETTERS]]
    files = folder / "tokenizer-files"
    files.mkdir(parents=True)
    (files / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (files / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(files / "vocab.json"), str(files / "merges.txt"), model_max_length=16)
    text_encoder = CLIPTextModel(CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, hidden_size=32,
                                                intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
                                                vocab_size=len(vocab), max_position_embeddings=16))
    vae = diffusers.AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                                  down_block_types=["DownEncoderBlock2D"] * 2,
                                  up_block_types=["UpDecoderBlock2D"] * 2, latent_channels=4, sample_size=16)
    unet = diffusers.UNet2DConditionModel(block_out_channels=(32, 64), layers_per_block=1, sample_size=8,
                                          in_channels=4, out_channels=4,
                                          down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                          up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32)
    scheduler = diffusers.DDPMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                        num_train_timesteps=1000)
    root = folder / "tiny-sd"
    for name, part in (("tokenizer", tokenizer), ("text_encoder", text_encoder), ("vae", vae), ("unet", unet),
                       ("scheduler", scheduler)):
        part.save_pretrained(root / name)
    (root / "model_index.json").write_text(json.dumps({"_class_name": "StableDiffusionPipeline"}))
    return root
