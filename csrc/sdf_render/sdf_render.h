// Launchers of the SDF renderer: sphere tracing on trilinear SDF grids, batched over shapes and views.
// Raw pointers only: no torch types cross this header. Every tensor is contiguous:
// sdf (B, X, Y, Z), c2w (B, V, 4, 4), background (B, V, 3); per pixel rgb (3), mask, depth, normal (3),
// hit_t (S * S sub-pixel rays, t of the hit or -1 for a miss).
#pragma once

#include <cstdint>

#if defined(WITH_CUDA) || defined(__CUDACC__)
#include <cuda_runtime.h>
#endif

namespace dream3d {

struct SDFRenderArgs {
  double box[6];
  int64_t size[3];  // X, Y, Z of every grid
  int64_t batch, views, height, width, supersample;
  double focal;  // pixels: 0.5 * height / tan(fov / 2)
  double near, far, eps, step_scale, min_step;
  int64_t max_steps, refine_steps;
  double ambient, diffuse;
  double albedo[3];
  double light[3];  // unit direction towards the light; unused with a headlight
  bool headlight;
};

template <typename T>
struct SDFRenderOutputs {
  T* rgb;
  T* mask;
  T* depth;
  T* normal;
  T* hit_t;
};

// Upstream gradients of rgb, depth and normal (the mask has none).
template <typename T>
struct SDFRenderGrads {
  const T* rgb;
  const T* depth;
  const T* normal;
};

template <typename T>
void sdf_render_forward_cpu(const SDFRenderArgs& args, const T* sdf, const T* c2w, const T* background,
                            const SDFRenderOutputs<T>& out);

// grad_sdf must be zeroed by the caller.
template <typename T>
void sdf_render_backward_cpu(const SDFRenderArgs& args, const T* sdf, const T* c2w, const T* hit_t,
                             const SDFRenderGrads<T>& grads, T* grad_sdf);

#if defined(WITH_CUDA) || defined(__CUDACC__)
template <typename T>
void sdf_render_forward_cuda(const SDFRenderArgs& args, const T* sdf, const T* c2w, const T* background,
                             const SDFRenderOutputs<T>& out, cudaStream_t stream);

// grad_sdf must be zeroed by the caller.
template <typename T>
void sdf_render_backward_cuda(const SDFRenderArgs& args, const T* sdf, const T* c2w, const T* hit_t,
                              const SDFRenderGrads<T>& grads, T* grad_sdf, cudaStream_t stream);
#endif

}  // namespace dream3d
