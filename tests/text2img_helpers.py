"""A tiny Stable Diffusion in diffusers' layout, built offline the way diffusers' own tests build theirs:
small UNet, VAE and CLIP text encoder configs and a CLIP tokenizer from a vocabulary written here."""
import json
import shutil
from pathlib import Path

import pytest

import torch

WORDS = ["a", "an", "chair", "table", "car", "lamp", "sofa", "airplane", "bench", "in", "the", "style", "of",
         "object", "red", "swivel"]
IMAGE_SIZE = 32


def write_tokenizer_files(folder: Path) -> None:
    """vocab.json and merges.txt: every printable byte (alone and word-final) plus WORDS."""
    chars = [chr(b) for b in range(ord("!"), ord("~") + 1)]
    vocab = {}
    for c in chars + [c + "</w>" for c in chars]:
        vocab.setdefault(c, len(vocab))
    merges = []
    for word in WORDS:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merges.append(f"{pieces[0]} {pieces[1]}")
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
            vocab.setdefault(pieces[0], len(vocab))
    for special in ("<|startoftext|>", "<|endoftext|>"):
        vocab[special] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")


def tiny_pipeline(seed: int = 0):
    from dream3d.text2img.sd_folder import import_diffusers

    diffusers = import_diffusers()
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
    import tempfile

    torch.manual_seed(seed)
    unet = diffusers.UNet2DConditionModel(
        block_out_channels=(16, 32), layers_per_block=1, sample_size=IMAGE_SIZE // 2, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=16, attention_head_dim=4, norm_num_groups=8)
    vae = diffusers.AutoencoderKL(
        block_out_channels=(8, 16), in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=8, sample_size=IMAGE_SIZE)
    with tempfile.TemporaryDirectory() as folder:
        write_tokenizer_files(Path(folder))
        tokenizer = CLIPTokenizer(f"{folder}/vocab.json", f"{folder}/merges.txt", model_max_length=12)
    vocab = len(tokenizer)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=vocab - 2, eos_token_id=vocab - 1, pad_token_id=vocab - 1, hidden_size=16, intermediate_size=24,
        num_attention_heads=2, num_hidden_layers=2, vocab_size=vocab, max_position_embeddings=12))
    scheduler = diffusers.DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                        clip_sample=False, set_alpha_to_one=False, num_train_timesteps=100,
                                        steps_offset=1)
    return diffusers.StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                             scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                             requires_safety_checker=False)


def write_tiny_sd(folder: Path, seed: int = 0) -> Path:
    tiny_pipeline(seed).save_pretrained(folder, safe_serialization=True)
    return folder


def build_models_with_gi(root: Path) -> Path:
    """MODELS/{generator.pt, prior.pt, clip/, sd/}: tiny G_S, CLIP, G_M (trained on them) and G_I (one step
    on one render); skips where open_clip or the sd group is missing."""
    pytest.importorskip("open_clip")
    from dream3d.text2img.sd_folder import Text2ImgError, import_diffusers

    try:
        import_diffusers()
    except Text2ImgError as err:
        pytest.skip(str(err))
    from dream3d.text2img.config import FinetuneConfig
    from dream3d.text2img.finetune import finetune
    from prior_helpers import make_stage1_models

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    models = make_stage1_models(root, train_steps=4)
    write_tiny_sd(root / "base")
    gi = finetune(FinetuneConfig(base_model=str(root / "base"), out=str(root / "gi"), categories=["chair"],
                                 per_category=1, views=1, grid_resolution=16, size=IMAGE_SIZE, prior_weight=0,
                                 steps=1, device="cpu"), log=lambda *a: None)
    shutil.copytree(gi, models / "sd")
    torch.set_num_threads(threads)
    return models
