"""The DVGO radiance field optimised in stage 2."""
from .dvgo import ColorMLP, DensityGrid, DVGOField, FeatureGridColor, FieldRender
from .encoding import PositionalEncoding

__all__ = ["ColorMLP", "DensityGrid", "DVGOField", "FeatureGridColor", "FieldRender", "PositionalEncoding"]
