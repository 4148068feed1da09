// The per-pixel work of the SDF renderer, forward and backward, written once for CPU and CUDA:
// camera rays, sphere tracing with a sign-change test and Illinois regula-falsi refinement, normals, shading,
// and the implicit-function gradient of a hit. Math: docs/ARCHITECTURE.md ("SDF renderer").
#pragma once

#include "common/math.h"
#include "sdf_render/sdf_render.h"

namespace dream3d {

using std::sqrt;

// Below these, a gradient has no direction (normal = grad / kNormalFloor) and a hit does not move
// with the grid (|grad f . d| too small to divide by). The torch reference uses the same values.
constexpr double kNormalFloor = 1e-12;
constexpr double kSlopeFloor = 1e-12;

template <typename T>
struct SDFParams {
  GridBox<T> grid;
  int64_t grid_numel, views, height, width, supersample;
  T focal, near, far, eps, step_scale, min_step;
  int64_t max_steps, refine_steps;
  T ambient, diffuse, albedo[3], light[3];
  bool headlight;
};

template <typename T>
SDFParams<T> make_sdf_params(const SDFRenderArgs& a) {
  const int64_t stride[3] = {a.size[1] * a.size[2], a.size[2], 1};
  SDFParams<T> p;
  p.grid = make_grid_box<T>(a.box, a.size, stride);
  p.grid_numel = a.size[0] * a.size[1] * a.size[2];
  p.views = a.views, p.height = a.height, p.width = a.width, p.supersample = a.supersample;
  p.focal = static_cast<T>(a.focal);
  p.near = static_cast<T>(a.near), p.far = static_cast<T>(a.far), p.eps = static_cast<T>(a.eps);
  p.step_scale = static_cast<T>(a.step_scale), p.min_step = static_cast<T>(a.min_step);
  p.max_steps = a.max_steps, p.refine_steps = a.refine_steps;
  p.ambient = static_cast<T>(a.ambient), p.diffuse = static_cast<T>(a.diffuse);
  for (int c = 0; c < 3; ++c) {
    p.albedo[c] = static_cast<T>(a.albedo[c]);
    p.light[c] = static_cast<T>(a.light[c]);
  }
  p.headlight = a.headlight;
  return p;
}

template <typename T>
D3D_HD T abs_of(T x) {
  return x < T(0) ? -x : x;
}

template <typename T>
D3D_HD T dot3(const T a[3], const T b[3]) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

// Ray through sub-pixel s (row-major in the S x S grid) of pixel (row, col) of the camera c2w (4 x 4,
// row-major): OpenGL camera looking down -Z, +Y up, row 0 at the top; unit direction.
template <typename T>
D3D_HD void camera_ray(const SDFParams<T>& p, const T* c2w, int64_t row, int64_t col, int64_t s, T o[3],
                       T d[3]) {
  const T n_sub = static_cast<T>(p.supersample);
  const T sx = static_cast<T>(s % p.supersample), sy = static_cast<T>(s / p.supersample);
  const T u = (static_cast<T>(col) + (sx + T(0.5)) / n_sub - static_cast<T>(p.width) * T(0.5)) / p.focal;
  const T v = -((static_cast<T>(row) + (sy + T(0.5)) / n_sub - static_cast<T>(p.height) * T(0.5)) / p.focal);
  for (int i = 0; i < 3; ++i) {
    d[i] = c2w[4 * i] * u + c2w[4 * i + 1] * v - c2w[4 * i + 2];
    o[i] = c2w[4 * i + 3];
  }
  const T norm = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
  for (int i = 0; i < 3; ++i) d[i] = d[i] / norm;
}

// The cell of o + t d, clamped into the bbox: t lies in [t_near, t_far], so only rounding puts the
// point outside, and the SDF there is the value on the face.
template <typename T>
D3D_HD void cell_at(const GridBox<T>& g, const T o[3], const T d[3], T t, Cell<T>& cell) {
  T x[3];
  for (int a = 0; a < 3; ++a) {
    const T xa = o[a] + t * d[a];
    x[a] = xa < g.lo[a] ? g.lo[a] : (xa > g.hi[a] ? g.hi[a] : xa);
  }
  locate(g, x, cell);
}

template <typename T>
D3D_HD T sdf_at(const T* grid, const GridBox<T>& g, const T o[3], const T d[3], T t) {
  Cell<T> cell{};  // zeroed: a NaN point (which locate rejects) still reads inside the grid
  cell_at(g, o, d, t, cell);
  return interpolate(grid, cell);
}

template <typename T>
D3D_HD T secant_root(T a, T fa, T b, T fb) {
  return a + (b - a) * (fa / (fa - fb));
}

enum class TracePhase : int { kMarch, kRefine, kDone };

// The sphere trace of one ray as a state machine fed one SDF sample at a time: a CUDA thread runs one
// ray to the end (trace_ray), a CPU thread interleaves several, whose samples are independent chains
// of loads and arithmetic that the core can overlap.
//
// March from the ray's bbox entry: stop at |sdf| < eps (a hit), refine when the sign changed since the
// previous sample, step by max(step_scale * |sdf|, min_step) (|sdf|: a ray starting inside the surface
// finds where it leaves it), miss once the ray has sampled the bbox exit or taken max_steps samples.
// Refine: Illinois regula falsi on the bracket for refine_steps samples, then its secant root; an end
// kept twice in a row has its value halved, so a curved profile (a grazing ray) cannot stall one side.
template <typename T>
struct RayTrace {
  T o[3], d[3];
  T t;               // where the next sample goes
  T t_end;           // the bbox exit (clipped to far)
  T a, fa;           // the previous sample while marching; the bracket's first end while refining
  T b, fb;           // the bracket's second end
  int64_t k;         // index of the next march sample, or refinement steps taken
  int kept;          // the end kept by the last refinement step: -1 a, 1 b, 0 none yet
  TracePhase phase;
  T t_hit;           // once done: t of the surface crossing, -1 for a miss
};

// Sets up the march of the ray r.o + t r.d (set by the caller).
template <typename T>
D3D_HD void trace_begin(const SDFParams<T>& p, RayTrace<T>& r) {
  r.t_hit = T(-1);
  T t0, t1;
  if (!ray_box(p.grid, r.o, r.d, p.near, p.far, t0, t1)) {
    r.phase = TracePhase::kDone;
    return;
  }
  r.t = t0, r.t_end = t1, r.a = t0, r.fa = T(0), r.k = 0, r.phase = TracePhase::kMarch;
}

// Consumes f = sdf(r.o + r.t r.d) and moves r.t to the next sample (or finishes the ray).
template <typename T>
D3D_HD void trace_advance(const SDFParams<T>& p, RayTrace<T>& r, T f) {
  if (r.phase == TracePhase::kRefine) {
    if ((f < T(0)) == (r.fa < T(0))) {
      if (r.kept == 1) r.fb = r.fb * T(0.5);
      r.a = r.t, r.fa = f, r.kept = 1;
    } else {
      if (r.kept == -1) r.fa = r.fa * T(0.5);
      r.b = r.t, r.fb = f, r.kept = -1;
    }
    r.t = secant_root(r.a, r.fa, r.b, r.fb);
    if (++r.k == p.refine_steps) r.t_hit = r.t, r.phase = TracePhase::kDone;
    return;
  }
  if (abs_of(f) < p.eps) {
    r.t_hit = r.t, r.phase = TracePhase::kDone;
    return;
  }
  if (r.k > 0 && (f < T(0)) != (r.fa < T(0))) {
    r.b = r.t, r.fb = f, r.k = 0, r.kept = 0;
    r.t = secant_root(r.a, r.fa, r.b, r.fb);
    if (p.refine_steps == 0) r.t_hit = r.t, r.phase = TracePhase::kDone;
    else r.phase = TracePhase::kRefine;
    return;
  }
  if (r.t >= r.t_end || ++r.k == p.max_steps) {  // a miss
    r.phase = TracePhase::kDone;
    return;
  }
  r.a = r.t, r.fa = f;
  const T step = p.step_scale * abs_of(f);
  r.t = r.t + (step > p.min_step ? step : p.min_step);
  r.t = r.t < r.t_end ? r.t : r.t_end;  // the last sample sits on the exit face
}

// t of the ray's first surface crossing, or -1 for a miss.
template <typename T>
D3D_HD T trace_ray(const T* grid, const SDFParams<T>& p, const T o[3], const T d[3]) {
  RayTrace<T> r;
  for (int a = 0; a < 3; ++a) r.o[a] = o[a], r.d[a] = d[a];
  trace_begin(p, r);
  while (r.phase != TracePhase::kDone) trace_advance(p, r, sdf_at(grid, p.grid, r.o, r.d, r.t));
  return r.t_hit;
}

// What the shading and the backward need at a hit: the cell, the gradient of the interpolant, its
// length, the unit normal and the direction towards the light.
template <typename T>
struct Hit {
  Cell<T> cell;
  T grad[3];
  T grad_norm;
  T normal[3];
  T light[3];
};

template <typename T>
D3D_HD Hit<T> hit_at(const T* grid, const SDFParams<T>& p, const T o[3], const T d[3], T t) {
  Hit<T> h{};
  cell_at(p.grid, o, d, t, h.cell);
  interpolate_grad(grid, h.cell, p.grid.scale, h.grad);
  h.grad_norm = sqrt(h.grad[0] * h.grad[0] + h.grad[1] * h.grad[1] + h.grad[2] * h.grad[2]);
  const T denom = h.grad_norm > T(kNormalFloor) ? h.grad_norm : T(kNormalFloor);
  for (int a = 0; a < 3; ++a) {
    h.normal[a] = h.grad[a] / denom;
    h.light[a] = p.headlight ? -d[a] : p.light[a];
  }
  return h;
}

// albedo * (ambient + diffuse * max(0, n . l)).
template <typename T>
D3D_HD void shade(const SDFParams<T>& p, const Hit<T>& h, T rgb[3]) {
  const T n_dot_l = dot3(h.normal, h.light);
  const T lit = p.ambient + p.diffuse * (n_dot_l > T(0) ? n_dot_l : T(0));
  for (int c = 0; c < 3; ++c) rgb[c] = p.albedo[c] * lit;
}

// (H d): the derivative of the interpolant's gradient along dir, in world units. Inside a cell the
// Hessian has a zero diagonal; its off-diagonal entries are mixed differences of the corners.
template <typename T>
D3D_HD void interpolate_grad_along(const T* grid, const Cell<T>& c, const T scale[3], const T dir[3],
                                   T out[3]) {
  T mixed[3] = {T(0), T(0), T(0)};  // d2f / (dfrac_a dfrac_b), indexed by the third axis e
  for (int corner = 0; corner < 8; ++corner) {
    int64_t off;
    corner_weight(c, corner, off);
    const T v = grid[off];
    for (int e = 0; e < 3; ++e) {
      const int a = (e + 1) % 3, b = (e + 2) % 3;
      const T sign = (((corner >> a) ^ (corner >> b)) & 1) ? T(-1) : T(1);
      const T w = ((corner >> e) & 1) ? c.frac[e] : T(1) - c.frac[e];
      mixed[e] += sign * w * v;
    }
  }
  for (int a = 0; a < 3; ++a) {
    T sum = T(0);
    for (int b = 0; b < 3; ++b) {
      if (b != a) sum += mixed[3 - a - b] * scale[b] * dir[b];
    }
    out[a] = scale[a] * sum;
  }
}

// Adds the gradient of one hit sub-sample to the grid through scatter(offset, value), given dL/dt,
// dL/dnormal and dL/drgb of that sub-sample. With G = grad f at the hit x = o + t d:
//   dt/dtheta_c      = -w_c / (G . d)                       (implicit function theorem)
//   dG/dtheta_c      = grad w_c + (H d) dt/dtheta_c          (direct, and the hit moving along the ray)
//   dL/dtheta_c      = gG . grad w_c - (g_t + gG . (H d)) w_c / (G . d),   gG = dL/dG
// where w_c are the corner's trilinear weights; the motion term is dropped where |G . d| < kSlopeFloor.
template <typename T, typename Scatter>
D3D_HD void hit_backward(const T* grid, const SDFParams<T>& p, const T o[3], const T d[3], T t, T g_t,
                         const T g_normal[3], const T g_rgb[3], Scatter& scatter) {
  const Hit<T> h = hit_at(grid, p, o, d, t);
  T g_n[3] = {g_normal[0], g_normal[1], g_normal[2]};
  if (dot3(h.normal, h.light) > T(0)) {
    const T g_lit = p.diffuse * dot3(g_rgb, p.albedo);
    for (int a = 0; a < 3; ++a) g_n[a] += g_lit * h.light[a];
  }
  T g_grad[3];  // through n = G / max(|G|, floor)
  if (h.grad_norm > T(kNormalFloor)) {
    const T n_dot_g = dot3(h.normal, g_n);
    for (int a = 0; a < 3; ++a) g_grad[a] = (g_n[a] - h.normal[a] * n_dot_g) / h.grad_norm;
  } else {
    for (int a = 0; a < 3; ++a) g_grad[a] = g_n[a] / T(kNormalFloor);
  }
  const T slope = dot3(h.grad, d);
  T motion = T(0);  // (g_t + gG . (H d)) / (G . d)
  if (abs_of(slope) > T(kSlopeFloor)) {
    T hd[3];
    interpolate_grad_along(grid, h.cell, p.grid.scale, d, hd);
    motion = (g_t + dot3(g_grad, hd)) / slope;
  }
  T g_frac[3];  // gG in index units: d(w_c)/dx_a = scale_a * d(w_c)/dfrac_a
  for (int a = 0; a < 3; ++a) g_frac[a] = g_grad[a] * p.grid.scale[a];
  for (int corner = 0; corner < 8; ++corner) {
    T w[3], sign[3];
    for (int a = 0; a < 3; ++a) {
      const bool upper = (corner >> a) & 1;
      w[a] = upper ? h.cell.frac[a] : T(1) - h.cell.frac[a];
      sign[a] = upper ? T(1) : T(-1);
    }
    int64_t off;
    corner_weight(h.cell, corner, off);
    const T value = sign[0] * g_frac[0] * w[1] * w[2] + sign[1] * g_frac[1] * w[0] * w[2] +
                    sign[2] * g_frac[2] * w[0] * w[1] - motion * w[0] * w[1] * w[2];
    scatter(off, value);
  }
}

template <typename T>
D3D_HD int64_t batch_of(const SDFParams<T>& p, int64_t pixel) {
  return pixel / (p.views * p.height * p.width);
}

// The ray of sub-pixel s of pixel (b, v, row, col), flattened in that order.
template <typename T>
D3D_HD void pixel_ray(const SDFParams<T>& p, const T* c2w, int64_t pixel, int64_t s, T o[3], T d[3]) {
  const int64_t col = pixel % p.width, row = (pixel / p.width) % p.height;
  camera_ray(p, c2w + 16 * (pixel / (p.width * p.height)), row, col, s, o, d);
}

// Shades one pixel from its sub-pixel rays' hits (hit_t, already traced): rgb averages the shaded hits
// and the image's background, mask is the hit fraction, depth and normal average the hits (0 where
// none). grid is the pixel's own grid.
template <typename T>
D3D_HD void shade_pixel(const T* grid, const T* c2w, const T* background, const SDFParams<T>& p,
                        int64_t pixel, const SDFRenderOutputs<T>& out) {
  const int64_t n_sub = p.supersample * p.supersample;
  const T* bg = background + 3 * (pixel / (p.width * p.height));
  T rgb[3] = {T(0), T(0), T(0)}, normal[3] = {T(0), T(0), T(0)}, depth = T(0);
  int64_t hits = 0;
  for (int64_t s = 0; s < n_sub; ++s) {
    const T t = out.hit_t[pixel * n_sub + s];
    if (t < T(0)) {
      for (int c = 0; c < 3; ++c) rgb[c] += bg[c];
      continue;
    }
    T o[3], d[3];
    pixel_ray(p, c2w, pixel, s, o, d);
    const Hit<T> h = hit_at(grid, p, o, d, t);
    T color[3];
    shade(p, h, color);
    for (int c = 0; c < 3; ++c) {
      rgb[c] += color[c];
      normal[c] += h.normal[c];
    }
    depth += t;
    ++hits;
  }
  const T n_hits = hits > 0 ? static_cast<T>(hits) : T(1);
  for (int c = 0; c < 3; ++c) {
    out.rgb[3 * pixel + c] = rgb[c] / static_cast<T>(n_sub);
    out.normal[3 * pixel + c] = normal[c] / n_hits;
  }
  out.mask[pixel] = static_cast<T>(hits) / static_cast<T>(n_sub);
  out.depth[pixel] = depth / n_hits;
}

// Traces and shades one pixel, one sub-pixel ray after another.
template <typename T>
D3D_HD void render_pixel(const T* grid, const T* c2w, const T* background, const SDFParams<T>& p,
                         int64_t pixel, const SDFRenderOutputs<T>& out) {
  const int64_t n_sub = p.supersample * p.supersample;
  for (int64_t s = 0; s < n_sub; ++s) {
    T o[3], d[3];
    pixel_ray(p, c2w, pixel, s, o, d);
    out.hit_t[pixel * n_sub + s] = trace_ray(grid, p, o, d);
  }
  shade_pixel(grid, c2w, background, p, pixel, out);
}

// The backward of shade_pixel: scatters every hit sub-sample's gradient into the pixel's grid.
template <typename T, typename Scatter>
D3D_HD void backward_pixel(const T* grid, const T* c2w, const T* hit_t, const SDFRenderGrads<T>& g,
                           const SDFParams<T>& p, int64_t pixel, Scatter& scatter) {
  const int64_t n_sub = p.supersample * p.supersample;
  const T* ts = hit_t + pixel * n_sub;
  int64_t hits = 0;
  for (int64_t s = 0; s < n_sub; ++s) hits += ts[s] >= T(0);
  if (hits == 0) return;
  const T n_hits = static_cast<T>(hits), n_rays = static_cast<T>(n_sub);
  const T g_t = g.depth[pixel] / n_hits;
  T g_normal[3], g_rgb[3];
  for (int c = 0; c < 3; ++c) {
    g_normal[c] = g.normal[3 * pixel + c] / n_hits;
    g_rgb[c] = g.rgb[3 * pixel + c] / n_rays;
  }
  for (int64_t s = 0; s < n_sub; ++s) {
    if (ts[s] < T(0)) continue;
    T o[3], d[3];
    pixel_ray(p, c2w, pixel, s, o, d);
    hit_backward(grid, p, o, d, ts[s], g_t, g_normal, g_rgb, scatter);
  }
}

}  // namespace dream3d
