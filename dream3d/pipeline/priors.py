"""The shape prior of a run, from one of four sources behind one function: the built-in procedural
library (category from the prompt's nouns), a user mesh, a saved SDF grid, or a stage-1 text-to-shape
model (dream3d.text2shape, models from $DREAM3D_MODELS). Every source gives an SDFGrid at the run's resolution."""
from __future__ import annotations

import sys
from typing import Callable, NamedTuple

from ..shape import CATEGORIES, SDFGrid, category_from_prompt, library_sdf_grid, load_sdf
from ..shape.library import resolve_category
from ..shape.mesh_prior import mesh_prior
from ..shape.sdf_grid import resample_values
from .config import RunConfig


class PriorError(ValueError):
    """No shape prior can be made from the run's options; the message says what to give instead."""


class Prior(NamedTuple):
    grid: SDFGrid
    source: str        # library | retrieve | mesh | sdf | text2shape | none
    description: str   # e.g. "library chair (shape seed 0)" or the file it came from
    details: dict | None = None  # mesh priors: orientation, normalisation, thin-part check (metrics.json)
    words: dict | None = None    # library priors: the prompt's words used and not used (metrics.json)


Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def prior_resolution(config: RunConfig) -> int:
    """The prior's SDF grid size: --prior-resolution, else the run's density grid size."""
    return config.prior_resolution or config.resolution


def resolve_prior(config: RunConfig, log: Log = _stderr) -> Prior:
    """auto: the mesh if given, else the SDF file if given, else the library shape of the prompt's
    category (or ``config.category``); each source raises PriorError with the way out. ``log`` gets
    the mesh prior's orientation and thin-part warnings."""
    source = config.prior
    if source == "auto":
        source = "mesh" if config.prior_mesh else "sdf" if config.prior_sdf else "library"
    if source == "library":
        return _library_prior(config, log)
    if source == "retrieve":
        return _retrieve_prior(config)
    if source == "mesh":
        return _mesh_prior(config, log)
    if source == "sdf":
        return _sdf_prior(config)
    if source == "text2shape":
        return _text2shape_prior(config)
    if source == "none":
        return no_prior(config)
    raise PriorError(f"unknown prior source {source!r}")


def _library_prior(config: RunConfig, log: Log = _stderr) -> Prior:
    known = ", ".join(CATEGORIES)
    if config.category:
        try:
            category = resolve_category(config.category)
        except (KeyError, ValueError) as err:
            raise PriorError(f"unknown library category {config.category!r}; categories: {known}") from err
    else:
        category = category_from_prompt(config.prompt)
        if category is None:
            raise PriorError(f"the prompt {config.prompt!r} names no shape of the built-in library; "
                             f"categories: {known} (say one in the prompt, or give --category, "
                             "--prior-mesh FILE or --prior-sdf FILE)")
    variant, words = _prompt_variant(config, category, log)
    grid = library_sdf_grid(category, prior_resolution(config), seed=variant.seed)
    named = "".join(f", {k}={v}" for k, v in variant.wanted.items() if k not in variant.missing)
    return Prior(grid, "library", f"library {category} (shape seed {variant.seed}{named})", words=words)


def _prompt_variant(config: RunConfig, category: str, log: Log):
    """The library variant the prompt's attribute words name ("a round table": the first seed from
    --shape-seed on with a round top), and the log of which words the prior used and which it did not."""
    from ..shape.library.attributes import SEARCHED_SEEDS, matching_variant, named_attributes, word_use

    named = named_attributes(config.prompt, category)
    variant = matching_variant(category, {k: v for k, (v, _) in named.items()}, config.shape_seed)
    use = word_use(config.prompt, category, named, variant.missing)
    found = ", ".join(f"{k}={v}" for k, v in variant.wanted.items() if k not in variant.missing)
    log(f"[dream3d] prompt words the library prior used: {', '.join(use.used) or 'none'} -> {category}"
        + (f" with {found} (shape seed {variant.seed})" if found else ""))
    if variant.missing:
        log(f"[dream3d] no library {category} among the {SEARCHED_SEEDS} variants from shape seed {config.shape_seed} "
            f"has {', '.join(f'{k}={v}' for k, v in variant.missing.items())}"
            + (f" together with {found}" if found else "") + ": the prior lacks it")
    if use.unused:
        reader = ("the guidance reads the whole prompt" if config.guidance != "none" else
                  "--guidance none reads no words: they are not used at all (--guidance clip or sds would)")
        log(f"[dream3d] prompt words the library prior has no parameter for: {', '.join(use.unused)}; {reader}")
    return variant, {"used": use.used, "unused": use.unused,
                     "attributes": {k: v for k, v in variant.wanted.items() if k not in variant.missing},
                     **({"unmatched_attributes": variant.missing} if variant.missing else {})}


