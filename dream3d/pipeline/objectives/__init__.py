"""What stage 2 optimises the field towards, besides the shape-prior loss and TV that every run adds:

- ``Reconstruction`` (``--guidance none``): shaded multi-view renders of the prior, an L2 photometric
  loss on random rays and an opacity-to-mask term;
- ``ClipGuidance`` (``--guidance clip``): -cos(E_I(render), E_T(prompt)) over augmented renders from
  random views, plus DreamFields' transmittance loss with its annealed target;
- ``ScoreDistillation`` (``--guidance sds``): DreamFusion's SDS from Stable Diffusion on renders from the
  same random views over the same random backgrounds, with view-dependent prompts, plus the same
  transmittance loss.

An objective is called once per step with the field, the step and the run's generator (every random
draw comes from it, so that a resumed run is bitwise the uninterrupted one), and returns its loss and
the values to log."""
from __future__ import annotations

from ...guidance import ClipSpec, ClipWeights, load_clip, locate_weights
from ...guidance.sds import SDSpec, load_sd, locate_model
from ...shape import SDFGrid
from ..config import RunConfig
from .clip import ClipGuidance
from .reconstruction import Reconstruction, Targets, make_targets
from .render import render_premultiplied
from .sds import ScoreDistillation

__all__ = ["ClipGuidance", "Reconstruction", "ScoreDistillation", "Targets", "clip_spec", "locate_guidance",
           "make_objective", "make_targets", "render_premultiplied", "sd_spec"]


def sd_spec(config: RunConfig) -> SDSpec:
    return SDSpec(config.sd_model, config.sd_cache_dir, config.sd_download)


def clip_spec(config: RunConfig) -> ClipSpec:
    return ClipSpec(config.clip_model, config.clip_pretrained, config.clip_checkpoint, config.clip_cache_dir,
                    config.clip_download)


def locate_guidance(config: RunConfig) -> ClipWeights | str | None:
    """Finds what the guidance needs before any work starts (raises GuidanceError naming where it
    looked): CLIP's weights, Stable Diffusion's folder; None for guidance that needs nothing."""
    if config.guidance == "sds":
        return locate_model(sd_spec(config))
    return locate_weights(clip_spec(config)) if config.guidance == "clip" else None


def make_objective(config: RunConfig, grid: SDFGrid, device, weights: ClipWeights | str | None = None):
    if config.guidance == "clip":
        return ClipGuidance(config, load_clip(clip_spec(config), device, weights))
    if config.guidance == "sds":
        return ScoreDistillation(config, load_sd(sd_spec(config), device, weights, config.sds_checkpointing))
    return Reconstruction(config, make_targets(config, grid, device))
