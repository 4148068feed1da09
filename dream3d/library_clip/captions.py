"""Captions of library shapes, built from the category, its nouns and the attributes the drawn
parameters name ("a round table with three legs", "a sofa without armrests", "a fighter jet").

Only attributes that show in a 64-pixel render are named: kinds (office chair, sailboat, wardrobe),
tops, leg styles, armrests, backrests, scopes, engine counts. Every attribute value has training
phrasings and, for most, a held-out phrasing; sentence templates are split the same way. Held-out
phrasings reuse words the training phrasings use, in new arrangements: a model cannot learn a word
it never sees, so the split measures whether it composes what it learned."""
from __future__ import annotations

import random
from types import MappingProxyType
from typing import NamedTuple

from ..shape.library import CATEGORIES, SYNONYMS

SPLITS = ("train", "heldout")

TEMPLATES = MappingProxyType({
    "train": ("{}", "a photo of {}", "a render of {}", "a 3d model of {}", "{} on a plain background",
              "a picture of {}", "a close-up photo of {}", "a grey 3d render of {}", "there is {}",
              "a 3d render of {} on a plain background"),
    "heldout": ("a render of {} on a plain background", "{}, a 3d model", "a close-up picture of {}"),
})

NOUNS = MappingProxyType({
    "airplane": ("airplane", "plane", "aircraft", "aeroplane"), "bench": ("bench",),
    "cabinet": ("cabinet",), "car": ("car", "automobile"), "chair": ("chair",),
    "display": ("display", "screen"), "lamp": ("lamp",), "loudspeaker": ("loudspeaker", "speaker"),
    "rifle": ("rifle", "gun"), "sofa": ("sofa", "couch"), "table": ("table",),
    "telephone": ("telephone", "phone"), "watercraft": ("boat", "watercraft", "vessel"),
})

