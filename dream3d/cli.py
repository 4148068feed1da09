"""dream3d-run: a prompt and a shape prior -> a textured 3D asset (stage 2 of Dream3D)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .guidance import GuidanceError
from .pipeline import PRESETS, ConfigError, PriorError, build_config, load_config_file, run
from .pipeline.batch import read_prompts, run_batch
from .pipeline.run import no_run_to_resume
from .pipeline.config import CLIP_SHADINGS, COLOR_MODELS, GUIDANCES, PRIORS, RETRIEVE_CLIPS

EPILOG = """\
examples:
  dream3d-run --prompt "a park bench" --preset preview --guidance none --out runs/bench
  dream3d-run --prompt "a park bench overgrown with vines" --guidance clip --preset paper --device cuda \\
              --out runs/vines                                   # CLIP ViT-B/16 weights must be local
  dream3d-run --prompt "a chair" --prior-mesh chair.glb --out runs/chair
  dream3d-run --prompt "a jet" --prior-mesh jet.stl --prior-mesh-up +z --prior-only --out runs/jet-prior
  dream3d-run --config run.yaml --resume --out runs/bench      # continue a killed run
  dream3d-run --prompts-file prompts.txt --out runs/batch     # one run per line, in runs/batch/<slug>
  torchrun --nproc-per-node 4 -m dream3d.cli --prompts-file prompts.txt --out runs/batch   # sharded

