// CPU (OpenMP) kernels of the fused DVGO volume renderer. The march's state machine from
// volume_render_march.h is driven two ways: for float on a CPU with AVX2, 8 rays side by side whose
// samples one vector computation takes (sample_lanes_avx2); otherwise one ray at a time, with
// prefetches ahead of its samples.
#include "volume_render/volume_render.h"

#include <algorithm>
#include <climits>
#include <type_traits>

#include "common/cpu_parallel.h"
#include "common/cpu_simd_math.h"
#include "volume_render/volume_render_march.h"

namespace dream3d {
namespace {

// A thread's kept samples, ray after ray, until they are copied to the output. One per OpenMP
// thread, kept between calls (the pool's threads persist): a call then neither allocates nor touches
// fresh pages, which cost as much as the march itself when every sample is kept.
template <typename T>
struct ThreadSamples {
  std::vector<int32_t> step_ids;
  std::vector<T> t;
  std::vector<T> weights;
  void clear() {
    step_ids.clear();
    t.clear();
    weights.clear();
  }
  size_t size() const { return t.size(); }
  void append(const ThreadSamples& other) {
    step_ids.insert(step_ids.end(), other.step_ids.begin(), other.step_ids.end());
    t.insert(t.end(), other.t.begin(), other.t.end());
    weights.insert(weights.end(), other.weights.begin(), other.weights.end());
  }
  static ThreadSamples& mine() {
    static thread_local ThreadSamples samples;
    return samples;
  }
};

template <typename T>
struct AppendSample {
  ThreadSamples<T>* out;
  void operator()(int64_t k, T t, T w) {
    out->step_ids.push_back(static_cast<int32_t>(k));
    out->t.push_back(t);
    out->weights.push_back(w);
  }
};

// Where a ray's kept samples wait: in which thread's buffer, from which index.
template <typename T>
struct RayPlace {
  const ThreadSamples<T>* buffer;
  size_t begin;
};

// Rays per unit of work handed to a thread.
constexpr int64_t kRayChunk = 64;

// A sample reads 8 values in 4 cache lines of the grid (and the backward adds to 8 in 4 lines of the
// gradient), which miss the cache once the grid outgrows it. Their addresses are known long before:
// sample k + n sits at t + n * step_size. So each sample asks for the lines of the sample kAhead steps
// on, which arrive while the samples in between are computed. Measured on one core at 128^3: 1.0-1.5x
// for float (more the colder the cache), 1.6-2x for double.
constexpr int kAhead = 8;

// Asks for the cache lines of the cell at t along the ray in grid, and in grad (same layout) when
// given; nothing outside the bbox. The 4 corners with the lower z share their lines with their z + 1
// neighbours in the dense layout (except where a pair straddles a line), so 4 requests cover the cell.
// Always inlined: GCC takes a function that only prefetches for one without effects and drops its calls.
template <typename T>
__attribute__((always_inline)) inline void prefetch_along(const RenderParams<T>& p, const MarchState<T>& s,
                                                          T t, const T* grid, T* grad = nullptr) {
  Cell<T> cell;
  if (!locate_along(p, s, t, cell)) return;
  for (int corner = 0; corner < 4; ++corner) {
    int64_t off;
    corner_weight(cell, corner, off);
    __builtin_prefetch(grid + off);
    if (grad) __builtin_prefetch(grad + off, 1);
  }
}

// march_forward and march_backward (volume_render_march.h) with the prefetches.
template <typename T, typename Emit>
T forward_ray(const T* density, const RenderParams<T>& p, const T o[3], const T d[3], Emit& emit) {
  MarchState<T> s;
  march_begin(p, o, d, s);
  while (!s.done) {
    prefetch_along(p, s, s.t + kAhead * p.step_size, density);
    forward_advance(p, s, march_sample(density, p, s), emit);
  }
  return s.trans;
}

template <typename T>
void backward_ray(const T* density, const RenderParams<T>& p, const T o[3], const T d[3],
                  KeptSamples<T> kept, T t_final, T grad_t_final, AddAt<T>& add) {
  MarchState<T> s;
  ScatterToCell<T, AddAt<T>> scatter{add};
  backward_begin(p, o, d, t_final, grad_t_final, s, kept);
  while (!s.done) {
    prefetch_along(p, s, s.t + kAhead * p.step_size, density, add.grad);
    backward_advance(p, s, kept, march_sample(density, p, s), scatter);
  }
}

// ---- 8 rays side by side (float, AVX2) ----

constexpr int kLanes = kSimdLanes;

// How many steps ahead of its sample each lane asks for the cache lines of its cell (and of the
// gradient's, in the backward). Measured at 128^3 on 2 cores: 1 step 1.5x slower than 6 to 12 (a step
// is half a voxel, so the next sample is often in the same cell), no prefetch 2x slower.
constexpr int kLaneAhead = 8;

// The rays of the lanes in the layout the vector sampler reads; o and d change when a lane starts a
// ray, t before every round.
struct LaneRays {
  float o[3][kLanes], d[3][kLanes], t[kLanes];
};

// The AVX2 path serves float grids whose element offsets fit in int32, on a CPU with AVX2.
template <typename T>
bool use_lanes(const RenderArgs& a) {
  return std::is_same<T, float>::value && cpu_has_avx2() && grid_extent(a.size, a.stride) <= INT32_MAX;
}

// The samples of the lanes, as the vector sampler leaves them; at(l) is lane l's as march_sample gives it.
struct SampleLanes {
  int inside;  // bit l: lane l's sample lies inside the bbox
  alignas(32) int32_t base[kLanes];
  alignas(32) float frac[3][kLanes];
  alignas(32) float keep[kLanes];
  alignas(32) float sigmoid[kLanes];
  int64_t stride[3];

