// CPU (OpenMP) compositing: samples split statically over threads, each adding into its own copy of the
// (R, C) output (ScatterBuffers), so the sums are bitwise repeatable for a thread count; the backward
// is one independent pass over the samples.
#include <cstdint>

#include "common/cpu_parallel.h"
#include "composite/composite_sample.h"

namespace dream3d {

// Below this many samples a launch costs less than waking the other threads: it runs on one.
constexpr int64_t kParallelSamples = 4096;

template <typename T>
void composite_forward_cpu(const CompositeArgs& args, const int64_t* ray_ids, const T* weights, const T* colors,
                           T* out) {
  const int threads = args.n_samples < kParallelSamples ? 1 : cpu_threads();
  ScatterBuffers<T> buffers(out, args.n_rays * args.channels, threads);
#pragma omp parallel num_threads(threads)
  {
    AddAt<T> add{buffers.for_thread(thread_id())};
#pragma omp for schedule(static)
    for (int64_t k = 0; k < args.n_samples; ++k) composite_sample(args, ray_ids, weights, colors, k, add);
  }
  buffers.reduce();
}

template <typename T>
void composite_backward_cpu(const CompositeArgs& args, const int64_t* ray_ids, const T* weights, const T* colors,
                            const T* grad_out, T* grad_weights, T* grad_colors) {
#pragma omp parallel for schedule(static) if (args.n_samples >= kParallelSamples)
  for (int64_t k = 0; k < args.n_samples; ++k) {
    composite_sample_backward(args, ray_ids, weights, colors, grad_out, k, grad_weights, grad_colors);
  }
}

#define D3D_INSTANTIATE(T)                                                                                 \
  template void composite_forward_cpu<T>(const CompositeArgs&, const int64_t*, const T*, const T*, T*);  \
  template void composite_backward_cpu<T>(const CompositeArgs&, const int64_t*, const T*, const T*,      \
                                          const T*, T*, T*);
D3D_INSTANTIATE(float)
D3D_INSTANTIATE(double)
#undef D3D_INSTANTIATE

}  // namespace dream3d
