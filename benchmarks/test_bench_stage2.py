"""Stage 2: what one optimisation step costs, part by part, and what a whole preview run costs, stage by
stage. The parts of a step, each timed forward + backward on its own:

- render: the fused volume renderer over the step's rays (backward from random dL/dweights, dL/dT);
- colour: the colour MLP on the packed samples and the compositing;
- guidance: the objective on the rendered pixels (CLIP: augmentations, the image encoder and its
  backward; none: the photometric and mask MSEs);
- regularisers: the shape-prior loss and TV; optimiser: Adam's update;
- step: one whole step, as the run does it.

The CLIP rows use a randomly initialised ViT-B/16 built from open_clip's config (weights do not change
the cost), so they run without any download."""
from __future__ import annotations

import functools

import pytest
import torch

from dream3d import ops
from dream3d.cameras import pixel_rays, random_orbit_cameras
from dream3d.guidance import ClipGuide, augment
from dream3d.pipeline import build_config, resolve_prior
from dream3d.pipeline.objectives import ClipGuidance, Reconstruction, make_targets
from dream3d.pipeline.priors import resample
from dream3d.pipeline.field_init import build_field, make_optimizer
from dream3d.pipeline.stage2 import _step, regularisers
from workload import devices

PARTS = ("render", "colour", "guidance", "regularisers", "optimiser", "step")


@functools.lru_cache(maxsize=None)
def setup(guidance: str, preset: str, device: str):
    """(config, field, optimizer, objective, prior_sdf, rays_o, rays_d) of a library chair run."""
    config = build_config({"prompt": "a chair", "out": "unused", "preset": preset, "guidance": guidance,
                           "device": device})
    grid = resolve_prior(config).grid
    field = build_field(config, grid, config.resolution, device)
    if guidance == "clip":
        import open_clip

        model = open_clip.create_model(config.clip_model)  # random weights: the same cost as trained ones
        objective = ClipGuidance(config, ClipGuide.from_open_clip(model, config.clip_model).to(device))
        cams = random_orbit_cameras(config.clip_views, config.camera_radius, torch.Generator().manual_seed(0))
        size = config.clip_render_size
        rays = [pixel_rays(c, size, size, config.fov, device=device) for c in cams]
        rays_o, rays_d = torch.cat([o for o, _ in rays]), torch.cat([d for _, d in rays])
    else:
        targets = make_targets(config, grid, device)
        objective = Reconstruction(config, targets)
        idx = torch.randint(0, len(targets.rgb), (config.rays_per_step,), generator=torch.Generator().manual_seed(0))
        rays_o, rays_d = targets.rays_o[idx.to(device)].contiguous(), targets.rays_d[idx.to(device)].contiguous()
    prior_sdf = resample(grid, config.resolution).values.to(device)
    return config, field, make_optimizer(config, field), objective, prior_sdf, rays_o, rays_d


def _part(name, config, field, optimizer, objective, prior_sdf, rays_o, rays_d):
    """A callable timing ``name`` forward + backward in isolation."""
    gen = torch.Generator().manual_seed(1)
    if name == "render":
        def fn():
            s = field.march(rays_o, rays_d, config.weight_thres)
            (s.weights.sum() + s.T_final.sum()).backward()
    elif name == "colour":
        s = field.march(rays_o, rays_d, config.weight_thres)
        weights, t_final = s.weights.detach(), s.T_final.detach()
        points = s.points(rays_o, rays_d).detach()
        detached = ops.RenderSamples(s.ray_ids, s.t, weights, t_final, s.step_ids)

        def fn():
            ops.composite(detached, field.color(points), 1.0).sum().backward()
    elif name == "guidance":
        if isinstance(objective, ClipGuidance):
            size = config.clip_render_size
            rgb = torch.rand(config.clip_views, 3, size, size, device=rays_o.device, requires_grad=True)
            trans = torch.rand(config.clip_views, 1, size, size, device=rays_o.device, requires_grad=True)

            def fn():
                images = augment(rgb, trans, config.clip_augments, objective.guide.image_size, gen)
                (-objective.guide.similarity(images, objective.text).mean()).backward()
        else:
            rgb = torch.rand(len(rays_o), 3, device=rays_o.device, requires_grad=True)
            target = objective.targets.rgb[: len(rays_o)]

            def fn():
                (rgb - target).square().mean().backward()
    elif name == "regularisers":
        def fn():
            prior, tv = regularisers(field, prior_sdf)
            (prior + tv).backward()
    elif name == "optimiser":
        for p in field.parameters():
            p.grad = torch.zeros_like(p)

        def fn():
            optimizer.step()
    else:
        def fn():
            _step(config, field, optimizer, prior_sdf, objective, 10, gen)
    return fn


CASES = [pytest.param("none", "preview", id="none-preview"), pytest.param("clip", "preview", id="clip-preview"),
         pytest.param("none", "paper", id="none-paper", marks=pytest.mark.large),
         pytest.param("clip", "paper", id="clip-paper", marks=pytest.mark.large)]


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("guidance,preset", CASES)
@pytest.mark.parametrize("part", PARTS)
def test_step_breakdown(benchmark, part, guidance, preset, device):
    if guidance == "clip":
        pytest.importorskip("open_clip")
    state = setup(guidance, preset, device)
    config = state[0]
    fn = _part(part, *state)
    n_rays = len(state[5])
    benchmark.group = f"stage2 step | {preset}, guidance {guidance}, {n_rays} rays, grid {config.resolution}^3 | {device}"
    benchmark.extra_info.update(op="stage2 step", device=device, backend=part, unit="steps", count=1,
                                share_of="step")

    def timed():
        fn()
        if device == "cuda":
            torch.cuda.synchronize()

    benchmark.pedantic(timed, rounds=5 if guidance == "clip" else 20, iterations=1, warmup_rounds=1)


@pytest.mark.large
def test_preview_run_stages(benchmark, tmp_path):
    """dream3d-run --preset preview --guidance none on a library bench: the wall time of each stage."""
    from dream3d.pipeline import run

    config = build_config({"prompt": "a park bench", "out": str(tmp_path / "bench"), "preset": "preview"})
    metrics = {}

    def once():
        metrics.update(run(build_config({**config.to_dict(), "overwrite": True}), log=lambda s: None))

    benchmark.group = "dream3d-run stages | preview, guidance none, a park bench | cpu"
    benchmark.pedantic(once, rounds=1, iterations=1)
    benchmark.extra_info.update(op="dream3d-run", device="cpu", backend="whole run", unit="runs", count=1,
                                stages=metrics["timings_s"], psnr_heldout=metrics["psnr_heldout"])
