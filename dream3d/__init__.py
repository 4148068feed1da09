"""dream3d: fast text-to-3D. ``dream3d.ops`` holds the fused volume-rendering kernels."""
__version__ = "0.1.0"
