"""G_S, the shape generator of stage 1 (SDF-StyleGAN): z -> w -> feature volume -> SDF grid, its
discriminators and losses, and named configurations (``paper``, ``small``, ``tiny``)::

    G = load_generator("runs/shape/generator.pt")          # eval mode, EMA weights
    w = G.mapping(torch.randn(4, G.z_dim))                 # (4, w_dim)
    grids = G.synthesize(w, resolution=64)                 # 4 SDFGrid over [-1, 1]^3
"""
from .config import CONFIGS, GeneratorConfig, get_config
from .convert import convert_official
from .discriminators import VolumeDiscriminator, crop_patches, patch_points, patch_starts, sdf_with_normals
from .generator import ShapeGenerator, load_generator, read_checkpoint
from .losses import discriminator_loss, generator_loss, r1_penalty

__all__ = ["CONFIGS", "GeneratorConfig", "ShapeGenerator", "VolumeDiscriminator", "convert_official", "crop_patches",
           "discriminator_loss", "generator_loss", "get_config", "load_generator", "patch_points", "patch_starts",
           "r1_penalty", "read_checkpoint", "sdf_with_normals"]
