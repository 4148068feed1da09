// Launchers of the compositing of packed per-sample colours: out[r] = sum_{k: ray_ids[k] = r} w_k c_k
// (the background term T_final * bg is added by the caller), and its backward to weights and colours.
#pragma once

#include <cstdint>

#if defined(WITH_CUDA) || defined(__CUDACC__)
#include <cuda_runtime.h>
#endif

namespace dream3d {

struct CompositeArgs {
  int64_t n_samples;
  int64_t n_rays;
  int64_t channels;
};

// ray_ids (N) in [0, R), weights (N), colors (N, C) contiguous; out (R, C), zeroed by the caller.
template <typename T>
void composite_forward_cpu(const CompositeArgs& args, const int64_t* ray_ids, const T* weights, const T* colors,
                           T* out);

// grad_weights[k] = sum_c colors[k, c] g[r, c], grad_colors[k, c] = weights[k] g[r, c], r = ray_ids[k].
template <typename T>
void composite_backward_cpu(const CompositeArgs& args, const int64_t* ray_ids, const T* weights, const T* colors,
                            const T* grad_out, T* grad_weights, T* grad_colors);

#if defined(WITH_CUDA) || defined(__CUDACC__)
template <typename T>
void composite_forward_cuda(const CompositeArgs& args, const int64_t* ray_ids, const T* weights, const T* colors,
                            T* out, cudaStream_t stream);

template <typename T>
void composite_backward_cuda(const CompositeArgs& args, const int64_t* ray_ids, const T* weights,
                             const T* colors, const T* grad_out, T* grad_weights, T* grad_colors,
                             cudaStream_t stream);
#endif

}  // namespace dream3d
