// CUDA kernels of the SDF renderer: one thread per pixel, the per-pixel work from sdf_render_trace.h;
// the backward scatters into the grids with atomics.
#include "sdf_render/sdf_render.h"

#include "common/cuda_utils.h"
#include "sdf_render/sdf_render_trace.h"

namespace dream3d {
namespace {

template <typename T>
__global__ void forward_kernel(SDFParams<T> p, int64_t pixels, const T* __restrict__ sdf,
                               const T* __restrict__ c2w, const T* __restrict__ background,
                               SDFRenderOutputs<T> out) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= pixels) return;
  render_pixel(sdf + batch_of(p, i) * p.grid_numel, c2w, background, p, i, out);
}

template <typename T>
__global__ void backward_kernel(SDFParams<T> p, int64_t pixels, const T* __restrict__ sdf,
                                const T* __restrict__ c2w, const T* __restrict__ hit_t,
                                SDFRenderGrads<T> grads, T* grad_sdf) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= pixels) return;
  const int64_t grid = batch_of(p, i) * p.grid_numel;
  AtomicAddAt<T> add{grad_sdf + grid};
  backward_pixel(sdf + grid, c2w, hit_t, grads, p, i, add);
}

int64_t pixels_of(const SDFRenderArgs& a) { return a.batch * a.views * a.height * a.width; }

}  // namespace

template <typename T>
void sdf_render_forward_cuda(const SDFRenderArgs& a, const T* sdf, const T* c2w, const T* background,
                             const SDFRenderOutputs<T>& out, cudaStream_t stream) {
  const int64_t pixels = pixels_of(a);
  if (pixels == 0) return;
  forward_kernel<T><<<blocks_for(pixels), kThreads, 0, stream>>>(make_sdf_params<T>(a), pixels, sdf, c2w,
                                                                  background, out);
  check_launch("sdf_render_forward_cuda");
}

template <typename T>
void sdf_render_backward_cuda(const SDFRenderArgs& a, const T* sdf, const T* c2w, const T* hit_t,
                              const SDFRenderGrads<T>& grads, T* grad_sdf, cudaStream_t stream) {
  const int64_t pixels = pixels_of(a);
  if (pixels == 0) return;
  backward_kernel<T><<<blocks_for(pixels), kThreads, 0, stream>>>(make_sdf_params<T>(a), pixels, sdf, c2w,
                                                                   hit_t, grads, grad_sdf);
  check_launch("sdf_render_backward_cuda");
}

#define D3D_INSTANTIATE(T)                                                                          \
  template void sdf_render_forward_cuda<T>(const SDFRenderArgs&, const T*, const T*, const T*,     \
                                           const SDFRenderOutputs<T>&, cudaStream_t);               \
  template void sdf_render_backward_cuda<T>(const SDFRenderArgs&, const T*, const T*, const T*,    \
                                            const SDFRenderGrads<T>&, T*, cudaStream_t);
D3D_INSTANTIATE(float)
D3D_INSTANTIATE(double)
#undef D3D_INSTANTIATE

}  // namespace dream3d
