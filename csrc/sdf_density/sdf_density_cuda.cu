// CUDA kernels of the elementwise SDF ops: one thread per element; the loss is summed per block in double,
// then the blocks' partials in a fixed order (repeatable bit for bit, unlike float atomics).
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
                             T act_shift, T interval, T* grad, double* partials, unsigned long long* count) {
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
  inside[threadIdx.x] = hit;
  const double block = block_sum(static_cast<double>(value));  // synchronises: inside[] is complete
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) inside[threadIdx.x] += inside[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    partials[blockIdx.x] = block;
    atomicAdd(count, static_cast<unsigned long long>(inside[0]));  // integer: exact in any order
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
                     int64_t* count, double* partials, cudaStream_t stream) {
  if (n == 0) return;
  // atomicAdd has no int64_t overload; the count is non-negative, so its bits are the same
  prior_kernel<T><<<blocks_for(n), kThreads, 0, stream>>>(n, density, sdf, act_shift, interval, grad,
                                                          partials,
                                                          reinterpret_cast<unsigned long long*>(count));
  check_launch("prior_loss_cuda");
  sum_partials_kernel<T><<<1, kThreads, 0, stream>>>(partials, cuda_blocks(n), loss);
  check_launch("prior_loss_cuda (sum)");
}

#define D3D_INSTANTIATE(T)                                                                         \
  template void sdf_to_density_cuda<T>(int64_t, const T*, T, T, T*, cudaStream_t);                 \
  template void sdf_to_density_backward_cuda<T>(int64_t, const T*, const T*, T, T, T*, cudaStream_t); \
  template void prior_loss_cuda<T>(int64_t, const T*, const T*, T, T, T*, T*, int64_t*, double*, cudaStream_t);
D3D_INSTANTIATE(float)
D3D_INSTANTIATE(double)
#undef D3D_INSTANTIATE

}  // namespace dream3d
