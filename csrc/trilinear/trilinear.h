// Launchers of the multi-channel trilinear gather (align_corners=True, zero outside the bbox).
// Raw pointers only. The (C, X, Y, Z) grid is read through its strides, so any dense layout works.
#pragma once

#include <cstdint>

#if defined(WITH_CUDA) || defined(__CUDACC__)
#include <cuda_runtime.h>
#endif

namespace dream3d {

struct TrilinearArgs {
  double box[6];
  int64_t size[3];
  int64_t stride[3];
  int64_t channels;
  int64_t channel_stride;
  int64_t n_points;
};

// values: (N, C) contiguous.
template <typename T>
void trilinear_forward_cpu(const TrilinearArgs& args, const T* grid, const T* points, T* values);

// grad_grid (same layout as grid) must be zeroed; grad_points (N, 3) may be null.
template <typename T>
void trilinear_backward_cpu(const TrilinearArgs& args, const T* grid, const T* points,
                            const T* grad_values, T* grad_grid, T* grad_points);

#if defined(WITH_CUDA) || defined(__CUDACC__)
template <typename T>
void trilinear_forward_cuda(const TrilinearArgs& args, const T* grid, const T* points, T* values,
                            cudaStream_t stream);

template <typename T>
void trilinear_backward_cuda(const TrilinearArgs& args, const T* grid, const T* points,
                             const T* grad_values, T* grad_grid, T* grad_points, cudaStream_t stream);
#endif

}  // namespace dream3d
