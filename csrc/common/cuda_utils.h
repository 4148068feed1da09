// Small CUDA helpers shared by the .cu files (no torch headers).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace dream3d {

constexpr int kThreads = 256;

// Scatter target for the kernels: adds v at grad[off] atomically (threads share the gradient).
template <typename T>
struct AtomicAddAt {
  T* grad;
  __device__ void operator()(int64_t off, T v) { atomicAdd(grad + off, v); }
};

inline unsigned int blocks_for(int64_t n) {
  return static_cast<unsigned int>((n + kThreads - 1) / kThreads);
}

// Launch errors surface as exceptions, which the bindings turn into Python errors.
inline void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

}  // namespace dream3d
