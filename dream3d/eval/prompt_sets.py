"""Prompt sets for R-precision: the built-in object-centric set (prompts/objects.txt: the 13 library
categories with colours, materials and styles) or any text file with one prompt per line."""
from __future__ import annotations

from pathlib import Path

PROMPTS_DIR = Path(__file__).parent / "prompts"
BUILTIN = {"objects": PROMPTS_DIR / "objects.txt"}


class PromptSetError(ValueError):
    """A prompt set cannot be read or is empty."""


def parse_prompts(text: str) -> list[str]:
    """One prompt per line; blank lines and # comments skipped; repeats kept once, in first order
    (a repeated prompt would compete with itself for retrieval)."""
    lines = (line.strip() for line in text.splitlines())
    return list(dict.fromkeys(line for line in lines if line and not line.startswith("#")))


def load_prompt_set(name_or_path: str) -> tuple[str, list[str]]:
    """(name, prompts) of a built-in set (``objects``) or a text file."""
    path = BUILTIN.get(name_or_path) or Path(name_or_path).expanduser()
    try:
        prompts = parse_prompts(path.read_text())
    except OSError as err:
        raise PromptSetError(f"prompt set {name_or_path!r} is neither a built-in set "
                             f"({', '.join(BUILTIN)}) nor a readable file: {err.strerror or err}") from err
    if not prompts:
        raise PromptSetError(f"prompt set {name_or_path!r} ({path}) holds no prompts")
    return (name_or_path if name_or_path in BUILTIN else path.stem), prompts