Options are layered: command line > --config file > --preset > defaults. Every option (also those
without a flag here, e.g. w_prior, lr_color) can be set in the YAML config file; the run's full
options are written to OUT/config.yaml.
--guidance none (the default) runs offline: the field is fitted to shaded renders of the shape prior.
--guidance clip never downloads unless --clip-download is given: it looks for the weights in
--clip-checkpoint, $DREAM3D_CLIP_CHECKPOINT, then the Hugging Face and open_clip caches.
--guidance sds (score distillation) likewise looks for Stable Diffusion in --sd-model, $DREAM3D_SD_MODEL,
then the hub cache, and downloads only with --sd-download; SDS options without a flag (sds_t_min,
sds_t_max, sds_t_max_end, sds_render_size, ...) go in the YAML config file.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dream3d-run", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                argument_default=argparse.SUPPRESS)
    p.add_argument("--prompt", help="the text prompt, e.g. \"a park bench overgrown with vines\"")
    p.add_argument("--prompts-file", metavar="FILE", default=None,
                   help="one prompt per line (# comments); each runs into OUT/<slug>")
    p.add_argument("--out", metavar="DIR", help="output folder (refused if it exists and is not empty, "
                   "unless --resume or --overwrite)")
    p.add_argument("--config", metavar="FILE.yaml", default=None, help="a YAML file of options")
    p.add_argument("--preset", choices=["auto", *sorted(PRESETS)], help="auto (default): paper on a CUDA device, "
                   "preview on the CPU; preview (minutes on a CPU), "
                   "high, or paper (160^3 coarse-to-fine, 5000 steps)")
    p.add_argument("--seed", type=int, help="seed of the views, ray batches and colour MLP (default 0)")
    p.add_argument("--steps", type=int, help="optimisation steps (the preset's by default)")
    g = p.add_argument_group("shape prior")
    g.add_argument("--prior", choices=PRIORS, help="auto (default): --prior-mesh if given, else --prior-sdf, "
                   "else the library shape named by the prompt; retrieve: the library variant a CLIP finds closest to the "
                   "prompt; text2shape: stage 1 (prompt -> [G_I image ->] CLIP -> G_M -> G_S) with the models of --models; "
                   "none: no prior, DVGO from its empty init (the paper's w/o-prior ablation; needs --guidance clip or sds)")
    g.add_argument("--prior-mesh", dest="prior_mesh", metavar="FILE", help="a mesh (.glb, .obj, .ply, ...)")
    g.add_argument("--prior-sdf", dest="prior_sdf", metavar="FILE", help="an SDF grid (.npz or .npy)")
    g.add_argument("--prior-mesh-up", dest="prior_mesh_up", metavar="AXIS",
                   help="the mesh file's up axis: +y, -y, +z, -z, +x, -x or auto (default: glTF is +y by its "
                   "specification; other files from the shape's mirror plane, else +z for STL and +y for the rest)")
    g.add_argument("--prior-mesh-front", dest="prior_mesh_front", metavar="AXIS",
                   help="the mesh file's axis that faces the front view (+Z) or auto (default)")
    g.add_argument("--prior-mesh-margin", dest="prior_mesh_margin", type=float, metavar="M",
                   help="share of the half cube left free beyond the mesh's longest side (default 0.05)")
    g.add_argument("--prior-resolution", dest="prior_resolution", type=int, metavar="N",
                   help="the prior's SDF grid size (default: --resolution); finer keeps parts thinner than a voxel")
    g.add_argument("--prior-dilate", dest="prior_dilate", type=float, metavar="VOXELS",
                   help="move the mesh prior's surface out by VOXELS (default 0): keeps thin parts, thickens all")
    g.add_argument("--prior-only", dest="prior_only", action="store_true", default=False,
                   help="write the prior alone (prior.npz/.glb, six axis views, a turntable) in seconds and stop")
    g.add_argument("--models", metavar="DIR", help="--prior text2shape: the stage-1 models folder (generator.pt, "
                   "prior.pt, optional sd/; default $DREAM3D_MODELS)")
    g.add_argument("--category", help="library category to use instead of the prompt's noun")
    g.add_argument("--shape-seed", dest="shape_seed", type=int, help="library shape variation (0: canonical)")
    g.add_argument("--retrieve-clip", dest="retrieve_clip", choices=RETRIEVE_CLIPS,
                   help="--prior retrieve: library (default: the shipped library CLIP) or guidance (the run's "
                   "--clip-model/--clip-checkpoint)")
    g.add_argument("--retrieve-candidates", dest="retrieve_candidates", type=int, metavar="N",
                   help="--prior retrieve: library variants per category to choose from (default 32)")
    g = p.add_argument_group("optimisation")
    g.add_argument("--guidance", choices=GUIDANCES, help="none (default, offline): fit renders of the prior; "
                   "clip: CLIP guidance (needs open_clip_torch and CLIP weights); sds: score distillation from "
                   "Stable Diffusion (needs diffusers)")
    g.add_argument("--device", help="cpu (default), cuda, cuda:N or auto")
    g.add_argument("--resolution", type=int, help="final density grid size per axis")
    g.add_argument("--color-model", dest="color_model", choices=COLOR_MODELS,
                   help="mlp (default): the paper's MLP on a positional encoding; grid: DVGO's feature grid "
                   "+ a small MLP")
    g.add_argument("--threads", type=int, help="CPU threads (0: all; the preview preset uses 1, which is "
                   "faster for its small steps on a busy machine)")
    g.add_argument("--checkpoint-every", dest="checkpoint_every", type=int, metavar="N",
                   help="write OUT/checkpoint.pt every N steps (atomically)")
    g = p.add_argument_group("CLIP guidance")
    g.add_argument("--clip-model", dest="clip_model", metavar="NAME|FILE.json",
                   help="open_clip architecture (default ViT-B-16) or a JSON config in open_clip's format")
    g.add_argument("--clip-pretrained", dest="clip_pretrained", metavar="TAG",
                   help="the weights' tag, e.g. openai (default) or laion2b_s34b_b88k")
    g.add_argument("--clip-checkpoint", dest="clip_checkpoint", metavar="PATH",
                   help="a local weights file (.safetensors/.bin/.pt) or a folder holding one")
    g.add_argument("--clip-cache-dir", dest="clip_cache_dir", metavar="DIR",
                   help="cache folder to look in (default: the Hugging Face hub cache and ~/.cache/clip)")
    g.add_argument("--clip-download", dest="clip_download", action="store_true",
                   help="fetch missing weights from the hub (needs a network)")
    g.add_argument("--clip-shading", dest="clip_shading", choices=CLIP_SHADINGS,
                   help="what CLIP sees: color (the field's colours), shaded (the density alone, grey and "
                   "shaded: only the shape can raise the score), mix; auto (default): shaded for the library CLIP")
    g = p.add_argument_group("score distillation (--guidance sds)")
    g.add_argument("--sd-model", dest="sd_model", metavar="FOLDER|REPO",
                   help="Stable Diffusion in diffusers' layout: a folder, or a hub repository id looked up in the "
                   "cache (default CompVis/stable-diffusion-v1-4; $DREAM3D_SD_MODEL)")
    g.add_argument("--sd-cache-dir", dest="sd_cache_dir", metavar="DIR", help="hub cache folder to look in")
    g.add_argument("--sd-download", dest="sd_download", action="store_true",
                   help="fetch a model missing from the cache (needs a network)")
    g.add_argument("--sds-guidance-scale", dest="sds_guidance_scale", type=float, metavar="S",
                   help="classifier-free guidance scale (default 100)")
    g.add_argument("--sds-checkpointing", dest="sds_checkpointing", action="store_true",
                   help="recompute the VAE encoder's activations in the backward (less memory)")
    g = p.add_argument_group("outputs")
    g.add_argument("--turntable-frames", dest="turntable_frames", type=int, metavar="N",
                   help="frames of turntable.gif/.mp4, one orbit (the preset's: preview 36, high 48, paper 60)")
    g.add_argument("--turntable-size", dest="turntable_size", type=int, metavar="PX",
                   help="the turntable's frame size in pixels (the preset's: preview 128, high 192, paper 256)")
    g.add_argument("--mesh-resolution", dest="mesh_resolution", type=int, metavar="N",
                   help="marching-cubes grid size per axis of mesh.glb/.obj/.ply (default: the field's grid)")
    g = p.add_argument_group("runs")
    g.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    g.add_argument("--overwrite", action="store_true", help="replace the outputs of an existing --out")
    return p


