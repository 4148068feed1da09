// CPU (OpenMP) kernels of the elementwise SDF ops.
#include "sdf_density/sdf_density.h"

#include "sdf_density/sdf_density_elem.h"

namespace dream3d {

template <typename T>
void sdf_to_density_cpu(int64_t n, const T* sdf, T beta, T shift, T* v) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) v[i] = sdf_density(sdf[i], beta, shift).v;
}

template <typename T>
void sdf_to_density_backward_cpu(int64_t n, const T* sdf, const T* grad_v, T beta, T shift, T* grad_sdf) {
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) grad_sdf[i] = grad_v[i] * sdf_density(sdf[i], beta, shift).dv_dsdf;
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
