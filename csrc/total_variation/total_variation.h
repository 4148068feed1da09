// Launchers of the fused total-variation loss and gradient of a (C, X, Y, Z) grid (any dense layout):
// loss = sum_a w_a * mean over channels and neighbour pairs along axis a of (v[next] - v)^2.
#pragma once

#include <cstdint>

#if defined(WITH_CUDA) || defined(__CUDACC__)
#include <cuda_runtime.h>
#endif

namespace dream3d {

struct TVArgs {
  int64_t size[4];    // C, X, Y, Z
  int64_t stride[4];  // element strides of grid (and grad, which shares its layout)
  double axis_weight[3];
};

// Writes grad (same layout as grid) and the loss.
template <typename T>
void total_variation_cpu(const TVArgs& args, const T* grid, T* grad, T* loss);

#if defined(WITH_CUDA) || defined(__CUDACC__)
// Writes grad and the loss (left as the caller zeroed it for a grid of no voxels). partials: scratch of
// cuda_blocks(voxels) doubles (common/launch.h) for the per-block sums, reduced in a fixed order.
template <typename T>
void total_variation_cuda(const TVArgs& args, const T* grid, T* grad, T* loss, double* partials,
                          cudaStream_t stream);
#endif

}  // namespace dream3d