def no_prior(config: RunConfig) -> Prior:
    """--prior none, the paper's w/o-prior ablation: DVGO from its empty init. The grid holds no surface
    (a positive distance everywhere) and only gives the field its bbox: field_init starts every voxel at
    DVGO's alpha_init (field_init.empty_density), the prior loss has weight 0, and the metrics that
    compare with a prior are left out."""
    import torch

    size = prior_resolution(config)
    return Prior(SDFGrid(torch.ones(size, size, size)), "none",
                 "none: DVGO's empty init (every voxel at one small opacity), no prior loss")


def _retrieve_prior(config: RunConfig) -> Prior:
    """The library variant closest to the prompt under a CLIP: among seeds 0..retrieve_candidates-1 of
    the prompt's category (or --category), or of every category when the prompt names none."""
    from ..library_clip.retrieve import retrieve

    if config.category:
        try:
            categories = [resolve_category(config.category)]
        except (KeyError, ValueError) as err:
            raise PriorError(f"unknown library category {config.category!r}; categories: {', '.join(CATEGORIES)}") from err
    else:
        named = category_from_prompt(config.prompt)
        categories = [named] if named else list(CATEGORIES)
    guide, fingerprint = _retrieval_clip(config)
    items = [(c, s) for c in categories for s in range(config.retrieve_candidates)]
    found = retrieve(config.prompt, guide, items, fingerprint,
                     embedding_cache=config.retrieve_cache)
    grid = library_sdf_grid(found.category, prior_resolution(config), seed=found.seed)
    return Prior(grid, "retrieve", f"library {found.category} (shape seed {found.seed}), retrieved by CLIP among "
                 f"{found.candidates} variants (similarity {found.similarity:.3f})")


def _retrieval_clip(config: RunConfig):
    """The CLIP that ranks candidates and its fingerprint (the name of its embedding cache)."""
    from .. import library_clip
    from ..guidance.clip import ClipSpec, GuidanceError, load_clip, locate_weights
    from ..library_clip.retrieve import model_fingerprint

    CONFIG_PATH, CHECKPOINT_PATH = library_clip.CONFIG_PATH, library_clip.CHECKPOINT_PATH
    if config.retrieve_clip == "library":
        spec = ClipSpec(model=str(CONFIG_PATH), checkpoint=str(CHECKPOINT_PATH))
        if not CHECKPOINT_PATH.is_file():
            raise PriorError(f"--prior retrieve: the library CLIP's weights {CHECKPOINT_PATH} are missing; rebuild "
                             "them with dream3d-train-clip (README: library CLIP), or use --retrieve-clip guidance")
    else:
        from .objectives import clip_spec

        spec = clip_spec(config)
    try:
        weights = locate_weights(spec)
        guide = load_clip(spec, weights=weights)
    except GuidanceError as err:
        raise PriorError(f"--prior retrieve: {err}") from err
    return guide, model_fingerprint(spec.model, weights.path or f"{weights.model_name}:{spec.pretrained}")


def _mesh_prior(config: RunConfig, log: Log) -> Prior:
    try:
        prior = mesh_prior(config.prior_mesh, prior_resolution(config), up=config.prior_mesh_up,
                           front=config.prior_mesh_front, margin=config.prior_mesh_margin,
                           dilate=config.prior_dilate)
    except (FileNotFoundError, ValueError) as err:
        raise PriorError(f"--prior-mesh: {err}") from err
    log(f"[dream3d] prior mesh {config.prior_mesh}: {prior.describe()}")
    if not prior.thin_parts.ok:
        log(f"[dream3d] warning: {prior.thin_parts.message()}")
    o = prior.orientation
    return Prior(prior.grid, "mesh", f"mesh {config.prior_mesh} (up {o.up}, front {o.front})", prior.to_dict())


def _sdf_prior(config: RunConfig) -> Prior:
    try:
        grid = load_sdf(config.prior_sdf)
    except (FileNotFoundError, ValueError) as err:
        raise PriorError(f"--prior-sdf: {err}") from err
    return Prior(resample(grid, prior_resolution(config)), "sdf", f"SDF grid {config.prior_sdf}")


def resample(grid: SDFGrid, resolution: int) -> SDFGrid:
    """The grid trilinearly resampled to resolution^3 over the same bbox (corners kept in place)."""
    if grid.resolution == (resolution,) * 3:
        return grid
    return SDFGrid(resample_values(grid.values, resolution), grid.xyz_min, grid.xyz_max)


def _text2shape_prior(config: RunConfig) -> Prior:
    """Stage 1 (dream3d.text2shape, the same function as dream3d-shape): the prompt's CLIP embedding ->
    G_M -> w -> G_S, with the models of --models (else $DREAM3D_MODELS) and ``shape_seed`` as the
    sampling seed."""
    import torch

    from ..text2shape import Text2ShapeError, generate_prior

    device = config.device if config.device != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    try:
        shape = generate_prior(config.prompt, prior_resolution(config), seed=config.shape_seed, device=device,
                               models=config.models)
    except Text2ShapeError as err:
        raise PriorError(f"--prior text2shape: {err}; or use --prior library, --prior-mesh FILE or "
                         "--prior-sdf FILE") from err
    return Prior(shape.grid, "text2shape", f"text-to-shape (G_M -> G_S, sampling seed {config.shape_seed})")
