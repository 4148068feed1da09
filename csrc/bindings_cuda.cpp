// CUDA dispatch-key registrations of dream3d's ops (schemas in bindings.cpp). Built only with CUDA.
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "common/launch.h"
#include "op_wrappers.h"

namespace dream3d {
namespace {

cudaStream_t stream_of(const at::Tensor& t) {
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
}

// The CUDA device policy of op_wrappers.h: the tensor's device is made current, and each launcher runs
// on its current stream.
struct Cuda {
  struct Guard {
    explicit Guard(const at::Tensor& t) : guard(t.device()) {}
    c10::cuda::CUDAGuard guard;
  };
#define D3D_CUDA_LAUNCHER(name)                          \
  template <typename T, typename... Args>                \
  static void name(const at::Tensor& on, Args... args) { \
    name##_cuda<T>(args..., stream_of(on));              \
  }
  D3D_CUDA_LAUNCHER(render_backward)
  D3D_CUDA_LAUNCHER(trilinear_forward)
  D3D_CUDA_LAUNCHER(trilinear_backward)
  D3D_CUDA_LAUNCHER(sdf_to_density)
  D3D_CUDA_LAUNCHER(sdf_to_density_backward)
  D3D_CUDA_LAUNCHER(sdf_render_forward)
  D3D_CUDA_LAUNCHER(sdf_render_backward)
  D3D_CUDA_LAUNCHER(composite_forward)
  D3D_CUDA_LAUNCHER(composite_backward)
#undef D3D_CUDA_LAUNCHER

  // The loss reductions sum per block into scratch of cuda_blocks(n) doubles (from torch's caching
  // allocator; freed after the launch in stream order), then those in a fixed order: repeatable sums.
  static at::Tensor partials(const at::Tensor& on, int64_t n) {
    return at::empty({cuda_blocks(n)}, on.options().dtype(at::kDouble));
  }
  template <typename T>
  static void total_variation(const at::Tensor& on, const TVArgs& a, const T* grid, T* grad, T* loss) {
    const at::Tensor scratch = partials(on, a.size[0] * a.size[1] * a.size[2] * a.size[3]);
    total_variation_cuda<T>(a, grid, grad, loss, scratch.data_ptr<double>(), stream_of(on));
  }
  template <typename T>
  static void prior_loss(const at::Tensor& on, int64_t n, const T* density, const T* sdf, double act_shift,
                         double interval, T* grad, T* loss, int64_t* count) {
    const at::Tensor scratch = partials(on, n);
    prior_loss_cuda<T>(n, density, sdf, T(act_shift), T(interval), grad, loss, count, scratch.data_ptr<double>(),
                       stream_of(on));
  }
};

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> render_forward(
    const at::Tensor& density_in, const at::Tensor& rays_o_in, const at::Tensor& rays_d_in,
    c10::ArrayRef<double> box, double step_size, double act_shift, double interval, double near, double far,
    double t_thres, double weight_thres) {
  const RenderInputs in = render_inputs(density_in, rays_o_in, rays_d_in, box, step_size,
                                        act_shift, interval, near, far, t_thres, weight_thres);
  const c10::cuda::CUDAGuard guard(density_in.device());  // after the checks (see op_wrappers.h)
  const at::Tensor &density = in.density, &rays_o = in.rays_o, &rays_d = in.rays_d;
  const RenderArgs& args = in.args;
  const int64_t n_rays = args.n_rays;
  const cudaStream_t stream = stream_of(density);
  at::Tensor t_final = at::empty({n_rays}, density.options());
  at::Tensor counts = at::empty({n_rays}, density.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES(density.scalar_type(), "render_count", [&] {
    render_count_cuda<scalar_t>(args, density.data_ptr<scalar_t>(), rays_o.data_ptr<scalar_t>(),
                                rays_d.data_ptr<scalar_t>(), counts.data_ptr<int64_t>(),
                                t_final.data_ptr<scalar_t>(), stream);
  });
  at::Tensor offsets = at::zeros({n_rays + 1}, counts.options());
  offsets.slice(0, 1).copy_(counts.cumsum(0));
  const int64_t n = offsets[n_rays].item<int64_t>();  // the one sync: output sizes depend on it
  at::Tensor ray_ids = at::empty({n}, counts.options());
  at::Tensor step_ids = at::empty({n}, counts.options().dtype(at::kInt));
  at::Tensor t = at::empty({n}, density.options());
  at::Tensor weights = at::empty({n}, density.options());
  AT_DISPATCH_FLOATING_TYPES(density.scalar_type(), "render_fill", [&] {
    render_fill_cuda<scalar_t>(args, density.data_ptr<scalar_t>(), rays_o.data_ptr<scalar_t>(),
                               rays_d.data_ptr<scalar_t>(), offsets.data_ptr<int64_t>(),
                               ray_ids.data_ptr<int64_t>(), step_ids.data_ptr<int32_t>(),
                               t.data_ptr<scalar_t>(), weights.data_ptr<scalar_t>(), stream);
  });
  return {ray_ids, step_ids, t, weights, t_final, offsets};
}

}  // namespace

TORCH_LIBRARY_IMPL(dream3d, CUDA, m) {
  m.impl("render_forward", &render_forward);
  register_wrappers<Cuda>(m);
}

}  // namespace dream3d
