// Inline math shared by the CPU and the CUDA kernels: what the CPU tests prove carries over to CUDA.
// No torch headers here: this file is compiled by plain g++ and by nvcc.
#pragma once

#include <cmath>
#include <cstdint>

#ifdef __CUDACC__
#define D3D_HD __host__ __device__ __forceinline__
#else
#define D3D_HD inline
#endif

namespace dream3d {

// Float arguments must reach the float overloads (std:: on the host; nvcc maps these to device math).
using std::exp;
using std::log1p;

// Axis-aligned bbox with the index-space scale (n - 1) / (max - min) of a grid spanning it.
template <typename T>
struct GridBox {
  T lo[3];
  T hi[3];
  T scale[3];
  int64_t size[3];    // voxels per axis (each >= 2)
  int64_t stride[3];  // element strides of the spatial axes
};

// Elements a dense (X, Y, Z) layout with these sizes and strides spans: its largest offset + 1.
D3D_HD int64_t grid_extent(const int64_t size[3], const int64_t stride[3]) {
  int64_t extent = 1;
  for (int a = 0; a < 3; ++a) extent += (size[a] - 1) * stride[a];
  return extent;
}

template <typename T>
D3D_HD GridBox<T> make_grid_box(const double* box, const int64_t* size, const int64_t* stride) {
  GridBox<T> g;
  for (int a = 0; a < 3; ++a) {
    g.lo[a] = static_cast<T>(box[a]);
    g.hi[a] = static_cast<T>(box[a + 3]);
    g.scale[a] = static_cast<T>((size[a] - 1) / (box[a + 3] - box[a]));
    g.size[a] = size[a];
    g.stride[a] = stride[a];
  }
  return g;
}

// The post-activation of one sample from x = raw + act_shift, with one exp shared by all its parts:
// keep = 1 - alpha = exp(-softplus(x) * interval), and d(softplus)/dx = sigmoid(x) for the backward.
template <typename T>
struct Activation {
  T keep;
  T sigmoid;
};

// Below these arguments a two-term series is exact to the type's rounding (next term / value < eps),
// and empty space (DVGO starts every voxel at alpha_init ~ 1e-6) skips log1p and the second exp.
template <typename T>
D3D_HD T series_limit() {
  return sizeof(T) == 4 ? T(1e-4) : T(1e-8);
}

template <typename T>
D3D_HD Activation<T> activate(T x, T interval) {
  if (x > T(20)) return {exp(-x * interval), T(1)};  // softplus(x) == x to working precision
  const T e = exp(x);
  const T softplus = e < series_limit<T>() ? e - T(0.5) * e * e : log1p(e);
  const T y = softplus * interval;
  const T keep = y < series_limit<T>() ? T(1) - y + T(0.5) * y * y : exp(-y);
  return {keep, e / (T(1) + e)};
}

// The 8 corners of the trilinear cell holding a point: offset of the (i0, j0, k0) corner, the offsets
// to its +1 neighbours along each axis, and the fractional position inside the cell.
template <typename T>
struct Cell {
  int64_t base;
  int64_t step[3];
  T frac[3];
};

// Locates p in the grid; false when p lies outside the closed bbox (the sample is empty).
template <typename T>
D3D_HD bool locate(const GridBox<T>& g, const T p[3], Cell<T>& c) {
  c.base = 0;
  for (int a = 0; a < 3; ++a) {
    if (!(p[a] >= g.lo[a] && p[a] <= g.hi[a])) return false;  // also rejects NaN
    const T u = (p[a] - g.lo[a]) * g.scale[a];
    int64_t i = static_cast<int64_t>(u);  // u >= 0 here, so truncation is floor (and needs no libm call)
    i = i < 0 ? 0 : (i > g.size[a] - 2 ? g.size[a] - 2 : i);
    T f = u - static_cast<T>(i);
    c.frac[a] = f < T(0) ? T(0) : (f > T(1) ? T(1) : f);
    c.base += i * g.stride[a];
    c.step[a] = g.stride[a];
  }
  return true;
}

// Trilinear weight of corner `corner` (bit 0: +x, bit 1: +y, bit 2: +z) and its element offset.
template <typename T>
D3D_HD T corner_weight(const Cell<T>& c, int corner, int64_t& offset) {
  T w = T(1);
  offset = c.base;
  for (int a = 0; a < 3; ++a) {
    const bool upper = (corner >> a) & 1;
    w *= upper ? c.frac[a] : T(1) - c.frac[a];
    offset += upper ? c.step[a] : 0;
  }
  return w;
}

// Adds value's trilinear share to the 8 corners of the cell through add(offset, weight * value): the
// adjoint of interpolate.
template <typename T, typename Add>
D3D_HD void scatter_cell(const Cell<T>& c, T value, Add& add) {
  for (int corner = 0; corner < 8; ++corner) {
    int64_t off;
    const T w = corner_weight(c, corner, off);
    add(off, w * value);
  }
}

template <typename T>
D3D_HD T interpolate(const T* grid, const Cell<T>& c) {
  T v = T(0);
  for (int corner = 0; corner < 8; ++corner) {
    int64_t off;
    const T w = corner_weight(c, corner, off);
    v += w * grid[off];
  }
  return v;
}

// d(value)/d(p) of the trilinear interpolant inside the cell, in world units.
template <typename T>
D3D_HD void interpolate_grad(const T* grid, const Cell<T>& c, const T scale[3], T out[3]) {
  out[0] = out[1] = out[2] = T(0);
  for (int corner = 0; corner < 8; ++corner) {
    int64_t off;
    corner_weight(c, corner, off);
    const T v = grid[off];
    for (int a = 0; a < 3; ++a) {
      T w = ((corner >> a) & 1) ? T(1) : T(-1);  // derivative of the weight along axis a
      for (int b = 0; b < 3; ++b) {
        if (b == a) continue;
        w *= ((corner >> b) & 1) ? c.frac[b] : T(1) - c.frac[b];
      }
      out[a] += w * v;
    }
  }
  for (int a = 0; a < 3; ++a) out[a] *= scale[a];
}

// Overlap [t0, t1) of the ray o + t d with the bbox, clipped to [near, far]; false on a miss.
// An axis with d == 0 keeps the whole line when lo <= o <= hi and misses otherwise.
template <typename T>
D3D_HD bool ray_box(const GridBox<T>& g, const T o[3], const T d[3], T near, T far, T& t0, T& t1) {
  t0 = near;
  t1 = far;
  for (int a = 0; a < 3; ++a) {
    if (d[a] == T(0)) {
      if (!(o[a] >= g.lo[a] && o[a] <= g.hi[a])) return false;
      continue;
    }
    const T inv = T(1) / d[a];
    T ta = (g.lo[a] - o[a]) * inv;
    T tb = (g.hi[a] - o[a]) * inv;
    if (ta > tb) { T tmp = ta; ta = tb; tb = tmp; }
    t0 = ta > t0 ? ta : t0;
    t1 = tb < t1 ? tb : t1;
  }
  return t0 < t1;
}

}  // namespace dream3d
