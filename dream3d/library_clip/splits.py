"""Which library shapes the library CLIP trains on and which it is measured on: training seeds
1..n per category; held-out seeds from 100000 on, picked so that every attribute value of a
category has a few held-out shapes (rare ones, such as sled chairs, would otherwise have none)."""
from __future__ import annotations

from collections import Counter

from ..shape.library import CATEGORIES, library_shape
from .captions import visible_attributes

HELDOUT_START = 100_000


def train_items(n_per_category: int) -> list[tuple[str, int]]:
    """(category, seed) for seeds 1..n of every category, seed-major (a prefix covers all categories)."""
    if n_per_category < 1 or n_per_category >= HELDOUT_START:
        raise ValueError(f"n_per_category must be in [1, {HELDOUT_START}), got {n_per_category}")
    return [(c, s) for s in range(1, n_per_category + 1) for c in CATEGORIES]


def heldout_items(per_value: int = 3, minimum: int = 8, scan: int = 600) -> list[tuple[str, int]]:
    """Held-out (category, seed) pairs: per category the first ``minimum`` seeds from HELDOUT_START,
    plus later seeds that bring an attribute value short of ``per_value`` shapes closer to it (looking
    at most ``scan`` seeds ahead). Deterministic; draws parameters only, builds no SDF."""
    items = []
    for category in CATEGORIES:
        counts: Counter = Counter()
        values = _all_values(category)
        taken = 0
        for seed in range(HELDOUT_START, HELDOUT_START + scan):
            attrs = visible_attributes(category, library_shape(category, seed).params)
            needed = any(counts[(k, v)] < per_value for k, v in attrs.items())
            if taken < minimum or needed:
                items.append((category, seed))
                counts.update(attrs.items())
                taken += 1
            if taken >= minimum and all(counts[kv] >= per_value for kv in values):
                break
    return items


def _all_values(category):
    from .captions import PHRASES
    return [(k, v) for k, vals in PHRASES[category].items() for v in vals]
