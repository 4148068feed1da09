"""G_S's architecture and training options, with the named configurations ``paper``, ``small`` and
``tiny``. The architecture fields decide the parameters' shapes; a checkpoint records them all."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

# Fields that change parameter shapes or the generated field: a checkpoint only loads into a generator
# whose values agree on every one of them.
ARCHITECTURE_FIELDS = ("variant", "z_dim", "w_dim", "mapping_layers", "mapping_lr_mult", "channels", "feature_channels",
                       "feature_extent", "decoder_hidden", "decoder_layers", "disc_channels",
                       "local_disc_channels")


@dataclass(frozen=True)
class GeneratorConfig:
    """Sizes of G_S (mapping, synthesis, decoder), its two discriminators and its training.

    channels: the synthesis channels per block, from the 4^3 constant up; block b works at 4 * 2^b, so
    the feature volume is 4 * 2^(len(channels) - 1) per side. feature_extent: the feature volume spans
    [-feature_extent, feature_extent]^3, a little more than the object cube, so that queries on the
    cube's faces interpolate between voxels rather than clamp at the edge.
    grid_resolution: the SDF grid the global discriminator sees; data_resolution: the real grids' (and
    the local patches') resolution; patch_size voxels per patch side at data_resolution.
    """

    name: str = "custom"
    # "dream3d": this project's StyleGAN2-style synthesis; "official": the official SDF-StyleGAN code's
    # (synthesis_official.py), to run converted official weights (convert.py)
    variant: str = "dream3d"
    z_dim: int = 512
    w_dim: int = 512
    mapping_layers: int = 8
    mapping_lr_mult: float = 0.01
    channels: tuple[int, ...] = (256, 256, 128, 64)
    feature_channels: int = 16
    feature_extent: float = 1.1
    decoder_hidden: int = 128
    decoder_layers: int = 3
    disc_channels: tuple[int, ...] = (64, 128, 256, 256)
    local_disc_channels: tuple[int, ...] = (64, 128, 256)
    grid_resolution: int = 32
    data_resolution: int = 128
    patch_size: int = 16
    n_patches: int = 16
    surface_band: float = 0.05  # patch centres are data voxels with |sdf| below this
    style_mixing: float = 0.9
    r1_gamma: float = 10.0
    r1_every: int = 16
    local_weight: float = 1.0
    lr: float = 1e-4
    d_lr_mult: float = 1.5
    betas: tuple[float, float] = (0.5, 0.9)
    batch_size: int = 4
    ema_decay: float = 0.995

    def __post_init__(self):
        if self.variant not in ("dream3d", "official"):
            raise ValueError(f"GeneratorConfig.variant must be 'dream3d' or 'official', got {self.variant!r}")
        for name in ("z_dim", "w_dim", "mapping_layers", "feature_channels", "decoder_hidden", "decoder_layers",
                     "grid_resolution", "data_resolution", "patch_size", "n_patches", "r1_every", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GeneratorConfig.{name} must be a positive integer, got {value!r}")
        for name in ("channels", "disc_channels", "local_disc_channels"):
            value = tuple(getattr(self, name))
            if not value or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in value):
                raise ValueError(f"GeneratorConfig.{name} must be positive integers, got {value!r}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if self.feature_extent < 1.0:
            raise ValueError(f"feature_extent must cover the cube [-1, 1]^3 (>= 1), got {self.feature_extent}")
        if not 0.0 <= self.style_mixing <= 1.0 or not 0.0 <= self.ema_decay < 1.0:
            raise ValueError("style_mixing must lie in [0, 1] and ema_decay in [0, 1)")
        if self.patch_size > self.data_resolution:
            raise ValueError(f"patch_size {self.patch_size} exceeds data_resolution {self.data_resolution}")
        if self.grid_resolution < 2 ** len(self.disc_channels):
            raise ValueError(f"grid_resolution {self.grid_resolution} is too small for "
                             f"{len(self.disc_channels)} discriminator blocks (each halves it)")
        if self.patch_size < 2 ** len(self.local_disc_channels):
            raise ValueError(f"patch_size {self.patch_size} is too small for "
                             f"{len(self.local_disc_channels)} local discriminator blocks")

    @property
    def feature_resolution(self) -> int:
        return 4 * 2 ** (len(self.channels) - 1)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "GeneratorConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown generator config fields: {', '.join(unknown)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def architecture_differences(self, other: "GeneratorConfig") -> list[str]:
        """'field (mine -> other)' for every architecture field on which the two disagree."""
        return [f"{k} ({getattr(self, k)!r} -> {getattr(other, k)!r})" for k in ARCHITECTURE_FIELDS
                if getattr(self, k) != getattr(other, k)]


CONFIGS: dict[str, GeneratorConfig] = {
    # DESIGN.md's sizes (SDF-StyleGAN): 32^3 x 16 features, 128^3 data, 16 patches of 16^3.
    "paper": GeneratorConfig(name="paper"),
    # Trainable on a CPU in hours: 16^3 x 8 features, a 24^3 grid for the global critic, 48^3 data for the
    # local one. R1 gamma 10 as in the paper: with 1 the critics won after ~2000 steps on the library.
    "small": GeneratorConfig(name="small", z_dim=128, w_dim=128, mapping_layers=4, channels=(64, 48, 32),
                             feature_channels=8, decoder_hidden=64, decoder_layers=2, disc_channels=(16, 32, 64),
                             local_disc_channels=(16, 32), grid_resolution=24, data_resolution=48, patch_size=8,
                             n_patches=4, surface_band=0.06, r1_gamma=10.0, r1_every=8, lr=2e-4, ema_decay=0.99),
    # For tests: seconds per step.
    "tiny": GeneratorConfig(name="tiny", z_dim=8, w_dim=8, mapping_layers=2, channels=(8, 4), feature_channels=4,
                            decoder_hidden=8, decoder_layers=1, disc_channels=(4, 4), local_disc_channels=(4,),
                            grid_resolution=8, data_resolution=12, patch_size=4, n_patches=2, surface_band=0.2,
                            r1_every=2, batch_size=2, ema_decay=0.9),
}


def get_config(name: str, **overrides) -> GeneratorConfig:
    """A named configuration (``paper``, ``small``, ``tiny``), with fields overridden."""
    if name not in CONFIGS:
        raise ValueError(f"unknown generator config {name!r}; choose one of {', '.join(CONFIGS)}")
    return replace(CONFIGS[name], **overrides) if overrides else CONFIGS[name]
