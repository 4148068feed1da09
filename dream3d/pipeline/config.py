"""The options of one run: a dataclass with every option, named presets, YAML files, and the layering
CLI > config file > preset > defaults, validated with errors that say what to change."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

import yaml

from ..shape._atomic import atomic_path
from ..shape.orientation import AXES

PRIORS = ("auto", "library", "retrieve", "mesh", "sdf", "text2shape", "none")
RETRIEVE_CLIPS = ("library", "guidance")
GUIDANCES = ("none", "clip", "sds")
CLIP_SHADINGS = ("auto", "color", "shaded", "mix")
COLOR_MODELS = ("mlp", "grid")
DENSITY_INITS = ("eq9", "linear")
# A typo's bound: 720 frames of 2048 px (a half-degree orbit in 4K-wide video) is hours of rendering on a CPU.
MAX_TURNTABLE_FRAMES, MAX_TURNTABLE_SIZE = 720, 2048
MAX_MESH_RESOLUTION = 512


class ConfigError(ValueError):
    """A run's options are invalid; the message says which option and why."""


@dataclass
class RunConfig:
    """Every option of ``dream3d-run``. Field comments are the --help texts' source of truth."""

    prompt: str = ""
    out: str = ""
    seed: int = 0
    preset: str = "auto"              # auto: paper on a CUDA device, preview on the CPU
    # shape prior
    prior: str = "auto"               # auto | library | retrieve | mesh | sdf | text2shape | none (empty init)
    prior_mesh: str | None = None     # a mesh file trimesh reads (.glb, .obj, .ply, ...)
    prior_sdf: str | None = None      # an SDF grid file (.npz or .npy)
    prior_mesh_up: str = "auto"       # the mesh file's up axis (+x, -x, +y, -y, +z, -z) or auto
    prior_mesh_front: str = "auto"    # the mesh file's front axis (turned to face +Z) or auto
    prior_mesh_margin: float = 0.05   # share of the half cube left free beyond the mesh's longest side
    prior_resolution: int | None = None  # the prior's SDF grid size (default: resolution); finer keeps thin parts
    prior_dilate: float = 0.0         # move the mesh prior's surface out by this many voxels (keeps thin parts)
    models: str | None = None         # text2shape: the stage-1 models folder (default $DREAM3D_MODELS)
    category: str | None = None       # library category; by default the prompt's noun decides
    shape_seed: int = 0               # library shape variation (0: the category's canonical look)
    retrieve_clip: str = "library"    # retrieve prior's CLIP: library (the shipped library CLIP) | guidance (--clip-model ...)
    retrieve_candidates: int = 32     # retrieve prior: library variants (seeds 0..N-1) per category to choose from
    retrieve_cache: str | None = None  # retrieve prior: folder of cached candidate embeddings (default ~/.cache/dream3d/retrieve)
    # guidance and device
    guidance: str = "none"            # none: fit renders of the prior; clip: CLIP guidance (needs open_clip);
                                      # sds: score distillation from Stable Diffusion (needs diffusers)
    device: str = "cpu"               # cpu | cuda | auto
    threads: int = 0                  # CPU threads for torch (0: torch's default, all cores)
    # field and optimisation
    steps: int = 300
    resolution: int = 64              # final density grid size per axis
    coarse_resolution: int | None = None  # coarse-to-fine: start here, upsample at upsample_steps
    upsample_steps: list[int] = field(default_factory=list)
    lr_grid: float = 0.1
    lr_color: float = 5e-3
    lr_decay: float = 1.0             # every learning rate ends at this fraction of its start (exponential; DVGO: 0.1)
    color_model: str = "mlp"          # mlp: MLP on a positional encoding (paper); grid: DVGO's feature grid + MLP
    color_frequencies: int = 6        # mlp: positional-encoding frequencies
    color_width: int = 64             # hidden width of the colour MLP (both models)
    color_depth: int = 3              # mlp: layers
    color_normals: bool = False       # mlp: the MLP also reads the density's normal (shading without stipple)
    color_grid_channels: int = 12     # grid: feature channels
    lr_color_grid: float = 0.1        # grid: learning rate of the feature grid (DVGO's k0)
    beta: float = 0.05                # SDF-to-density sharpness (paper eq. 9)
    density_init: str = "eq9"         # eq9: the paper's sigmoid profile; linear: raw density linear in the SDF
                                      # (surface density 1 / (2 beta), falling init_slope a voxel outwards)
    init_slope: float = 1200.0        # linear: raw density per voxel
    weight_thres: float = 1e-4        # samples lighter than this skip the colour model
    ray_margin: int = -1              # guidance none: train only on pixels this close to the prior's silhouette (-1: all)
    prior_cap: bool = False           # the prior loss stops at the prior's own density instead of pushing past it
    rays_per_step: int = 2048
    # losses
    w_rgb: float = 1.0
    w_mask: float = 0.1
    w_prior: float = 0.03
    w_tv: float = 1e-3
    # CLIP guidance (guidance clip)
    clip_model: str = "ViT-B-16"      # an open_clip architecture, or a JSON config file in open_clip's format
    clip_pretrained: str = "openai"   # the weights' tag, looked up in the caches
    clip_checkpoint: str | None = None  # a weights file (or folder); else $DREAM3D_CLIP_CHECKPOINT, the caches
    clip_cache_dir: str | None = None   # the cache to look in (default: the Hugging Face and open_clip caches)
    clip_download: bool = False       # fetch missing weights from the hub (needs a network)
    clip_views: int = 1               # random views rendered per step
    clip_render_size: int = 64        # their size in pixels (then cropped and resized to CLIP's input)
    clip_augments: int = 4            # augmented copies (background, crop) of each view
    clip_crop_min: float = 0.8        # smallest crop, as a fraction of the image area
    clip_elevation: list[float] = field(default_factory=lambda: [-10.0, 40.0])  # range of view elevations
    clip_shading: str = "auto"        # what CLIP sees: color (the field's colours), shaded (grey, headlight-shaded
                                      # density: only the shape can move the score), mix (each step one or the
                                      # other); auto: shaded for the library CLIP, color otherwise
    clip_radius: float | None = None  # the guidance views' camera distance (default: 3.25, the distance of its
                                      # training renders, for the library CLIP; camera_radius otherwise)
    w_clip: float = 1.0
    w_trans: float = 0.5              # DreamFields' transmittance loss -min(tau, mean T)
    trans_start: float = 0.5          # tau at step 0, annealed linearly ...
    trans_target: float = 0.88        # ... to this
    trans_anneal_steps: int = 500
    # score distillation (guidance sds); it shares clip_views, clip_elevation and the transmittance loss
    sd_model: str = "CompVis/stable-diffusion-v1-4"  # a folder in diffusers' layout, or a hub repository id
    sd_cache_dir: str | None = None   # the hub cache to look in (default: huggingface_hub's)
    sd_download: bool = False         # fetch a model missing from the cache (needs a network)
    sds_guidance_scale: float = 100.0  # classifier-free guidance scale (DreamFusion: 100)
    sds_t_min: float = 0.02           # timesteps drawn uniformly in [t_min, t_max] (fractions of the schedule)
    sds_t_max: float = 0.98
    sds_t_max_end: float = 0.98       # t_max annealed linearly to this over sds_t_anneal_steps (< t_max: coarse to fine)
    sds_t_anneal_steps: int = 500
    sds_render_size: int = 64         # rendered size in pixels, resized to the VAE's input (512 for SD 1.x)
    sds_view_prompts: bool = True     # append "front view", "side view", "back view", "overhead view" by camera
    sds_backgrounds: list[str] = field(default_factory=lambda: ["solid", "noise", "checkerboard", "fft"])
    sds_checkpointing: bool = False   # recompute the VAE encoder in the backward (less memory)
    w_sds: float = 1.0
    # target views of the prior (guidance none)
    n_views: int = 24
    view_size: int = 48
    point_targets: bool = False       # guidance none: fit each target pixel's sub-pixel rays one by one, each to
                                      # the prior's colour along it, not one ray to the pixel's antialiased mean
    eval_size: int | None = None      # held-out views' size in pixels (default: view_size)
    fov: float = 40.0
    camera_radius: float = 4.0
    # outputs and checkpoints
    checkpoint_every: int = 100
    turntable_frames: int = 36        # 10 degrees a frame
    turntable_size: int = 128
    mesh_resolution: int | None = None  # marching-cubes grid size per axis (default: the density grid's)
    resume: bool = False
    overwrite: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


