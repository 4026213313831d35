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

// #include joseph

// bins of one angle per forward invocation (FORWARD_BINS in lib/ct/projector.ts)
const FB = 8u;

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  // (bin group, angle, slice) flattened over x and y, so that lanes are busy whatever D / FB is
  let groupsPerView = (p.D + FB - 1u) / FB;
  let id = g.x + g.y * nw.x * 64u;
  let ub = FB * (id % groupsPerView); let a = (id / groupsPerView) % p.A; let z = id / (groupsPerView * p.A);
  if (z >= p.Z) { return; }
  let c = trig[a].x; let s = trig[a].y;
  let cx = 0.5 * f32(p.W - 1u); let cy = 0.5 * f32(p.H - 1u);
  let base = z * p.H * p.W;
  // march along the dominant axis; the two neighbours on the other axis get hat weights, and a neighbour
  // outside the slice contributes 0 (select keeps the loop free of per-lane branches)
  let horizontal = abs(c) >= abs(s);
  let n = select(p.W, p.H, horizontal);
  let lim = i32(select(p.H, p.W, horizontal));
  // the crossing f is linear in the step k: f = f0 + k·fk (shaders/joseph.wgsl), and in the bin
  let inv = 1.0 / select(s, c, horizontal);
  let fk = select(-c * inv, -s * inv, horizontal);
  let rowStep = select(1u, p.W, horizontal);
  let stride = select(p.W, 1u, horizontal);
  var f0s: array<f32, FB>;
  var k0 = i32(n); var k1 = -1;
  for (var e = 0u; e < FB; e++) {
    let su0 = (f32(ub + e) - 0.5 * f32(p.D - 1u)) * p.ds;
    f0s[e] = select(su0 * inv + cx * c * inv + cy, su0 * inv + cy * s * inv + cx, horizontal);
    let chord = joseph_chord(n, lim, f0s[e], fk);
    if (chord.y >= chord.x) { k0 = min(k0, chord.x); k1 = max(k1, chord.y); }
  }
  // At one step the FB rays cross the same row (or column) ds/max(|cos|, |sin|) pixels apart, 1 to 1.41
  // at ds = 1: taken in the order in which the crossing grows they share a pixel with the previous ray
  // most of the time, so each pixel is loaded once (about 1.3 loads per ray and step instead of 2). A
  // bin's steps outside its own chord read zeros and add exactly 0: the sums are those of one ray alone.
  let rising = inv > 0.0;
  var acc: array<f32, FB>;
  for (var k = k0; k <= k1; k++) {
    let rowBase = base + u32(k) * rowStep;
    var lp = -2147483647; var va = 0.0; var vb = 0.0;
    for (var q = 0u; q < FB; q++) {
      let e = select(FB - 1u - q, q, rising);
      let f = f0s[e] + f32(k) * fk;
      let l0 = i32(floor(f));
      let w1 = f - f32(l0);
      let d = l0 - lp;
      if (d != 0) {
        // one unsigned compare tests 0 <= l < lim; robust buffer access keeps an unused read in the binding
        let ia = rowBase + u32(l0) * stride;
        if (d == 1) { va = vb; } else { va = select(0.0, src[ia], u32(l0) < u32(lim)); }
        vb = select(0.0, src[ia + stride], u32(l0 + 1) < u32(lim));
        lp = l0;
      }
      acc[e] += (1.0 - w1) * va + w1 * vb;
    }
  }
  for (var e = 0u; e < FB; e++) {
    if (ub + e < p.D) { dst[(z * p.A + a) * p.D + ub + e] = acc[e] * abs(inv) * p.scale; }
  }
}

// The adjoint in closed form: with m = max(|cos|, |sin|), bin u meets pixel (i, j) with weight
// hat((u − u*)·ds/m)/m, where u* = (x cos + y sin)/ds + (D−1)/2 is where the pixel centre projects: the
// same value as the forward weight hat(f − i)/m, so only the bins within m/ds of u* are visited.
// pixels of a row per adjoint invocation (ADJOINT_PIXELS in lib/ct/projector.ts): they share each angle's
// set-up and, with ds >= 1, the bins they read (below); a CPU adapter pays per invocation and per load
const PIX = 64u;

