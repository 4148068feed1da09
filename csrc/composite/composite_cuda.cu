// CUDA compositing: one thread per sample; the forward adds into the output with atomics.
#include "common/cuda_utils.h"
#include "composite/composite_sample.h"

namespace dream3d {
namespace {

template <typename T>
__global__ void composite_forward_kernel(CompositeArgs args, const int64_t* ray_ids, const T* weights,
                                         const T* colors, T* out) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= args.n_samples) return;
  AtomicAddAt<T> add{out};
  composite_sample(args, ray_ids, weights, colors, k, add);
}

template <typename T>
__global__ void composite_backward_kernel(CompositeArgs args, const int64_t* ray_ids, const T* weights,
                                          const T* colors, const T* grad_out, T* grad_weights, T* grad_colors) {
  const int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (k >= args.n_samples) return;
  composite_sample_backward(args, ray_ids, weights, colors, grad_out, k, grad_weights, grad_colors);
}

}  // namespace

template <typename T>
void composite_forward_cuda(const CompositeArgs& args, const int64_t* ray_ids, const T* weights, const T* colors,
                            T* out, cudaStream_t stream) {
  if (args.n_samples == 0) return;
  composite_forward_kernel<T><<<blocks_for(args.n_samples), kThreads, 0, stream>>>(args, ray_ids, weights,
                                                                                    colors, out);
  check_launch("composite_forward");
}

template <typename T>
void composite_backward_cuda(const CompositeArgs& args, const int64_t* ray_ids, const T* weights,
                             const T* colors, const T* grad_out, T* grad_weights, T* grad_colors,
                             cudaStream_t stream) {
  if (args.n_samples == 0) return;
  composite_backward_kernel<T><<<blocks_for(args.n_samples), kThreads, 0, stream>>>(
      args, ray_ids, weights, colors, grad_out, grad_weights, grad_colors);
  check_launch("composite_backward");
}

#define D3D_INSTANTIATE(T)                                                                                 \
  template void composite_forward_cuda<T>(const CompositeArgs&, const int64_t*, const T*, const T*, T*,  \
                                          cudaStream_t);                                                \
  template void composite_backward_cuda<T>(const CompositeArgs&, const int64_t*, const T*, const T*,     \
                                           const T*, T*, T*, cudaStream_t);
D3D_INSTANTIATE(float)
D3D_INSTANTIATE(double)
#undef D3D_INSTANTIATE

}  // namespace dream3d
