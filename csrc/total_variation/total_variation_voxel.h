// One voxel of the fused total variation, shared by the CPU and the CUDA kernels.
#pragma once

#include "common/math.h"
#include "total_variation/total_variation.h"

namespace dream3d {

// Per-axis factor w_a / (number of neighbour pairs along axis a, over all channels).
template <typename T>
D3D_HD void tv_axis_scale(const TVArgs& a, T scale[3]) {
  const double voxels = double(a.size[0]) * a.size[1] * a.size[2] * a.size[3];
  for (int ax = 0; ax < 3; ++ax) {
    const double pairs = voxels / a.size[ax + 1] * (a.size[ax + 1] - 1);
    scale[ax] = static_cast<T>(a.axis_weight[ax] / pairs);
  }
}

// Writes the voxel's gradient and returns its share of the loss (the pairs to its +1 neighbours).
template <typename T>
D3D_HD T tv_voxel(const TVArgs& a, const T scale[3], const T* grid, T* grad, int64_t c, int64_t idx[3]) {
  int64_t off = c * a.stride[0];
  for (int ax = 0; ax < 3; ++ax) off += idx[ax] * a.stride[ax + 1];
  const T v = grid[off];
  T loss = T(0);
  T g = T(0);
  for (int ax = 0; ax < 3; ++ax) {
    const int64_t s = a.stride[ax + 1];
    if (idx[ax] + 1 < a.size[ax + 1]) {
      const T d = grid[off + s] - v;
      loss += scale[ax] * d * d;
      g -= T(2) * scale[ax] * d;
    }
    if (idx[ax] > 0) g += T(2) * scale[ax] * (v - grid[off - s]);
  }
  grad[off] = g;
  return loss;
}

}  // namespace dream3d
