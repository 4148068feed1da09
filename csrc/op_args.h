// Tensor-side helpers shared by the CPU and CUDA registrations: checks, layouts and launcher args.
#pragma once

#include <ATen/ATen.h>

#include "composite/composite.h"
#include "sdf_density/sdf_density.h"
#include "sdf_render/sdf_render.h"
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

// A float32/float64 grid of `dims` axes (named by `layout` in the message) whose last three are spatial,
// each with >= 2 voxels.
inline void check_grid(const at::Tensor& t, const char* name, int64_t dims, const char* layout) {
  TORCH_CHECK_VALUE(t.dim() == dims, name, " must be ", layout, ", got ", t.sizes());
  for (int64_t a = dims - 3; a < dims; ++a) TORCH_CHECK_VALUE(t.size(a) >= 2, name, " needs >= 2 voxels per axis");
  check_float(t, name, t);
}

inline void check_rays(const at::Tensor& density, const at::Tensor& rays_o, const at::Tensor& rays_d) {
  check_grid(density, "density", 3, "(X, Y, Z)");
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

// The renderer's inputs checked and in the layouts the kernels read, with their launch arguments.
struct RenderInputs {
  at::Tensor density, rays_o, rays_d;
  RenderArgs args;
};

inline RenderInputs render_inputs(const at::Tensor& density, const at::Tensor& rays_o, const at::Tensor& rays_d,
                                  c10::ArrayRef<double> box, double step_size, double act_shift,
                                  double interval, double near, double far, double t_thres,
                                  double weight_thres) {
  check_rays(density, rays_o, rays_d);
  RenderInputs in{dense_layout(density), rays_o.contiguous(), rays_d.contiguous(), {}};
  in.args = render_args(in.density, in.rays_o.size(0), box, step_size, act_shift, interval, near, far, t_thres,
                        weight_thres);
  return in;
}

// A 1-D-like tensor read through a raw pointer: its dtype, device (a CPU tensor among CUDA ones would be
// an illegal address that poisons the CUDA context) and length, each error naming it.
inline void check_packed(const at::Tensor& t, const char* name, at::ScalarType dtype, int64_t numel,
                         const char* length, const at::Tensor& like, const char* like_name) {
  TORCH_CHECK_TYPE(t.scalar_type() == dtype, name, " must be ", dtype, ", got ", t.scalar_type());
  TORCH_CHECK_VALUE(t.device() == like.device(), name, " must be on ", like_name, "'s device ", like.device(),
                    ", got ", t.device());
  TORCH_CHECK_VALUE(t.numel() == numel, name, " must hold ", length, " = ", numel, " entries, got ", t.sizes());
}

// The renderer backward's saved and incoming tensors against the checked inputs: R = rays, N = packed
// samples (weights' length). On the CPU the offsets are also checked to stay in [0, N) and not to
// decrease (no sync there); the CUDA kernel clips each ray's range to [0, N) instead.
inline void check_render_backward(const RenderInputs& in, const at::Tensor& ray_offsets,
                                  const at::Tensor& step_ids, const at::Tensor& weights,
                                  const at::Tensor& t_final, const at::Tensor& grad_weights,
                                  const at::Tensor& grad_t_final) {
  const at::Tensor& density = in.density;
  const at::ScalarType dtype = density.scalar_type();
  const int64_t n_rays = in.args.n_rays, n_samples = weights.numel();
  check_packed(weights, "weights", dtype, n_samples, "N", density, "density");
  check_packed(ray_offsets, "ray_offsets", at::kLong, n_rays + 1, "R + 1", density, "density");
  check_packed(step_ids, "step_ids", at::kInt, n_samples, "N (weights' length)", density, "density");
  check_packed(grad_weights, "grad_weights", dtype, n_samples, "N (weights' length)", density, "density");
  check_packed(t_final, "T_final", dtype, n_rays, "R", density, "density");
  check_packed(grad_t_final, "grad_T_final", dtype, n_rays, "R", density, "density");
  if (ray_offsets.is_cpu()) {
    const at::Tensor offsets = ray_offsets.contiguous();
    const int64_t* o = offsets.data_ptr<int64_t>();
    TORCH_CHECK_VALUE(o[0] >= 0 && o[n_rays] <= n_samples, "ray_offsets must lie in [0, N = ", n_samples,
                      "], got ", o[0], " ... ", o[n_rays]);
    for (int64_t r = 0; r < n_rays; ++r) {
      TORCH_CHECK_VALUE(o[r] <= o[r + 1], "ray_offsets must not decrease, got ", o[r], " then ", o[r + 1],
                        " at ray ", r);
    }
  }
}

inline void check_trilinear(const at::Tensor& grid, const at::Tensor& points) {
  check_grid(grid, "grid", 4, "(C, X, Y, Z)");
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
  check_grid(grid, "grid", 4, "(C, X, Y, Z)");
  TORCH_CHECK_VALUE(axis_weights.size() == 3, "axis_weights must hold 3 numbers");
  TVArgs a;
  for (int i = 0; i < 4; ++i) {
    a.size[i] = grid.size(i);
    a.stride[i] = grid.stride(i);
  }
  for (int i = 0; i < 3; ++i) a.axis_weight[i] = axis_weights[i];
  return a;
}

// SDF renderer: sdf (B, X, Y, Z), c2w (B, V, 4, 4) and the per-pixel tensors must agree; the camera
// and shading arguments shared by the forward and the backward.
inline SDFRenderArgs sdf_render_args(const at::Tensor& sdf, const at::Tensor& c2w, c10::ArrayRef<double> box,
                                     int64_t height, int64_t width, double focal, int64_t supersample,
                                     double ambient, double diffuse, c10::ArrayRef<double> albedo,
                                     c10::ArrayRef<double> light) {
  check_grid(sdf, "sdf", 4, "(B, X, Y, Z)");
  check_float(c2w, "c2w", sdf);
  TORCH_CHECK_VALUE(c2w.dim() == 4 && c2w.size(0) == sdf.size(0) && c2w.size(2) == 4 && c2w.size(3) == 4,
                    "c2w must be (B, V, 4, 4) with the sdf's B, got ", c2w.sizes());
  check_box(box);
  TORCH_CHECK_VALUE(height >= 1 && width >= 1, "height and width must be positive");
  TORCH_CHECK_VALUE(supersample >= 1, "supersample must be >= 1, got ", supersample);
  TORCH_CHECK_VALUE(focal > 0, "focal must be positive, got ", focal);
  TORCH_CHECK_VALUE(albedo.size() == 3, "albedo must hold 3 numbers");
  TORCH_CHECK_VALUE(light.empty() || light.size() == 3, "light must be empty (headlight) or hold 3 numbers");
  SDFRenderArgs a{};
  for (int i = 0; i < 6; ++i) a.box[i] = box[i];
  for (int i = 0; i < 3; ++i) {
    a.size[i] = sdf.size(i + 1);
    a.albedo[i] = albedo[i];
    a.light[i] = light.empty() ? 0.0 : light[i];
  }
  a.batch = sdf.size(0), a.views = c2w.size(1), a.height = height, a.width = width;
  a.supersample = supersample, a.focal = focal;
  a.ambient = ambient, a.diffuse = diffuse, a.headlight = light.empty();
  return a;
}

inline void set_sdf_trace(SDFRenderArgs& a, double near, double far, double eps, double step_scale,
                          double min_step, int64_t max_steps, int64_t refine_steps) {
  TORCH_CHECK_VALUE(near >= 0 && near < far, "near must lie in [0, far), got near=", near, ", far=", far);
  TORCH_CHECK_VALUE(eps > 0, "eps must be positive, got ", eps);
  TORCH_CHECK_VALUE(step_scale > 0, "step_scale must be positive, got ", step_scale);
  TORCH_CHECK_VALUE(min_step > 0, "min_step must be positive, got ", min_step);
  TORCH_CHECK_VALUE(max_steps >= 1, "max_steps must be >= 1, got ", max_steps);
  TORCH_CHECK_VALUE(refine_steps >= 0, "refine_steps must be >= 0, got ", refine_steps);
  a.near = near, a.far = far, a.eps = eps, a.step_scale = step_scale, a.min_step = min_step;
  a.max_steps = max_steps, a.refine_steps = refine_steps;
}

// A tensor of `per_image` values for each of the B x V images (background: 3; per-pixel tensors:
// H * W * channels), of the sdf's dtype and device.
inline void check_sdf_images(const at::Tensor& t, const char* name, const at::Tensor& sdf,
                             const SDFRenderArgs& a, int64_t per_image) {
  check_float(t, name, sdf);
  TORCH_CHECK_VALUE(t.numel() == a.batch * a.views * per_image, name, " must hold ", per_image,
                    " values per image, got ", t.sizes());
}

inline void check_sdf_render_grads(const at::Tensor& sdf, const SDFRenderArgs& a, const at::Tensor& hit_t,
                                   const at::Tensor& grad_rgb, const at::Tensor& grad_depth,
                                   const at::Tensor& grad_normal) {
  const int64_t pixels = a.height * a.width;
  check_sdf_images(hit_t, "hit_t", sdf, a, pixels * a.supersample * a.supersample);
  check_sdf_images(grad_rgb, "grad_rgb", sdf, a, pixels * 3);
  check_sdf_images(grad_depth, "grad_depth", sdf, a, pixels);
  check_sdf_images(grad_normal, "grad_normal", sdf, a, pixels * 3);
}

using SDFRenderTensors = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

// The forward's outputs: rgb (B, V, H, W, 3), mask and depth (B, V, H, W), normal (B, V, H, W, 3),
// hit_t (B, V, H, W, S * S).
inline SDFRenderTensors sdf_render_outputs(const at::Tensor& sdf, const SDFRenderArgs& a) {
  const auto options = sdf.options();
  const std::vector<int64_t> image = {a.batch, a.views, a.height, a.width};
  const auto per_pixel = [&](int64_t n) {
    std::vector<int64_t> shape = image;
    shape.push_back(n);
    return at::empty(shape, options);
  };
  return {per_pixel(3), at::empty(image, options), at::empty(image, options), per_pixel(3),
          per_pixel(a.supersample * a.supersample)};
}

template <typename T>
SDFRenderOutputs<T> sdf_render_pointers(const SDFRenderTensors& out) {
  return {std::get<0>(out).data_ptr<T>(), std::get<1>(out).data_ptr<T>(), std::get<2>(out).data_ptr<T>(),
          std::get<3>(out).data_ptr<T>(), std::get<4>(out).data_ptr<T>()};
}

// Compositing: ray_ids (N) int64 within [0, n_rays), weights (N) and colors (N, C) of one float dtype and
// device. A ray id out of range would write outside the output: on the CPU it is an error; on a GPU the
// check would cost a host sync per call, so the kernels skip such samples instead (zero gradients).
inline CompositeArgs composite_args(const at::Tensor& ray_ids, const at::Tensor& weights, const at::Tensor& colors,
                                    int64_t n_rays) {
  TORCH_CHECK_TYPE(ray_ids.scalar_type() == at::kLong, "ray_ids must be int64, got ", ray_ids.scalar_type());
  TORCH_CHECK_VALUE(ray_ids.dim() == 1 && weights.dim() == 1 && weights.size(0) == ray_ids.size(0),
                    "ray_ids and weights must be (N,) with the same N");
  TORCH_CHECK_VALUE(colors.dim() == 2 && colors.size(0) == ray_ids.size(0),
                    "colors must be (N, C) with one row per sample");
  check_float(weights, "weights", colors);
  TORCH_CHECK_VALUE(ray_ids.device() == colors.device(), "ray_ids must be on the colors' device");
  TORCH_CHECK_VALUE(n_rays >= 0, "n_rays must be >= 0");
  if (ray_ids.numel() > 0 && ray_ids.is_cpu()) {
    const auto [lo_t, hi_t] = at::aminmax(ray_ids);
    const int64_t lo = lo_t.item<int64_t>(), hi = hi_t.item<int64_t>();
    TORCH_CHECK_VALUE(lo >= 0 && hi < n_rays, "ray_ids must lie in [0, ", n_rays, "), got [", lo, ", ", hi, "]");
  }
  return {ray_ids.size(0), n_rays, colors.size(1)};
}

}  // namespace dream3d
