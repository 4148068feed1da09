// CUDA kernels of the elementwise SDF ops: one thread per element; the loss is reduced per block.
#include "sdf_density/sdf_density.h"

#include "common/cuda_utils.h"
#include "sdf_density/sdf_density_elem.h"

namespace dream3d {
namespace {

template <typename T>
__global__ void density_kernel(int64_t n, const T* __restrict__ sdf, T beta, T shift, T* v) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < n) v[i] = sdf_density(sdf[i], beta, shift).v;
}

template <typename T>
__global__ void density_backward_kernel(int64_t n, const T* __restrict__ sdf, const T* __restrict__ grad_v,
                                        T beta, T shift, T* grad_sdf) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i < n) grad_sdf[i] = grad_v[i] * sdf_density(sdf[i], beta, shift).dv_dsdf;
}

template <typename T>
__global__ void prior_kernel(int64_t n, const T* __restrict__ density, const T* __restrict__ sdf,
                             T act_shift, T interval, T* grad, T* loss, unsigned long long* count) {
  __shared__ T partial[kThreads];
  __shared__ unsigned int inside[kThreads];
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  T value = T(0);
  unsigned int hit = 0;
  if (i < n) {
    if (sdf[i] < T(0)) {
      const PriorTerm<T> term = prior_term(density[i], act_shift, interval);
      value = term.value;
      grad[i] = term.grad;
      hit = 1;
    } else {
      grad[i] = T(0);
    }
  }
  partial[threadIdx.x] = value;
  inside[threadIdx.x] = hit;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) {
      partial[threadIdx.x] += partial[threadIdx.x + s];
      inside[threadIdx.x] += inside[threadIdx.x + s];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    atomicAdd(loss, partial[0]);
    atomicAdd(count, static_cast<unsigned long long>(inside[0]));
  }
}

}  // namespace

template <typename T>
void sdf_to_density_cuda(int64_t n, const T* sdf, T beta, T shift, T* v, cudaStream_t stream) {
  if (n == 0) return;
  density_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(n, sdf, beta, shift, v);
  check_launch("sdf_to_density_cuda");
}

template <typename T>
void sdf_to_density_backward_cuda(int64_t n, const T* sdf, const T* grad_v, T beta, T shift, T* grad_sdf,
                                  cudaStream_t stream) {
  if (n == 0) return;
  density_backward_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(n, sdf, grad_v, beta, shift, grad_sdf);
  check_launch("sdf_to_density_backward_cuda");
}

template <typename T>
void prior_loss_cuda(int64_t n, const T* density, const T* sdf, T act_shift, T interval, T* grad, T* loss,
                     int64_t* count, cudaStream_t stream) {
  if (n == 0) return;
  // atomicAdd has no int64_t overload; the count is non-negative, so its bits are the same
  prior_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(n, density, sdf, act_shift, interval, grad, loss,
                                                          reinterpret_cast<unsigned long long*>(count));
  check_launch("prior_loss_cuda");
}

#define D3D_INSTANTIATE(T)                                                                         \
  template void sdf_to_density_cuda<T>(int64_t, const T*, T, T, T*, cudaStream_t);                 \
  template void sdf_to_density_backward_cuda<T>(int64_t, const T*, const T*, T, T, T*, cudaStream_t); \
  template void prior_loss_cuda<T>(int64_t, const T*, const T*, T, T, T*, T*, int64_t*, cudaStream_t);
D3D_INSTANTIATE(float)
D3D_INSTANTIATE(double)
#undef D3D_INSTANTIATE

}  // namespace dream3d
