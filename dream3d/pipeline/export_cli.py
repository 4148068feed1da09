"""dream3d-export: a finished run's outputs rebuilt from its trained field, without training."""
from __future__ import annotations

import argparse
import sys

from .reexport import ExportError, reexport

EPILOG = """\
examples:
  dream3d-export runs/chair                                    # the run's own sizes
  dream3d-export runs/chair --turntable-size 256 --turntable-frames 60 --mesh-resolution 128

Rewrites the mesh files, turntable.gif/.mp4, metrics.json (mesh counts, Chamfer distance, an "export"
entry with these options and timings) and report.html; the field, the prior and config.yaml are only read.
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dream3d-export", description=__doc__, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a finished dream3d-run output folder")
    p.add_argument("--mesh-resolution", type=int, metavar="N",
                   help="marching-cubes grid size per axis (default: the run's, else the field's density grid); "
                   "the density is resampled trilinearly, as the renderer reads it")
    p.add_argument("--turntable-size", type=int, metavar="PX", help="turntable frame size (default: the run's)")
    p.add_argument("--turntable-frames", type=int, metavar="N", help="turntable frames (default: the run's)")
    p.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: the run's)")
    p.add_argument("--threads", type=int, help="CPU threads (0: all; default: the run's)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        reexport(args.run_dir, mesh_resolution=args.mesh_resolution, turntable_size=args.turntable_size,
                 turntable_frames=args.turntable_frames, device=args.device, threads=args.threads)
    except ExportError as err:
        print(f"dream3d-export: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("dream3d-export: interrupted; every file is either the old or the new one", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