@compute @workgroup_size(64)
fn adjoint(@builtin(global_invocation_id) g: vec3<u32>) {
  // (pixel group, row) flattened over x so that no workgroup lane idles when W / PIX is below 64
  let groupsPerRow = (p.W + PIX - 1u) / PIX;
  let i0 = PIX * (g.x % groupsPerRow); let j = g.x / groupsPerRow; let z = g.y;
  if (j >= p.H || z >= p.Z) { return; }
  let x0 = f32(i0) - 0.5 * f32(p.W - 1u); let y = f32(j) - 0.5 * f32(p.H - 1u);
  let cu = 0.5 * f32(p.D - 1u);
  let dmax = i32(p.D) - 1;
  let invds = 1.0 / p.ds;
  var acc: array<f32, PIX>;
  if (p.ds >= 1.0) {
    // m/ds <= 1: only the two bins around u* can be reached; an index outside the row is never used
    // (select), and robust buffer access keeps its read inside the binding
    for (var a = 0u; a < p.A; a++) {
      let c = trig[a].x; let s = trig[a].y;
      let invm = 1.0 / max(abs(c), abs(s));
      let q = p.ds * invm;
      let row = (z * p.A + a) * p.D;
      let ys = y * s;
      // a sliding window over the two bins: from one pixel to the next u* moves by c/ds, at most one bin,
      // so a bin is loaded only when it enters the window (|c|/ds loads per pixel instead of 2; the loads,
      // not the arithmetic, are what a software adapter spends its time on). Same values, same sums.
      var up = i32(floor((x0 * c + ys) * invds + cu));
      var va = select(0.0, src[row + u32(up)], u32(up) <= u32(dmax));
      var vb = select(0.0, src[row + u32(up + 1)], u32(up + 1) <= u32(dmax));
      for (var e = 0u; e < PIX; e++) {
        // where the pixel centre projects, with no division per pixel
        let us = ((x0 + f32(e)) * c + ys) * invds + cu;
        let u0 = i32(floor(us));
        let w = us - f32(u0);
        let d = u0 - up;
        if (d != 0) {
          if (d == 1) {
            va = vb;
            vb = select(0.0, src[row + u32(u0 + 1)], u32(u0 + 1) <= u32(dmax));
          } else if (d == -1) {
            vb = va;
            va = select(0.0, src[row + u32(u0)], u32(u0) <= u32(dmax));
          } else {
            // (a rounding step of two bins)
            va = select(0.0, src[row + u32(u0)], u32(u0) <= u32(dmax));
            vb = select(0.0, src[row + u32(u0 + 1)], u32(u0 + 1) <= u32(dmax));
          }
          up = u0;
        }
        acc[e] += (max(0.0, 1.0 - w * q) * va + max(0.0, 1.0 - (1.0 - w) * q) * vb) * invm;
      }
    }
  } else {
    for (var a = 0u; a < p.A; a++) {
      let c = trig[a].x; let s = trig[a].y;
      let m = max(abs(c), abs(s));
      let q = p.ds / m;
      let reach = m * invds;
      let row = (z * p.A + a) * p.D;
      for (var e = 0u; e < PIX; e++) {
        let us = ((x0 + f32(e)) * c + y * s) * invds + cu;
        let lo = max(i32(floor(us - reach)), 0);
        let hi = min(i32(ceil(us + reach)), dmax);
        var part = 0.0;
        for (var u = lo; u <= hi; u++) {
          part += hat((f32(u) - us) * q) * src[row + u32(u)];
        }
        acc[e] += part / m;
      }
    }
  }
  for (var e = 0u; e < PIX; e++) {
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
