// CUDA kernels of the fused DVGO volume renderer: one thread per ray, the march from
// volume_render_march.h. Forward in two passes (count, then fill at scanned offsets).
// Every read of the packed samples and every write of them stays inside the ray's
// [offsets[r], offsets[r + 1]) clipped to [0, n_samples): the two forward passes march the same samples,
// and the backward's offsets come from its forward, but a violated assumption must not become an
// out-of-bounds access that poisons the CUDA context.
#include "volume_render/volume_render.h"

#include "common/cuda_utils.h"
#include "volume_render/volume_render_march.h"

namespace dream3d {
namespace {

template <typename T>
struct CountSamples {
  int64_t n = 0;
  __device__ void operator()(int64_t, T, T) { ++n; }
};

template <typename T>
struct WriteSamples {
  int64_t ray, next, end;  // end: the ray's offsets[r + 1], a bound as in the CPU and Triton fills
  int64_t* ray_ids;
  int32_t* step_ids;
  T* t;
  T* weights;
  __device__ void operator()(int64_t k, T tk, T w) {
    if (next >= end) return;
    ray_ids[next] = ray;
    step_ids[next] = static_cast<int32_t>(k);
    t[next] = tk;
    weights[next] = w;
    ++next;
  }
};

template <typename T>
__global__ void count_kernel(RenderParams<T> p, int64_t n_rays, const T* __restrict__ density,
                             const T* __restrict__ rays_o, const T* __restrict__ rays_d,
                             int64_t* counts, T* t_final) {
  const int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (r >= n_rays) return;
  CountSamples<T> count;
  t_final[r] = march_forward(density, p, rays_o + 3 * r, rays_d + 3 * r, count);
  counts[r] = count.n;
}

template <typename T>
__global__ void fill_kernel(RenderParams<T> p, int64_t n_rays, const T* __restrict__ density,
                            const T* __restrict__ rays_o, const T* __restrict__ rays_d,
                            const int64_t* __restrict__ offsets, int64_t* ray_ids, int32_t* step_ids,
                            T* t, T* weights) {
  const int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (r >= n_rays) return;
  const int64_t begin = offsets[r], end = offsets[r + 1];
  if (begin >= end) return;
  WriteSamples<T> write{r, begin, end, ray_ids, step_ids, t, weights};
  march_forward(density, p, rays_o + 3 * r, rays_d + 3 * r, write);
}

template <typename T>
__global__ void backward_kernel(RenderParams<T> p, int64_t n_rays, int64_t n_samples,
                                const T* __restrict__ density,
                                const T* __restrict__ rays_o, const T* __restrict__ rays_d,
                                const int64_t* __restrict__ offsets, const int32_t* __restrict__ step_ids,
                                const T* __restrict__ weights, const T* __restrict__ t_final,
                                const T* __restrict__ grad_w, const T* __restrict__ grad_t_final,
                                T* grad_density) {
  const int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (r >= n_rays) return;
  const int64_t clip_lo = offsets[r] < 0 ? 0 : offsets[r];
  const int64_t begin = clip_lo < n_samples ? clip_lo : n_samples;
  const int64_t end = offsets[r + 1] < n_samples ? offsets[r + 1] : n_samples;
  AtomicAddAt<T> add{grad_density};
  march_backward(density, p, rays_o + 3 * r, rays_d + 3 * r, step_ids + begin, weights + begin,
                 grad_w + begin, end > begin ? end - begin : 0, t_final[r], grad_t_final[r], add);
}

}  // namespace

template <typename T>
void render_count_cuda(const RenderArgs& a, const T* density, const T* rays_o, const T* rays_d,
                       int64_t* counts, T* t_final, cudaStream_t stream) {
  if (a.n_rays == 0) return;
  count_kernel<T><<<blocks_for(a.n_rays), kThreads, 0, stream>>>(make_params<T>(a), a.n_rays, density,
                                                                 rays_o, rays_d, counts, t_final);
  check_launch("render_count_cuda");
}

template <typename T>
void render_fill_cuda(const RenderArgs& a, const T* density, const T* rays_o, const T* rays_d,
                      const int64_t* ray_offsets, int64_t* ray_ids, int32_t* step_ids, T* t, T* weights,
                      cudaStream_t stream) {
  if (a.n_rays == 0) return;
  fill_kernel<T><<<blocks_for(a.n_rays), kThreads, 0, stream>>>(
      make_params<T>(a), a.n_rays, density, rays_o, rays_d, ray_offsets, ray_ids, step_ids, t, weights);
  check_launch("render_fill_cuda");
}

template <typename T>
void render_backward_cuda(const RenderArgs& a, const T* density, const T* rays_o, const T* rays_d,
                          const int64_t* ray_offsets, const int32_t* step_ids, const T* weights,
                          const T* t_final, const T* grad_w, const T* grad_t_final, T* grad_density,
                          cudaStream_t stream) {
  if (a.n_rays == 0) return;
  backward_kernel<T><<<blocks_for(a.n_rays), kThreads, 0, stream>>>(
      make_params<T>(a), a.n_rays, a.n_samples, density, rays_o, rays_d, ray_offsets, step_ids, weights, t_final,
      grad_w, grad_t_final, grad_density);
  check_launch("render_backward_cuda");
}

#define D3D_INSTANTIATE(T)                                                                          \
  template void render_count_cuda<T>(const RenderArgs&, const T*, const T*, const T*, int64_t*, T*, \
                                     cudaStream_t);                                                 \
  template void render_fill_cuda<T>(const RenderArgs&, const T*, const T*, const T*, const int64_t*, \
                                    int64_t*, int32_t*, T*, T*, cudaStream_t);                      \
  template void render_backward_cuda<T>(const RenderArgs&, const T*, const T*, const T*,            \
                                        const int64_t*, const int32_t*, const T*, const T*,         \
                                        const T*, const T*, T*, cudaStream_t);
D3D_INSTANTIATE(float)
D3D_INSTANTIATE(double)
#undef D3D_INSTANTIATE

}  // namespace dream3d
