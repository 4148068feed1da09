"""Evaluation metrics of generated shapes."""
from .shape_metrics import (chamfer_matrix, coverage, minimum_matching_distance, one_nna, shape_metrics,
                            surface_point_sets, surface_points)

__all__ = ["chamfer_matrix", "coverage", "minimum_matching_distance", "one_nna", "shape_metrics",
           "surface_point_sets", "surface_points"]
