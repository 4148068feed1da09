"""Built-in procedural shapes of ShapeNet's 13 categories: the shape prior when no text-to-shape model is
at hand.

Each category is a parametric composition of analytic SDFs (boxes, cylinders, capsules, tapered
capsules, extruded and revolved polygons, tori) whose parameters (sizes, leg counts and styles,
armrests or not, ...) are drawn from ``numpy.random.default_rng(seed)``; ``seed=0`` gives the
category's canonical look (every parameter at its default), other seeds vary it. The same seed always
gives the same shape::

    sdf = make_shape("chair", seed=3)                  # an SDF: (N, 3) points -> (N,) distances
    grid = library_sdf_grid("chair", 64, seed=3)       # an SDFGrid over [-1, 1]^3
    category_from_prompt("an old wooden rocking chair")   # -> "chair"

Conventions: +Y up, the object's front faces +Z (a chair's seat opens to +Z, a car's nose, a rifle's
muzzle and a boat's bow point to +Z, a display's screen and a loudspeaker's drivers face +Z); long
objects (sofa, bench, table) run along X. Every shape is one connected solid (its parts overlap), built
in natural units, then centred on its bounding box and uniformly scaled so that its longest side spans
[-HALF_EXTENT, HALF_EXTENT]. Parts are kept at least ~3.5% of the longest side thick so that they
survive sampling on 48^3 grids. The distances are 1-Lipschitz bounds with the exact zero set (see
:mod:`.primitives`), fit for sphere tracing and SDF-to-density.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from numbers import Integral
from typing import Callable

from ..primitives import SDF, to_grid
from ..sdf_grid import DEFAULT_MAX, DEFAULT_MIN, SDFGrid
from .furniture import _bench, _cabinet, _chair, _sofa, _table
from .objects import _display, _lamp, _loudspeaker, _rifle, _telephone
from .parts import _Draw, _Part
from .vehicles import _airplane, _car, _watercraft
from .words import SYNONYMS, _category_of, category_from_prompt


__all__ = ["CATEGORIES", "HALF_EXTENT", "SYNONYMS", "LibraryShape", "category_from_prompt",
           "library_sdf_grid", "library_shape", "make_shape", "resolve_category"]


HALF_EXTENT = 0.85  # the longest side of every library shape spans [-0.85, 0.85]


CATEGORIES = ("airplane", "bench", "cabinet", "car", "chair", "display", "lamp", "loudspeaker", "rifle",
              "sofa", "table", "telephone", "watercraft")


@dataclass(frozen=True)
class LibraryShape:
    """A library shape: its SDF, the parameters drawn for it and the box bounding it (after
    normalisation into the cube: the longest side spans [-HALF_EXTENT, HALF_EXTENT])."""

    category: str
    seed: int
    sdf: SDF = field(repr=False)
    params: dict = field(repr=False)
    xyz_min: tuple[float, float, float]
    xyz_max: tuple[float, float, float]



def resolve_category(name: str) -> str:
    """The category ``name`` stands for: a category or a synonym (any case, singular or plural).
    Raises ValueError listing the categories when there is none."""
    if not isinstance(name, str):
        raise TypeError(f"a category is a string, got {type(name).__name__}")
    category = _category_of(name.strip().lower())
    if category is not None:
        return category
    raise ValueError(f"unknown shape category {name!r}; the library has {', '.join(CATEGORIES)}")



def library_shape(category: str, seed: int = 0) -> LibraryShape:
    """Builds ``category`` (a category or a synonym) from ``seed`` (an int >= 0; 0 is the canonical
    look)."""
    name = resolve_category(category)
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    draw = _Draw(int(seed))
    part = _BUILDERS[name](draw)
    center, extent = (part.lo + part.hi) / 2, float((part.hi - part.lo).max())
    scale = 2 * HALF_EXTENT / extent
    sdf = part.sdf.translate((-center).tolist()).scale(scale)
    lo, hi = (part.lo - center) * scale, (part.hi - center) * scale
    return LibraryShape(name, int(seed), sdf, dict(draw.values), tuple(lo.tolist()), tuple(hi.tolist()))



def make_shape(category: str, seed: int = 0) -> SDF:
    """The SDF of ``category`` drawn from ``seed`` (0: canonical), inside [-1, 1]^3 with its longest
    side spanning [-HALF_EXTENT, HALF_EXTENT]. Same seed, same shape."""
    return library_shape(category, seed).sdf



def library_sdf_grid(category: str, resolution=64, seed: int = 0, *, xyz_min=DEFAULT_MIN,
                     xyz_max=DEFAULT_MAX) -> SDFGrid:
    """``make_shape(category, seed)`` sampled on a grid of ``resolution`` (an int or 3 ints) over the
    bbox ([-1, 1]^3 by default)."""
    return to_grid(make_shape(category, seed), resolution, xyz_min, xyz_max)



_BUILDERS: dict[str, Callable[[_Draw], _Part]] = {
    "airplane": _airplane, "bench": _bench, "cabinet": _cabinet, "car": _car, "chair": _chair,
    "display": _display, "lamp": _lamp, "loudspeaker": _loudspeaker, "rifle": _rifle, "sofa": _sofa,
    "table": _table, "telephone": _telephone, "watercraft": _watercraft,
}
