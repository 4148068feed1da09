// The tensor side of the ops, written once for both devices: checks, layouts, allocation and dispatch on
// the scalar type. D is a device policy (bindings.cpp: CPU, bindings_cuda.cpp: CUDA) with a Guard that
// makes the tensors' device current and one static launcher per kernel, which takes the tensor whose
// device (stream) it runs on first, then the kernel's raw arguments. Every wrapper checks all its
// tensors before it constructs the Guard: dispatch picks the CUDA kernel when any tensor is on a GPU, so
// a CPU tensor among them must fail with a message naming it, not in the CUDA guard or the kernel.
#pragma once

#include <torch/library.h>

#include "op_args.h"

namespace dream3d {

template <class D>
at::Tensor render_backward(const at::Tensor& density_in, const at::Tensor& rays_o_in,
                           const at::Tensor& rays_d_in, c10::ArrayRef<double> box, double step_size,
                           double act_shift, double interval, double near, double far, double t_thres,
                           double weight_thres, const at::Tensor& ray_offsets, const at::Tensor& step_ids,
                           const at::Tensor& weights, const at::Tensor& t_final,
                           const at::Tensor& grad_weights, const at::Tensor& grad_t_final) {
  RenderInputs in = render_inputs(density_in, rays_o_in, rays_d_in, box, step_size, act_shift, interval,
                                  near, far, t_thres, weight_thres);
  check_render_backward(in, ray_offsets, step_ids, weights, t_final, grad_weights, grad_t_final);
  in.args.n_samples = weights.numel();
  const typename D::Guard guard(density_in);
  const at::Tensor &density = in.density, &rays_o = in.rays_o, &rays_d = in.rays_d;
  const RenderArgs& args = in.args;
  at::Tensor grad = at::zeros_like(density);  // keeps the dense layout the kernel's offsets assume
  AT_DISPATCH_FLOATING_TYPES(density.scalar_type(), "render_backward", [&] {
    D::template render_backward<scalar_t>(
        density, args, density.data_ptr<scalar_t>(), rays_o.data_ptr<scalar_t>(), rays_d.data_ptr<scalar_t>(),
        ray_offsets.contiguous().data_ptr<int64_t>(), step_ids.contiguous().data_ptr<int32_t>(),
        weights.contiguous().data_ptr<scalar_t>(), t_final.contiguous().data_ptr<scalar_t>(),
        grad_weights.contiguous().data_ptr<scalar_t>(), grad_t_final.contiguous().data_ptr<scalar_t>(),
        grad.data_ptr<scalar_t>());
  });
  return grad;
}

template <class D>
at::Tensor trilinear_forward(const at::Tensor& grid_in, const at::Tensor& points_in,
                             c10::ArrayRef<double> box) {
  check_trilinear(grid_in, points_in);
  const typename D::Guard guard(grid_in);
  const at::Tensor grid = dense_layout(grid_in), points = points_in.contiguous();
  const TrilinearArgs args = trilinear_args(grid, points.size(0), box);
  at::Tensor values = at::empty({points.size(0), grid.size(0)}, grid.options());
  AT_DISPATCH_FLOATING_TYPES(grid.scalar_type(), "trilinear_forward", [&] {
    D::template trilinear_forward<scalar_t>(grid, args, grid.data_ptr<scalar_t>(),
                                            points.data_ptr<scalar_t>(), values.data_ptr<scalar_t>());
  });
  return values;
}

template <class D>
std::tuple<at::Tensor, at::Tensor> trilinear_backward(const at::Tensor& grid_in, const at::Tensor& points_in,
                                                      c10::ArrayRef<double> box,
                                                      const at::Tensor& grad_values, bool need_points_grad) {
  check_trilinear(grid_in, points_in);
  check_float(grad_values, "grad_values", grid_in);
  TORCH_CHECK_VALUE(grad_values.dim() == 2 && grad_values.size(0) == points_in.size(0) &&
                        grad_values.size(1) == grid_in.size(0),
                    "grad_values must be (N, C) = (", points_in.size(0), ", ", grid_in.size(0), "), got ",
                    grad_values.sizes());
  const typename D::Guard guard(grid_in);
  const at::Tensor grid = dense_layout(grid_in), points = points_in.contiguous();
  const at::Tensor grad_v = grad_values.contiguous();
  const TrilinearArgs args = trilinear_args(grid, points.size(0), box);
  at::Tensor grad_grid = at::zeros_like(grid);
  at::Tensor grad_points = need_points_grad ? at::empty_like(points) : at::empty({0}, points.options());
  AT_DISPATCH_FLOATING_TYPES(grid.scalar_type(), "trilinear_backward", [&] {
    D::template trilinear_backward<scalar_t>(
        grid, args, grid.data_ptr<scalar_t>(), points.data_ptr<scalar_t>(), grad_v.data_ptr<scalar_t>(),
        grad_grid.data_ptr<scalar_t>(), need_points_grad ? grad_points.data_ptr<scalar_t>() : nullptr);
  });
  return {grad_grid, grad_points};
}

template <class D>
std::tuple<at::Tensor, at::Tensor> total_variation(const at::Tensor& grid_in,
                                                   c10::ArrayRef<double> axis_weights) {
  check_grid(grid_in, "grid", 4, "(C, X, Y, Z)");
  const typename D::Guard guard(grid_in);
  const at::Tensor grid = dense_layout(grid_in);
  const TVArgs args = tv_args(grid, axis_weights);
  at::Tensor grad = at::empty_like(grid);
  at::Tensor loss = at::zeros({}, grid.options());
  AT_DISPATCH_FLOATING_TYPES(grid.scalar_type(), "total_variation", [&] {
    D::template total_variation<scalar_t>(grid, args, grid.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(),
                                          loss.data_ptr<scalar_t>());
  });
  return {loss, grad};
}

template <class D>
at::Tensor sdf_to_density(const at::Tensor& sdf_in, double beta, double shift) {
  check_elementwise(sdf_in, "sdf", sdf_in);
  const typename D::Guard guard(sdf_in);
  const at::Tensor sdf = sdf_in.contiguous();
  at::Tensor density = at::empty_like(sdf);
  AT_DISPATCH_FLOATING_TYPES(sdf.scalar_type(), "sdf_to_density", [&] {
    D::template sdf_to_density<scalar_t>(sdf, sdf.numel(), sdf.data_ptr<scalar_t>(), beta, shift,
                                         density.data_ptr<scalar_t>());
  });
  return density;
}

template <class D>
at::Tensor sdf_to_density_backward(const at::Tensor& sdf_in, const at::Tensor& grad_in, double beta,
                                   double shift) {
  check_elementwise(sdf_in, "sdf", sdf_in);
  check_elementwise(grad_in, "grad_density", sdf_in);
  const typename D::Guard guard(sdf_in);
  const at::Tensor sdf = sdf_in.contiguous(), grad = grad_in.contiguous();
  at::Tensor grad_sdf = at::empty_like(sdf);
  AT_DISPATCH_FLOATING_TYPES(sdf.scalar_type(), "sdf_to_density_backward", [&] {
    D::template sdf_to_density_backward<scalar_t>(sdf, sdf.numel(), sdf.data_ptr<scalar_t>(),
                                                  grad.data_ptr<scalar_t>(), beta, shift,
                                                  grad_sdf.data_ptr<scalar_t>());
  });
  return grad_sdf;
}

template <class D>
std::tuple<at::Tensor, at::Tensor, at::Tensor> prior_loss(const at::Tensor& density_in,
                                                          const at::Tensor& sdf_in, double act_shift,
                                                          double interval) {
  check_elementwise(density_in, "density", density_in);
  check_elementwise(sdf_in, "sdf", density_in);
  const typename D::Guard guard(density_in);
  const at::Tensor density = density_in.contiguous(), sdf = sdf_in.contiguous();
  at::Tensor grad = at::empty_like(density);
  at::Tensor loss = at::zeros({}, density.options());
  at::Tensor count = at::zeros({}, density.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES(density.scalar_type(), "prior_loss", [&] {
    D::template prior_loss<scalar_t>(density, density.numel(), density.data_ptr<scalar_t>(),
                                     sdf.data_ptr<scalar_t>(), act_shift, interval, grad.data_ptr<scalar_t>(),
                                     loss.data_ptr<scalar_t>(), count.data_ptr<int64_t>());
  });
  return {loss, count, grad};
}

template <class D>
SDFRenderTensors sdf_render_forward(const at::Tensor& sdf_in, const at::Tensor& c2w_in,
                                    const at::Tensor& background_in, c10::ArrayRef<double> box,
                                    int64_t height, int64_t width, double focal, int64_t supersample,
                                    double near, double far, double eps, double step_scale, double min_step,
                                    int64_t max_steps, int64_t refine_steps, double ambient, double diffuse,
                                    c10::ArrayRef<double> albedo, c10::ArrayRef<double> light) {
  SDFRenderArgs args = sdf_render_args(sdf_in, c2w_in, box, height, width, focal, supersample, ambient,
                                       diffuse, albedo, light);
  set_sdf_trace(args, near, far, eps, step_scale, min_step, max_steps, refine_steps);
  check_sdf_images(background_in, "background", sdf_in, args, 3);
  const typename D::Guard guard(sdf_in);
  const at::Tensor sdf = sdf_in.contiguous(), c2w = c2w_in.contiguous();
  const at::Tensor background = background_in.contiguous();
  const SDFRenderTensors out = sdf_render_outputs(sdf, args);
  AT_DISPATCH_FLOATING_TYPES(sdf.scalar_type(), "sdf_render_forward", [&] {
    D::template sdf_render_forward<scalar_t>(sdf, args, sdf.data_ptr<scalar_t>(), c2w.data_ptr<scalar_t>(),
                                             background.data_ptr<scalar_t>(),
                                             sdf_render_pointers<scalar_t>(out));
  });
  return out;
}

template <class D>
at::Tensor sdf_render_backward(const at::Tensor& sdf_in, const at::Tensor& c2w_in, const at::Tensor& hit_t_in,
                               const at::Tensor& grad_rgb_in, const at::Tensor& grad_depth_in,
                               const at::Tensor& grad_normal_in, c10::ArrayRef<double> box, int64_t height,
                               int64_t width, double focal, int64_t supersample, double ambient,
                               double diffuse, c10::ArrayRef<double> albedo, c10::ArrayRef<double> light) {
  const SDFRenderArgs args = sdf_render_args(sdf_in, c2w_in, box, height, width, focal, supersample, ambient,
                                             diffuse, albedo, light);
  check_sdf_render_grads(sdf_in, args, hit_t_in, grad_rgb_in, grad_depth_in, grad_normal_in);
  const typename D::Guard guard(sdf_in);
  const at::Tensor sdf = sdf_in.contiguous(), c2w = c2w_in.contiguous(), hit_t = hit_t_in.contiguous();
  const at::Tensor g_rgb = grad_rgb_in.contiguous(), g_depth = grad_depth_in.contiguous();
  const at::Tensor g_normal = grad_normal_in.contiguous();
  at::Tensor grad = at::zeros_like(sdf);
  AT_DISPATCH_FLOATING_TYPES(sdf.scalar_type(), "sdf_render_backward", [&] {
    D::template sdf_render_backward<scalar_t>(
        sdf, args, sdf.data_ptr<scalar_t>(), c2w.data_ptr<scalar_t>(), hit_t.data_ptr<scalar_t>(),
        SDFRenderGrads<scalar_t>{g_rgb.data_ptr<scalar_t>(), g_depth.data_ptr<scalar_t>(),
                                 g_normal.data_ptr<scalar_t>()},
        grad.data_ptr<scalar_t>());
  });
  return grad;
}

template <class D>
at::Tensor composite_forward(const at::Tensor& ray_ids_in, const at::Tensor& weights_in, const at::Tensor& colors_in,
                             int64_t n_rays) {
  const CompositeArgs args = composite_args(ray_ids_in, weights_in, colors_in, n_rays);
  const typename D::Guard guard(colors_in);
  const at::Tensor ray_ids = ray_ids_in.contiguous(), weights = weights_in.contiguous();
  const at::Tensor colors = colors_in.contiguous();
  at::Tensor out = at::zeros({n_rays, colors.size(1)}, colors.options());
  AT_DISPATCH_FLOATING_TYPES(colors.scalar_type(), "composite_forward", [&] {
    D::template composite_forward<scalar_t>(colors, args, ray_ids.data_ptr<int64_t>(),
                                            weights.data_ptr<scalar_t>(), colors.data_ptr<scalar_t>(),
                                            out.data_ptr<scalar_t>());
  });
  return out;
}

template <class D>
std::tuple<at::Tensor, at::Tensor> composite_backward(const at::Tensor& ray_ids_in, const at::Tensor& weights_in,
                                                      const at::Tensor& colors_in, const at::Tensor& grad_out_in) {
  check_float(grad_out_in, "grad_out", colors_in);
  TORCH_CHECK_VALUE(grad_out_in.dim() == 2 && grad_out_in.size(1) == colors_in.size(1), "grad_out must be (R, C)");
  const CompositeArgs args = composite_args(ray_ids_in, weights_in, colors_in, grad_out_in.size(0));
  const typename D::Guard guard(colors_in);
  const at::Tensor ray_ids = ray_ids_in.contiguous(), weights = weights_in.contiguous();
  const at::Tensor colors = colors_in.contiguous(), grad_out = grad_out_in.contiguous();
  at::Tensor grad_weights = at::empty_like(weights), grad_colors = at::empty_like(colors);
  AT_DISPATCH_FLOATING_TYPES(colors.scalar_type(), "composite_backward", [&] {
    D::template composite_backward<scalar_t>(
        colors, args, ray_ids.data_ptr<int64_t>(), weights.data_ptr<scalar_t>(), colors.data_ptr<scalar_t>(),
        grad_out.data_ptr<scalar_t>(), grad_weights.data_ptr<scalar_t>(), grad_colors.data_ptr<scalar_t>());
  });
  return {grad_weights, grad_colors};
}

// Registers the wrappers above for one dispatch key, from inside its TORCH_LIBRARY_IMPL block.
template <class D>
void register_wrappers(torch::Library& m) {
  m.impl("render_backward", &render_backward<D>);
  m.impl("trilinear_forward", &trilinear_forward<D>);
  m.impl("trilinear_backward", &trilinear_backward<D>);
  m.impl("total_variation", &total_variation<D>);
  m.impl("sdf_to_density", &sdf_to_density<D>);
  m.impl("sdf_to_density_backward", &sdf_to_density_backward<D>);
  m.impl("prior_loss", &prior_loss<D>);
  m.impl("sdf_render_forward", &sdf_render_forward<D>);
  m.impl("sdf_render_backward", &sdf_render_backward<D>);
  m.impl("composite_forward", &composite_forward<D>);
  m.impl("composite_backward", &composite_backward<D>);
}

}  // namespace dream3d
