// The one file that registers dream3d's ops with torch (schemas + CPU kernels) and makes the
// extension importable as the Python module dream3d._C. CUDA kernels register in bindings_cuda.cpp.
#include <Python.h>
#include <torch/library.h>

#include "op_args.h"

namespace dream3d {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> render_forward(
    const at::Tensor& density_in, const at::Tensor& rays_o_in, const at::Tensor& rays_d_in,
    c10::ArrayRef<double> box, double step_size, double act_shift, double interval, double near,
    double far, double t_thres, double weight_thres) {
  check_rays(density_in, rays_o_in, rays_d_in);
  const at::Tensor density = dense_layout(density_in);
  const at::Tensor rays_o = rays_o_in.contiguous(), rays_d = rays_d_in.contiguous();
  const int64_t n_rays = rays_o.size(0);
  const RenderArgs args = render_args(density, n_rays, box, step_size, act_shift, interval, near, far,
                                      t_thres, weight_thres);
  at::Tensor t_final = at::empty({n_rays}, density.options());
  at::Tensor offsets = at::empty({n_rays + 1}, density.options().dtype(at::kLong));
  at::Tensor ray_ids, step_ids, t, weights;
  AT_DISPATCH_FLOATING_TYPES(density.scalar_type(), "render_forward", [&] {
    render_forward_cpu<scalar_t>(
        args, density.data_ptr<scalar_t>(), rays_o.data_ptr<scalar_t>(), rays_d.data_ptr<scalar_t>(),
        t_final.data_ptr<scalar_t>(), offsets.data_ptr<int64_t>(), [&](int64_t n) {
          ray_ids = at::empty({n}, offsets.options());
          step_ids = at::empty({n}, offsets.options().dtype(at::kInt));
          t = at::empty({n}, density.options());
          weights = at::empty({n}, density.options());
          return SampleOutputs<scalar_t>{ray_ids.data_ptr<int64_t>(), step_ids.data_ptr<int32_t>(),
                                         t.data_ptr<scalar_t>(), weights.data_ptr<scalar_t>()};
        });
  });
  return {ray_ids, step_ids, t, weights, t_final, offsets};
}

at::Tensor render_backward(const at::Tensor& density_in, const at::Tensor& rays_o_in,
                           const at::Tensor& rays_d_in, c10::ArrayRef<double> box, double step_size,
                           double act_shift, double interval, double near, double far, double t_thres,
                           double weight_thres, const at::Tensor& ray_offsets,
                           const at::Tensor& step_ids, const at::Tensor& weights,
                           const at::Tensor& t_final, const at::Tensor& grad_weights,
                           const at::Tensor& grad_t_final) {
  check_rays(density_in, rays_o_in, rays_d_in);
  const at::Tensor density = dense_layout(density_in);
  const at::Tensor rays_o = rays_o_in.contiguous(), rays_d = rays_d_in.contiguous();
  const int64_t n_rays = rays_o.size(0);
  TORCH_CHECK_VALUE(ray_offsets.numel() == n_rays + 1, "ray_offsets must hold R + 1 entries");
  TORCH_CHECK_VALUE(grad_weights.numel() == weights.numel() && step_ids.numel() == weights.numel(),
                    "grad_weights and step_ids must match weights");
  const RenderArgs args = render_args(density, n_rays, box, step_size, act_shift, interval, near, far,
                                      t_thres, weight_thres);
  at::Tensor grad = at::zeros_like(density);  // keeps the dense layout the kernel's offsets assume
  AT_DISPATCH_FLOATING_TYPES(density.scalar_type(), "render_backward", [&] {
    render_backward_cpu<scalar_t>(
        args, density.data_ptr<scalar_t>(), rays_o.data_ptr<scalar_t>(), rays_d.data_ptr<scalar_t>(),
        ray_offsets.contiguous().data_ptr<int64_t>(), step_ids.contiguous().data_ptr<int32_t>(),
        weights.contiguous().data_ptr<scalar_t>(), t_final.contiguous().data_ptr<scalar_t>(),
        grad_weights.contiguous().data_ptr<scalar_t>(), grad_t_final.contiguous().data_ptr<scalar_t>(),
        grad.data_ptr<scalar_t>());
  });
  return grad;
}

at::Tensor trilinear_forward(const at::Tensor& grid_in, const at::Tensor& points_in,
                             c10::ArrayRef<double> box) {
  check_trilinear(grid_in, points_in);
  const at::Tensor grid = dense_layout(grid_in), points = points_in.contiguous();
  const TrilinearArgs args = trilinear_args(grid, points.size(0), box);
  at::Tensor values = at::empty({points.size(0), grid.size(0)}, grid.options());
  AT_DISPATCH_FLOATING_TYPES(grid.scalar_type(), "trilinear_forward", [&] {
    trilinear_forward_cpu<scalar_t>(args, grid.data_ptr<scalar_t>(), points.data_ptr<scalar_t>(),
                                    values.data_ptr<scalar_t>());
  });
  return values;
}

std::tuple<at::Tensor, at::Tensor> trilinear_backward(const at::Tensor& grid_in,
                                                      const at::Tensor& points_in,
                                                      c10::ArrayRef<double> box,
                                                      const at::Tensor& grad_values,
                                                      bool need_points_grad) {
  check_trilinear(grid_in, points_in);
  const at::Tensor grid = dense_layout(grid_in), points = points_in.contiguous();
  const at::Tensor grad_v = grad_values.contiguous();
  TORCH_CHECK_VALUE(grad_v.dim() == 2 && grad_v.size(0) == points.size(0) && grad_v.size(1) == grid.size(0),
                    "grad_values must be (N, C)");
  const TrilinearArgs args = trilinear_args(grid, points.size(0), box);
  at::Tensor grad_grid = at::zeros_like(grid);
  at::Tensor grad_points = need_points_grad ? at::empty_like(points) : at::empty({0}, points.options());
  AT_DISPATCH_FLOATING_TYPES(grid.scalar_type(), "trilinear_backward", [&] {
    trilinear_backward_cpu<scalar_t>(args, grid.data_ptr<scalar_t>(), points.data_ptr<scalar_t>(),
                                     grad_v.data_ptr<scalar_t>(), grad_grid.data_ptr<scalar_t>(),
                                     need_points_grad ? grad_points.data_ptr<scalar_t>() : nullptr);
  });
  return {grad_grid, grad_points};
}

std::tuple<at::Tensor, at::Tensor> total_variation(const at::Tensor& grid_in,
                                                   c10::ArrayRef<double> axis_weights) {
  const at::Tensor grid = dense_layout(grid_in);
  const TVArgs args = tv_args(grid, axis_weights);
  at::Tensor grad = at::empty_like(grid);
  at::Tensor loss = at::empty({}, grid.options());
  AT_DISPATCH_FLOATING_TYPES(grid.scalar_type(), "total_variation", [&] {
    loss.fill_(total_variation_cpu<scalar_t>(args, grid.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>()));
  });
  return {loss, grad};
}

at::Tensor sdf_to_density(const at::Tensor& sdf_in, double beta, double shift) {
  check_elementwise(sdf_in, "sdf", sdf_in);
  const at::Tensor sdf = sdf_in.contiguous();
  at::Tensor density = at::empty_like(sdf);
  AT_DISPATCH_FLOATING_TYPES(sdf.scalar_type(), "sdf_to_density", [&] {
    sdf_to_density_cpu<scalar_t>(sdf.numel(), sdf.data_ptr<scalar_t>(), beta, shift,
                                 density.data_ptr<scalar_t>());
  });
  return density;
}

at::Tensor sdf_to_density_backward(const at::Tensor& sdf_in, const at::Tensor& grad_in, double beta,
                                   double shift) {
  check_elementwise(sdf_in, "sdf", sdf_in);
  check_elementwise(grad_in, "grad_density", sdf_in);
  const at::Tensor sdf = sdf_in.contiguous(), grad = grad_in.contiguous();
  at::Tensor grad_sdf = at::empty_like(sdf);
  AT_DISPATCH_FLOATING_TYPES(sdf.scalar_type(), "sdf_to_density_backward", [&] {
    sdf_to_density_backward_cpu<scalar_t>(sdf.numel(), sdf.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(),
                                          beta, shift, grad_sdf.data_ptr<scalar_t>());
  });
  return grad_sdf;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> prior_loss(const at::Tensor& density_in,
                                                          const at::Tensor& sdf_in, double act_shift,
                                                          double interval) {
  check_elementwise(density_in, "density", density_in);
  check_elementwise(sdf_in, "sdf", density_in);
  const at::Tensor density = density_in.contiguous(), sdf = sdf_in.contiguous();
  at::Tensor grad = at::empty_like(density);
  at::Tensor loss = at::empty({}, density.options());
  int64_t count = 0;
  AT_DISPATCH_FLOATING_TYPES(density.scalar_type(), "prior_loss", [&] {
    loss.fill_(prior_loss_cpu<scalar_t>(density.numel(), density.data_ptr<scalar_t>(),
                                        sdf.data_ptr<scalar_t>(), act_shift, interval,
                                        grad.data_ptr<scalar_t>(), &count));
  });
  return {loss, at::scalar_tensor(count, density.options().dtype(at::kLong)), grad};
}

SDFRenderTensors sdf_render_forward(const at::Tensor& sdf_in, const at::Tensor& c2w_in,
                                    const at::Tensor& background_in, c10::ArrayRef<double> box,
                                    int64_t height, int64_t width, double focal, int64_t supersample,
                                    double near, double far, double eps, double step_scale,
                                    double min_step, int64_t max_steps, int64_t refine_steps,
                                    double ambient, double diffuse, c10::ArrayRef<double> albedo,
                                    c10::ArrayRef<double> light) {
  SDFRenderArgs args = sdf_render_args(sdf_in, c2w_in, box, height, width, focal, supersample, ambient,
                                       diffuse, albedo, light);
  set_sdf_trace(args, near, far, eps, step_scale, min_step, max_steps, refine_steps);
  check_sdf_images(background_in, "background", sdf_in, args, 3);
  const at::Tensor sdf = sdf_in.contiguous(), c2w = c2w_in.contiguous();
  const at::Tensor background = background_in.contiguous();
  const SDFRenderTensors out = sdf_render_outputs(sdf, args);
  AT_DISPATCH_FLOATING_TYPES(sdf.scalar_type(), "sdf_render_forward", [&] {
    sdf_render_forward_cpu<scalar_t>(args, sdf.data_ptr<scalar_t>(), c2w.data_ptr<scalar_t>(),
                                     background.data_ptr<scalar_t>(), sdf_render_pointers<scalar_t>(out));
  });
  return out;
}

at::Tensor sdf_render_backward(const at::Tensor& sdf_in, const at::Tensor& c2w_in, const at::Tensor& hit_t_in,
                               const at::Tensor& grad_rgb_in, const at::Tensor& grad_depth_in,
                               const at::Tensor& grad_normal_in, c10::ArrayRef<double> box, int64_t height,
                               int64_t width, double focal, int64_t supersample, double ambient,
                               double diffuse, c10::ArrayRef<double> albedo, c10::ArrayRef<double> light) {
  const SDFRenderArgs args = sdf_render_args(sdf_in, c2w_in, box, height, width, focal, supersample,
                                             ambient, diffuse, albedo, light);
  check_sdf_render_grads(sdf_in, args, hit_t_in, grad_rgb_in, grad_depth_in, grad_normal_in);
  const at::Tensor sdf = sdf_in.contiguous(), c2w = c2w_in.contiguous(), hit_t = hit_t_in.contiguous();
  const at::Tensor g_rgb = grad_rgb_in.contiguous(), g_depth = grad_depth_in.contiguous();
  const at::Tensor g_normal = grad_normal_in.contiguous();
  at::Tensor grad = at::zeros_like(sdf);
  AT_DISPATCH_FLOATING_TYPES(sdf.scalar_type(), "sdf_render_backward", [&] {
    sdf_render_backward_cpu<scalar_t>(
        args, sdf.data_ptr<scalar_t>(), c2w.data_ptr<scalar_t>(), hit_t.data_ptr<scalar_t>(),
        {g_rgb.data_ptr<scalar_t>(), g_depth.data_ptr<scalar_t>(), g_normal.data_ptr<scalar_t>()},
        grad.data_ptr<scalar_t>());
  });
  return grad;
}

bool has_cuda() {
#ifdef WITH_CUDA
  return true;
#else
  return false;
#endif
}

}  // namespace

TORCH_LIBRARY(dream3d, m) {
  m.def("render_forward(Tensor density, Tensor rays_o, Tensor rays_d, float[] box, float step_size, "
        "float act_shift, float interval, float near, float far, float t_thres, float weight_thres) "
        "-> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("render_backward(Tensor density, Tensor rays_o, Tensor rays_d, float[] box, float step_size, "
        "float act_shift, float interval, float near, float far, float t_thres, float weight_thres, "
        "Tensor ray_offsets, Tensor step_ids, Tensor weights, Tensor T_final, Tensor grad_weights, "
        "Tensor grad_T_final) -> Tensor");
  m.def("trilinear_forward(Tensor grid, Tensor points, float[] box) -> Tensor");
  m.def("trilinear_backward(Tensor grid, Tensor points, float[] box, Tensor grad_values, "
        "bool need_points_grad) -> (Tensor, Tensor)");
  m.def("total_variation(Tensor grid, float[] axis_weights) -> (Tensor, Tensor)");
  m.def("sdf_to_density(Tensor sdf, float beta, float shift) -> Tensor");
  m.def("sdf_to_density_backward(Tensor sdf, Tensor grad_density, float beta, float shift) -> Tensor");
  m.def("prior_loss(Tensor density, Tensor sdf, float act_shift, float interval) -> (Tensor, Tensor, Tensor)");
  m.def("sdf_render_forward(Tensor sdf, Tensor c2w, Tensor background, float[] box, int height, "
        "int width, float focal, int supersample, float near, float far, float eps, float step_scale, "
        "float min_step, int max_steps, int refine_steps, float ambient, float diffuse, float[] albedo, "
        "float[] light) -> (Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def("sdf_render_backward(Tensor sdf, Tensor c2w, Tensor hit_t, Tensor grad_rgb, Tensor grad_depth, "
        "Tensor grad_normal, float[] box, int height, int width, float focal, int supersample, "
        "float ambient, float diffuse, float[] albedo, float[] light) -> Tensor");
  m.def("has_cuda() -> bool", &has_cuda);
}

TORCH_LIBRARY_IMPL(dream3d, CPU, m) {
  m.impl("render_forward", &render_forward);
  m.impl("render_backward", &render_backward);
  m.impl("trilinear_forward", &trilinear_forward);
  m.impl("trilinear_backward", &trilinear_backward);
  m.impl("total_variation", &total_variation);
  m.impl("sdf_to_density", &sdf_to_density);
  m.impl("sdf_to_density_backward", &sdf_to_density_backward);
  m.impl("prior_loss", &prior_loss);
  m.impl("sdf_render_forward", &sdf_render_forward);
  m.impl("sdf_render_backward", &sdf_render_backward);
}

}  // namespace dream3d

// Importing dream3d._C runs the static registrations above; the module itself holds nothing.
extern "C" PyObject* PyInit__C(void) {
  static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module);
}
