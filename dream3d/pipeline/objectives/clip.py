"""``ClipGuidance`` (``--guidance clip``): CLIP similarity of augmented renders plus DreamFields'
transmittance loss."""
from __future__ import annotations

import torch

from ...cameras import random_orbit_cameras
from ...field import DVGOField
from ...guidance import ClipGuide, annealed_target, augment, clip_loss, transmittance_loss
from ..config import RunConfig
from .render import render_premultiplied


class ClipGuidance:
    """w_clip * -cos(E_I(aug(render)), E_T(prompt)) + w_trans * -min(tau(step), mean T) over
    ``clip_views`` random views per step, each composited over ``clip_augments`` random backgrounds and
    randomly cropped and resized to CLIP's input."""

    keys = ("clip", "clip_score", "trans", "trans_target")
    progress_key = "clip_score"

    def __init__(self, config: RunConfig, guide: ClipGuide):
        self.config, self.guide = config, guide
        self.text = guide.embed_text([config.prompt])

    def __call__(self, field: DVGOField, step: int, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
        c = self.config
        cameras = random_orbit_cameras(c.clip_views, c.camera_radius, gen, tuple(c.clip_elevation))
        rgb, transmittance = render_premultiplied(field, cameras, c.clip_render_size, c.fov, c.weight_thres)
        images = augment(rgb, transmittance, c.clip_augments, self.guide.image_size, gen,
                         scale=(c.clip_crop_min, 1.0))
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
