// Parallel-beam projector (Joseph's method) and its exact adjoint, both as gathers (no float atomics).
// Image layout [z][j][i] (j: row, y; i: column, x), sinogram layout [z][a][u]. Pixel centres sit at
// x = i - (W-1)/2, y = j - (H-1)/2; bin centres at s = (u - (D-1)/2) * ds; a ray is x cos + y sin = s.
// The weight between ray (a, u) and pixel (i, j) is hat(f - i) / |cos| when |cos| >= |sin| (f: where the
// ray crosses row j, in column units) and hat(f - j) / |sin| otherwise; hat(d) = max(0, 1 - |d|).
// forward and adjoint evaluate that same formula, so one is the transpose of the other.

struct Params {
  H: u32, W: u32, D: u32, A: u32,
  Z: u32, ds: f32, scale: f32, pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> trig: array<vec2<f32>>;   // (cos, sin) per angle
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

fn hat(d: f32) -> f32 { return max(0.0, 1.0 - abs(d)); }

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) g: vec3<u32>) {
  let u = g.x; let a = g.y; let z = g.z;
  if (u >= p.D || a >= p.A || z >= p.Z) { return; }
  let c = trig[a].x; let s = trig[a].y;
  let su = (f32(u) - 0.5 * f32(p.D - 1u)) * p.ds;
  let cx = 0.5 * f32(p.W - 1u); let cy = 0.5 * f32(p.H - 1u);
  let base = z * p.H * p.W;
  var acc = 0.0;
  // march along the dominant axis; the two neighbours on the other axis get hat weights, and a neighbour
  // outside the slice contributes 0 (select keeps the loop free of per-lane branches)
  if (abs(c) >= abs(s)) {
    for (var j = 0u; j < p.H; j++) {
      let f = (su - (f32(j) - cy) * s) / c + cx;
      let i0 = i32(floor(f));
      let row = base + j * p.W;
      let w1 = f - f32(i0);
      let ia = clamp(i0, 0, i32(p.W) - 1);
      let ib = clamp(i0 + 1, 0, i32(p.W) - 1);
      let va = select(0.0, src[row + u32(ia)], i0 >= 0 && i0 < i32(p.W));
      let vb = select(0.0, src[row + u32(ib)], i0 + 1 >= 0 && i0 + 1 < i32(p.W));
      acc += (1.0 - w1) * va + w1 * vb;
    }
    acc = acc / abs(c);
  } else {
    for (var i = 0u; i < p.W; i++) {
      let f = (su - (f32(i) - cx) * c) / s + cy;
      let j0 = i32(floor(f));
      let w1 = f - f32(j0);
      let ja = clamp(j0, 0, i32(p.H) - 1);
      let jb = clamp(j0 + 1, 0, i32(p.H) - 1);
      let va = select(0.0, src[base + u32(ja) * p.W + i], j0 >= 0 && j0 < i32(p.H));
      let vb = select(0.0, src[base + u32(jb) * p.W + i], j0 + 1 >= 0 && j0 + 1 < i32(p.H));
      acc += (1.0 - w1) * va + w1 * vb;
    }
    acc = acc / abs(s);
  }
  dst[(z * p.A + a) * p.D + u] = acc * p.scale;
}

// The adjoint in closed form: with m = max(|cos|, |sin|), bin u meets pixel (i, j) with weight
// hat((u − u*)·ds/m)/m, where u* = (x cos + y sin)/ds + (D−1)/2 is where the pixel centre projects: the
// same value as the forward weight hat(f − i)/m, so only the bins within m/ds of u* are visited.
@compute @workgroup_size(64)
fn adjoint(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x; let j = g.y; let z = g.z;
  if (i >= p.W || j >= p.H || z >= p.Z) { return; }
  let x = f32(i) - 0.5 * f32(p.W - 1u); let y = f32(j) - 0.5 * f32(p.H - 1u);
  let cu = 0.5 * f32(p.D - 1u);
  let dmax = i32(p.D) - 1;
  var acc = 0.0;
  for (var a = 0u; a < p.A; a++) {
    let c = trig[a].x; let s = trig[a].y;
    let m = max(abs(c), abs(s));
    let q = p.ds / m;
    let us = (x * c + y * s) / p.ds + cu;
    let reach = m / p.ds;
    let lo = max(i32(floor(us - reach)), 0);
    let hi = min(i32(ceil(us + reach)), dmax);
    let row = (z * p.A + a) * p.D;
    var part = 0.0;
    if (p.ds >= 1.0) {
      // m/ds <= 1: only the two bins around u* can be reached (uniform control flow)
      let u0 = i32(floor(us));
      let ua = clamp(u0, 0, dmax);
      let ub = clamp(u0 + 1, 0, dmax);
      let va = select(0.0, src[row + u32(ua)], u0 >= 0 && u0 <= dmax);
      let vb = select(0.0, src[row + u32(ub)], u0 + 1 >= 0 && u0 + 1 <= dmax);
      part = hat((f32(u0) - us) * q) * va + hat((f32(u0 + 1) - us) * q) * vb;
    } else {
      for (var u = lo; u <= hi; u++) {
        part += hat((f32(u) - us) * q) * src[row + u32(u)];
      }
    }
    acc += part / m;
  }
  dst[(z * p.H + j) * p.W + i] = acc * p.scale;
}

// Pixel-driven back-projection with linear interpolation along the detector, for FBP (not the adjoint).
@compute @workgroup_size(64)
fn backproject(@builtin(global_invocation_id) g: vec3<u32>) {
  let i = g.x; let j = g.y; let z = g.z;
  if (i >= p.W || j >= p.H || z >= p.Z) { return; }
  let x = f32(i) - 0.5 * f32(p.W - 1u); let y = f32(j) - 0.5 * f32(p.H - 1u);
  let cu = 0.5 * f32(p.D - 1u);
  var acc = 0.0;
  for (var a = 0u; a < p.A; a++) {
    let f = (x * trig[a].x + y * trig[a].y) / p.ds + cu;
    let u0 = i32(floor(f));
    let w = f - f32(u0);
    let row = (z * p.A + a) * p.D;
    if (u0 >= 0 && u0 < i32(p.D)) { acc += (1.0 - w) * src[row + u32(u0)]; }
    if (u0 + 1 >= 0 && u0 + 1 < i32(p.D)) { acc += w * src[row + u32(u0 + 1)]; }
  }
  dst[(z * p.H + j) * p.W + i] = acc * p.scale;
}
