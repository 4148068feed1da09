// The per-sample work of compositing, written once for CPU and CUDA.
#pragma once

#include "common/math.h"
#include "composite/composite.h"

namespace dream3d {

// Whether sample k's ray id names a row of the output (the CPU checks all ids up front; a GPU check
// would cost a host sync, so its kernels skip the samples that fail this).
D3D_HD bool composite_row_ok(const CompositeArgs& a, const int64_t* ray_ids, int64_t k) {
  return ray_ids[k] >= 0 && ray_ids[k] < a.n_rays;
}

// Adds sample k's w_k c_k to its ray's row through add(offset, value).
template <typename T, typename Add>
D3D_HD void composite_sample(const CompositeArgs& a, const int64_t* ray_ids, const T* weights, const T* colors,
                             int64_t k, Add& add) {
  if (!composite_row_ok(a, ray_ids, k)) return;
  const int64_t row = ray_ids[k] * a.channels;
  for (int64_t c = 0; c < a.channels; ++c) add(row + c, weights[k] * colors[k * a.channels + c]);
}

// Sample k's gradients: dL/dw_k = c_k . g_r, dL/dc_k = w_k g_r.
template <typename T>
D3D_HD void composite_sample_backward(const CompositeArgs& a, const int64_t* ray_ids, const T* weights,
                                      const T* colors, const T* grad_out, int64_t k, T* grad_weights,
                                      T* grad_colors) {
  if (!composite_row_ok(a, ray_ids, k)) {
    for (int64_t c = 0; c < a.channels; ++c) grad_colors[k * a.channels + c] = T(0);
    grad_weights[k] = T(0);
    return;
  }
  const T* g = grad_out + ray_ids[k] * a.channels;
  T dot = T(0);
  for (int64_t c = 0; c < a.channels; ++c) {
    dot += colors[k * a.channels + c] * g[c];
    grad_colors[k * a.channels + c] = weights[k] * g[c];
  }
  grad_weights[k] = dot;
}

}  // namespace dream3d