def main(argv: list[str] | None = None) -> int:
    args = vars(_parser().parse_args(argv))
    config_path, prompts_file, prior_only = args.pop("config"), args.pop("prompts_file"), args.pop("prior_only")
    try:
        file_options = load_config_file(config_path) if config_path else {}
        if args.get("resume") and not config_path and "out" in args:
            saved = Path(args["out"]) / "config.yaml"  # a resumed run keeps its own options
            if saved.is_file():
                file_options = {k: v for k, v in load_config_file(saved).items() if k not in ("resume", "overwrite")}
            elif not prompts_file and "prompt" not in args:
                raise no_run_to_resume(args["out"])
        if prior_only and prompts_file:
            raise ConfigError("--prior-only previews one prior: give --prompt, not --prompts-file")
        if prior_only and args.get("prior", file_options.get("prior")) == "none":
            raise ConfigError("--prior-only previews a shape prior, and --prior none has none")
        if prior_only and args.get("resume"):  # it would replace a run's config.yaml and prior files
            raise ConfigError("--prior-only writes a fresh folder; --resume does not apply (use --overwrite)")
        if prompts_file:
            if "prompt" in args:
                raise ConfigError("give --prompt or --prompts-file, not both")
            root = args.pop("out", file_options.get("out"))
            if not root:
                raise ConfigError("no output folder: give --out DIR")
            return run_batch(read_prompts(prompts_file), args, file_options, root)
        if prior_only:
            from .pipeline.prior_preview import run_prior_only

            run_prior_only(build_config(args, file_options))
            return 0
        run(build_config(args, file_options))
    except (ConfigError, PriorError, GuidanceError) as err:
        print(f"dream3d-run: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dream3d-run: interrupted; continue with --resume (the last checkpoint is kept)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
