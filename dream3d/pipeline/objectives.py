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

from typing import NamedTuple

import torch

from ..cameras import pixel_rays, random_orbit_cameras
from ..field import DVGOField
from ..guidance import (ClipGuide, ClipSpec, ClipWeights, annealed_target, augment, clip_loss, composite_over,
                        load_clip, locate_weights, random_backgrounds, transmittance_loss)
from ..guidance.sds import SDSpec, StableDiffusionGuide, load_sd, locate_model, timestep_range, view_suffix
from ..shape import SDFGrid
from .config import RunConfig
from .views import psnr_from_mse, render_prior, render_views, view_cameras


class Targets(NamedTuple):
    """Renders of the prior from ``cameras``, flattened to one row per pixel of every view."""

    cameras: torch.Tensor  # (V, 4, 4)
    rays_o: torch.Tensor   # (V * H * W, 3)
    rays_d: torch.Tensor
    rgb: torch.Tensor      # (V * H * W, 3)
    mask: torch.Tensor     # (V * H * W,)


def make_targets(config: RunConfig, grid: SDFGrid, device) -> Targets:
    cameras = view_cameras(config, config.n_views)
    rgb, mask = render_prior(grid, cameras, config.view_size, config.fov, device)
    rays = [pixel_rays(c, config.view_size, config.view_size, config.fov, device=device) for c in cameras]
    return Targets(cameras, torch.cat([o for o, _ in rays]), torch.cat([d for _, d in rays]),
                   rgb.reshape(-1, 3).contiguous(), mask.reshape(-1).contiguous())


class Reconstruction:
    """Fit the prior's renders: w_rgb * MSE(rgb) + w_mask * MSE(opacity, mask) on random rays."""

    keys = ("rgb", "mask", "psnr")
    progress_key = "psnr"

    def __init__(self, config: RunConfig, targets: Targets):
        self.config, self.targets = config, targets

    def __call__(self, field: DVGOField, step: int, gen: torch.Generator) -> tuple[torch.Tensor, dict]:
        t, c = self.targets, self.config
        idx = torch.randint(0, len(t.rgb), (c.rays_per_step,), generator=gen).to(t.rgb.device)
        out = field.render(t.rays_o[idx], t.rays_d[idx], bg=1.0, weight_thres=c.weight_thres, depth=False)
        rgb = (out.rgb - t.rgb[idx]).square().mean()
        mask = (out.opacity - t.mask[idx]).square().mean()
        mse, mask_mse = torch.stack([rgb.detach(), mask.detach()]).tolist()  # one read-back
        return c.w_rgb * rgb + c.w_mask * mask, {"rgb": mse, "mask": mask_mse, "psnr": psnr_from_mse(mse)}

    def evaluate(self, rgb: torch.Tensor) -> dict:
        return {}


def render_premultiplied(field: DVGOField, cameras: torch.Tensor, size: int, fov: float,
                         weight_thres: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Differentiable full-image renders on black: colour (V, 3, H, W) and transmittance (V, 1, H, W)."""
    rgb, opacity = render_views(field, cameras, size, fov, bg=0.0, chunk=size * size, weight_thres=weight_thres,
                                grad=True)
    return rgb.permute(0, 3, 1, 2), (1.0 - opacity)[:, None]


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
