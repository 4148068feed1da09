// OpenMP helpers for the CPU kernels: contiguous chunks per thread, and per-thread scatter buffers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace dream3d {

inline int cpu_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Scatter target for one thread: adds v at grad[off] (the thread's own copy, see ScatterBuffers).
template <typename T>
struct AddAt {
  T* grad;
  void operator()(int64_t off, T v) { grad[off] += v; }
};

// Scatter-adds from several threads without atomics: each thread accumulates into its own buffer
// (the output itself for thread 0), then the buffers are summed into the output in parallel.
// Worth it while threads are few (the CPU case); the memory is (threads - 1) x the output.
template <typename T>
class ScatterBuffers {
 public:
  ScatterBuffers(T* out, int64_t n, int threads) : out_(out), n_(n), extra_(std::max(threads - 1, 0)) {
    if (extra_ > 0) buffers_.assign(static_cast<size_t>(extra_) * n, T(0));
  }
  T* for_thread(int thread) { return thread == 0 ? out_ : buffers_.data() + (thread - 1) * n_; }
  void reduce() {
    if (extra_ == 0) return;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n_; ++i) {
      T s = out_[i];
      for (int b = 0; b < extra_; ++b) s += buffers_[b * n_ + i];
      out_[i] = s;
    }
  }

 private:
  T* out_;
  int64_t n_;
  int extra_;
  std::vector<T> buffers_;
};

inline int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Threads in the current parallel region (the runtime may give fewer than asked for).
inline int cpu_threads_in_team() {
#ifdef _OPENMP
  return omp_get_num_threads();
#else
  return 1;
#endif
}

}  // namespace dream3d
