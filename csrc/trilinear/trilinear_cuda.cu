// CUDA kernels of the trilinear gather: one thread per point; the backward scatters with atomics.
#include "trilinear/trilinear.h"

#include "common/cuda_utils.h"
#include "trilinear/trilinear_point.h"

namespace dream3d {
namespace {

template <typename T>
__global__ void forward_kernel(GridBox<T> g, TrilinearArgs a, const T* __restrict__ grid,
                               const T* __restrict__ points, T* values) {
  const int64_t n = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (n >= a.n_points) return;
  gather_point(g, a, grid, points + 3 * n, values + n * a.channels);
}

template <typename T>
__global__ void backward_kernel(GridBox<T> g, TrilinearArgs a, const T* __restrict__ grid,
                                const T* __restrict__ points, const T* __restrict__ grad_values,
                                T* grad_grid, T* grad_points) {
  const int64_t n = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (n >= a.n_points) return;
  AtomicAddAt<T> add{grad_grid};
  scatter_point(g, a, points + 3 * n, grad_values + n * a.channels, 0, a.channels, add);
  if (grad_points) point_grad(g, a, grid, points + 3 * n, grad_values + n * a.channels, grad_points + 3 * n);
}

}  // namespace

template <typename T>
void trilinear_forward_cuda(const TrilinearArgs& a, const T* grid, const T* points, T* values,
                            cudaStream_t stream) {
  if (a.n_points == 0) return;
  forward_kernel<T><<<blocks_for(a.n_points), kThreads, 0, stream>>>(
      make_grid_box<T>(a.box, a.size, a.stride), a, grid, points, values);
  check_launch("trilinear_forward_cuda");
}

template <typename T>
void trilinear_backward_cuda(const TrilinearArgs& a, const T* grid, const T* points,
                             const T* grad_values, T* grad_grid, T* grad_points, cudaStream_t stream) {
  if (a.n_points == 0) return;
  backward_kernel<T><<<blocks_for(a.n_points), kThreads, 0, stream>>>(
      make_grid_box<T>(a.box, a.size, a.stride), a, grid, points, grad_values, grad_grid, grad_points);
  check_launch("trilinear_backward_cuda");
}

template void trilinear_forward_cuda<float>(const TrilinearArgs&, const float*, const float*, float*,
                                            cudaStream_t);
template void trilinear_forward_cuda<double>(const TrilinearArgs&, const double*, const double*,
                                             double*, cudaStream_t);
template void trilinear_backward_cuda<float>(const TrilinearArgs&, const float*, const float*,
                                             const float*, float*, float*, cudaStream_t);
template void trilinear_backward_cuda<double>(const TrilinearArgs&, const double*, const double*,
                                              const double*, double*, double*, cudaStream_t);

}  // namespace dream3d
