// Vector exp, log, log1p, expm1 and the renderer's activation for 8 float lanes (AVX2 + FMA, called only
// when cpu_has_avx2()): Cephes' polynomials, within 2 ulp of libm's (csrc/tests/test_core.cpp checks
// them over their ranges), so not bitwise the scalar results.
#pragma once

#include "common/cpu_simd.h"

#if D3D_HAVE_AVX2_PATH
namespace dream3d {

// exp for 8 lanes, within 2 ulp of std::exp over the float range (Cephes' expf: a reduction by
// ln 2 in two parts and a degree-6 polynomial), subnormal results included; 0 below -103.97 (where
// std::exp rounds to 0 too) and saturating at 88.72.
__attribute__((target("avx2,fma"))) inline __m256 exp_avx2(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-103.972084f), hi = _mm256_set1_ps(88.72283f);
  const __m256 underflow = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_min_ps(hi, _mm256_max_ps(lo, x));  // this operand order lets a NaN through
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
}  // namespace dream3d
#endif
