// Launchers of the fused DVGO volume renderer. Raw pointers only: no torch types cross this header.
// box = (xmin, ymin, zmin, xmax, ymax, zmax); size/stride describe the (X, Y, Z) density grid.
#pragma once

#include <cstdint>
#include <functional>

#if defined(WITH_CUDA) || defined(__CUDACC__)
#include <cuda_runtime.h>
#endif

namespace dream3d {

struct RenderArgs {
  double box[6];
  int64_t size[3];
  int64_t stride[3];
  double step_size, act_shift, interval, near, far, t_thres, weight_thres;
  int64_t n_rays;
  int64_t n_samples = 0;  // the backward's packed samples (length of step_ids, weights, grad_w)
};

// Where a CPU forward writes the packed samples; allocated by the caller once their number is known.
template <typename T>
struct SampleOutputs {
  int64_t* ray_ids;
  int32_t* step_ids;
  T* t;
  T* weights;
};

// Fills t_final (R) and ray_offsets (R + 1), calls allocate(N) for the N kept samples, then writes
// them ordered by ray then step.
template <typename T>
void render_forward_cpu(const RenderArgs& args, const T* density, const T* rays_o, const T* rays_d,
                        T* t_final, int64_t* ray_offsets,
                        const std::function<SampleOutputs<T>(int64_t)>& allocate);

template <typename T>
void render_backward_cpu(const RenderArgs& args, const T* density, const T* rays_o, const T* rays_d,
                         const int64_t* ray_offsets, const int32_t* step_ids, const T* weights,
                         const T* t_final, const T* grad_w, const T* grad_t_final, T* grad_density);

#if defined(WITH_CUDA) || defined(__CUDACC__)
// Pass 1: kept samples per ray (counts) and T_final. The caller scans counts into ray_offsets.
template <typename T>
void render_count_cuda(const RenderArgs& args, const T* density, const T* rays_o, const T* rays_d,
                       int64_t* counts, T* t_final, cudaStream_t stream);

// Pass 2: writes each ray's kept samples at ray_offsets[r].
template <typename T>
void render_fill_cuda(const RenderArgs& args, const T* density, const T* rays_o, const T* rays_d,
                      const int64_t* ray_offsets, int64_t* ray_ids, int32_t* step_ids, T* t,
                      T* weights, cudaStream_t stream);

// grad_density must be zeroed by the caller (contiguous layout given by args.stride). step_ids,
// weights and grad_w hold args.n_samples entries: each ray's range ray_offsets[r]:ray_offsets[r + 1] is
// clipped to them (checking the offsets on the host would cost a sync).
template <typename T>
void render_backward_cuda(const RenderArgs& args, const T* density, const T* rays_o, const T* rays_d,
                          const int64_t* ray_offsets, const int32_t* step_ids, const T* weights,
                          const T* t_final, const T* grad_w, const T* grad_t_final, T* grad_density,
                          cudaStream_t stream);
#endif

}  // namespace dream3d
