// The per-ray march of the DVGO volume renderer, forward and backward, written once for CPU and CUDA.
#pragma once

#include "common/math.h"
#include "volume_render/volume_render.h"

namespace dream3d {

template <typename T>
struct RenderParams {
  GridBox<T> grid;
  T step_size, act_shift, interval, near, far, t_thres, weight_thres;
};

template <typename T>
D3D_HD RenderParams<T> make_params(const RenderArgs& a) {
  return {make_grid_box<T>(a.box, a.size, a.stride), T(a.step_size), T(a.act_shift), T(a.interval),
          T(a.near), T(a.far), T(a.t_thres), T(a.weight_thres)};
}

// Locates the sample at t along the ray; false when rounding at a face puts it outside the bbox,
// where a sample is empty (alpha = 0, no gradient).
template <typename T>
D3D_HD bool locate_sample(const RenderParams<T>& p, const T o[3], const T d[3], T t, Cell<T>& cell) {
  const T x[3] = {o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]};
  return locate(p.grid, x, cell);
}

// Forward march of one ray. Calls emit(k, t, w) for every kept sample, in order; returns T_final.
template <typename T, typename Emit>
D3D_HD T march_forward(const T* density, const RenderParams<T>& p, const T o[3], const T d[3],
                       Emit& emit) {
  T t0, t1;
  if (!ray_box(p.grid, o, d, p.near, p.far, t0, t1)) return T(1);
  T trans = T(1);
  for (int64_t k = 0;; ++k) {
    const T t = t0 + static_cast<T>(k) * p.step_size;
    if (!(t < t1) || trans < p.t_thres) break;
    Cell<T> cell;
    if (!locate_sample(p, o, d, t, cell)) continue;
    const T keep = activate(interpolate(density, cell) + p.act_shift, p.interval).keep;  // 1 - alpha
    const T w = trans * (T(1) - keep);
    if (w > p.weight_thres) emit(k, t, w);
    trans *= keep;
  }
  return trans;
}

// Backward march of one ray. The ray's kept samples are step_ids/weights/grad_w[0:n_kept] (saved by
// the forward); dropped samples have dL/dw = 0. Calls scatter(cell, dL/draw) for every marched sample
// inside the bbox. dL/draw_k = interval * sigmoid(raw_k + b) * (g_k T_k (1 - alpha_k) - S_k), where
// S_k = sum_{j>k} g_j w_j + g_T T_final = A - P_k is a suffix sum taken from the total A.
template <typename T, typename Scatter>
D3D_HD void march_backward(const T* density, const RenderParams<T>& p, const T o[3], const T d[3],
                           const int32_t* step_ids, const T* weights, const T* grad_w,
                           int64_t n_kept, T t_final, T grad_t_final, Scatter& scatter) {
  T t0, t1;
  if (!ray_box(p.grid, o, d, p.near, p.far, t0, t1)) return;
  T total = grad_t_final * t_final;
  for (int64_t i = 0; i < n_kept; ++i) total += grad_w[i] * weights[i];
  T prefix = T(0);
  T trans = T(1);
  int64_t next = 0;
  for (int64_t k = 0;; ++k) {
    const T t = t0 + static_cast<T>(k) * p.step_size;
    if (!(t < t1) || trans < p.t_thres) break;
    Cell<T> cell;
    if (!locate_sample(p, o, d, t, cell)) continue;  // empty: never kept, no gradient
    const Activation<T> act = activate(interpolate(density, cell) + p.act_shift, p.interval);
    const T keep = act.keep;
    T g = T(0);
    if (next < n_kept && step_ids[next] == k) {
      g = grad_w[next];
      prefix += g * weights[next];
      ++next;
    }
    scatter(cell, p.interval * act.sigmoid * (g * trans * keep - (total - prefix)));
    trans *= keep;
  }
}

}  // namespace dream3d
