// Small CUDA helpers shared by the .cu files (no torch headers).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/launch.h"

namespace dream3d {

// Scatter target for the kernels: adds v at grad[off] atomically (threads share the gradient).
template <typename T>
struct AtomicAddAt {
  T* grad;
  __device__ void operator()(int64_t off, T v) { atomicAdd(grad + off, v); }
};

// cuda_blocks(n) as a launch's grid size.
inline unsigned int blocks_for(int64_t n) { return static_cast<unsigned int>(cuda_blocks(n)); }

// The block's sum of v, in double and in a fixed order (a tree in shared memory), returned to every
// thread. Every thread of the block (blockDim.x == kThreads) must call it: it synchronises the block.
__device__ __forceinline__ double block_sum(double v) {
  __shared__ double partial[kThreads];
  __syncthreads();  // a previous call's readers are done with partial
  partial[threadIdx.x] = v;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
    __syncthreads();
  }
  return partial[0];
}

// *out = the sum of partials[0:n] (one block, fixed order): with per-block partials written by a first
// kernel, a reduction that repeats bit for bit from run to run, unlike atomicAdd of floats.
template <typename T>
__global__ void sum_partials_kernel(const double* __restrict__ partials, int64_t n, T* out) {
  double v = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) v += partials[i];
  const double total = block_sum(v);
  if (threadIdx.x == 0) *out = static_cast<T>(total);
}

// Launch errors surface as exceptions, which the bindings turn into Python errors.
inline void check_launch(const char* what) {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(err));
}

}  // namespace dream3d
