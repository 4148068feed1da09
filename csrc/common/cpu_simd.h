// AVX2 versions of the shared math for CPU kernels that run 8 independent lanes side by side, chosen at
// run time (the extension is built for the baseline x86-64, so these functions carry their own target
// attribute and are called only when the CPU has AVX2). Each computes what the scalar functions of
// math.h compute, operation for operation and without FMA, so the results are bitwise the same.
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
  // element by element: the lanes' t were just written one by one, which a vector load would wait for
  const __m256 vt = _mm256_setr_ps(t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7]);
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

// exp for 8 lanes, within 2 ulp of std::exp over the float range (Cephes' expf: a reduction by
// ln 2 in two parts and a degree-6 polynomial), subnormal results included; 0 below -103.97 (where
// std::exp rounds to 0 too) and saturating at 88.72.
__attribute__((target("avx2,fma"))) inline __m256 exp_avx2(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-103.972084f), hi = _mm256_set1_ps(88.72283f);
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, lo), hi);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  x = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), x);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
  // 2^n for n in [-150, 128] as 2^(n/2) 2^(n - n/2), both normal floats: the second product rounds
  // once into the subnormals below 2^-126
  const __m256i n_int = _mm256_cvtps_epi32(n);
  const __m256i half = _mm256_srai_epi32(n_int, 1);
  const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
  const __m256 p2 = _mm256_castsi256_ps(
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(n_int, half), _mm256_set1_epi32(127)), 23));
  y = _mm256_mul_ps(_mm256_mul_ps(y, p1), p2);
  return _mm256_andnot_ps(underflow, y);
}

// log for 8 lanes of normal positive floats, within 2 ulp of std::log (Cephes' logf: the mantissa in
// [sqrt(1/2), sqrt(2)) and a degree-9 polynomial).
__attribute__((target("avx2,fma"))) inline __m256 log_avx2(__m256 u) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256i bits = _mm256_castps_si256(u);
  __m256 e = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126)));
  // mantissa m in [0.5, 1); below sqrt(1/2) take 2m - 1 and one less in the exponent, else m - 1
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)),
                                                 _mm256_set1_epi32(0x3f000000)));
  const __m256 small = _mm256_cmp_ps(m, _mm256_set1_ps(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm256_sub_ps(e, _mm256_and_ps(one, small));
  m = _mm256_sub_ps(_mm256_add_ps(m, _mm256_and_ps(m, small)), one);
  const __m256 z = _mm256_mul_ps(m, m);
  __m256 y = _mm256_set1_ps(7.0376836292e-2f);
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-1.1514610310e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(1.1676998740e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-1.2420140846e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(1.4249322787e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-1.6668057665e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(2.0000714765e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(-2.4999993993e-1f));
  y = _mm256_fmadd_ps(y, m, _mm256_set1_ps(3.3333331174e-1f));
  y = _mm256_mul_ps(_mm256_mul_ps(y, m), z);
  y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
  y = _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z, y);
  return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), _mm256_add_ps(m, y));
}

// log1p for 8 lanes of x >= 0, within 2 ulp of std::log1p: log(u) of u = 1 + x plus the rounding of
// 1 + x, (x - (u - 1)) / u.
__attribute__((target("avx2,fma"))) inline __m256 log1p_avx2(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 u = _mm256_add_ps(one, x);
  const __m256 correction = _mm256_div_ps(_mm256_sub_ps(x, _mm256_sub_ps(u, one)), u);
  return _mm256_add_ps(log_avx2(u), correction);
}

// expm1 for 8 lanes of x <= 0, within a few ulp of std::expm1: u - 1 of u = exp(x) where that
// subtraction is exact enough (x <= -1/2), else Kahan's (u - 1) x / log(u), which cancels the rounding
// of u (and x itself where u rounds to 1).
__attribute__((target("avx2,fma"))) inline __m256 expm1_nonpositive_avx2(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 u = exp_avx2(x);
  const __m256 um1 = _mm256_sub_ps(u, one);
  const __m256 kahan = _mm256_div_ps(_mm256_mul_ps(um1, x), log_avx2(u));
  const __m256 near_zero = _mm256_cmp_ps(x, _mm256_set1_ps(-0.5f), _CMP_GT_OQ);
  const __m256 r = _mm256_blendv_ps(um1, kahan, near_zero);
  return _mm256_blendv_ps(r, x, _mm256_cmp_ps(u, one, _CMP_EQ_OQ));
}

// activate (math.h) for 8 lanes, with the same branches as lane-wise selects: keep = 1 - alpha and
// sigmoid(x) of x = raw + act_shift. Within a few ulp of the scalar function (not bitwise: exp and
// log1p are the polynomials above).
struct ActivationLanes {
  __m256 keep, sigmoid;
};

__attribute__((target("avx2,fma"))) inline ActivationLanes activate_avx2(__m256 x, float interval) {
  const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
  const __m256 limit = _mm256_set1_ps(series_limit<float>()), vinterval = _mm256_set1_ps(interval);
  const __m256 large = _mm256_cmp_ps(x, _mm256_set1_ps(20.0f), _CMP_GT_OQ);
  const __m256 e = exp_avx2(_mm256_min_ps(x, _mm256_set1_ps(20.0f)));
  // The series need no log1p or exp: when every lane takes them (empty space), skip those.
  const __m256 e_small = _mm256_cmp_ps(e, limit, _CMP_LT_OQ);
  __m256 softplus = _mm256_fnmadd_ps(_mm256_mul_ps(half, e), e, e);
  if (_mm256_movemask_ps(e_small) != 0xff) softplus = _mm256_blendv_ps(log1p_avx2(e), softplus, e_small);
  softplus = _mm256_blendv_ps(softplus, x, large);  // softplus(x) == x to working precision
  const __m256 y = _mm256_mul_ps(softplus, vinterval);
  const __m256 y_small = _mm256_cmp_ps(y, limit, _CMP_LT_OQ);
  __m256 keep = _mm256_fmadd_ps(_mm256_mul_ps(half, y), y, _mm256_sub_ps(one, y));
  if (_mm256_movemask_ps(y_small) != 0xff) {
    keep = _mm256_blendv_ps(exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), y)), keep, y_small);
  }
  const __m256 sigmoid = _mm256_blendv_ps(_mm256_div_ps(e, _mm256_add_ps(one, e)), one, large);
  return {keep, sigmoid};
}
#else
inline bool trilinear_along_avx2(const float*, const GridBox<float>&, const float (*)[kSimdLanes],
                                 const float (*)[kSimdLanes], const float*, const int32_t*, float*) {
  return false;
}
#endif

}  // namespace dream3d
