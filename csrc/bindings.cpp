// The one file that registers dream3d's ops with torch (schemas + CPU kernels) and makes the
// extension importable as the Python module dream3d._C. CUDA kernels register in bindings_cuda.cpp.
#include <Python.h>
#include <torch/library.h>

#include "common/cpu_simd.h"
#include "op_wrappers.h"

namespace dream3d {
namespace {

// The CPU device policy of op_wrappers.h: no device to switch to; launchers take no stream.
struct Cpu {
  struct Guard {
    explicit Guard(const at::Tensor&) {}
  };
#define D3D_CPU_LAUNCHER(name)                        \
  template <typename T, typename... Args>             \
  static void name(const at::Tensor&, Args... args) { \
    name##_cpu<T>(args...);                           \
  }
  D3D_CPU_LAUNCHER(render_backward)
  D3D_CPU_LAUNCHER(trilinear_forward)
  D3D_CPU_LAUNCHER(trilinear_backward)
  D3D_CPU_LAUNCHER(total_variation)
  D3D_CPU_LAUNCHER(sdf_to_density)
  D3D_CPU_LAUNCHER(sdf_to_density_backward)
  D3D_CPU_LAUNCHER(prior_loss)
  D3D_CPU_LAUNCHER(sdf_render_forward)
  D3D_CPU_LAUNCHER(sdf_render_backward)
  D3D_CPU_LAUNCHER(composite_forward)
  D3D_CPU_LAUNCHER(composite_backward)
#undef D3D_CPU_LAUNCHER
};

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> render_forward(
    const at::Tensor& density_in, const at::Tensor& rays_o_in, const at::Tensor& rays_d_in,
    c10::ArrayRef<double> box, double step_size, double act_shift, double interval, double near, double far,
    double t_thres, double weight_thres) {
  const RenderInputs in = render_inputs(density_in, rays_o_in, rays_d_in, box, step_size,
                                        act_shift, interval, near, far, t_thres, weight_thres);
  const at::Tensor &density = in.density, &rays_o = in.rays_o, &rays_d = in.rays_d;
  const RenderArgs& args = in.args;
  const int64_t n_rays = args.n_rays;
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

bool has_cuda() {
#ifdef WITH_CUDA
  return true;
#else
  return false;
#endif
}

// Whether the CPU kernels take their AVX2 paths here (csrc/common/cpu_simd.h).
bool cpu_simd() { return cpu_has_avx2(); }

}  // namespace

TORCH_LIBRARY(dream3d, m) {
  m.def(
      "render_forward(Tensor density, Tensor rays_o, Tensor rays_d, float[] box, float step_size, "
      "float act_shift, float interval, float near, float far, float t_thres, float weight_thres) "
      "-> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def(
      "render_backward(Tensor density, Tensor rays_o, Tensor rays_d, float[] box, float step_size, "
      "float act_shift, float interval, float near, float far, float t_thres, float weight_thres, "
      "Tensor ray_offsets, Tensor step_ids, Tensor weights, Tensor T_final, Tensor grad_weights, "
      "Tensor grad_T_final) -> Tensor");
  m.def("trilinear_forward(Tensor grid, Tensor points, float[] box) -> Tensor");
  m.def(
      "trilinear_backward(Tensor grid, Tensor points, float[] box, Tensor grad_values, "
      "bool need_points_grad) -> (Tensor, Tensor)");
  m.def("total_variation(Tensor grid, float[] axis_weights) -> (Tensor, Tensor)");
  m.def("sdf_to_density(Tensor sdf, float beta, float shift) -> Tensor");
  m.def("sdf_to_density_backward(Tensor sdf, Tensor grad_density, float beta, float shift) -> Tensor");
  m.def(
      "prior_loss(Tensor density, Tensor sdf, float act_shift, float interval) -> (Tensor, Tensor, Tensor)");
  m.def(
      "sdf_render_forward(Tensor sdf, Tensor c2w, Tensor background, float[] box, int height, "
      "int width, float focal, int supersample, float near, float far, float eps, float step_scale, "
      "float min_step, int max_steps, int refine_steps, float ambient, float diffuse, float[] albedo, "
      "float[] light) -> (Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def(
      "sdf_render_backward(Tensor sdf, Tensor c2w, Tensor hit_t, Tensor grad_rgb, Tensor grad_depth, "
      "Tensor grad_normal, float[] box, int height, int width, float focal, int supersample, "
      "float ambient, float diffuse, float[] albedo, float[] light) -> Tensor");
  m.def("composite_forward(Tensor ray_ids, Tensor weights, Tensor colors, int n_rays) -> Tensor");
  m.def("composite_backward(Tensor ray_ids, Tensor weights, Tensor colors, Tensor grad_out) -> (Tensor, Tensor)");
  m.def("has_cuda() -> bool", &has_cuda);
  m.def("cpu_simd() -> bool", &cpu_simd);
}

TORCH_LIBRARY_IMPL(dream3d, CPU, m) {
  m.impl("render_forward", &render_forward);
  register_wrappers<Cpu>(m);
}

}  // namespace dream3d

// Importing dream3d._C runs the static registrations above; the module itself holds nothing.
extern "C" PyObject* PyInit__C(void) {
  static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_C", nullptr, -1, nullptr};
  return PyModule_Create(&module);
}
