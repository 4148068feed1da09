// Tensor-side helpers shared by the CPU and CUDA registrations: checks, layouts and launcher args.
#pragma once

#include <ATen/ATen.h>

#include "sdf_density/sdf_density.h"
#include "total_variation/total_variation.h"
#include "trilinear/trilinear.h"
#include "volume_render/volume_render.h"

namespace dream3d {

// Kernels read grids through their strides; any dense layout (contiguous, channels-last, permuted)
// passes as is, other views are copied.
inline at::Tensor dense_layout(const at::Tensor& t) {
  return t.is_non_overlapping_and_dense() ? t : t.contiguous();
}

inline void check_box(c10::ArrayRef<double> box) {
  TORCH_CHECK_VALUE(box.size() == 6, "box must hold 6 numbers (xyz_min, xyz_max), got ", box.size());
  for (int a = 0; a < 3; ++a) {
    TORCH_CHECK_VALUE(box[a] < box[a + 3], "box: min must be below max on axis ", a);
  }
}

inline void check_float(const at::Tensor& t, const char* name, const at::Tensor& like) {
  TORCH_CHECK_TYPE(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, name,
                   " must be float32 or float64, got ", t.scalar_type());
  TORCH_CHECK_TYPE(t.scalar_type() == like.scalar_type(), name, " must have the dtype of the grid");
  TORCH_CHECK_VALUE(t.device() == like.device(), name, " must be on the grid's device");
}

// Elementwise ops: same shape, dtype and device as `like`.
inline void check_elementwise(const at::Tensor& t, const char* name, const at::Tensor& like) {
  check_float(t, name, like);
  TORCH_CHECK_VALUE(t.sizes() == like.sizes(), name, " must have the shape ", like.sizes(), ", got ", t.sizes());
}

inline void check_rays(const at::Tensor& density, const at::Tensor& rays_o, const at::Tensor& rays_d) {
  TORCH_CHECK_VALUE(density.dim() == 3, "density must be (X, Y, Z), got ", density.sizes());
  for (int a = 0; a < 3; ++a) TORCH_CHECK_VALUE(density.size(a) >= 2, "density needs >= 2 voxels per axis");
  check_float(density, "density", density);
  check_float(rays_o, "rays_o", density);
  check_float(rays_d, "rays_d", density);
  TORCH_CHECK_VALUE(rays_o.dim() == 2 && rays_o.size(1) == 3, "rays_o must be (R, 3), got ", rays_o.sizes());
  TORCH_CHECK_VALUE(rays_d.sizes() == rays_o.sizes(), "rays_d must match rays_o's shape");
}

inline RenderArgs render_args(const at::Tensor& density, int64_t n_rays, c10::ArrayRef<double> box,
                              double step_size, double act_shift, double interval, double near,
                              double far, double t_thres, double weight_thres) {
  check_box(box);
  TORCH_CHECK_VALUE(step_size > 0, "step_size must be positive, got ", step_size);
  RenderArgs a;
  for (int i = 0; i < 6; ++i) a.box[i] = box[i];
  for (int i = 0; i < 3; ++i) {
    a.size[i] = density.size(i);
    a.stride[i] = density.stride(i);
  }
  a.step_size = step_size;
  a.act_shift = act_shift;
  a.interval = interval;
  a.near = near;
  a.far = far;
  a.t_thres = t_thres;
  a.weight_thres = weight_thres;
  a.n_rays = n_rays;
  return a;
}

inline void check_trilinear(const at::Tensor& grid, const at::Tensor& points) {
  TORCH_CHECK_VALUE(grid.dim() == 4, "grid must be (C, X, Y, Z), got ", grid.sizes());
  for (int a = 1; a < 4; ++a) TORCH_CHECK_VALUE(grid.size(a) >= 2, "grid needs >= 2 voxels per axis");
  check_float(grid, "grid", grid);
  check_float(points, "points", grid);
  TORCH_CHECK_VALUE(points.dim() == 2 && points.size(1) == 3, "points must be (N, 3), got ", points.sizes());
}

inline TrilinearArgs trilinear_args(const at::Tensor& grid, int64_t n_points, c10::ArrayRef<double> box) {
  check_box(box);
  TrilinearArgs a;
  for (int i = 0; i < 6; ++i) a.box[i] = box[i];
  for (int i = 0; i < 3; ++i) {
    a.size[i] = grid.size(i + 1);
    a.stride[i] = grid.stride(i + 1);
  }
  a.channels = grid.size(0);
  a.channel_stride = grid.stride(0);
  a.n_points = n_points;
  return a;
}

inline TVArgs tv_args(const at::Tensor& grid, c10::ArrayRef<double> axis_weights) {
  TORCH_CHECK_VALUE(grid.dim() == 4, "grid must be (C, X, Y, Z), got ", grid.sizes());
  for (int a = 1; a < 4; ++a) TORCH_CHECK_VALUE(grid.size(a) >= 2, "grid needs >= 2 voxels per axis");
  check_float(grid, "grid", grid);
  TORCH_CHECK_VALUE(axis_weights.size() == 3, "axis_weights must hold 3 numbers");
  TVArgs a;
  for (int i = 0; i < 4; ++i) {
    a.size[i] = grid.size(i);
    a.stride[i] = grid.stride(i);
  }
  for (int i = 0; i < 3; ++i) a.axis_weight[i] = axis_weights[i];
  return a;
}

}  // namespace dream3d
