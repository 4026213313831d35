// Fan-beam projector with a flat detector (Joseph's method along each source–bin ray) and its exact adjoint,
// both as gathers (no float atomics), plus FBP's weighted back-projection. Reference: lib/ct/fan_ref.ts.
// Pixel units, x right, y up, origin at the slice centre: pixel (i, j) is at X = i − (W−1)/2, Y = (H−1)/2 − j.
// Per angle the table holds the source S, the centre of bin 0 P0 and the bin step, so bin u is at P0 + u·step.
// The weight between ray (a, u) and pixel (i, j): with d = P(u) − S, when |dx| ≥ |dy| the ray crosses column i
// at row coordinate f and the weight is hat(f − j)·|d|/|dx|; otherwise rows and columns swap. forward and
// adjoint call the same weight function, so one is the transpose of the other.

struct Params {
  H: u32, W: u32, D: u32, A: u32,
  Z: u32, scale: f32, pad1: u32, pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tab: array<f32>;   // 8 floats per angle
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn hat(d: f32) -> f32 { return max(0.0, 1.0 - abs(d)); }

// #include joseph

fn source(a: u32) -> vec2<f32> { return vec2<f32>(tab[8u * a], tab[8u * a + 1u]); }
fn bin0(a: u32) -> vec2<f32> { return vec2<f32>(tab[8u * a + 2u], tab[8u * a + 3u]); }
fn step(a: u32) -> vec2<f32> { return vec2<f32>(tab[8u * a + 4u], tab[8u * a + 5u]); }

fn ray(a: u32, u: u32) -> vec2<f32> { return bin0(a) + f32(u) * step(a) - source(a); }

// where the ray crosses column X (in row units) when x-dominant, or row Y (in column units) otherwise
fn cross_at(s: vec2<f32>, d: vec2<f32>, k: f32, horizontal: bool, cx: f32, cy: f32) -> f32 {
  if (horizontal) { return cy - (s.y + ((k - cx - s.x) / d.x) * d.y); }
  return s.x + ((cy - k - s.y) / d.y) * d.x + cx;
}

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let u = g.x; let a = g.y; let z = g.z;
  if (u >= p.D || a >= p.A || z >= p.Z) { return; }
  let s = source(a);
  let d = ray(a, u);
  let cx = 0.5 * f32(p.W - 1u); let cy = 0.5 * f32(p.H - 1u);
  let base = z * p.H * p.W;
  let horizontal = abs(d.x) >= abs(d.y);
  let n = select(p.H, p.W, horizontal);
  let lim = i32(select(p.W, p.H, horizontal));
  // the crossing is linear in the step k, f = f0 + k·fk (shaders/joseph.wgsl)
  let f0 = cross_at(s, d, 0.0, horizontal, cx, cy);
  let fk = select(-d.x / d.y, -d.y / d.x, horizontal);
  let rowStep = select(p.W, 1u, horizontal);
  let stride = select(1u, p.W, horizontal);
  let acc = joseph_march(base, n, lim, f0, fk, rowStep, stride);
  let inv = length(d) / select(abs(d.y), abs(d.x), horizontal);
  dst[(z * p.A + a) * p.D + u] = acc * inv * p.scale;
}

// bin coordinate where the line from the source through q meets the detector
fn detector_coord(a: u32, q: vec2<f32>) -> f32 {
  let s = source(a);
  let r = q - s;
  let o = bin0(a) - s;
  let st = step(a);
  return -(o.x * r.y - o.y * r.x) / (st.x * r.y - st.y * r.x);
}

@compute @workgroup_size(64)
fn adjoint(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x; let j = g.y; let z = g.z;
  if (i >= p.W || j >= p.H || z >= p.Z) { return; }
  let cx = 0.5 * f32(p.W - 1u); let cy = 0.5 * f32(p.H - 1u);
  let q = vec2<f32>(f32(i) - cx, cy - f32(j));
  let dmax = i32(p.D) - 1;
  var acc = 0.0;
  for (var a = 0u; a < p.A; a++) {
    let s = source(a);
    // every ray with a nonzero weight crosses the segment ±1 pixel around q along one axis; the bins of those
    // rays lie between the projections of the four segment ends
    let u1 = detector_coord(a, q + vec2<f32>(1.0, 0.0));
    let u2 = detector_coord(a, q - vec2<f32>(1.0, 0.0));
    let u3 = detector_coord(a, q + vec2<f32>(0.0, 1.0));
    let u4 = detector_coord(a, q - vec2<f32>(0.0, 1.0));
    let lo = max(i32(floor(min(min(u1, u2), min(u3, u4)))), 0);
    let hi = min(i32(ceil(max(max(u1, u2), max(u3, u4)))), dmax);
    let row = (z * p.A + a) * p.D;
    for (var u = lo; u <= hi; u++) {
      let d = ray(a, u32(u));
      let horizontal = abs(d.x) >= abs(d.y);
      let f = cross_at(s, d, select(f32(j), f32(i), horizontal), horizontal, cx, cy);
      let w = hat(f - select(f32(i), f32(j), horizontal)) * length(d) / select(abs(d.y), abs(d.x), horizontal);
      acc += w * src[row + u32(u)];
    }
  }
  dst[(z * p.H + j) * p.W + i] = acc * p.scale;
}

// FBP's back-projection: the filtered row at the pixel's detector coordinate (linear interpolation), times
// (DSO / L)² with L the pixel's distance from the source along the central ray.
@compute @workgroup_size(64)
fn backproject(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x; let j = g.y; let z = g.z;
  if (i >= p.W || j >= p.H || z >= p.Z) { return; }
  let cx = 0.5 * f32(p.W - 1u); let cy = 0.5 * f32(p.H - 1u);
  let q = vec2<f32>(f32(i) - cx, cy - f32(j));
  var acc = 0.0;
  for (var a = 0u; a < p.A; a++) {
    let s = source(a);
    let dso2 = dot(s, s);
    let f = detector_coord(a, q);
    let L = -dot(q - s, s) / sqrt(dso2);
    let u0 = i32(floor(f));
    let w = f - f32(u0);
    let row = (z * p.A + a) * p.D;
    var v = 0.0;
    if (u0 >= 0 && u0 < i32(p.D)) { v += (1.0 - w) * src[row + u32(u0)]; }
    if (u0 + 1 >= 0 && u0 + 1 < i32(p.D)) { v += w * src[row + u32(u0 + 1)]; }
    acc += v * dso2 / (L * L);
  }
  dst[(z * p.H + j) * p.W + i] = acc * p.scale;
}

// FBP's pre-weighting: every row of every slice times its (view, bin) weight (cosine and Parker weights),
// the weights read through the table binding.
@compute @workgroup_size(64)
fn weight_rows(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = g.x + g.y * nw.x * 64u;
  if (i >= p.Z * p.A * p.D) { return; }
  dst[i] = src[i] * tab[i % (p.A * p.D)];
}