PRESETS: dict[str, dict] = {
    # under a minute on an idle 2-core CPU. One thread: each step's ops are small enough that torch's
    # per-op thread barriers cost more than they save on a busy machine (25 s vs 157 s measured under
    # load; 2 threads win only 1.5x when the machine is idle).
    "preview": dict(steps=300, resolution=64, view_size=48, n_views=24, rays_per_step=2048,
                    color_width=64, turntable_frames=36, turntable_size=128, threads=1, clip_render_size=64,
                    clip_augments=2, trans_anneal_steps=100),
    # the paper's stage 2: 160^3 coarse-to-fine, 5000 steps, lr 0.5 (grid) / 5e-3 (MLP)
    "paper": dict(steps=5000, resolution=160, coarse_resolution=80, upsample_steps=[1000], lr_grid=0.5,
                  lr_color=5e-3, view_size=224, n_views=48, rays_per_step=8192, color_width=128,
                  checkpoint_every=500, turntable_frames=60, turntable_size=256, clip_render_size=168,
                  clip_views=2, clip_augments=4),
    "high": dict(steps=2000, resolution=128, coarse_resolution=64, upsample_steps=[500], view_size=128,
                 n_views=48, rays_per_step=4096, color_width=128, checkpoint_every=250,
                 turntable_frames=48, turntable_size=192, clip_render_size=128, clip_augments=4),
}

