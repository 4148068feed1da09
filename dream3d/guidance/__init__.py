"""Guidance of stage 2: CLIP (open_clip) with the augmentations and losses of DreamFields/PureCLIPNeRF."""
from .augment import BACKGROUNDS, augment, composite_over, random_backgrounds, random_resized_crops
from .clip import (ENV_CHECKPOINT, ClipGuide, ClipSpec, ClipWeights, GuidanceError, load_clip,
                   locate_weights)
from .losses import annealed_target, clip_loss, transmittance_loss

__all__ = ["BACKGROUNDS", "ENV_CHECKPOINT", "ClipGuide", "ClipSpec", "ClipWeights", "GuidanceError",
           "annealed_target", "augment", "clip_loss", "composite_over", "load_clip", "locate_weights",
           "random_backgrounds", "random_resized_crops", "transmittance_loss"]
