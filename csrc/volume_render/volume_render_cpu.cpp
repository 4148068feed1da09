// CPU (OpenMP) kernels of the fused DVGO volume renderer: one ray per iteration, the march from
// volume_render_march.h.
#include "volume_render/volume_render.h"

#include <algorithm>

#include "common/cpu_parallel.h"
#include "volume_render/volume_render_march.h"

namespace dream3d {
namespace {

// One chunk of rays' kept samples (their rays follow from the per-ray counts).
template <typename T>
struct ChunkSamples {
  std::vector<int32_t> step_ids;
  std::vector<T> t;
  std::vector<T> weights;
};

template <typename T>
struct AppendSample {
  ChunkSamples<T>* out;
  void operator()(int64_t k, T t, T w) {
    out->step_ids.push_back(static_cast<int32_t>(k));
    out->t.push_back(t);
    out->weights.push_back(w);
  }
};

template <typename T>
struct ScatterToGrid {
  T* grad;
  void operator()(const Cell<T>& cell, T g) {
    for (int corner = 0; corner < 8; ++corner) {
      int64_t off;
      const T w = corner_weight(cell, corner, off);
      grad[off] += w * g;
    }
  }
};

// Rays per unit of work handed to a thread.
constexpr int64_t kRayChunk = 64;

}  // namespace

template <typename T>
void render_forward_cpu(const RenderArgs& args, const T* density, const T* rays_o, const T* rays_d,
                        T* t_final, int64_t* ray_offsets,
                        const std::function<SampleOutputs<T>(int64_t)>& allocate) {
  const RenderParams<T> p = make_params<T>(args);
  // Rays go to threads in chunks, on demand (a ray that hits something ends early, so the work per
  // ray varies); each chunk packs into its own buffers, copied to the output at the chunk's offset.
  const int64_t n_chunks = (args.n_rays + kRayChunk - 1) / kRayChunk;
  std::vector<ChunkSamples<T>> chunks(n_chunks);
#pragma omp parallel for schedule(dynamic)
  for (int64_t c = 0; c < n_chunks; ++c) {
    ChunkSamples<T>& mine = chunks[c];
    const int64_t begin = c * kRayChunk, end = std::min(args.n_rays, begin + kRayChunk);
    AppendSample<T> emit{&mine};
    for (int64_t r = begin; r < end; ++r) {
      const size_t before = mine.t.size();
      t_final[r] = march_forward(density, p, rays_o + 3 * r, rays_d + 3 * r, emit);
      ray_offsets[r + 1] = static_cast<int64_t>(mine.t.size() - before);  // a count until the scan
    }
  }
  ray_offsets[0] = 0;
  for (int64_t r = 0; r < args.n_rays; ++r) ray_offsets[r + 1] += ray_offsets[r];
  const SampleOutputs<T> out = allocate(ray_offsets[args.n_rays]);
#pragma omp parallel for schedule(dynamic)
  for (int64_t c = 0; c < n_chunks; ++c) {
    const ChunkSamples<T>& mine = chunks[c];
    const int64_t begin = c * kRayChunk, end = std::min(args.n_rays, begin + kRayChunk);
    const int64_t at = ray_offsets[begin];
    std::copy(mine.step_ids.begin(), mine.step_ids.end(), out.step_ids + at);
    std::copy(mine.t.begin(), mine.t.end(), out.t + at);
    std::copy(mine.weights.begin(), mine.weights.end(), out.weights + at);
    for (int64_t r = begin; r < end; ++r) std::fill(out.ray_ids + ray_offsets[r], out.ray_ids + ray_offsets[r + 1], r);
  }
}

template <typename T>
void render_backward_cpu(const RenderArgs& args, const T* density, const T* rays_o, const T* rays_d,
                         const int64_t* ray_offsets, const int32_t* step_ids, const T* weights,
                         const T* t_final, const T* grad_w, const T* grad_t_final, T* grad_density) {
  const RenderParams<T> p = make_params<T>(args);
  const int threads = cpu_threads();
  // grad_density shares the density's dense layout; its extent is the largest offset + 1.
  int64_t extent = 1;
  for (int a = 0; a < 3; ++a) extent += (args.size[a] - 1) * args.stride[a];
  ScatterBuffers<T> buffers(grad_density, extent, threads);
#pragma omp parallel num_threads(threads)
  {
    ScatterToGrid<T> scatter{buffers.for_thread(thread_id())};
#pragma omp for schedule(dynamic, kRayChunk)
    for (int64_t r = 0; r < args.n_rays; ++r) {
      const int64_t begin = ray_offsets[r];
      march_backward(density, p, rays_o + 3 * r, rays_d + 3 * r, step_ids + begin, weights + begin,
                     grad_w + begin, ray_offsets[r + 1] - begin, t_final[r], grad_t_final[r], scatter);
    }
  }
  buffers.reduce();
}

#define D3D_INSTANTIATE(T)                                                                           \
  template void render_forward_cpu<T>(const RenderArgs&, const T*, const T*, const T*, T*, int64_t*, \
                                      const std::function<SampleOutputs<T>(int64_t)>&);            \
  template void render_backward_cpu<T>(const RenderArgs&, const T*, const T*, const T*,              \
                                       const int64_t*, const int32_t*, const T*, const T*, const T*, \
                                       const T*, T*);
D3D_INSTANTIATE(float)
D3D_INSTANTIATE(double)
#undef D3D_INSTANTIATE

}  // namespace dream3d
