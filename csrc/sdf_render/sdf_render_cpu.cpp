// CPU (OpenMP) kernels of the SDF renderer: chunks of pixels per thread, whose rays a thread traces
// several at a time; the per-ray and per-pixel work from sdf_render_trace.h.
#include "sdf_render/sdf_render.h"

#include <algorithm>
#include <type_traits>

#include "common/cpu_parallel.h"
#include "common/cpu_simd.h"
#include "sdf_render/sdf_render_trace.h"

namespace dream3d {
namespace {

// Pixels per unit of work: rays that miss the bbox are cheap, rays near silhouettes are not.
constexpr int64_t kPixelChunk = 64;

// Below this many pixels a launch costs less than waking the other threads: it runs on one.
constexpr int64_t kParallelPixels = 512;

int threads_for(const SDFRenderArgs& a) {
  return a.batch * a.views * a.height * a.width < kParallelPixels ? 1 : cpu_threads();
}

// Rays one thread traces side by side: a sample is a long chain of dependent loads and arithmetic, and
// the core overlaps the chains of independent rays. Each round samples every lane first, then advances
// them, so no lane's branches sit between the samples.
constexpr int kLanes = 8;

// sdf_at for all kLanes lanes at once with AVX2 where the CPU has it, bitwise equal to the scalar
// sdf_at (the same operations in the same order, no FMA); false when the scalar loop must do it: no
// AVX2, double, element offsets past int32, or a lane whose point is NaN.
template <typename T>
bool sample_lanes_simd(const T* sdf, const SDFParams<T>& p, const RayTrace<T>* rays, const T* const* grids,
                       T* f) {
  static_assert(kLanes % kSimdLanes == 0, "whole AVX2 vectors of lanes");
  if constexpr (std::is_same<T, float>::value) {
    if (!cpu_has_avx2()) return false;
    for (int v = 0; v < kLanes; v += kSimdLanes) {
      float o[3][kSimdLanes], d[3][kSimdLanes], t[kSimdLanes];
      int32_t grid_offset[kSimdLanes];
      for (int l = 0; l < kSimdLanes; ++l) {
        const RayTrace<T>& r = rays[v + l];
        const int64_t off = grids[v + l] - sdf;
        if (off + p.grid_numel > INT32_MAX) return false;
        grid_offset[l] = static_cast<int32_t>(off);
        t[l] = r.t;
        for (int a = 0; a < 3; ++a) o[a][l] = r.o[a], d[a][l] = r.d[a];
      }
      if (!trilinear_along_avx2(sdf, p.grid, o, d, t, grid_offset, f + v)) return false;
    }
    return true;
  } else {
    return false;
  }
}

// Traces rays [first, last) (ray id = pixel * S * S + sub-pixel) into hit_t, kLanes at a time.
template <typename T>
void trace_interleaved(const T* sdf, const T* c2w, const SDFParams<T>& p, int64_t first, int64_t last,
                       T* hit_t) {
  const int64_t n_sub = p.supersample * p.supersample;
  RayTrace<T> rays[kLanes];
  const T* grids[kLanes];
  int64_t ids[kLanes];
  int64_t next = first;
  // Gives lane l the next ray that enters the bbox (the others are misses at once); false if none is left.
  const auto start = [&](int l) {
    while (next < last) {
      const int64_t id = next++, pixel = id / n_sub;
      RayTrace<T>& r = rays[l];
      pixel_ray(p, c2w, pixel, id % n_sub, r.o, r.d);
      trace_begin(p, r);
      if (r.phase != TracePhase::kDone) {
        ids[l] = id;
        grids[l] = sdf + batch_of(p, pixel) * p.grid_numel;
        return true;
      }
      hit_t[id] = r.t_hit;
    }
    return false;
  };
  bool live[kLanes];
  int n_live = 0;
  for (int l = 0; l < kLanes; ++l) {
    rays[l] = RayTrace<T>{};  // a lane that never gets a ray still samples (and ignores) valid memory
    grids[l] = sdf;
    n_live += (live[l] = start(l));
  }
  while (n_live > 0) {
    T f[kLanes];
    if (!sample_lanes_simd(sdf, p, rays, grids, f)) {
      for (int l = 0; l < kLanes; ++l) {
        if (live[l]) f[l] = sdf_at(grids[l], p.grid, rays[l].o, rays[l].d, rays[l].t);
      }
    }
    for (int l = 0; l < kLanes; ++l) {
      if (!live[l]) continue;
      trace_advance(p, rays[l], f[l]);
      if (rays[l].phase != TracePhase::kDone) continue;
      hit_t[ids[l]] = rays[l].t_hit;
      if (!start(l)) live[l] = false, --n_live;
    }
  }
}

}  // namespace

template <typename T>
void sdf_render_forward_cpu(const SDFRenderArgs& args, const T* sdf, const T* c2w, const T* background,
                            const SDFRenderOutputs<T>& out) {
  const SDFParams<T> p = make_sdf_params<T>(args);
  const int64_t pixels = args.batch * args.views * args.height * args.width;
  const int64_t n_sub = args.supersample * args.supersample;
  const int64_t n_chunks = (pixels + kPixelChunk - 1) / kPixelChunk;
#pragma omp parallel for schedule(dynamic) num_threads(threads_for(args))
  for (int64_t c = 0; c < n_chunks; ++c) {
    const int64_t begin = c * kPixelChunk, end = std::min(pixels, begin + kPixelChunk);
    trace_interleaved(sdf, c2w, p, begin * n_sub, end * n_sub, out.hit_t);
    for (int64_t i = begin; i < end; ++i) {
      shade_pixel(sdf + batch_of(p, i) * p.grid_numel, c2w, background, p, i, out);
    }
  }
}

template <typename T>
void sdf_render_backward_cpu(const SDFRenderArgs& args, const T* sdf, const T* c2w, const T* hit_t,
                             const SDFRenderGrads<T>& grads, T* grad_sdf) {
  const SDFParams<T> p = make_sdf_params<T>(args);
  const int64_t per_batch = args.views * args.height * args.width;
  const int threads = threads_for(args);
  if (args.batch >= threads) {
    // Whole grids per thread: no two threads write to the same grid, so no buffers.
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t b = 0; b < args.batch; ++b) {
      AddAt<T> add{grad_sdf + b * p.grid_numel};
      for (int64_t i = b * per_batch; i < (b + 1) * per_batch; ++i) {
        backward_pixel(sdf + b * p.grid_numel, c2w, hit_t, grads, p, i, add);
      }
    }
    return;
  }
  // Few grids: one at a time, its pixels split over the threads, each scattering into its own copy.
  for (int64_t b = 0; b < args.batch; ++b) {
    ScatterBuffers<T> buffers(grad_sdf + b * p.grid_numel, p.grid_numel, threads);
#pragma omp parallel num_threads(threads)
    {
      AddAt<T> add{buffers.for_thread(thread_id())};
      // static: the same pixels land in the same thread's copy every call, so the sums are bitwise
      // repeatable (for a fixed thread count)
#pragma omp for schedule(static, kPixelChunk)
      for (int64_t i = b * per_batch; i < (b + 1) * per_batch; ++i) {
        backward_pixel(sdf + b * p.grid_numel, c2w, hit_t, grads, p, i, add);
      }
    }
    buffers.reduce();
  }
}

#define D3D_INSTANTIATE(T)                                                                          \
  template void sdf_render_forward_cpu<T>(const SDFRenderArgs&, const T*, const T*, const T*,      \
                                          const SDFRenderOutputs<T>&);                              \
  template void sdf_render_backward_cpu<T>(const SDFRenderArgs&, const T*, const T*, const T*,     \
                                           const SDFRenderGrads<T>&, T*);
D3D_INSTANTIATE(float)
D3D_INSTANTIATE(double)
#undef D3D_INSTANTIATE

}  // namespace dream3d
