"""The placeholder token of G_I's style: added to the tokenizer, its embedding row initialised from a
word's, trained alone (``restore_other_rows`` undoes what the optimiser did to every other row), and
saved in diffusers' textual-inversion format.

The paper writes the token "*"; CLIP's vocabulary already holds "*", so the default is "<*>"."""
from __future__ import annotations

from pathlib import Path

import torch

from .sd_folder import Text2ImgError

DEFAULT_TOKEN = "<*>"
DEFAULT_INITIALIZER = "style"


def in_vocabulary(tokenizer, token: str) -> bool:
    """Whether the tokenizer already knows the token, as itself or as a word ("*" is "*</w>" in CLIP)."""
    vocab = tokenizer.get_vocab()
    return token in vocab or f"{token}</w>" in vocab or token in tokenizer.all_special_tokens


def check_placeholder(tokenizer, token: str, initializer: str) -> int:
    """The initializer's token id, once ``token`` is known to be new and ``initializer`` one token."""
    if not token or any(c.isspace() for c in token):
        raise Text2ImgError(f"the placeholder token must be one word without spaces, got {token!r}")
    if in_vocabulary(tokenizer, token):
        raise Text2ImgError(f"the placeholder token {token!r} is already in the tokenizer's vocabulary; choose "
                            f"a new one with --placeholder-token (e.g. {DEFAULT_TOKEN!r})")
    init_ids = tokenizer.encode(initializer, add_special_tokens=False)
    if len(init_ids) != 1:
        raise Text2ImgError(f"--initializer-token {initializer!r} is {len(init_ids)} tokens; give a word the "
                            "tokenizer keeps whole")
    return init_ids[0]


def add_placeholder(tokenizer, text_encoder, token: str, initializer: str) -> int:
    """Adds ``token`` with the embedding of the single-token word ``initializer``; returns its id."""
    init_id = check_placeholder(tokenizer, token, initializer)
    tokenizer.add_tokens([token])
    token_id = tokenizer.convert_tokens_to_ids(token)
    text_encoder.resize_token_embeddings(len(tokenizer))
    weight = text_encoder.get_input_embeddings().weight
    with torch.no_grad():
        weight[token_id] = weight[init_id].clone()
    return token_id


def restore_other_rows(text_encoder, original: torch.Tensor, token_id: int) -> None:
    """Every embedding row but the token's back to ``original`` (weight decay and Adam's moments move
    rows whose gradient is zero)."""
    weight = text_encoder.get_input_embeddings().weight
    keep = torch.ones(len(weight), dtype=torch.bool, device=weight.device)
    keep[token_id] = False
    with torch.no_grad():
        weight[keep] = original[keep].to(weight.dtype)


def save_embedding(path: Path, token: str, vector: torch.Tensor) -> None:
    """{token: (1, D)} as safetensors, written atomically."""
    from safetensors.torch import save_file

    from ..shape._atomic import atomic_path

    with atomic_path(path) as tmp:
        save_file({token: vector.detach().float().cpu().reshape(1, -1).contiguous()}, str(tmp))