  MarchSample<float> at(int l) const {
    MarchSample<float> m;
    m.inside = (inside >> l) & 1;
    m.cell.base = base[l];
    for (int a = 0; a < 3; ++a) m.cell.step[a] = stride[a], m.cell.frac[a] = frac[a][l];
    m.act = {keep[l], sigmoid[l]};
    return m;
  }
};

#if D3D_HAVE_AVX2_PATH
// march_sample of every lane at its t: the bbox test and the cell with the scalar path's roundings
// (the same operations, no FMA), the trilinear sum in the same order, the activation within a few ulp
// (vector exp and log1p). One compiled copy (noinline) serves the forward and the backward, so both
// see the same samples: the backward finds the forward's kept samples by their step ids.
// Also asks for the cache lines of each lane's cell kLaneAhead steps on (and of the same cell of
// grad, when given).
__attribute__((target("avx2,fma"), noinline)) void sample_lanes_avx2(const float* density,
                                                                     const RenderParams<float>& p,
                                                                     const LaneRays& rays, const float* grad,
                                                                     SampleLanes& out) {
  const GridBox<float>& g = p.grid;
  const __m256 t = load_written_lanes(rays.t);
  __m256 inside = _mm256_castsi256_ps(_mm256_set1_epi32(-1));
  __m256 x[3], x_next[3];
  const __m256 t_next = _mm256_add_ps(t, _mm256_set1_ps(kLaneAhead * p.step_size));
  for (int a = 0; a < 3; ++a) {
    const __m256 lo = _mm256_set1_ps(g.lo[a]), hi = _mm256_set1_ps(g.hi[a]);
    const __m256 o = _mm256_loadu_ps(rays.o[a]), d = _mm256_loadu_ps(rays.d[a]);
    const __m256 xa = _mm256_add_ps(o, _mm256_mul_ps(t, d));
    inside = _mm256_and_ps(inside, _mm256_and_ps(_mm256_cmp_ps(xa, lo, _CMP_GE_OQ), _mm256_cmp_ps(xa, hi, _CMP_LE_OQ)));
    x[a] = _mm256_min_ps(_mm256_max_ps(xa, lo), hi);  // a lane outside (or NaN) reads a valid cell, unused
    x_next[a] = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(o, _mm256_mul_ps(t_next, d)), lo), hi);
  }
  // the 4 lines of a cell: its (x, y) corners, each with its z + 1 neighbour where z is contiguous
  alignas(32) int32_t ahead[kLanes];
  _mm256_store_si256(reinterpret_cast<__m256i*>(ahead), locate_avx2(g, x_next, _mm256_setzero_si256()).base);
  const int64_t sx = g.stride[0], sy = g.stride[1];
  for (int l = 0; l < kLanes; ++l) {
    const float* cell = density + ahead[l];
    __builtin_prefetch(cell), __builtin_prefetch(cell + sy), __builtin_prefetch(cell + sx), __builtin_prefetch(cell + sx + sy);
    if (grad) {
      const float* gc = grad + ahead[l];
      __builtin_prefetch(gc, 1), __builtin_prefetch(gc + sy, 1), __builtin_prefetch(gc + sx, 1), __builtin_prefetch(gc + sx + sy, 1);
    }
  }
  const CellLanes cell = locate_avx2(g, x, _mm256_setzero_si256());
  const __m256 raw = interpolate_avx2(density, g, cell);
  const ActivationLanes act = activate_avx2(_mm256_add_ps(raw, _mm256_set1_ps(p.act_shift)), p.interval);
  out.inside = _mm256_movemask_ps(inside);
  _mm256_store_si256(reinterpret_cast<__m256i*>(out.base), cell.base);
  for (int a = 0; a < 3; ++a) _mm256_store_ps(out.frac[a], cell.frac[a]), out.stride[a] = g.stride[a];
  _mm256_store_ps(out.keep, act.keep);
  _mm256_store_ps(out.sigmoid, act.sigmoid);
}

