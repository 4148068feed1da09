// The per-ray march of the DVGO volume renderer, forward and backward, written once for CPU and CUDA.
//
// The march of one ray is a state machine fed one sample at a time (march_begin, march_sample, then
// forward_advance or backward_advance): a CUDA thread runs its ray to the end (march_forward,
// march_backward); the CPU runs the same loop with a prefetch of a later sample in front of each
// sample (volume_render_cpu.cpp).
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

// Where one ray's march stands: sample k sits at t = t0 + k * step_size; the march ends before the
// first sample with t >= t1 or T_k < t_thres.
template <typename T>
struct MarchState {
  T o[3], d[3];
  T t0, t1;     // the ray's overlap with the bbox, clipped to [near, far]
  T t;          // where sample k goes
  T trans;      // T_k, the transmittance in front of sample k
  int64_t k;    // index of the next sample
  bool done;    // no sample k: the ray missed the bbox, left it or became opaque
};

// Sample k of a ray: its cell and activation, or empty when rounding at a face puts it outside the
// bbox (alpha = 0, never kept, no gradient).
template <typename T>
struct MarchSample {
  bool inside;
  Cell<T> cell;
  Activation<T> act;  // keep = 1 - alpha
};

// Places sample k, or ends the march when there is none.
template <typename T>
D3D_HD void march_next(const RenderParams<T>& p, MarchState<T>& s) {
  s.t = s.t0 + static_cast<T>(s.k) * p.step_size;
  s.done = !(s.t < s.t1) || s.trans < p.t_thres;
}

// Starts the march of the ray o + t d (a miss is done at once, with trans = 1).
template <typename T>
D3D_HD void march_begin(const RenderParams<T>& p, const T o[3], const T d[3], MarchState<T>& s) {
  for (int a = 0; a < 3; ++a) s.o[a] = o[a], s.d[a] = d[a];
  s.trans = T(1);
  s.k = 0;
  if (!ray_box(p.grid, o, d, p.near, p.far, s.t0, s.t1)) {
    s.done = true;
    return;
  }
  march_next(p, s);
}

// Locates the point at t along the ray; false when it lies outside the closed bbox.
template <typename T>
D3D_HD bool locate_along(const RenderParams<T>& p, const MarchState<T>& s, T t, Cell<T>& cell) {
  const T x[3] = {s.o[0] + t * s.d[0], s.o[1] + t * s.d[1], s.o[2] + t * s.d[2]};
  return locate(p.grid, x, cell);
}

// Samples the density at sample k (the ray must not be done).
template <typename T>
D3D_HD MarchSample<T> march_sample(const T* density, const RenderParams<T>& p, const MarchState<T>& s) {
  MarchSample<T> m;
  m.inside = locate_along(p, s, s.t, m.cell);
  if (m.inside) m.act = activate(interpolate(density, m.cell) + p.act_shift, p.interval);
  return m;
}

// Moves past sample k, whose sample is m.
template <typename T>
D3D_HD void march_advance(const RenderParams<T>& p, MarchState<T>& s, const MarchSample<T>& m) {
  if (m.inside) s.trans *= m.act.keep;
  ++s.k;
  march_next(p, s);
}

// Forward: emits sample k through emit(k, t, w) if it is kept (w = T_k alpha_k > weight_thres), then
// moves past it. Once the ray is done, s.trans is T_final.
template <typename T, typename Emit>
D3D_HD void forward_advance(const RenderParams<T>& p, MarchState<T>& s, const MarchSample<T>& m,
                            Emit& emit) {
  if (m.inside) {
    const T w = s.trans * (T(1) - m.act.keep);
    if (w > p.weight_thres) emit(s.k, s.t, w);
  }
  march_advance(p, s, m);
}

// Forward march of one ray. Calls emit(k, t, w) for every kept sample, in order; returns T_final.
template <typename T, typename Emit>
D3D_HD T march_forward(const T* density, const RenderParams<T>& p, const T o[3], const T d[3],
                       Emit& emit) {
  MarchState<T> s;
  march_begin(p, o, d, s);
  while (!s.done) forward_advance(p, s, march_sample(density, p, s), emit);
  return s.trans;
}

// What the backward of one ray knows beside its march: the ray's kept samples
// step_ids/weights/grad_w[0:n_kept] (saved by the forward; dropped samples have dL/dw = 0), and the
// sums that give each sample's suffix S_k = sum_{j>k} g_j w_j + g_T T_final = A - P_k.
template <typename T>
struct KeptSamples {
  const int32_t* step_ids;
  const T* weights;
  const T* grad_w;
  int64_t n_kept;
  int64_t next;  // the first kept sample not marched past yet
  T total;       // A = g_T T_final + sum_kept g_j w_j
  T prefix;      // P_k = sum_{kept j <= k} g_j w_j
};

// Starts the backward march of a ray whose kept samples are g.step_ids/weights/grad_w[0:g.n_kept].
template <typename T>
D3D_HD void backward_begin(const RenderParams<T>& p, const T o[3], const T d[3], T t_final,
                           T grad_t_final, MarchState<T>& s, KeptSamples<T>& g) {
  march_begin(p, o, d, s);
  if (s.done) return;
  g.total = grad_t_final * t_final;
  for (int64_t i = 0; i < g.n_kept; ++i) g.total += g.grad_w[i] * g.weights[i];
  g.prefix = T(0);
  g.next = 0;
}

// Backward: hands dL/draw_k and the cell of sample k to scatter(cell, value) if the sample is inside
// the bbox, then moves past it.
// dL/draw_k = interval * sigmoid(raw_k + b) * (g_k T_k (1 - alpha_k) - S_k).
template <typename T, typename Scatter>
D3D_HD void backward_advance(const RenderParams<T>& p, MarchState<T>& s, KeptSamples<T>& g,
                             const MarchSample<T>& m, Scatter& scatter) {
  if (m.inside) {
    T grad_w = T(0);
    if (g.next < g.n_kept && g.step_ids[g.next] == s.k) {
      grad_w = g.grad_w[g.next];
      g.prefix += grad_w * g.weights[g.next];
      ++g.next;
    }
    const T keep = m.act.keep;
    scatter(m.cell, p.interval * m.act.sigmoid * (grad_w * s.trans * keep - (g.total - g.prefix)));
  }
  march_advance(p, s, m);
}

// Scatters a sample's dL/draw to its cell's 8 corners through add(offset, value) (scatter_cell).
template <typename T, typename Add>
struct ScatterToCell {
  Add& add;
  D3D_HD void operator()(const Cell<T>& cell, T value) { scatter_cell(cell, value, add); }
};

// Backward march of one ray (see KeptSamples and backward_advance).
template <typename T, typename Add>
D3D_HD void march_backward(const T* density, const RenderParams<T>& p, const T o[3], const T d[3],
                           const int32_t* step_ids, const T* weights, const T* grad_w,
                           int64_t n_kept, T t_final, T grad_t_final, Add& add) {
  MarchState<T> s;
  KeptSamples<T> g{step_ids, weights, grad_w, n_kept};
  ScatterToCell<T, Add> scatter{add};
  backward_begin(p, o, d, t_final, grad_t_final, s, g);
  while (!s.done) backward_advance(p, s, g, march_sample(density, p, s), scatter);
}

}  // namespace dream3d
