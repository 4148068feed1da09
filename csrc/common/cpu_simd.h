// AVX2 versions of the shared grid math for CPU kernels that run 8 independent lanes side by side,
// chosen at run time (the extension is built for the baseline x86-64, so these functions carry their
// own target attribute and are called only when cpu_has_avx2()). Each computes what the scalar
// functions of math.h compute, operation for operation and without FMA, so the results are bitwise the
// same. The vector exp, log and activation are in cpu_simd_math.h.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "common/math.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define D3D_HAVE_AVX2_PATH 1
#else
#define D3D_HAVE_AVX2_PATH 0
#endif

namespace dream3d {

constexpr int kSimdLanes = 8;

inline bool env_flag(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr && std::strcmp(value, "1") == 0;
}

// True when the AVX2 paths may run: the CPU has AVX2 and FMA, and DREAM3D_NO_SIMD is not 1 (the switch lets
// tests compare the two paths, and rules the vector path out when chasing a difference).
inline bool cpu_has_avx2() {
#if D3D_HAVE_AVX2_PATH
  static const bool has =
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && !env_flag("DREAM3D_NO_SIMD");
  return has;
#else
  return false;
#endif
}

#if D3D_HAVE_AVX2_PATH
namespace simd_detail {

// x < lo ? lo : (x > hi ? hi : x), lane by lane (NaN stays NaN, as in the scalar ternaries).
__attribute__((target("avx2"))) inline __m256 clamp_like_scalar(__m256 x, __m256 lo, __m256 hi) {
  __m256 r = _mm256_blendv_ps(x, hi, _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
  return _mm256_blendv_ps(r, lo, _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
}

}  // namespace simd_detail

// A vector of 8 floats that were just stored one by one, read element by element: a vector load of
// them would wait for the stores to retire (no store forwarding from several narrow stores).
__attribute__((target("avx2"))) inline __m256 load_written_lanes(const float v[kSimdLanes]) {
  return _mm256_setr_ps(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
}

// The trilinear cells of 8 points, located as locate (math.h) does for a point inside the bbox: the
// element offset of each lane's (i0, j0, k0) corner (added to the lanes' start offsets) and the
// fractional positions. Points must lie inside the closed bbox and not be NaN.
struct CellLanes {
  __m256i base;
  __m256 frac[3];
};

__attribute__((target("avx2"))) inline CellLanes locate_avx2(const GridBox<float>& g, const __m256 x[3],
                                                              __m256i base) {
  using simd_detail::clamp_like_scalar;
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  CellLanes c;
  for (int a = 0; a < 3; ++a) {
    const __m256 u = _mm256_mul_ps(_mm256_sub_ps(x[a], _mm256_set1_ps(g.lo[a])), _mm256_set1_ps(g.scale[a]));
    __m256i i = _mm256_cvttps_epi32(u);  // u >= 0: truncation is floor
    i = _mm256_min_epi32(_mm256_max_epi32(i, _mm256_setzero_si256()),
                         _mm256_set1_epi32(static_cast<int32_t>(g.size[a] - 2)));
    c.frac[a] = clamp_like_scalar(_mm256_sub_ps(u, _mm256_cvtepi32_ps(i)), zero, one);
    base = _mm256_add_epi32(base, _mm256_mullo_epi32(i, _mm256_set1_epi32(static_cast<int32_t>(g.stride[a]))));
  }
  c.base = base;
  return c;
}

namespace simd_detail {

// The 8 corner values of 8 cells: corners[c][l] = grid[cell l's offset of corner c] (c as in
// corner_weight). Where z is the contiguous axis, the corners c and c + 4 are neighbours in memory, so
// each lane's 4 pairs come in 64-bit loads: 8 gathers of 4 pairs instead of 8 gathers of 8 values.
__attribute__((target("avx2"))) inline void gather_corners(const float* base, const GridBox<float>& g,
                                                           __m256i cell, __m256 corners[8]) {
  const int32_t sx = static_cast<int32_t>(g.stride[0]), sy = static_cast<int32_t>(g.stride[1]);
  if (g.stride[2] != 1) {
    for (int corner = 0; corner < 8; ++corner) {
      const int32_t off = (corner & 1) * sx + ((corner >> 1) & 1) * sy + ((corner >> 2) & 1) * static_cast<int32_t>(g.stride[2]);
      corners[corner] = _mm256_i32gather_ps(base, _mm256_add_epi32(cell, _mm256_set1_epi32(off)), 4);
    }
    return;
  }
  const auto* pairs = reinterpret_cast<const long long*>(base);
  const __m128i lanes_lo = _mm256_castsi256_si128(cell), lanes_hi = _mm256_extracti128_si256(cell, 1);
  for (int corner = 0; corner < 4; ++corner) {
    const __m128i off = _mm_set1_epi32((corner & 1) * sx + (corner >> 1) * sy);
    // lanes 0-3 and 4-7, each lane's (z, z + 1) pair side by side
    const __m256 a = _mm256_castsi256_ps(_mm256_i32gather_epi64(pairs, _mm_add_epi32(lanes_lo, off), 4));
    const __m256 b = _mm256_castsi256_ps(_mm256_i32gather_epi64(pairs, _mm_add_epi32(lanes_hi, off), 4));
    // even / odd floats: lanes in the order 0 1 4 5 2 3 6 7, which the 64-bit permute puts back
    const __m256 z0 = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
    const __m256 z1 = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
    corners[corner] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(z0), _MM_SHUFFLE(3, 1, 2, 0)));
    corners[corner + 4] = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(z1), _MM_SHUFFLE(3, 1, 2, 0)));
  }
}

}  // namespace simd_detail

