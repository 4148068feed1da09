// Checks of the pure C++ core without Python or torch (run by ctest): closed forms the kernels must meet.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/cpu_simd_math.h"
#include "total_variation/total_variation.h"
#include "trilinear/trilinear.h"
#include "volume_render/volume_render.h"

namespace {

int failures = 0;

void expect_near(double got, double want, double tol, const char* what) {
  if (!(std::fabs(got - want) <= tol)) {
    std::printf("FAIL %s: got %.12g, want %.12g\n", what, got, want);
    ++failures;
  }
}

// A constant grid: T_final = exp(-softplus(raw + b) * interval * samples), weights sum to 1 - T_final.
void constant_slab() {
  const int64_t n = 4;
  std::vector<double> density(n * n * n, 0.7);
  dream3d::RenderArgs a{};
  const double box[6] = {-1, -1, -1, 1, 1, 1};
  for (int i = 0; i < 6; ++i) a.box[i] = box[i];
  for (int i = 0; i < 3; ++i) a.size[i] = n;
  a.stride[0] = n * n, a.stride[1] = n, a.stride[2] = 1;
  a.step_size = 0.01, a.act_shift = -3.0, a.interval = 0.5, a.near = 0, a.far = 1e10;
  a.t_thres = 0, a.weight_thres = 0, a.n_rays = 1;
  const double o[3] = {0.1, -0.2, 5.0}, d[3] = {0, 0, -1};
  double t_final;
  int64_t offsets[2];
  std::vector<int64_t> ray_ids;
  std::vector<int32_t> step_ids;
  std::vector<double> t, weights;
  dream3d::render_forward_cpu<double>(a, density.data(), o, d, &t_final, offsets, [&](int64_t n) {
    ray_ids.resize(n), step_ids.resize(n), t.resize(n), weights.resize(n);
    return dream3d::SampleOutputs<double>{ray_ids.data(), step_ids.data(), t.data(), weights.data()};
  });
  const double sigma = std::log1p(std::exp(0.7 - 3.0));
  expect_near(static_cast<double>(t.size()), 200.0, 0.0, "samples");
  expect_near(t_final, std::exp(-sigma * 0.5 * 200), 1e-12, "T_final");
  double sum = 0;
  for (double w : weights) sum += w;
  expect_near(sum, 1 - t_final, 1e-12, "sum of weights");
}

// Trilinear interpolation reproduces an affine field; points outside the bbox read 0.
void affine_field() {
  const int64_t n = 5;
  std::vector<float> grid(n * n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      for (int k = 0; k < n; ++k) grid[(i * n + j) * n + k] = 2.0f * i - 1.0f * j + 0.5f * k;
  dream3d::TrilinearArgs a{};
  const double box[6] = {0, 0, 0, 4, 4, 4};
  for (int i = 0; i < 6; ++i) a.box[i] = box[i];
  for (int i = 0; i < 3; ++i) a.size[i] = n;
  a.stride[0] = n * n, a.stride[1] = n, a.stride[2] = 1;
  a.channels = 1, a.channel_stride = n * n * n, a.n_points = 2;
  const float points[6] = {1.25f, 3.5f, 0.75f, 4.5f, 1.0f, 1.0f};
  float values[2];
  dream3d::trilinear_forward_cpu<float>(a, grid.data(), points, values);
  expect_near(values[0], 2 * 1.25 - 3.5 + 0.5 * 0.75, 1e-5, "affine value");
  expect_near(values[1], 0.0, 0.0, "outside value");
}

// Total variation of a ramp with slope s along x alone is w_x * s^2.
void ramp_tv() {
  const int64_t c = 1, x = 5, y = 3, z = 2;
  std::vector<double> grid(c * x * y * z), grad(grid.size());
  for (int i = 0; i < x; ++i)
    for (int j = 0; j < y * z; ++j) grid[i * y * z + j] = 0.3 * i;
  dream3d::TVArgs a{{c, x, y, z}, {x * y * z, y * z, z, 1}, {2.0, 1.0, 1.0}};
  double loss = 0;
  dream3d::total_variation_cpu<double>(a, grid.data(), grad.data(), &loss);
  expect_near(loss, 2 * 0.09, 1e-12, "ramp TV");
}

#if D3D_HAVE_AVX2_PATH
// Distance in units in the last place between two non-negative floats (subnormals included: their bit
// patterns are ordered like their values).
int64_t ulps(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4), std::memcpy(&ib, &b, 4);
  return ia > ib ? int64_t(ia) - ib : int64_t(ib) - ia;
}

// Runs f_vec on xs 8 at a time and fails when a result has another sign than f_ref's or is more than
// bound ulp from it.
template <typename Vec, typename Ref>
void expect_ulps(const std::vector<float>& xs, Vec f_vec, Ref f_ref, int64_t bound, const char* what) {
  int64_t worst = 0;
  float worst_x = 0;
  for (size_t i = 0; i + 8 <= xs.size(); i += 8) {
    float out[8];
    f_vec(xs.data() + i, out);
    for (int l = 0; l < 8; ++l) {
      const float want = f_ref(xs[i + l]);
      const int64_t d = std::signbit(out[l]) != std::signbit(want) ? INT64_MAX : ulps(std::fabs(out[l]), std::fabs(want));
      if (d > worst) worst = d, worst_x = xs[i + l];
    }
  }
  if (worst > bound) {
    std::printf("FAIL %s: %lld ulp at x = %.9g (bound %lld)\n", what, static_cast<long long>(worst), worst_x,
                static_cast<long long>(bound));
    ++failures;
  }
}

__attribute__((target("avx2,fma"))) void exp_8(const float* x, float* out) {
  _mm256_storeu_ps(out, dream3d::exp_avx2(_mm256_loadu_ps(x)));
}
__attribute__((target("avx2,fma"))) void log_8(const float* x, float* out) {
  _mm256_storeu_ps(out, dream3d::log_avx2(_mm256_loadu_ps(x)));
}
__attribute__((target("avx2,fma"))) void log1p_8(const float* x, float* out) {
  _mm256_storeu_ps(out, dream3d::log1p_avx2(_mm256_loadu_ps(x)));
}
__attribute__((target("avx2,fma"))) void expm1_8(const float* x, float* out) {
  _mm256_storeu_ps(out, dream3d::expm1_nonpositive_avx2(_mm256_loadu_ps(x)));
}

// The vector exp, log, log1p and expm1 of cpu_simd_math.h against libm over their ranges (exp down into
// the subnormal results, log over every binade of the normal floats, log1p and expm1 across the
// switch of their formulas): within the 2 ulp their comments state.
void vector_math() {
  if (!dream3d::cpu_has_avx2()) {
    std::printf("skip vector_math: no AVX2 and FMA on this CPU\n");
    return;
  }
  std::vector<float> xs;
  for (float x = -110.0f; x < 88.7f; x += 1.3e-3f) xs.push_back(x);  // 0 below -103.97, as libm
  expect_ulps(xs, exp_8, [](float x) { return std::exp(x); }, 2, "exp_avx2");
  xs.clear();
  for (int e = -126; e < 128; ++e) {
    for (int m = 0; m < 512; ++m) xs.push_back(std::ldexp(1.0f + m / 512.0f, e));
  }
  for (float x = 0.999f; x < 1.001f; x = std::nextafter(x, 2.0f)) xs.push_back(x);  // every float near 1
  expect_ulps(xs, log_8, [](float x) { return std::log(x); }, 2, "log_avx2");
  xs.clear();
  for (float x = 1e-30f; x < 1e9f; x *= 1.0007f) xs.push_back(x);
  expect_ulps(xs, log1p_8, [](float x) { return std::log1p(x); }, 2, "log1p_avx2");
  xs.clear();
  for (float x = -1e-30f; x > -90.0f; x *= 1.0007f) xs.push_back(x);
  expect_ulps(xs, expm1_8, [](float x) { return std::expm1(x); }, 2, "expm1_nonpositive_avx2");
}
#else
void vector_math() {}
#endif

}  // namespace

int main() {
  constant_slab();
  affine_field();
  ramp_tv();
  vector_math();
  std::printf(failures ? "%d checks failed\n" : "all core checks passed\n", failures);
  return failures ? 1 : 0;
}
