// CPU (OpenMP) kernels of the trilinear gather: one point per iteration.
#include "trilinear/trilinear.h"

#include "common/cpu_parallel.h"
#include "trilinear/trilinear_point.h"

namespace dream3d {

template <typename T>
void trilinear_forward_cpu(const TrilinearArgs& a, const T* grid, const T* points, T* values) {
  const GridBox<T> g = make_grid_box<T>(a.box, a.size, a.stride);
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < a.n_points; ++n) gather_point(g, a, grid, points + 3 * n, values + n * a.channels);
}

template <typename T>
void trilinear_backward_cpu(const TrilinearArgs& a, const T* grid, const T* points,
                            const T* grad_values, T* grad_grid, T* grad_points) {
  const GridBox<T> g = make_grid_box<T>(a.box, a.size, a.stride);
  const int threads = cpu_threads();
  if (a.channels >= threads) {
    // Each thread owns a range of channels and scatters every point into them: no write conflicts,
    // so no per-thread copies of a (C, X, Y, Z) gradient to zero and sum.
#pragma omp parallel num_threads(threads)
    {
      const int64_t t = thread_id(), n_threads = cpu_threads_in_team();
      const int64_t c_begin = a.channels * t / n_threads, c_end = a.channels * (t + 1) / n_threads;
      AddAt<T> add{grad_grid};
      for (int64_t n = 0; n < a.n_points; ++n) {
        scatter_point(g, a, points + 3 * n, grad_values + n * a.channels, c_begin, c_end, add);
      }
    }
  } else {
    const int64_t extent = grid_extent(a.size, a.stride) + (a.channels - 1) * a.channel_stride;
    ScatterBuffers<T> buffers(grad_grid, extent, threads);
#pragma omp parallel num_threads(threads)
    {
      AddAt<T> add{buffers.for_thread(thread_id())};
#pragma omp for schedule(static)
      for (int64_t n = 0; n < a.n_points; ++n) {
        scatter_point(g, a, points + 3 * n, grad_values + n * a.channels, 0, a.channels, add);
      }
    }
    buffers.reduce();
  }
  if (grad_points) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < a.n_points; ++n) {
      point_grad(g, a, grid, points + 3 * n, grad_values + n * a.channels, grad_points + 3 * n);
    }
  }
}

template void trilinear_forward_cpu<float>(const TrilinearArgs&, const float*, const float*, float*);
template void trilinear_forward_cpu<double>(const TrilinearArgs&, const double*, const double*, double*);
template void trilinear_backward_cpu<float>(const TrilinearArgs&, const float*, const float*,
                                            const float*, float*, float*);
template void trilinear_backward_cpu<double>(const TrilinearArgs&, const double*, const double*,
                                             const double*, double*, double*);

}  // namespace dream3d