def offline_fit(beta: float, ray_margin: int, **more) -> dict:
    """The offline fit's settings (--guidance none), each measured (benchmarks/README.md, "Stage-2
    fidelity"), with beta and the ray margin scaled to a preset's grid and views: beta 0.4 voxel
    (0.0125 at 64^3), the margin 2 px of 48. The field starts at the final grid, not coarse-to-fine:
    the linear init's steep ramp holds its surfaces where they start, so a field started on a coarse
    grid would keep the coarse prior's shape."""
    return dict(beta=beta, prior_cap=True, w_tv=0.0, w_mask=1.0, color_frequencies=4, color_normals=True,
                point_targets=True, ray_margin=ray_margin, density_init="linear", coarse_resolution=None,
                upsample_steps=[], **more)


# Per-guidance changes to a preset: CLIP's large matrix products want every core, where the preview's
# small reconstruction steps run best on one.
PRESET_GUIDANCE: dict[tuple[str, str], dict] = {("preview", "clip"): dict(threads=0), ("preview", "sds"): dict(threads=0),
                                                ("preview", "none"): offline_fit(beta=0.0125, ray_margin=2, n_views=128),
                                                ("high", "none"): offline_fit(beta=0.00625, ray_margin=5),
                                                ("paper", "none"): offline_fit(beta=0.005, ray_margin=9),
                                                ("paper", "sds"): dict(sds_render_size=256),
                                                ("high", "sds"): dict(sds_render_size=256)}

_NAMES = {f.name for f in fields(RunConfig)}
_FLOATS = {f.name for f in fields(RunConfig) if f.type in ("float", "float | None")}
_OPTIONAL = {f.name for f in fields(RunConfig) if f.type.endswith("| None")}


def _as_float(name: str, value):
    """A float option's value as a float: YAML reads 1e-3 (no dot) as a string, which float() in the
    checks accepted and a comparison mid-run did not."""
    if value is None and name in _OPTIONAL:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ConfigError(f"{name} must be a number, got {value!r}")


def load_config_file(path: str | os.PathLike) -> dict:
    """Options from a YAML mapping; unknown keys are an error (a typo must not be silently ignored)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as err:
        raise ConfigError(f"cannot read config file {path}: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {err}") from err
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of options, got {type(data).__name__}")
    unknown = sorted(set(data) - _NAMES)
    if unknown:
        raise ConfigError(f"config file {path}: unknown option(s) {', '.join(unknown)}")
    return data


def save_config(config: RunConfig, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))


def default_preset(device: str) -> str:
    """The paper's schedule (5000 steps, lr 0.5 / 5e-3, 160^3) where it runs in minutes, on a CUDA
    device; on the CPU it would take hours, so there the default is the preview."""
    import torch

    on_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    return "paper" if on_cuda else "preview"


def _scaled_upsample_steps(preset: dict, steps: int) -> list[int]:
    """The preset's coarse-to-fine schedule moved to a run of ``steps`` steps (same fractions of the run)."""
    scaled = sorted({max(1, round(u * steps / preset["steps"])) for u in preset.get("upsample_steps", [])})
    return [u for u in scaled if u < steps]