// scatter_cell for the lanes in mask: adds value[l]'s trilinear shares to the 8 corners of lane l's
// cell in grad (the weights for all lanes at once, the adds lane by lane, so lanes sharing a corner add
// in turn).
__attribute__((target("avx2,fma"), noinline)) void scatter_lanes_avx2(float* grad, const SampleLanes& cells,
                                                                      const float value[kLanes], int mask) {
  const __m256 one = _mm256_set1_ps(1.0f), v = _mm256_loadu_ps(value);
  __m256 lower[3], upper[3];
  for (int a = 0; a < 3; ++a) upper[a] = _mm256_load_ps(cells.frac[a]), lower[a] = _mm256_sub_ps(one, upper[a]);
  alignas(32) float share[8][kLanes];
  int64_t corner_offset[8];
  for (int corner = 0; corner < 8; ++corner) {
    const int bx = corner & 1, by = (corner >> 1) & 1, bz = (corner >> 2) & 1;
    const __m256 w = _mm256_mul_ps(_mm256_mul_ps(bx ? upper[0] : lower[0], by ? upper[1] : lower[1]),
                                   bz ? upper[2] : lower[2]);
    _mm256_store_ps(share[corner], _mm256_mul_ps(w, v));
    corner_offset[corner] = bx * cells.stride[0] + by * cells.stride[1] + bz * cells.stride[2];
  }
  for (int l = 0; l < kLanes; ++l) {
    if (!((mask >> l) & 1)) continue;
    float* cell = grad + cells.base[l];
    for (int corner = 0; corner < 8; ++corner) cell[corner_offset[corner]] += share[corner][l];
  }
}
#else
void sample_lanes_avx2(const float*, const RenderParams<float>&, const LaneRays&, const float*, SampleLanes&) {}
void scatter_lanes_avx2(float*, const SampleLanes&, const float*, int) {}
#endif

// Marches rays [begin, end) kLanes at a time. start(l, r, s) begins ray r in lane l's state s and
// returns false when it is done at once; advance(l, s, m) moves the lane past its sample m;
// finish(l, r, s) runs when the lane's ray is done; end_round(samples) after each round.
template <typename Start, typename Advance, typename Finish, typename EndRound>
void march_lanes(const float* density, const RenderParams<float>& p, const float* rays_o, const float* rays_d,
                 int64_t begin, int64_t end, const float* grad, Start&& start, Advance&& advance,
                 Finish&& finish, EndRound&& end_round) {
  LaneRays rays{};  // a lane without a ray samples (and ignores) a valid cell
  MarchState<float> s[kLanes];
  int64_t ray[kLanes];
  bool live[kLanes];
  int64_t next = begin;
  const auto take_ray = [&](int l) {
    while (next < end) {
      const int64_t r = next++;
      if (!start(l, r, s[l])) continue;
      ray[l] = r;
      for (int a = 0; a < 3; ++a) rays.o[a][l] = rays_o[3 * r + a], rays.d[a][l] = rays_d[3 * r + a];
      return true;
    }
    return false;
  };
  int n_live = 0;
  for (int l = 0; l < kLanes; ++l) n_live += (live[l] = take_ray(l));
  SampleLanes samples;
  while (n_live > 0) {
    for (int l = 0; l < kLanes; ++l) rays.t[l] = live[l] ? s[l].t : 0.0f;
    sample_lanes_avx2(density, p, rays, grad, samples);
    for (int l = 0; l < kLanes; ++l) {
      if (!live[l]) continue;
      advance(l, s[l], samples.at(l));
      if (!s[l].done) continue;
      finish(l, ray[l], s[l]);
      if (!take_ray(l)) live[l] = false, --n_live;
    }
    end_round(samples);
  }
}

