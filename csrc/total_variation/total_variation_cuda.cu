// CUDA kernel of the fused total variation: one thread per voxel writes its gradient; the loss is
// summed per block in double into a scratch buffer, then those partials in a fixed order by one block,
// so the loss repeats bit for bit from run to run (float atomics would not), like the CPU's double sum.
#include "total_variation/total_variation.h"

#include "common/cuda_utils.h"
#include "total_variation/total_variation_voxel.h"

namespace dream3d {
namespace {

// The per-axis loss scales, computed once on the host (three double divides) rather than per voxel.
template <typename T>
struct TVScale {
  T axis[3];
};

template <typename T>
__global__ void tv_kernel(TVArgs a, TVScale<T> scale, const T* __restrict__ grid, T* grad, double* partials) {
  const int64_t total = a.size[0] * a.size[1] * a.size[2] * a.size[3];
  const int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  T mine = T(0);
  if (v < total) {
    int64_t idx[3] = {(v / (a.size[2] * a.size[3])) % a.size[1], (v / a.size[3]) % a.size[2],
                      v % a.size[3]};
    mine = tv_voxel(a, scale.axis, grid, grad, v / (a.size[1] * a.size[2] * a.size[3]), idx);
  }
  const double block = block_sum(static_cast<double>(mine));  // every thread: it synchronises
  if (threadIdx.x == 0) partials[blockIdx.x] = block;
}

}  // namespace

template <typename T>
void total_variation_cuda(const TVArgs& a, const T* grid, T* grad, T* loss, double* partials,
                          cudaStream_t stream) {
  const int64_t total = a.size[0] * a.size[1] * a.size[2] * a.size[3];
  if (total == 0) return;  // a grid of 0 channels: loss 0 (zeroed by the caller), as on the CPU
  TVScale<T> scale;
  tv_axis_scale(a, scale.axis);
  const int64_t blocks = cuda_blocks(total);
  tv_kernel<T><<<blocks_for(total), kThreads, 0, stream>>>(a, scale, grid, grad, partials);
  check_launch("total_variation_cuda");
  sum_partials_kernel<T><<<1, kThreads, 0, stream>>>(partials, blocks, loss);
  check_launch("total_variation_cuda (sum)");
}

template void total_variation_cuda<float>(const TVArgs&, const float*, float*, float*, double*, cudaStream_t);
template void total_variation_cuda<double>(const TVArgs&, const double*, double*, double*, double*,
                                           cudaStream_t);

}  // namespace dream3d
