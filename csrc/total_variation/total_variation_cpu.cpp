// CPU (OpenMP) kernel of the fused total variation: each voxel writes only its own gradient.
#include "total_variation/total_variation.h"

#include "total_variation/total_variation_voxel.h"

namespace dream3d {

template <typename T>
void total_variation_cpu(const TVArgs& a, const T* grid, T* grad, T* loss_out) {
  T scale[3];
  tv_axis_scale(a, scale);
  const int64_t lines = a.size[0] * a.size[1] * a.size[2];
  double loss = 0.0;  // accumulate in double: millions of small terms
#pragma omp parallel for schedule(static) reduction(+ : loss)
  for (int64_t line = 0; line < lines; ++line) {
    int64_t idx[3] = {(line / a.size[2]) % a.size[1], line % a.size[2], 0};
    const int64_t c = line / (a.size[1] * a.size[2]);
    for (idx[2] = 0; idx[2] < a.size[3]; ++idx[2]) loss += tv_voxel(a, scale, grid, grad, c, idx);
  }
  *loss_out = static_cast<T>(loss);
}

template void total_variation_cpu<float>(const TVArgs&, const float*, float*, float*);
template void total_variation_cpu<double>(const TVArgs&, const double*, double*, double*);

}  // namespace dream3d
