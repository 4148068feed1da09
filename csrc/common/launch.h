// CUDA launch geometry, shared by the kernels and the host code that sizes their scratch buffers
// (no CUDA headers here, so the torch-side bindings can include it).
#pragma once

#include <cstdint>

namespace dream3d {

constexpr int kThreads = 256;  // threads per block of every kernel

// Blocks of kThreads for n elements: also the number of per-block partial sums of a reduction.
inline int64_t cuda_blocks(int64_t n) { return (n + kThreads - 1) / kThreads; }

}  // namespace dream3d
