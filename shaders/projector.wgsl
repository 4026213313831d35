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
  // 4 neighbouring bins per invocation share each row's set-up (CPU adapters pay per invocation)
  let u0 = 4u * g.x; let a = g.y; let z = g.z;
  if (u0 >= p.D || a >= p.A || z >= p.Z) { return; }
  let c = trig[a].x; let s = trig[a].y;
  let cx = 0.5 * f32(p.W - 1u); let cy = 0.5 * f32(p.H - 1u);
  let base = z * p.H * p.W;
  var acc = vec4<f32>(0.0);
  // march along the dominant axis; the two neighbours on the other axis get hat weights, and a neighbour
  // outside the slice contributes 0 (select keeps the loop free of per-lane branches)
  let horizontal = abs(c) >= abs(s);
  let n = select(p.W, p.H, horizontal);
  let lim = i32(select(p.H, p.W, horizontal));
  for (var k = 0u; k < n; k++) {
    for (var e = 0u; e < 4u; e++) {
      let su = (f32(u0 + e) - 0.5 * f32(p.D - 1u)) * p.ds;
      var f: f32;
      if (horizontal) { f = (su - (f32(k) - cy) * s) / c + cx; } else { f = (su - (f32(k) - cx) * c) / s + cy; }
      let l0 = i32(floor(f));
      let w1 = f - f32(l0);
      let la = u32(clamp(l0, 0, lim - 1));
      let lb = u32(clamp(l0 + 1, 0, lim - 1));
      var ia: u32; var ib: u32;
      if (horizontal) { ia = base + k * p.W + la; ib = base + k * p.W + lb; }
      else { ia = base + la * p.W + k; ib = base + lb * p.W + k; }
      let va = select(0.0, src[ia], l0 >= 0 && l0 < lim);
      let vb = select(0.0, src[ib], l0 + 1 >= 0 && l0 + 1 < lim);
      acc[e] += (1.0 - w1) * va + w1 * vb;
    }
  }
  let inv = 1.0 / select(abs(s), abs(c), horizontal);
  for (var e = 0u; e < 4u; e++) {
    if (u0 + e < p.D) { dst[(z * p.A + a) * p.D + u0 + e] = acc[e] * inv * p.scale; }
  }
}

// The adjoint in closed form: with m = max(|cos|, |sin|), bin u meets pixel (i, j) with weight
// hat((u − u*)·ds/m)/m, where u* = (x cos + y sin)/ds + (D−1)/2 is where the pixel centre projects: the
// same value as the forward weight hat(f − i)/m, so only the bins within m/ds of u* are visited.
@compute @workgroup_size(64)
fn adjoint(@builtin(global_invocation_id) g: vec3<u32>) {
  // 4 neighbouring pixels of a row per invocation share each angle's set-up (CPU adapters pay per invocation)
  let i0 = 4u * g.x; let j = g.y; let z = g.z;
  if (i0 >= p.W || j >= p.H || z >= p.Z) { return; }
  let x0 = f32(i0) - 0.5 * f32(p.W - 1u); let y = f32(j) - 0.5 * f32(p.H - 1u);
  let cu = 0.5 * f32(p.D - 1u);
  let dmax = i32(p.D) - 1;
  var acc = vec4<f32>(0.0);
  for (var a = 0u; a < p.A; a++) {
    let c = trig[a].x; let s = trig[a].y;
    let m = max(abs(c), abs(s));
    let q = p.ds / m;
    let reach = m / p.ds;
    let row = (z * p.A + a) * p.D;
    for (var e = 0u; e < 4u; e++) {
      let us = ((x0 + f32(e)) * c + y * s) / p.ds + cu;
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
        let lo = max(i32(floor(us - reach)), 0);
        let hi = min(i32(ceil(us + reach)), dmax);
        for (var u = lo; u <= hi; u++) {
          part += hat((f32(u) - us) * q) * src[row + u32(u)];
        }
      }
      acc[e] += part / m;
    }
  }
  for (var e = 0u; e < 4u; e++) {
    if (i0 + e < p.W) { dst[(z * p.H + j) * p.W + i0 + e] = acc[e] * p.scale; }
  }
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
