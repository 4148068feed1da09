// Per-element math of the SDF ops, shared by the CPU and CUDA kernels.
#pragma once

#include "common/math.h"

namespace dream3d {

using std::expm1;
using std::log;

// V and dV/dsdf of V = max(0, softplus^-1(Sigma) - shift), Sigma = sigmoid(z) / beta, z = -sdf / beta.
// Stable for |sdf / beta| up to 1e4 and beyond: sigmoid(-z) is formed directly (no 1 - s), Sigma
// underflowing to 0 lands in the clamped branch, and softplus^-1(y) = y + log(-expm1(-y)) keeps
// its precision for small y.
template <typename T>
struct DensityValue {
  T v;
  T dv_dsdf;
};

template <typename T>
D3D_HD DensityValue<T> sdf_density(T sdf, T beta, T shift) {
  const T z = -sdf / beta;
  // sigmoid(z) and sigmoid(-z) = 1 - sigmoid(z) from one exp of -|z| (no overflow, no cancellation)
  const T e = exp(z < T(0) ? z : -z);
  const T small = e / (T(1) + e), large = T(1) / (T(1) + e);
  const T s = z < T(0) ? small : large;
  const T s_neg = z < T(0) ? large : small;
  const T y = s / beta;
  if (!(y > T(0))) return {T(0), T(0)};
  const T one_minus_e = -expm1(-y);  // 1 - exp(-y) > 0
  const T raw = y + log(one_minus_e) - shift;
  if (!(raw > T(0))) return {T(0), T(0)};
  // dV/dy = 1 / (1 - exp(-y)); dy/dsdf = -s (1 - s) / beta^2. s / (1 - exp(-y)) first: far outside
  // both are subnormal in float and their ratio is ~beta, where beta^2 (1 - exp(-y)) would underflow.
  return {raw, -(s / one_minus_e) * s_neg / (beta * beta)};
}

// -alpha(V) and its derivative, alpha = 1 - exp(-softplus(V + b) * interval) (the renderer's).
template <typename T>
struct PriorTerm {
  T value;
  T grad;
};

template <typename T>
D3D_HD PriorTerm<T> prior_term(T density, T act_shift, T interval) {
  const Activation<T> a = activate(density + act_shift, interval);
  return {-(T(1) - a.keep), -interval * a.sigmoid * a.keep};
}

}  // namespace dream3d
