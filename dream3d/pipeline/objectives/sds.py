"""``ScoreDistillation`` (``--guidance sds``): DreamFusion's SDS from Stable Diffusion."""
from __future__ import annotations

import torch

from ...cameras import random_orbit_cameras
from ...field import DVGOField
from ...guidance import annealed_target, composite_over, random_backgrounds, transmittance_loss
from ...guidance.sds import StableDiffusionGuide, timestep_range, view_suffix
from ..config import RunConfig
from .render import render_premultiplied


class ScoreDistillation:
    """w_sds * SDS(render over a random background) + w_trans * -min(tau(step), mean T) over
    ``clip_views`` random views per step; each view's prompt gets its direction's suffix (front, side,
    back, overhead view), and t is drawn in [t_min, t_max(step)] (t_max annealed)."""

    keys = ("sds", "t", "trans", "trans_target")
    progress_key = "sds"

    def __init__(self, config: RunConfig, guide: StableDiffusionGuide):
        self.config, self.guide = config, guide
        suffixes = ("front", "side", "back", "overhead") if config.sds_view_prompts else ("",)
        prompts = [f"{config.prompt}, {s} view" if s else config.prompt for s in suffixes]
        self.text = dict(zip(suffixes, guide.embed_text(prompts)))
        self.uncond = guide.embed_text([""])
        unet = guide.unet.config
        self.latent_shape = (unet.in_channels, unet.sample_size, unet.sample_size)

    def __call__(self, field: DVGOField, step: int, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
        c, guide = self.config, self.guide
        cameras = random_orbit_cameras(c.clip_views, c.camera_radius, gen, tuple(c.clip_elevation))
        rgb, transmittance = render_premultiplied(field, cameras, c.sds_render_size, c.fov, c.weight_thres)
        background = random_backgrounds(len(rgb), c.sds_render_size, gen, tuple(c.sds_backgrounds)).to(rgb)
        images = composite_over(rgb, transmittance, background)
        lo, hi = timestep_range(step, guide.num_timesteps, c.sds_t_min, c.sds_t_max, c.sds_t_max_end,
                                c.sds_t_anneal_steps)
        t = torch.randint(lo, hi + 1, (len(rgb),), generator=gen)
        noise = torch.randn(len(rgb), *self.latent_shape, generator=gen).to(guide.device)
        cond = torch.stack([self.text[view_suffix(cam) if c.sds_view_prompts else ""] for cam in cameras])
        out = guide.sds(images, cond, self.uncond, t, noise, c.sds_guidance_scale)
        target = annealed_target(step, c.trans_start, c.trans_target, c.trans_anneal_steps)
        l_trans = transmittance_loss(transmittance, target)
        sds, trans = torch.stack([out.residual.mean(), l_trans.detach()]).tolist()
        return c.w_sds * out.loss + c.w_trans * l_trans, {
            "sds": sds, "t": float(t.float().mean()), "trans": trans, "trans_target": target}

    def evaluate(self, rgb: torch.Tensor) -> dict:
        return {}  # dream3d-eval scores finished runs (CLIP R-precision)