# category -> attribute -> value -> (training phrasings, held-out phrasings). "{n}" stands for the
# category's noun; a phrasing without it is a noun phrase of its own ("a fighter jet").
_PHRASES = {
    "airplane": {
        "kind": {"airliner": (("airliner", "jet airliner", "swept-wing {n}", "passenger jet"),
                              ("swept-wing airliner",)),
                 "fighter": (("fighter jet", "fighter {n}", "military jet"), ("military fighter jet",)),
                 "propeller": (("propeller {n}", "{n} with a propeller", "small propeller {n}"),
                               ("small {n} with a propeller",))},
        "engines": {"two": (("{n} with two engines", "twin-engine {n}"), ("twin-engine jet airliner",)),
                    "four": (("{n} with four engines", "four-engine {n}"), ("four-engine jet airliner",))},
    },
    "bench": {
        "backrest": {"with": (("{n} with a backrest", "{n} with a back"), ("park {n} with a back",)),
                     "without": (("{n} without a backrest", "backless {n}", "{n} without a back"),
                                 ("backless park {n}",))},
    },
    "cabinet": {
        "kind": {"cupboard": (("cupboard", "{n} with doors", "kitchen cupboard"), ("low {n} with doors",)),
                 "wardrobe": (("wardrobe", "tall wardrobe", "tall {n} with doors"), ("tall wardrobe with doors",)),
                 "dresser": (("dresser", "chest of drawers", "{n} with drawers"), ("low dresser with drawers",)),
                 "sideboard": (("sideboard", "long low {n}", "long sideboard"), ("long low sideboard",)),
                 "filing": (("filing {n}", "narrow filing {n}", "tall narrow {n} with drawers"),
                            ("narrow {n} with filing drawers",))},
    },
    "car": {
        "kind": {"sedan": (("sedan", "sedan {n}", "family sedan"), ("family {n}",)),
                 "hatchback": (("hatchback", "small hatchback", "hatchback {n}"), ("small hatchback {n}",)),
                 "suv": (("suv", "tall suv", "suv {n}"), ("tall suv {n}",)),
                 "pickup": (("pickup truck", "pickup", "truck"), ("pickup truck {n}",)),
                 "sports": (("sports {n}", "low sports {n}", "sportscar"), ("low sportscar",))},
    },
    "chair": {
        "legs": {"four": (("{n} with four legs", "four-legged {n}", "dining {n}"), ("dining {n} with four legs",)),
                 "office": (("office {n}", "swivel {n}", "{n} on wheels"), ("office {n} on wheels",)),
                 "sled": (("{n} with a sled base", "tube frame {n}"), ("tube frame {n} with a sled base",)),
                 "rocking": (("rocking {n}", "{n} with rockers", "{n} that rocks"), ("rocking {n} with rockers",))},
        "armrests": {"with": (("{n} with armrests", "{n} with arms", "armchair"), ("armchair with armrests",)),
                     "without": (("{n} without armrests", "{n} without arms", "armless {n}"),
                                 ("armless {n} without armrests",))},
        "back": {"panel": (("{n} with a solid back", "solid-back {n}"), ()),
                 "slats": (("{n} with a slatted back", "{n} with vertical slats"), ()),
                 "ladder": (("ladder-back {n}", "{n} with a ladder back"), ())},
    },
    "display": {
        "kind": {"monitor": (("computer monitor", "flat monitor", "monitor"), ("flat computer monitor",)),
                 "tv": (("television", "tv", "flat screen tv"), ("flat television",)),
                 "crt": (("crt monitor", "old crt {n}", "boxy crt television"), ("old boxy crt monitor",))},
    },
    "lamp": {
        "kind": {"table": (("table {n}", "bedside {n}", "{n} with a shade"), ("bedside table {n}",)),
                 "floor": (("floor {n}", "tall floor {n}", "standing {n}"), ("tall standing {n}",)),
                 "desk": (("desk {n}", "architect {n}", "adjustable desk {n}"), ("adjustable architect {n}",))},
    },
    "loudspeaker": {
        "kind": {"bookshelf": (("bookshelf {n}", "small {n}", "small bookshelf {n}"), ("small bookshelf {n} box",)),
                 "tower": (("tower {n}", "tall {n}", "floor-standing {n}"), ("tall floor-standing tower {n}",)),
                 "subwoofer": (("subwoofer", "cube subwoofer", "bass {n}"), ("cube bass subwoofer",))},
    },
    "rifle": {
        "kind": {"hunting": (("hunting {n}", "bolt-action {n}", "{n} with a wooden stock"),
                             ("bolt-action hunting {n}",)),
                 "assault": (("assault {n}", "{n} with a magazine", "military {n}"), ("military assault {n}",)),
                 "shotgun": (("shotgun", "double-barrel shotgun", "pump shotgun"), ("pump-action shotgun",))},
        "scope": {"with": (("{n} with a scope", "scoped {n}"), ("scoped hunting {n} with a scope",)),
                  "without": (("{n} without a scope", "{n} with iron sights"), ("hunting {n} without a scope",))},
    },
    "sofa": {
        "armrests": {"with": (("{n} with armrests", "{n} with arms", "{n} with two armrests"),
                              ("{n} with two arms",)),
                     "without": (("{n} without armrests", "armless {n}", "{n} without arms"),
                                 ("armless {n} without armrests",))},
        "arms": {"rolled": (("{n} with rolled arms", "chesterfield"), ("chesterfield {n} with rolled arms",)),
                 "square": (("{n} with square arms", "modern {n}"), ("modern {n} with square arms",))},
    },
    "table": {
        "top": {"round": (("round {n}", "{n} with a round top", "circular {n}"), ("circular {n} with a round top",)),
                "rectangular": (("rectangular {n}", "square {n}", "{n} with a rectangular top"),
                                ("{n} with a square top",))},
        "base": {"pedestal": (("pedestal {n}", "{n} on a pedestal", "{n} with one leg"), ("{n} on a single pedestal",)),
                 "three_legs": (("{n} with three legs", "three-legged {n}"), ("three-legged {n} with three legs",)),
                 "four_legs": (("{n} with four legs", "four-legged {n}"), ("four-legged {n} with four legs",)),
                 "trestle": (("trestle {n}", "{n} with trestle legs"), ("trestle {n} with legs",)),
                 "panels": (("desk", "{n} with panel sides", "office desk"), ("office desk with panel sides",))},
    },
    "telephone": {
        "kind": {"smartphone": (("smartphone", "mobile {n}", "touchscreen smartphone"), ("touchscreen mobile {n}",)),
                 "cellphone": (("cellphone", "old cellphone with buttons", "{n} with a keypad"),
                               ("old mobile {n} with a keypad",)),
                 "desk": (("desk {n}", "landline {n}", "{n} with a handset"), ("landline desk {n} with a handset",))},
    },
    "watercraft": {
        "kind": {"motorboat": (("motorboat", "speedboat", "small motor {n}"), ("small speedboat",)),
                 "sailboat": (("sailboat", "{n} with a sail", "sailing {n}"), ("sailing {n} with a sail",)),
                 "ship": (("ship", "large ship", "cargo ship", "ferry"), ("large cargo ship",)),
                 "canoe": (("canoe", "kayak", "small rowing {n}"), ("small canoe",))},
    },
}
PHRASES = MappingProxyType(_PHRASES)