// The forward of rays [begin, end) in lanes. Each lane's kept samples gather in a buffer of its own and
// move to the thread's when its ray is done: rays finish out of order, places[r] says where each went.
void forward_lanes(const float* density, const RenderParams<float>& p, const float* rays_o,
                   const float* rays_d, int64_t begin, int64_t end, float* t_final, int64_t* counts,
                   RayPlace<float>* places, ThreadSamples<float>& mine) {
  static thread_local ThreadSamples<float> lane_samples[kLanes];
  const auto done = [&](int64_t r, const MarchState<float>& s, const ThreadSamples<float>& samples) {
    t_final[r] = s.trans;
    places[r] = {&mine, mine.size()};
    counts[r] = static_cast<int64_t>(samples.size());
    mine.append(samples);
  };
  march_lanes(
      density, p, rays_o, rays_d, begin, end, nullptr,
      [&](int l, int64_t r, MarchState<float>& s) {
        lane_samples[l].clear();
        march_begin(p, rays_o + 3 * r, rays_d + 3 * r, s);
        if (s.done) done(r, s, lane_samples[l]);
        return !s.done;
      },
      [&](int l, MarchState<float>& s, const MarchSample<float>& m) {
        AppendSample<float> emit{&lane_samples[l]};
        forward_advance(p, s, m, emit);
      },
      [&](int l, int64_t r, const MarchState<float>& s) { done(r, s, lane_samples[l]); },
      [](const SampleLanes&) {});
}

// The backward of rays [begin, end) in lanes.
void backward_lanes(const float* density, const RenderParams<float>& p, const float* rays_o,
                    const float* rays_d, int64_t begin, int64_t end, const int64_t* ray_offsets,
                    const int32_t* step_ids, const float* weights, const float* t_final, const float* grad_w,
                    const float* grad_t_final, AddAt<float>& add) {
  KeptSamples<float> kept[kLanes];
  // each round's dL/draw per lane, scattered at the round's end; mask: the lanes that have one
  struct Record {
    float* value;
    int* mask;
    int lane;
    void operator()(const Cell<float>&, float v) { value[lane] = v, *mask |= 1 << lane; }
  };
  float value[kLanes] = {};
  int mask = 0;
  march_lanes(
      density, p, rays_o, rays_d, begin, end, add.grad,
      [&](int l, int64_t r, MarchState<float>& s) {
        const int64_t first = ray_offsets[r];
        kept[l] = {step_ids + first, weights + first, grad_w + first, ray_offsets[r + 1] - first};
        // backward_begin reads the ray's weights and grad_w; its step ids are read sample by sample, by
        // 8 lanes at once, too scattered for the hardware prefetcher
        for (int64_t i = 0; i < kept[l].n_kept; i += 64 / sizeof(int32_t)) __builtin_prefetch(kept[l].step_ids + i);
        backward_begin(p, rays_o + 3 * r, rays_d + 3 * r, t_final[r], grad_t_final[r], s, kept[l]);
        return !s.done;
      },
      [&](int l, MarchState<float>& s, const MarchSample<float>& m) {
        Record record{value, &mask, l};
        backward_advance(p, s, kept[l], m, record);
      },
      [](int, int64_t, const MarchState<float>&) {},
      [&](const SampleLanes& samples) {
        if (mask) scatter_lanes_avx2(add.grad, samples, value, mask);
        mask = 0;
      });
}

}  // namespace

