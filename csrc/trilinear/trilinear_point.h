// Per-point trilinear gather and its backward, written once for the CPU and the CUDA kernels.
#pragma once

#include "common/math.h"
#include "trilinear/trilinear.h"

namespace dream3d {

template <typename T>
D3D_HD void gather_point(const GridBox<T>& g, const TrilinearArgs& a, const T* grid, const T* point,
                         T* values) {
  Cell<T> cell;
  const T p[3] = {point[0], point[1], point[2]};
  if (!locate(g, p, cell)) {
    for (int64_t c = 0; c < a.channels; ++c) values[c] = T(0);
    return;
  }
  T w[8];
  int64_t off[8];
  for (int corner = 0; corner < 8; ++corner) w[corner] = corner_weight(cell, corner, off[corner]);
  for (int64_t c = 0; c < a.channels; ++c) {
    const T* plane = grid + c * a.channel_stride;
    T v = T(0);
    for (int corner = 0; corner < 8; ++corner) v += w[corner] * plane[off[corner]];
    values[c] = v;
  }
}

// Adds the point's share of dL/dgrid for channels [c_begin, c_end) through add(offset, value).
template <typename T, typename Add>
D3D_HD void scatter_point(const GridBox<T>& g, const TrilinearArgs& a, const T* point,
                          const T* grad_values, int64_t c_begin, int64_t c_end, Add& add) {
  Cell<T> cell;
  const T p[3] = {point[0], point[1], point[2]};
  if (!locate(g, p, cell)) return;
  T w[8];
  int64_t off[8];
  for (int corner = 0; corner < 8; ++corner) w[corner] = corner_weight(cell, corner, off[corner]);
  for (int64_t c = c_begin; c < c_end; ++c) {
    const T gv = grad_values[c];
    for (int corner = 0; corner < 8; ++corner) add(c * a.channel_stride + off[corner], w[corner] * gv);
  }
}

// dL/dpoint = sum_c dL/dvalue_c * d(value_c)/dpoint; zero outside the bbox.
template <typename T>
D3D_HD void point_grad(const GridBox<T>& g, const TrilinearArgs& a, const T* grid, const T* point,
                       const T* grad_values, T* grad_point) {
  Cell<T> cell;
  const T p[3] = {point[0], point[1], point[2]};
  grad_point[0] = grad_point[1] = grad_point[2] = T(0);
  if (!locate(g, p, cell)) return;
  for (int64_t c = 0; c < a.channels; ++c) {
    T dv[3];
    interpolate_grad(grid + c * a.channel_stride, cell, g.scale, dv);
    for (int ax = 0; ax < 3; ++ax) grad_point[ax] += grad_values[c] * dv[ax];
  }
}

}  // namespace dream3d
