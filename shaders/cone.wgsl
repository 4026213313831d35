// Cone beam on the GPU: cone_plan.ts's factored Joseph projector. Ray (view a, column c, row r) sums, over
// the fan weights w of its in-plane projection (pixel p), w · x(p, z = α[a,p] + β[a,p]·r) with x linear along
// z and zero outside the slices, times the ray's 3D length factor. The forward is a gather per ray (a
// ray-major copy of the weights); the adjoint a gather per voxel (the pixel-major copy) over the rows whose
// height lies within one slice of it, in closed form: no float atomics, and the exact transpose.
// Layouts: x [Z][P], y [V][A][U], ab [A][P] (α, β), amp [A][U][V].

struct Params {
  P: u32, Z: u32, A: u32, U: u32,
  V: u32, pad1: u32, pad2: u32, pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ptr: array<u32>;
@group(0) @binding(2) var<storage, read> col: array<u32>;
@group(0) @binding(3) var<storage, read> val: array<f32>;
@group(0) @binding(4) var<storage, read> ab: array<vec2<f32>>;
@group(0) @binding(5) var<storage, read> amp: array<f32>;
@group(0) @binding(6) var<storage, read> src: array<f32>;
@group(0) @binding(7) var<storage, read_write> dst: array<f32>;

fn idx(g: vec3<u32>, nw: vec3<u32>) -> u32 { return g.x + g.y * nw.x * 64u; }

// forward: ptr/col/val ray-major (row a·U + c, column = pixel); src = x, dst = y
@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  let AU = p.A * p.U;
  if (i >= p.V * AU) { return; }
  let r = i / AU;
  let ac = i % AU;
  let a = ac / p.U;
  var acc = 0.0;
  for (var e = ptr[ac]; e < ptr[ac + 1u]; e++) {
    let px = col[e];
    let q = ab[a * p.P + px];
    let t = q.x + q.y * f32(r);
    let k0 = floor(t);
    let f = t - k0;
    let k = i32(k0);
    var v = 0.0;
    if (k >= 0 && k < i32(p.Z)) { v += (1.0 - f) * src[u32(k) * p.P + px]; }
    if (k + 1 >= 0 && k + 1 < i32(p.Z)) { v += f * src[u32(k + 1) * p.P + px]; }
    acc += val[e] * v;
  }
  dst[i] = acc * amp[ac * p.V + r];
}

// adjoint: ptr/col/val pixel-major (row = pixel, column a·U + c); src = y, dst = x
@compute @workgroup_size(64)
fn adjoint(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.Z * p.P) { return; }
  let k = f32(i / p.P);
  let px = i % p.P;
  var acc = 0.0;
  for (var e = ptr[px]; e < ptr[px + 1u]; e++) {
    let ac = col[e];
    let a = ac / p.U;
    let c = ac % p.U;
    let q = ab[a * p.P + px];
    // rows whose height t = α + β·r lies within one slice of k
    var r0 = 0;
    var r1 = i32(p.V) - 1;
    if (q.y != 0.0) {
      let lo = (k - 1.0 - q.x) / q.y;
      let hi = (k + 1.0 - q.x) / q.y;
      r0 = max(r0, i32(floor(min(lo, hi))));
      r1 = min(r1, i32(ceil(max(lo, hi))));
    }
    var s = 0.0;
    for (var r = r0; r <= r1; r++) {
      let h = 1.0 - abs(q.x + q.y * f32(r) - k);
      if (h > 0.0) {
        s += h * amp[ac * p.V + u32(r)] * src[(u32(r) * p.A + a) * p.U + c];
      }
    }
    acc += val[e] * s;
  }
  dst[i] = acc;
}
