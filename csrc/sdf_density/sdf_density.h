// Launchers of the elementwise SDF ops: SDF-to-density initialisation (paper eq. 9) and the
// shape-prior-preserving loss (eq. 4). Raw pointers to contiguous arrays of n elements.
#pragma once

#include <cstdint>

#if defined(WITH_CUDA) || defined(__CUDACC__)
#include <cuda_runtime.h>
#endif

namespace dream3d {

// V = max(0, softplus^-1(sigmoid(-sdf / beta) / beta) - shift) and, when grad_sdf is not null,
// grad_sdf = grad_v * dV/dsdf (computed in the same pass).
template <typename T>
void sdf_to_density_cpu(int64_t n, const T* sdf, T beta, T shift, T* v);

template <typename T>
void sdf_to_density_backward_cpu(int64_t n, const T* sdf, const T* grad_v, T beta, T shift, T* grad_sdf);

// Writes L = -sum_{sdf < 0} alpha(V) to *loss, dL/dV to grad and the number of voxels with sdf < 0
// to *count.
template <typename T>
void prior_loss_cpu(int64_t n, const T* density, const T* sdf, T act_shift, T interval, T* grad, T* loss,
                    int64_t* count);

#if defined(WITH_CUDA) || defined(__CUDACC__)
template <typename T>
void sdf_to_density_cuda(int64_t n, const T* sdf, T beta, T shift, T* v, cudaStream_t stream);

template <typename T>
void sdf_to_density_backward_cuda(int64_t n, const T* sdf, const T* grad_v, T beta, T shift, T* grad_sdf,
                                  cudaStream_t stream);

// loss and count are zeroed by the caller; count is accumulated atomically (exact), the loss summed per
// block into partials (scratch of cuda_blocks(n) doubles, common/launch.h) and those in a fixed order.
template <typename T>
void prior_loss_cuda(int64_t n, const T* density, const T* sdf, T act_shift, T interval, T* grad, T* loss,
                     int64_t* count, double* partials, cudaStream_t stream);
#endif

}  // namespace dream3d