def build_config(cli: dict | None = None, file_options: dict | None = None) -> RunConfig:
    """CLI options > config file > preset > defaults; the preset is taken from the CLI or the file
    (auto: default_preset of the device). When the steps are set but the upsample steps are not, the
    preset's upsample steps keep their place in the run (e.g. paper's step 1000 of 5000 is step 200 of
    1000)."""
    cli, file_options = dict(cli or {}), dict(file_options or {})
    layered = {**file_options, **cli}
    preset = layered.get("preset", RunConfig.preset)
    if preset == "auto":
        preset = default_preset(str(layered.get("device", RunConfig.device)))
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; presets: auto, {', '.join(PRESETS)}")
    guidance = layered.get("guidance", RunConfig.guidance)
    base = {**PRESETS[preset], **PRESET_GUIDANCE.get((preset, guidance), {})}
    if "steps" in layered and "upsample_steps" not in layered and base.get("upsample_steps"):
        steps = layered["steps"]
        if isinstance(steps, int) and not isinstance(steps, bool) and steps >= 1:
            base["upsample_steps"] = _scaled_upsample_steps(base, steps)
            if not base["upsample_steps"]:  # too short a run to grow the grid: train at the final size
                base["coarse_resolution"] = None
    merged = {**base, **layered, "preset": preset}
    unknown = sorted(set(merged) - _NAMES)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)}")
    if merged.get("prior") == "none":
        merged.setdefault("w_prior", 0.0)  # the w/o-prior ablation: no prior, so no prior loss
    config = RunConfig(**{k: _as_float(k, v) if k in _FLOATS else v for k, v in merged.items()})
    validate(config)
    return config


