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

// True when the AVX2 paths may run: the CPU has AVX2 and DREAM3D_NO_SIMD is not 1 (the switch lets
// tests compare the two paths, and rules the vector path out when chasing a difference).
inline bool cpu_has_avx2() {
#if D3D_HAVE_AVX2_PATH
  static const bool has = __builtin_cpu_supports("avx2") && !env_flag("DREAM3D_NO_SIMD");
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
  using simd_detail::clamp_like_scalar;
  const __m256 vt = _mm256_loadu_ps(t);
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f);
  __m256i cell = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(grid_offset));
  __m256 frac[3];
  int32_t step[3];
  for (int a = 0; a < 3; ++a) {
    const __m256 lo = _mm256_set1_ps(g.lo[a]), hi = _mm256_set1_ps(g.hi[a]);
    const __m256 x = clamp_like_scalar(_mm256_add_ps(_mm256_loadu_ps(o[a]), _mm256_mul_ps(vt, _mm256_loadu_ps(d[a]))),
                                       lo, hi);
    if (_mm256_movemask_ps(_mm256_cmp_ps(x, x, _CMP_UNORD_Q)) != 0) return false;
    const __m256 u = _mm256_mul_ps(_mm256_sub_ps(x, lo), _mm256_set1_ps(g.scale[a]));
    __m256i i = _mm256_cvttps_epi32(u);  // u >= 0: truncation is floor
    i = _mm256_min_epi32(_mm256_max_epi32(i, _mm256_setzero_si256()),
                         _mm256_set1_epi32(static_cast<int32_t>(g.size[a] - 2)));
    frac[a] = clamp_like_scalar(_mm256_sub_ps(u, _mm256_cvtepi32_ps(i)), zero, one);
    step[a] = static_cast<int32_t>(g.stride[a]);
    cell = _mm256_add_epi32(cell, _mm256_mullo_epi32(i, _mm256_set1_epi32(step[a])));
  }
  __m256 value = zero;
  for (int corner = 0; corner < 8; ++corner) {
    __m256 w = one;
    __m256i off = cell;
    for (int a = 0; a < 3; ++a) {
      const bool upper = (corner >> a) & 1;
      w = _mm256_mul_ps(w, upper ? frac[a] : _mm256_sub_ps(one, frac[a]));
      if (upper) off = _mm256_add_epi32(off, _mm256_set1_epi32(step[a]));
    }
    value = _mm256_add_ps(value, _mm256_mul_ps(w, _mm256_i32gather_ps(base, off, 4)));
  }
  _mm256_storeu_ps(out, value);
  return true;
}
#else
inline bool trilinear_along_avx2(const float*, const GridBox<float>&, const float (*)[kSimdLanes],
                                 const float (*)[kSimdLanes], const float*, const int32_t*, float*) {
  return false;
}
#endif

}  // namespace dream3d
