// CPU (OpenMP) kernels of the elementwise SDF ops. SDF to density on float takes 8 voxels at a time
// with AVX2 where the CPU has it (vector exp, expm1 and log, within a few ulp of the scalar ones).
#include "sdf_density/sdf_density.h"

#include <algorithm>
#include <cfloat>
#include <type_traits>

#include "common/cpu_simd_math.h"
#include "sdf_density/sdf_density_elem.h"

namespace dream3d {
namespace {

#if D3D_HAVE_AVX2_PATH
// sdf_density (sdf_density_elem.h) of 8 voxels, with its branches as lane-wise selects. False when a
// voxel needs the scalar function: 1 - exp(-y) subnormal, where the vector log does not hold.
__attribute__((target("avx2,fma"))) inline bool sdf_density_avx2(const float* sdf, float beta, float shift,
                                                                  __m256& v, __m256& dv_dsdf) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(1.0f), vbeta = _mm256_set1_ps(beta);
  const __m256 z = _mm256_div_ps(_mm256_sub_ps(zero, _mm256_loadu_ps(sdf)), vbeta);
  const __m256 negative = _mm256_cmp_ps(z, zero, _CMP_LT_OQ);
  const __m256 e = exp_avx2(_mm256_blendv_ps(_mm256_sub_ps(zero, z), z, negative));  // exp(-|z|)
  const __m256 small = _mm256_div_ps(e, _mm256_add_ps(one, e)), large = _mm256_div_ps(one, _mm256_add_ps(one, e));
  const __m256 s = _mm256_blendv_ps(large, small, negative), s_neg = _mm256_blendv_ps(small, large, negative);
  const __m256 y = _mm256_div_ps(s, vbeta);
  const __m256 one_minus_e = _mm256_sub_ps(zero, expm1_nonpositive_avx2(_mm256_sub_ps(zero, y)));
  const __m256 positive = _mm256_cmp_ps(y, zero, _CMP_GT_OQ);
  const __m256 subnormal = _mm256_and_ps(positive, _mm256_cmp_ps(one_minus_e, _mm256_set1_ps(FLT_MIN), _CMP_LT_OQ));
  if (_mm256_movemask_ps(subnormal) != 0) return false;
  const __m256 raw = _mm256_sub_ps(_mm256_add_ps(y, log_avx2(one_minus_e)), _mm256_set1_ps(shift));
  const __m256 keep = _mm256_and_ps(positive, _mm256_cmp_ps(raw, zero, _CMP_GT_OQ));
  v = _mm256_and_ps(keep, raw);
  const __m256 grad = _mm256_div_ps(_mm256_mul_ps(_mm256_sub_ps(zero, _mm256_div_ps(s, one_minus_e)), s_neg),
                                    _mm256_mul_ps(vbeta, vbeta));
  dv_dsdf = _mm256_and_ps(keep, grad);
  return true;
}

// Voxels [begin, end) of the forward (grad_v null) or the backward, 8 at a time, up to the tail or a
// block the vector code declines; returns where the scalar loop goes on.
__attribute__((target("avx2,fma"))) int64_t sdf_density_range_avx2(int64_t begin, int64_t end, const float* sdf,
                                                                    const float* grad_v, float beta, float shift,
                                                                    float* out) {
  int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    __m256 v, dv;
    if (!sdf_density_avx2(sdf + i, beta, shift, v, dv)) break;
    if (grad_v) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(grad_v + i), dv));
    else _mm256_storeu_ps(out + i, v);
  }
  return i;
}
#endif

// The forward (grad_v null: out = V) or the backward (out = grad_v dV/dsdf) over n voxels.
template <typename T>
void sdf_density_elementwise(int64_t n, const T* sdf, const T* grad_v, T beta, T shift, T* out) {
  constexpr int64_t kBlock = 4096;  // voxels per unit of work (a multiple of 8)
  const int64_t n_blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < n_blocks; ++b) {
    const int64_t begin = b * kBlock, end = std::min(n, begin + kBlock);
    int64_t i = begin;
#if D3D_HAVE_AVX2_PATH
    if constexpr (std::is_same<T, float>::value) {
      if (cpu_has_avx2()) i = sdf_density_range_avx2(begin, end, sdf, grad_v, beta, shift, out);
    }
#endif
    for (; i < end; ++i) {
      const DensityValue<T> d = sdf_density(sdf[i], beta, shift);
      out[i] = grad_v ? grad_v[i] * d.dv_dsdf : d.v;
    }
  }
}

}  // namespace

template <typename T>
void sdf_to_density_cpu(int64_t n, const T* sdf, T beta, T shift, T* v) {
  sdf_density_elementwise<T>(n, sdf, nullptr, beta, shift, v);
}

template <typename T>
void sdf_to_density_backward_cpu(int64_t n, const T* sdf, const T* grad_v, T beta, T shift, T* grad_sdf) {
  sdf_density_elementwise<T>(n, sdf, grad_v, beta, shift, grad_sdf);
}

template <typename T>
void prior_loss_cpu(int64_t n, const T* density, const T* sdf, T act_shift, T interval, T* grad, T* loss_out,
                    int64_t* count) {
  double loss = 0.0;  // accumulate in double: millions of terms
  int64_t inside = 0;
#pragma omp parallel for schedule(static) reduction(+ : loss, inside)
  for (int64_t i = 0; i < n; ++i) {
    if (sdf[i] < T(0)) {
      const PriorTerm<T> term = prior_term(density[i], act_shift, interval);
      loss += term.value;
      grad[i] = term.grad;
      ++inside;
    } else {
      grad[i] = T(0);
    }
  }
  *count = inside;
  *loss_out = static_cast<T>(loss);
}

#define D3D_INSTANTIATE(T)                                                                      \
  template void sdf_to_density_cpu<T>(int64_t, const T*, T, T, T*);                             \
  template void sdf_to_density_backward_cpu<T>(int64_t, const T*, const T*, T, T, T*);          \
  template void prior_loss_cpu<T>(int64_t, const T*, const T*, T, T, T*, T*, int64_t*);
D3D_INSTANTIATE(float)
D3D_INSTANTIATE(double)
#undef D3D_INSTANTIATE

}  // namespace dream3d