def validate(c: RunConfig) -> None:
    """Raises ConfigError naming the first bad option."""
    def need(ok, message):
        if not ok:
            raise ConfigError(message)

    for name, kind in (("seed", int), ("shape_seed", int), ("steps", int), ("resolution", int),
                       ("n_views", int), ("view_size", int), ("rays_per_step", int), ("checkpoint_every", int),
                       ("turntable_frames", int), ("turntable_size", int), ("color_frequencies", int),
                       ("color_width", int), ("color_depth", int), ("color_grid_channels", int),
                       ("threads", int), ("clip_views", int), ("ray_margin", int),
                       ("clip_render_size", int), ("clip_augments", int), ("trans_anneal_steps", int),
                       ("sds_t_anneal_steps", int), ("sds_render_size", int)):
        value = getattr(c, name)
        need(isinstance(value, kind) and not isinstance(value, bool), f"{name} must be an integer, got {value!r}")
    need(isinstance(c.prompt, str) and c.prompt.strip() != "", "the prompt is empty: give --prompt \"a park bench\"")
    need(isinstance(c.out, str) and c.out.strip() != "", "no output folder: give --out DIR")
    need(c.prior in PRIORS, f"--prior must be one of {', '.join(PRIORS)}, got {c.prior!r}")
    need(c.retrieve_clip in RETRIEVE_CLIPS,
         f"--retrieve-clip must be one of {', '.join(RETRIEVE_CLIPS)}, got {c.retrieve_clip!r}")
    need(isinstance(c.retrieve_candidates, int) and not isinstance(c.retrieve_candidates, bool)
         and c.retrieve_candidates >= 1, f"retrieve_candidates must be an integer >= 1, got {c.retrieve_candidates!r}")
    need(c.guidance in GUIDANCES, f"--guidance must be one of {', '.join(GUIDANCES)}, got {c.guidance!r}")
    need(c.device in ("cpu", "cuda", "auto") or c.device.startswith("cuda:"),
         f"--device must be cpu, cuda, cuda:N or auto, got {c.device!r}")
    need(c.steps >= 1, f"steps must be >= 1, got {c.steps}")
    need(c.threads >= 0, f"threads must be >= 0 (0: torch's default), got {c.threads}")
    need(c.resolution >= 8, f"resolution must be >= 8, got {c.resolution}")
    if c.coarse_resolution is not None:
        need(isinstance(c.coarse_resolution, int) and 8 <= c.coarse_resolution <= c.resolution,
             f"coarse_resolution must be an integer in [8, resolution={c.resolution}], got {c.coarse_resolution!r}")
        need(len(c.upsample_steps) >= 1, "coarse_resolution needs upsample_steps (when to grow the grid)")
    steps_ok = all(isinstance(s, int) and 0 < s < c.steps for s in c.upsample_steps)
    need(steps_ok and list(c.upsample_steps) == sorted(set(c.upsample_steps)),
         f"upsample_steps must be increasing integers in (0, steps={c.steps}), got {c.upsample_steps!r}")
    need(not c.upsample_steps or c.coarse_resolution is not None, "upsample_steps needs coarse_resolution")
    need(c.density_init in DENSITY_INITS,
         f"density_init must be one of {', '.join(DENSITY_INITS)}, got {c.density_init!r}")
    need(c.init_slope > 0, f"init_slope must be > 0, got {c.init_slope!r}")
    need(not (c.density_init == "linear" and c.coarse_resolution is not None),
         "density_init linear holds the surfaces where it puts them, so a field started on a coarse grid would keep "
         "the coarse prior's shape: train at the final grid (coarse_resolution: null, upsample_steps: []) or use "
         "density_init eq9")
    need(c.color_model in COLOR_MODELS, f"color_model must be one of {', '.join(COLOR_MODELS)}, got {c.color_model!r}")
    need(c.color_grid_channels >= 1, f"color_grid_channels must be >= 1, got {c.color_grid_channels}")
    for name in ("lr_grid", "lr_color", "lr_color_grid", "beta"):
        need(float(getattr(c, name)) > 0, f"{name} must be > 0, got {getattr(c, name)!r}")
    for name in ("w_rgb", "w_mask", "w_prior", "w_tv", "weight_thres", "w_clip", "w_trans"):
        need(float(getattr(c, name)) >= 0, f"{name} must be >= 0, got {getattr(c, name)!r}")
    need(c.n_views >= 1 and c.view_size >= 8, "n_views must be >= 1 and view_size >= 8")
    need(c.eval_size is None or (isinstance(c.eval_size, int) and not isinstance(c.eval_size, bool)
                                 and c.eval_size >= 8), f"eval_size must be an integer >= 8 pixels, got {c.eval_size!r}")
    need(0 < float(c.lr_decay) <= 1, f"lr_decay must lie in (0, 1], got {c.lr_decay!r}")
    need(c.ray_margin >= -1, f"ray_margin must be >= 0 pixels, or -1 for every pixel, got {c.ray_margin}")
    need(c.rays_per_step >= 1 and c.checkpoint_every >= 1, "rays_per_step and checkpoint_every must be >= 1")
    need(1 <= c.turntable_frames <= MAX_TURNTABLE_FRAMES,
         f"turntable_frames must lie in [1, {MAX_TURNTABLE_FRAMES}], got {c.turntable_frames}")
    need(8 <= c.turntable_size <= MAX_TURNTABLE_SIZE,
         f"turntable_size must lie in [8, {MAX_TURNTABLE_SIZE}] pixels, got {c.turntable_size}")
    need(c.mesh_resolution is None or (isinstance(c.mesh_resolution, int) and not isinstance(c.mesh_resolution, bool)
                                       and 8 <= c.mesh_resolution <= MAX_MESH_RESOLUTION),
         f"mesh_resolution must be an integer in [8, {MAX_MESH_RESOLUTION}] (512^3 is ~0.5 GB before marching "
         f"cubes), got {c.mesh_resolution!r}")
    need(0 < c.fov < 180 and c.camera_radius > 1.8,
         f"fov must lie in (0, 180) and camera_radius outside the bbox (> 1.8), got {c.fov}, {c.camera_radius}")
    need(not (c.prior == "mesh" and not c.prior_mesh), "--prior mesh needs --prior-mesh FILE")
    need(not (c.prior == "sdf" and not c.prior_sdf), "--prior sdf needs --prior-sdf FILE")
    need(not (c.prior_mesh and c.prior_sdf), "give --prior-mesh or --prior-sdf, not both")
    if c.prior == "none":  # the paper's w/o-prior ablation
        need(c.guidance in ("clip", "sds"), "--prior none starts DVGO from its empty init, so the guidance must "
             "say what to grow: give --guidance clip or sds (--guidance none fits renders of a prior)")
        need(not (c.prior_mesh or c.prior_sdf), "--prior none uses no --prior-mesh or --prior-sdf")
        need(float(c.w_prior) == 0, f"--prior none has no prior loss: w_prior must be 0, got {c.w_prior!r}")
    for name in ("prior_mesh_up", "prior_mesh_front"):
        value = getattr(c, name)
        need(isinstance(value, str) and value.strip().lower() in ("auto", *AXES, *(a[1] for a in AXES if a[0] == "+")),
             f"{name} must be auto or one of {', '.join(AXES)}, got {value!r}")
    up, front = c.prior_mesh_up.strip().lower().lstrip("+-"), c.prior_mesh_front.strip().lower().lstrip("+-")
    need("auto" in (up, front) or up != front,
         f"prior_mesh_front {c.prior_mesh_front!r} must be perpendicular to prior_mesh_up {c.prior_mesh_up!r}")
    need(isinstance(c.prior_mesh_margin, (int, float)) and 0 <= c.prior_mesh_margin <= 0.5,
         f"prior_mesh_margin must lie in [0, 0.5], got {c.prior_mesh_margin!r}")
    need(c.prior_resolution is None or (isinstance(c.prior_resolution, int) and not isinstance(c.prior_resolution, bool)
                                        and 8 <= c.prior_resolution <= 256),
         f"prior_resolution must be an integer in [8, 256] (256^3 takes ~1 GB to build), got {c.prior_resolution!r}")
    need(isinstance(c.prior_dilate, (int, float)) and 0 <= c.prior_dilate <= 4,
         f"prior_dilate must lie in [0, 4] voxels, got {c.prior_dilate!r}")
    need(not (c.resume and c.overwrite), "--resume and --overwrite exclude each other")
    need(c.clip_views >= 1 and c.clip_augments >= 1 and c.clip_render_size >= 8,
         "clip_views and clip_augments must be >= 1, clip_render_size >= 8")
    need(0 < float(c.clip_crop_min) <= 1, f"clip_crop_min must lie in (0, 1], got {c.clip_crop_min!r}")
    need(c.clip_shading in CLIP_SHADINGS,
         f"clip_shading must be one of {', '.join(CLIP_SHADINGS)}, got {c.clip_shading!r}")
    need(c.clip_radius is None or (isinstance(c.clip_radius, (int, float)) and c.clip_radius > 1.8),
         f"clip_radius must be > 1.8 (outside the [-1, 1] cube and its diagonal), got {c.clip_radius!r}")
    elevation = c.clip_elevation
    need(isinstance(elevation, (list, tuple)) and len(elevation) == 2 and -90 <= elevation[0] <= elevation[1] <= 90,
         f"clip_elevation must be [low, high] degrees within [-90, 90], got {elevation!r}")
    need(0 <= float(c.trans_start) <= 1 and 0 <= float(c.trans_target) <= 1 and c.trans_anneal_steps >= 0,
         "trans_start and trans_target must lie in [0, 1], trans_anneal_steps >= 0")
    need(0 <= float(c.sds_t_min) <= float(c.sds_t_max) <= 1 and float(c.sds_t_min) <= float(c.sds_t_max_end) <= 1,
         f"sds timesteps need 0 <= sds_t_min <= sds_t_max, sds_t_max_end <= 1, got {c.sds_t_min}, {c.sds_t_max}, "
         f"{c.sds_t_max_end}")
    need(c.sds_t_anneal_steps >= 0 and c.sds_render_size >= 8 and float(c.sds_guidance_scale) >= 0 and
         float(c.w_sds) >= 0, "sds_t_anneal_steps, sds_guidance_scale and w_sds must be >= 0, sds_render_size >= 8")
    backgrounds = ("solid", "noise", "checkerboard", "fft")
    need(isinstance(c.sds_backgrounds, (list, tuple)) and len(c.sds_backgrounds) > 0 and
         set(c.sds_backgrounds) <= set(backgrounds),
         f"sds_backgrounds must be a non-empty list of {', '.join(backgrounds)}, got {c.sds_backgrounds!r}")


# Options that may change between a checkpoint and its resume without changing what the run computes.
RESUMABLE_CHANGES = frozenset({"steps", "resume", "overwrite", "checkpoint_every", "device", "out",
                               "turntable_frames", "turntable_size", "mesh_resolution", "clip_checkpoint", "clip_cache_dir",
                               "clip_download", "sd_cache_dir", "sd_download"})
