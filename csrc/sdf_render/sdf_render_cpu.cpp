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

// Pixels per unit of work of the forward, handed out on demand: rays that miss the bbox are cheap, rays
// near silhouettes are not. Large enough that the lanes seldom run dry at a chunk's end (64 instead
// of 512: 5% slower), small enough that every thread gets several chunks.
constexpr int64_t kMinPixelChunk = 64, kMaxPixelChunk = 512;

int64_t pixel_chunk(int64_t pixels, int threads) {
  return std::min(kMaxPixelChunk, std::max(kMinPixelChunk, pixels / (8 * static_cast<int64_t>(threads))));
}

// Pixels per unit of the backward's static split (fine-grained: the work sits at silhouettes).
constexpr int64_t kBackwardPixelChunk = 64;

// Below this many pixels a launch costs less than waking the other threads: it runs on one.
constexpr int64_t kParallelPixels = 512;

int threads_for(const SDFRenderArgs& a) {
  return a.batch * a.views * a.height * a.width < kParallelPixels ? 1 : cpu_threads();
}

// Rays one thread traces side by side: a sample is a long chain of dependent loads and arithmetic, and
// the core overlaps the chains of independent rays. Each round samples every lane first, then advances
// them, so no lane's branches sit between the samples. Two AVX2 vectors of lanes: the gathers of one
// wait on memory while the other's are computed.
constexpr int kGroups = 2;
constexpr int kLanes = kGroups * kSimdLanes;

// The lanes' rays in the layout the AVX2 sampler reads (o and d change only when a lane starts a ray,
// t after every sample), and whether that sampler serves this launch: float, a CPU with AVX2, and
// element offsets within int32. It computes what sdf_at computes, bitwise (no FMA, same order).
template <typename T>
struct LaneLayout {
  struct Group {
    float o[3][kSimdLanes], d[3][kSimdLanes], t[kSimdLanes];
    int32_t grid_offset[kSimdLanes];
  };
  bool simd;
  Group group[kGroups];

  LaneLayout(const SDFParams<T>& p, int64_t batch)
      : simd(std::is_same<T, float>::value && cpu_has_avx2() && batch * p.grid_numel <= INT32_MAX) {}
  void start(int l, const RayTrace<T>& r, int64_t grid_offset_of_ray) {
    if (!simd) return;
    Group& g = group[l / kSimdLanes];
    const int i = l % kSimdLanes;
    for (int a = 0; a < 3; ++a) g.o[a][i] = static_cast<float>(r.o[a]), g.d[a][i] = static_cast<float>(r.d[a]);
    g.t[i] = static_cast<float>(r.t);
    g.grid_offset[i] = static_cast<int32_t>(grid_offset_of_ray);
  }
  void set_t(int l, T t) { group[l / kSimdLanes].t[l % kSimdLanes] = static_cast<float>(t); }
  // f[l] = sdf_at of every lane; false when the scalar loop must do it (no AVX2 here, or a NaN point).
  bool sample(const T* sdf, const SDFParams<T>& p, T* f) const {
    if constexpr (std::is_same<T, float>::value) {
      if (!simd) return false;
      bool ok = true;
      for (int i = 0; i < kGroups; ++i) {
        const Group& g = group[i];
        ok &= trilinear_along_avx2(sdf, p.grid, g.o, g.d, g.t, g.grid_offset, f + i * kSimdLanes);
      }
      return ok;
    } else {
      return false;
    }
  }
};

// Traces rays [first, last) (ray id = pixel * S * S + sub-pixel) into hit_t, kLanes at a time.
template <typename T>
inline void trace_interleaved(const T* sdf, const T* c2w, const SDFParams<T>& p, int64_t batch, int64_t first,
                              int64_t last, T* hit_t) {
  const int64_t n_sub = p.supersample * p.supersample;
  RayTrace<T> rays[kLanes];
  LaneLayout<T> lanes(p, batch);
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
        lanes.start(l, r, grids[l] - sdf);
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
    lanes.start(l, rays[l], 0);
    n_live += (live[l] = start(l));
  }
  while (n_live > 0) {
    T f[kLanes];
    if (!lanes.sample(sdf, p, f)) {
      for (int l = 0; l < kLanes; ++l) {
        if (live[l]) f[l] = sdf_at(grids[l], p.grid, rays[l].o, rays[l].d, rays[l].t);
      }
    }
    for (int l = 0; l < kLanes; ++l) {
      if (!live[l]) continue;
      trace_advance(p, rays[l], f[l]);
      lanes.set_t(l, rays[l].t);
      if (rays[l].phase != TracePhase::kDone) continue;
      hit_t[ids[l]] = rays[l].t_hit;
      if (!start(l)) live[l] = false, --n_live;
    }
  }
}

// trace_interleaved compiled for AVX2 as a whole (flatten inlines the march and the vector sampler into
// it, so the lanes' values stay in registers between the sampler and the scalar advance); the same
// operations as the baseline build, and no FMA, so the same bits.
__attribute__((target("avx2"), flatten)) void trace_interleaved_avx2(const float* sdf, const float* c2w,
                                                                       const SDFParams<float>& p, int64_t batch,
                                                                       int64_t first, int64_t last, float* hit_t) {
  trace_interleaved(sdf, c2w, p, batch, first, last, hit_t);
}

template <typename T>
void trace_rays(const T* sdf, const T* c2w, const SDFParams<T>& p, int64_t batch, int64_t first, int64_t last,
                T* hit_t) {
  if constexpr (std::is_same<T, float>::value) {
    if (cpu_has_avx2()) return trace_interleaved_avx2(sdf, c2w, p, batch, first, last, hit_t);
  }
  trace_interleaved(sdf, c2w, p, batch, first, last, hit_t);
}

}  // namespace

template <typename T>
void sdf_render_forward_cpu(const SDFRenderArgs& args, const T* sdf, const T* c2w, const T* background,
                            const SDFRenderOutputs<T>& out) {
  const SDFParams<T> p = make_sdf_params<T>(args);
  const int64_t pixels = args.batch * args.views * args.height * args.width;
  const int64_t n_sub = args.supersample * args.supersample;
  const int threads = threads_for(args);
  const int64_t chunk = pixel_chunk(pixels, threads);
  const int64_t n_chunks = (pixels + chunk - 1) / chunk;
#pragma omp parallel for schedule(dynamic) num_threads(threads)
  for (int64_t c = 0; c < n_chunks; ++c) {
    const int64_t begin = c * chunk, end = std::min(pixels, begin + chunk);
    trace_rays(sdf, c2w, p, args.batch, begin * n_sub, end * n_sub, out.hit_t);
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
#pragma omp for schedule(static, kBackwardPixelChunk)
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
