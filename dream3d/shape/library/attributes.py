"""The prompt's words beyond its noun, for the library prior: which attribute values the library has
parameters for a prompt names ("a round table" -> top round), the first library variant that has them,
and which of the prompt's words the prior used and which it could not.

The vocabulary is the library CLIP's caption phrasings (dream3d.library_clip.captions.PHRASES), the one
place that says which words name which drawn parameter; a phrasing matches when every word of it
(beyond the noun and the articles) is in the prompt: "{n} with a round top" needs "with", "round" and
"top", so "without armrests" never reads as "with armrests"."""
from __future__ import annotations

import re
from typing import NamedTuple

from . import library_shape
from .words import _BREAKS, _category_of

ARTICLES = frozenset({"a", "an", "the"})
SEARCHED_SEEDS = 256  # variants tried for the named attributes (most categories repeat within ~50)


def prompt_words(prompt: str) -> list[str]:
    """The prompt's words, lower-case, hyphenated words split ("four-legged" -> "four", "legged")."""
    return re.findall(r"[a-z0-9]+", re.sub(r"['\u2019]s\b", "", prompt.lower()))


def _phrasing_words(phrasing: str) -> frozenset[str]:
    return frozenset(w for w in prompt_words(phrasing.replace("{n}", " ")) if w not in ARTICLES)


def named_attributes(prompt: str, category: str) -> dict[str, tuple[str, frozenset[str]]]:
    """{attribute: (value, the prompt's words that name it)} for the attribute values of ``category``
    whose phrasing the prompt holds; of two values of one attribute the one named by more words wins
    ("a chair with a sled base" is sled, not the bare "chair")."""
    from ...library_clip.captions import PHRASES

    words = set(prompt_words(prompt))
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for attribute, values in PHRASES.get(category, {}).items():
        for value, (train, heldout) in values.items():
            for phrasing in (*train, *heldout):
                need = _phrasing_words(phrasing)
                if need and need <= words and len(need) > len(found.get(attribute, ("", frozenset()))[1]):
                    found[attribute] = (value, need)
    return found


class Variant(NamedTuple):
    seed: int
    wanted: dict[str, str]    # the attribute values the prompt names
    missing: dict[str, str]   # those no variant among the searched seeds has together with the others
    attributes: dict[str, str]  # the chosen variant's visible attributes


def matching_variant(category: str, wanted: dict[str, str], first_seed: int = 0) -> Variant:
    """The first seed from ``first_seed`` on whose shape has every wanted attribute value; when no seed
    among SEARCHED_SEEDS has them all, the first that has the most."""
    from ...library_clip.captions import visible_attributes

    best, best_hits = first_seed, -1
    for seed in range(first_seed, first_seed + (SEARCHED_SEEDS if wanted else 1)):
        attributes = visible_attributes(category, library_shape(category, seed).params)
        hits = sum(attributes.get(k) == v for k, v in wanted.items())
        if hits > best_hits:
            best, best_hits, best_attributes = seed, hits, attributes
        if hits == len(wanted):
            break
    missing = {k: v for k, v in wanted.items() if best_attributes.get(k) != v}
    return Variant(best, dict(wanted), missing, best_attributes)


class WordUse(NamedTuple):
    used: list[str]     # the words the prior followed: the category's noun and attribute words
    unused: list[str]   # the rest, articles and prepositions aside


def word_use(prompt: str, category: str, named: dict[str, tuple[str, frozenset[str]]],
             missing: dict[str, str]) -> WordUse:
    """Which of the prompt's words the library prior used: nouns of ``category`` and the words of the
    attributes it found a variant for."""
    attribute_words = set().union(*(w for k, (_, w) in named.items() if k not in missing))
    used, unused = [], []
    for word in dict.fromkeys(prompt_words(prompt)):  # each word once, in order
        if _category_of(word) == category or word in attribute_words:
            used.append(word)
        elif word not in ARTICLES and word not in _BREAKS:
            unused.append(word)
    return WordUse(used, unused)