def visible_attributes(category: str, params: dict) -> dict[str, str]:
    """The attributes of a library shape that its captions name, from its drawn parameters
    (``library_shape(category, seed).params``): {attribute: value}, values as in PHRASES."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown library category {category!r}; categories: {', '.join(CATEGORIES)}")
    p, out = params, {}
    if category == "airplane":
        out["kind"] = p["style"]
        if p["style"] == "airliner":
            out["engines"] = {2: "two", 4: "four"}[p["engines"]]
    elif category == "bench":
        out["backrest"] = "with" if p["backrest"] else "without"
    elif category in ("cabinet", "car", "display", "lamp", "loudspeaker", "telephone", "watercraft"):
        out["kind"] = p["style"]
    elif category == "chair":
        out["legs"] = {"square": "four", "round": "four", "tapered": "four", "pedestal": "office",
                       "sled": "sled", "rocker": "rocking"}[p["legs"]]
        out["armrests"] = "with" if p["armrests"] else "without"
        out["back"] = p["back"]
    elif category == "rifle":
        out["kind"] = p["style"]
        if p["style"] == "hunting":
            out["scope"] = "with" if p["scope"] else "without"
    elif category == "sofa":
        out["armrests"] = "without" if p["arms"] == "none" else "with"
        if p["arms"] in ("rolled", "square"):
            out["arms"] = p["arms"]
    elif category == "table":
        out["top"] = p["top"]
        out["base"] = "four_legs" if p["base"] == "round_legs" else p["base"]
    return out


def article(phrase: str) -> str:
    return ("an " if phrase[:1] in "aeiou" else "a ") + phrase


def describe(noun: str, fragments: list[str]) -> str:
    """A noun phrase with an article from a noun and attribute phrasings: the first phrasing holds the
    noun (or replaces it), each later one must start with "{n} " and wraps what came before:
    ("round {n}", "{n} with three legs") -> "a round table with three legs"."""
    phrase = "{n}"
    for frag in fragments:
        if phrase != "{n}" and not frag.startswith("{n} "):
            raise ValueError(f"phrasing {frag!r} cannot follow another attribute")
        phrase = frag.replace("{n}", phrase) if "{n}" in frag else frag
    return article(phrase.replace("{n}", noun))


def phrasings(category: str, attribute: str, value: str, split: str) -> tuple[str, ...]:
    """The phrasings of one attribute value in ``split``; the held-out split falls back on the training
    phrasings where a value has no held-out one."""
    _check_split(split)
    train, heldout = PHRASES[category][attribute][value]
    return train if split == "train" or not heldout else heldout


class Caption(NamedTuple):
    text: str
    category: str
    mentioned: dict  # the attributes the text names: {attribute: value}


def applies(caption: Caption, category: str, attributes: dict[str, str]) -> bool:
    """Whether ``caption`` is true of a shape: same category, and every attribute it names matches."""
    return caption.category == category and all(attributes.get(k) == v for k, v in caption.mentioned.items())


def random_caption(category: str, attributes: dict[str, str], split: str, rng: random.Random) -> Caption:
    """One caption of a shape: a template of ``split``, a noun, and zero to two of its attributes."""
    _check_split(split)
    mentioned = {}
    names = list(attributes)
    rng.shuffle(names)
    k = rng.choices((0, 1, 2), weights=(0.2, 0.5, 0.3))[0]
    fragments: list[str] = []
    for name in names:
        if len(fragments) == k:
            break
        options = phrasings(category, name, attributes[name], split)
        if fragments:  # a later attribute must wrap the phrase: "{n} with ..."
            options = tuple(o for o in options if o.startswith("{n} "))
        if options:
            fragments.append(rng.choice(options))
            mentioned[name] = attributes[name]
    text = rng.choice(TEMPLATES[split]).format(describe(rng.choice(NOUNS[category]), fragments))
    return Caption(text, category, mentioned)


def category_queries(category: str, split: str = "heldout") -> list[str]:
    """Captions naming only the category: every template of ``split`` with every noun."""
    _check_split(split)
    return [t.format(article(noun)) for t in TEMPLATES[split] for noun in NOUNS[category]]


def attribute_queries(category: str, attribute: str, value: str, split: str = "heldout") -> list[str]:
    """Captions naming one attribute value: every template of ``split`` with every phrasing."""
    return [t.format(describe(NOUNS[category][0], [frag])) for t in TEMPLATES[split]
            for frag in phrasings(category, attribute, value, split)]


def _check_split(split: str):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")


# Every noun names its category for the rest of the project (category_from_prompt).
assert all(SYNONYMS.get(n) == c for c, nouns in NOUNS.items() for n in nouns)
