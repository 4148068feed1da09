"""The retrieval prior: among many library variants (seeds) of the prompt's category, or of every
category, the one whose renders a CLIP finds closest to the prompt, so that "a round table" gets a
round table. Candidates are rendered with the SDF renderer (the renders cache of the library CLIP)
and their image embeddings are cached on disk per model, so a later run with the same CLIP embeds
the prompt only."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from ..guidance.clip import ClipGuide
from ..shape._atomic import atomic_path
from . import data
from .data import RenderSpec, compose, load_views, random_colours

DEFAULT_EMBEDDING_CACHE = Path(os.environ.get("DREAM3D_CACHE", "~/.cache/dream3d")).expanduser() / "retrieve"
COLOUR_SEED = 0  # candidates' colours: fixed, so that their embeddings can be cached
SPEC = RenderSpec()  # candidates are rendered like the library CLIP's training images


@dataclass(frozen=True)
class Retrieved:
    category: str
    seed: int
    similarity: float
    candidates: int
    scores: dict  # (category, seed) -> cosine similarity with the prompt


def model_fingerprint(*files) -> str:
    """A name for a model's cached embeddings: a hash of its config and weights files."""
    h = hashlib.sha256()
    for f in files:
        h.update(Path(f).read_bytes() if f and Path(f).is_file() else str(f).encode())
    return h.hexdigest()[:16]


def candidate_embeddings(guide: ClipGuide, items, fingerprint: str, embedding_cache=None, renders=None,
                         spec: RenderSpec | None = None, progress: bool = True) -> torch.Tensor:
    """(N, D) image embeddings of library shapes ``items`` ((category, seed) pairs): the normalised mean
    over each shape's cached views. Missing ones are rendered and embedded, then saved atomically.
    Defaults: DEFAULT_EMBEDDING_CACHE, the library CLIP's renders cache, SPEC."""
    items = [(c, int(s)) for c, s in items]
    embedding_cache = embedding_cache or DEFAULT_EMBEDDING_CACHE
    renders, spec = renders or data.DEFAULT_CACHE, spec or SPEC
    path = Path(embedding_cache) / (f"{fingerprint}-{spec.grid_resolution}-{spec.image_size}-{spec.views}.pt")
    known: dict = torch.load(path, weights_only=True) if path.is_file() else {}
    missing = [it for it in items if f"{it[0]}-{it[1]}" not in known]
    if missing:
        views = load_views(renders, missing, spec, progress)
        for i, (c, s) in enumerate(tqdm(missing, desc="embed candidates", disable=not progress)):
            objects, backgrounds = random_colours(spec.views, torch.Generator().manual_seed(COLOUR_SEED))
            images = compose(views.shading[i], views.coverage[i], objects, backgrounds)
            with torch.no_grad():
                known[f"{c}-{s}"] = torch.nn.functional.normalize(guide.embed_images(images).mean(0), dim=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            torch.save(known, tmp)
    return torch.stack([known[f"{c}-{s}"] for c, s in items])


def retrieve(prompt: str, guide: ClipGuide, items, fingerprint: str, **kw) -> Retrieved:
    """The candidate of ``items`` closest to ``prompt`` by cosine similarity of CLIP embeddings."""
    items = [(c, int(s)) for c, s in items]
    if not items:
        raise ValueError("no candidates to retrieve from")
    images = candidate_embeddings(guide, items, fingerprint, **kw)
    scores = (images @ guide.embed_text([prompt])[0]).tolist()
    best = max(range(len(items)), key=scores.__getitem__)
    return Retrieved(items[best][0], items[best][1], scores[best], len(items), dict(zip(items, scores)))