template <typename T>
void render_forward_cpu(const RenderArgs& args, const T* density, const T* rays_o, const T* rays_d,
                        T* t_final, int64_t* ray_offsets,
                        const std::function<SampleOutputs<T>(int64_t)>& allocate) {
  const RenderParams<T> p = make_params<T>(args);
  const bool lanes = use_lanes<T>(args);
  // Rays go to threads in chunks, on demand (a ray that hits something ends early, so the work per
  // ray varies); each ray's samples pack into its thread's buffers, copied to the output at the
  // ray's offset. ray_offsets[r + 1] holds ray r's count until the scan.
  const int64_t n_chunks = (args.n_rays + kRayChunk - 1) / kRayChunk;
  std::vector<RayPlace<T>> places(args.n_rays);
  int64_t* counts = ray_offsets + 1;
#pragma omp parallel
  {
    ThreadSamples<T>& mine = ThreadSamples<T>::mine();
    mine.clear();
    AppendSample<T> emit{&mine};
#pragma omp for schedule(dynamic)
    for (int64_t c = 0; c < n_chunks; ++c) {
      const int64_t begin = c * kRayChunk, end = std::min(args.n_rays, begin + kRayChunk);
      if constexpr (std::is_same<T, float>::value) {
        if (lanes) {
          forward_lanes(density, p, rays_o, rays_d, begin, end, t_final, counts, places.data(), mine);
          continue;
        }
      }
      for (int64_t r = begin; r < end; ++r) {
        places[r] = {&mine, mine.size()};
        t_final[r] = forward_ray(density, p, rays_o + 3 * r, rays_d + 3 * r, emit);
        counts[r] = static_cast<int64_t>(mine.size() - places[r].begin);
      }
    }
  }
  ray_offsets[0] = 0;
  for (int64_t r = 0; r < args.n_rays; ++r) ray_offsets[r + 1] += ray_offsets[r];
  const SampleOutputs<T> out = allocate(ray_offsets[args.n_rays]);
#pragma omp parallel for schedule(dynamic)
  for (int64_t c = 0; c < n_chunks; ++c) {
    const int64_t begin = c * kRayChunk, end = std::min(args.n_rays, begin + kRayChunk);
    for (int64_t r = begin; r < end; ++r) {
      const ThreadSamples<T>& from = *places[r].buffer;
      const int64_t at = ray_offsets[r], n = ray_offsets[r + 1] - at;
      const size_t src = places[r].begin;
      std::copy_n(from.step_ids.begin() + src, n, out.step_ids + at);
      std::copy_n(from.t.begin() + src, n, out.t + at);
      std::copy_n(from.weights.begin() + src, n, out.weights + at);
      std::fill_n(out.ray_ids + at, n, r);
    }
  }
}

template <typename T>
void render_backward_cpu(const RenderArgs& args, const T* density, const T* rays_o, const T* rays_d,
                         const int64_t* ray_offsets, const int32_t* step_ids, const T* weights,
                         const T* t_final, const T* grad_w, const T* grad_t_final, T* grad_density) {
  const RenderParams<T> p = make_params<T>(args);
  const bool lanes = use_lanes<T>(args);
  const int threads = cpu_threads();
  // grad_density shares the density's dense layout
  ScatterBuffers<T> buffers(grad_density, grid_extent(args.size, args.stride), threads);
  const int64_t n_chunks = (args.n_rays + kRayChunk - 1) / kRayChunk;
#pragma omp parallel num_threads(threads)
  {
    AddAt<T> add{buffers.for_thread(thread_id())};
    // static: a ray's gradient lands in the same thread's buffer every call, so the sums are bitwise
    // repeatable (for a fixed thread count), which training runs that resume rely on
#pragma omp for schedule(static, 1)
    for (int64_t c = 0; c < n_chunks; ++c) {
      const int64_t begin = c * kRayChunk, end = std::min(args.n_rays, begin + kRayChunk);
      if constexpr (std::is_same<T, float>::value) {
        if (lanes) {
          backward_lanes(density, p, rays_o, rays_d, begin, end, ray_offsets, step_ids, weights, t_final,
                         grad_w, grad_t_final, add);
          continue;
        }
      }
      for (int64_t r = begin; r < end; ++r) {
        const int64_t first = ray_offsets[r];
        const KeptSamples<T> kept{step_ids + first, weights + first, grad_w + first,
                                  ray_offsets[r + 1] - first};
        backward_ray(density, p, rays_o + 3 * r, rays_d + 3 * r, kept, t_final[r], grad_t_final[r], add);
      }
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
