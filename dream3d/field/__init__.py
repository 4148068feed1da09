"""The DVGO radiance field optimised in stage 2."""
from .dvgo import ColorMLP, DensityGrid, DVGOField, FeatureGridColor, FieldRender, surface_density
from .encoding import PositionalEncoding

__all__ = ["ColorMLP", "DensityGrid", "DVGOField", "FeatureGridColor", "FieldRender", "PositionalEncoding",
           "surface_density"]
