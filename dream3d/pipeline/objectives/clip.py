"""``ClipGuidance`` (``--guidance clip``): CLIP similarity of augmented renders plus DreamFields'
transmittance loss."""
from __future__ import annotations

from pathlib import Path

import torch

from ...cameras import random_orbit_cameras
from ...field import DVGOField
from ...guidance import ClipGuide, annealed_target, augment, clip_loss, random_resized_crops, transmittance_loss
from ...guidance.shading import shaded_views, solid_composite
from ...library_clip import CONFIG_PATH
from ...library_clip.data import RADIUS, random_colours
from ..config import RunConfig
from .render import render_premultiplied


def is_library_clip(config: RunConfig) -> bool:
    """Whether the run is guided by the library CLIP (its JSON config, wherever it was copied to)."""
    return config.clip_model.endswith(".json") and Path(config.clip_model).stem == CONFIG_PATH.stem


def guidance_radius(config: RunConfig) -> float:
    """The library CLIP saw objects from 2.9 to 3.6 away; from camera_radius (4) they look smaller."""
    if config.clip_radius is not None:
        return config.clip_radius
    return sum(RADIUS) / 2 if is_library_clip(config) else config.camera_radius


def shading_mode(config: RunConfig) -> str:
    """color, shaded or mix: auto is shaded for the library CLIP, which has only seen uniformly coloured,
    shaded objects over solid backgrounds (a painted field would be out of its distribution, and
    colour could raise the score without the shape moving), and color for any other CLIP."""
    if config.clip_shading != "auto":
        return config.clip_shading
    return "shaded" if is_library_clip(config) else "color"


class ClipGuidance:
    """w_clip * -cos(E_I(aug(render)), E_T(prompt)) + w_trans * -min(tau(step), mean T) over
    ``clip_views`` random views per step. Colour renders are composited over ``clip_augments`` random
    backgrounds; shaded renders (grey density, headlight) get a random object and solid background colour
    per copy instead; then each copy is randomly cropped and resized to CLIP's input."""

    keys = ("clip", "clip_score", "trans", "trans_target")
    progress_key = "clip_score"

    def __init__(self, config: RunConfig, guide: ClipGuide):
        self.config, self.guide = config, guide
        self.text = guide.embed_text([config.prompt])
        self.mode, self.radius = shading_mode(config), guidance_radius(config)

    def images(self, field: DVGOField, cameras: torch.Tensor, gen: torch.Generator, shaded: bool):
        """The augmented copies CLIP scores and the views' transmittance."""
        c, copies, scale = self.config, self.config.clip_augments, (self.config.clip_crop_min, 1.0)
        if not shaded:
            rgb, transmittance = render_premultiplied(field, cameras, c.clip_render_size, c.fov, c.weight_thres)
            return augment(rgb, transmittance, copies, self.guide.image_size, gen, scale=scale), transmittance
        shading, transmittance = shaded_views(field, cameras, c.clip_render_size, c.fov, c.weight_thres)
        objects, backgrounds = (x.to(shading) for x in random_colours(len(cameras) * copies, gen))
        composed = solid_composite(shading.repeat_interleave(copies, 0), transmittance.repeat_interleave(copies, 0),
                                   objects, backgrounds)
        return random_resized_crops(composed, 1, self.guide.image_size, gen, scale), transmittance

    def __call__(self, field: DVGOField, step: int, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
        c = self.config
        cameras = random_orbit_cameras(c.clip_views, self.radius, gen, tuple(c.clip_elevation))
        shaded = self.mode == "shaded" or (self.mode == "mix" and bool(torch.rand(1, generator=gen) < 0.5))
        images, transmittance = self.images(field, cameras, gen, shaded)
        similarity = self.guide.similarity(images, self.text)
        target = annealed_target(step, c.trans_start, c.trans_target, c.trans_anneal_steps)
        l_clip, l_trans = clip_loss(similarity), transmittance_loss(transmittance, target)
        clip, score, trans = torch.stack([l_clip.detach(), similarity.detach().mean(), l_trans.detach()]).tolist()
        return c.w_clip * l_clip + c.w_trans * l_trans, {
            "clip": clip, "clip_score": score, "trans": trans, "trans_target": target}

    @torch.no_grad()
    def evaluate(self, rgb: torch.Tensor) -> dict:
        """CLIP score of finished renders (V, H, W, 3) on white: the mean cosine with the prompt."""
        images = rgb.permute(0, 3, 1, 2).to(self.guide.mean.device)
        return {"clip_score_heldout": float(self.guide.similarity(images, self.text).mean())}