// interpolate (math.h) for 8 cells of the grid at base: the same corner order and operations.
__attribute__((target("avx2"))) inline __m256 interpolate_avx2(const float* base, const GridBox<float>& g,
                                                                const CellLanes& c) {
  const __m256 one = _mm256_set1_ps(1.0f);
  __m256 corners[8];
  simd_detail::gather_corners(base, g, c.base, corners);
  __m256 value = _mm256_setzero_ps();
  for (int corner = 0; corner < 8; ++corner) {
    __m256 w = one;
    for (int a = 0; a < 3; ++a) w = _mm256_mul_ps(w, ((corner >> a) & 1) ? c.frac[a] : _mm256_sub_ps(one, c.frac[a]));
    value = _mm256_add_ps(value, _mm256_mul_ps(w, corners[corner]));
  }
  return value;
}

// For 8 lanes: the point o + t d clamped into the bbox (cell_at of sdf_render_trace.h), located in the
// grid (locate) and the grid trilinearly interpolated there (interpolate), reading lane l's grid at
// element offset grid_offset[l] from base. Offsets must fit in int32. Returns false, writing nothing
// useful, when a lane's point is NaN (the scalar path handles that lane's special case).
__attribute__((target("avx2"))) inline bool trilinear_along_avx2(const float* base, const GridBox<float>& g,
                                                                  const float o[3][kSimdLanes],
                                                                  const float d[3][kSimdLanes],
                                                                  const float t[kSimdLanes],
                                                                  const int32_t grid_offset[kSimdLanes],
                                                                  float out[kSimdLanes]) {
  const __m256 vt = load_written_lanes(t);
  __m256 x[3];
  for (int a = 0; a < 3; ++a) {
    x[a] = simd_detail::clamp_like_scalar(
        _mm256_add_ps(_mm256_loadu_ps(o[a]), _mm256_mul_ps(vt, _mm256_loadu_ps(d[a]))),
        _mm256_set1_ps(g.lo[a]), _mm256_set1_ps(g.hi[a]));
    if (_mm256_movemask_ps(_mm256_cmp_ps(x[a], x[a], _CMP_UNORD_Q)) != 0) return false;
  }
  const CellLanes cell = locate_avx2(g, x, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(grid_offset)));
  _mm256_storeu_ps(out, interpolate_avx2(base, g, cell));
  return true;
}

#else
inline bool trilinear_along_avx2(const float*, const GridBox<float>&, const float (*)[kSimdLanes],
                                 const float (*)[kSimdLanes], const float*, const int32_t*, float*) {
  return false;
}
#endif

}  // namespace dream3d
