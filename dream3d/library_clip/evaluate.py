"""What the library CLIP learned, on held-out shapes (seeds it never saw) and held-out phrasings:

- category retrieval: for each held-out caption naming a category ("a close-up picture of a sofa"),
  is the top-1 image among all held-out renders (13 categories) of that category?
- attribute retrieval: for each held-out caption naming an attribute value ("a circular table with a
  round top"), is the top-1 image among the held-out renders of that category (that have the
  attribute) one with that value? Reported per contrast (round vs rectangular top, with vs without
  armrests, airliner vs fighter vs propeller plane, ...), for the two-way ones and for all.
- zero-shot classification (image -> category) as a cross-check.

    python -m dream3d.library_clip.evaluate [--clip-model X.json --clip-checkpoint X.pt]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from ..guidance.clip import ClipGuide, ClipSpec, GuidanceError, load_clip
from ..shape.library import CATEGORIES, library_shape
from ..shape._atomic import atomic_path
from . import CHECKPOINT_PATH, CONFIG_PATH
from .captions import PHRASES, attribute_queries, category_queries, visible_attributes
from .data import DEFAULT_CACHE, RenderSpec, ViewSet, compose, load_views, random_colours
from .splits import heldout_items

TARGETS = {"category_top1": 0.90, "pair_top1": 0.80}


def render_set(views: ViewSet, seed: int = 0) -> tuple[torch.Tensor, list[int]]:
    """Every cached view of every shape with fixed random colours: images (N * V, 3, S, S) and the shape
    index of each."""
    n, v = views.shading.shape[:2]
    objects, backgrounds = random_colours(n * v, torch.Generator().manual_seed(seed))
    images = compose(views.shading.flatten(0, 1), views.coverage.flatten(0, 1), objects, backgrounds)
    return images, [i for i in range(n) for _ in range(v)]


@torch.no_grad()
def embed_images(guide: ClipGuide, images: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    return torch.cat([guide.embed_images(images[i:i + chunk]) for i in range(0, len(images), chunk)])


def _top1(text_emb: torch.Tensor, image_emb: torch.Tensor) -> list[int]:
    return (text_emb @ image_emb.T).argmax(1).tolist()


@torch.no_grad()
def evaluate(guide: ClipGuide, views: ViewSet, split: str = "heldout") -> dict:
    """The numbers above for ``guide`` on ``views`` (the held-out shapes), captions of ``split``."""
    images, owner = render_set(views)
    image_emb = embed_images(guide, images)
    cats = [views.items[i][0] for i in owner]
    attrs_of = [visible_attributes(c, library_shape(c, s).params) for c, s in views.items]
    attrs = [attrs_of[i] for i in owner]

    per_category, hits, total = {}, 0, 0
    for c in CATEGORIES:
        queries = category_queries(c, split)
        top = _top1(guide.embed_text(queries), image_emb)
        ok = sum(cats[j] == c for j in top)
        per_category[c] = ok / len(queries)
        hits, total = hits + ok, total + len(queries)
    category_top1 = hits / total

    contrasts = {}
    for c, table in PHRASES.items():
        for attribute, values in table.items():
            pool = [j for j in range(len(images)) if cats[j] == c and attribute in attrs[j]]
            present = sorted({attrs[j][attribute] for j in pool})
            if len(present) < 2:
                continue
            ok = n = 0
            for value in present:
                queries = attribute_queries(c, attribute, value, split)
                top = _top1(guide.embed_text(queries), image_emb[pool])
                ok += sum(attrs[pool[j]][attribute] == value for j in top)
                n += len(queries)
            contrasts[f"{c}.{attribute}: {' vs '.join(present)}"] = {"top1": ok / n, "values": len(present),
                                                                       "queries": n, "images": len(pool)}
    pairs = [r for r in contrasts.values() if r["values"] == 2]

    class_text = torch.stack([guide.embed_text(category_queries(c, split)).mean(0) for c in CATEGORIES])
    predicted = (image_emb @ class_text.T).argmax(1).tolist()
    zero_shot = sum(CATEGORIES[p] == c for p, c in zip(predicted, cats)) / len(cats)
    return {"shapes": len(views.items), "images": len(images), "category_top1": category_top1,
            "per_category_top1": per_category,
            "pair_top1": sum(r["top1"] for r in pairs) / max(1, len(pairs)),
            "attribute_top1": sum(r["top1"] for r in contrasts.values()) / max(1, len(contrasts)),
            "contrasts": contrasts, "zero_shot_category_accuracy": zero_shot}


def report(result: dict) -> str:
    lines = [f"held-out: {result['shapes']} shapes, {result['images']} renders, held-out phrasings",
             f"category text->image top-1 (13 categories): {result['category_top1']:.1%} "
             f"(target {TARGETS['category_top1']:.0%})",
             f"attribute pairs text->image top-1 (mean of {sum(r['values'] == 2 for r in result['contrasts'].values())} "
             f"two-way contrasts): {result['pair_top1']:.1%} (target {TARGETS['pair_top1']:.0%})",
             f"all attribute contrasts (incl. multi-way kinds): {result['attribute_top1']:.1%}",
             f"zero-shot image->category accuracy: {result['zero_shot_category_accuracy']:.1%}",
             "per contrast:"]
    lines += [f"  {name}: {r['top1']:.1%} ({r['queries']} queries, {r['images']} images)"
              for name, r in result["contrasts"].items()]
    lines.append("per category: " + ", ".join(f"{c} {v:.0%}" for c, v in result["per_category_top1"].items()))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dream3d.library_clip.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--clip-model", default=str(CONFIG_PATH), help="open_clip JSON config (default: the shipped library CLIP)")
    p.add_argument("--clip-checkpoint", default=str(CHECKPOINT_PATH), help="its weights")
    p.add_argument("--cache", default=str(DEFAULT_CACHE), help="cached renders (default %(default)s)")
    p.add_argument("--split", default="heldout", choices=("heldout", "train"), help="which phrasings to query with")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    try:
        guide = load_clip(ClipSpec(model=args.clip_model, checkpoint=args.clip_checkpoint))
    except GuidanceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    views = load_views(args.cache, heldout_items(), RenderSpec())
    result = evaluate(guide, views, args.split)
    print(report(result))
    if args.json:
        with atomic_path(args.json) as tmp:
            Path(tmp).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
