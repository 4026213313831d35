// Element-wise vector kernels and deterministic dot products for the solvers. Scalars that steer an
// iteration (alpha, beta) live in a small GPU buffer `s`, so a CG loop needs no host round trip.
// Dot products reduce in a fixed order: every workgroup sums one contiguous chunk by a fixed tree, a second
// pass sums the partials by the same tree. No atomics, so the same inputs give the same bits.

struct Params {
  n: u32, slot: u32, slot2: u32, mode: u32,
  a: f32, b: f32, c: f32, pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

// --- dot products --------------------------------------------------------------------------------------
@group(0) @binding(1) var<storage, read> da: array<f32>;
@group(0) @binding(2) var<storage, read> db: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;

const RW: u32 = 256u;   // reduction workgroup size
const PER: u32 = 256u;   // elements per thread in the first pass (fewer workgroups: barriers are costly on CPU adapters)
var<workgroup> tree: array<f32, 256>;

fn reduce_tree(t: u32) {
  for (var stride = RW / 2u; stride > 0u; stride = stride / 2u) {
    workgroupBarrier();
    if (t < stride) { tree[t] = tree[t] + tree[t + stride]; }
  }
  workgroupBarrier();
}

@compute @workgroup_size(256)
fn dot_partial(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>,
               @builtin(num_workgroups) nw: vec3<u32>) {
  let t = l.x;
  let wg = w.x + w.y * nw.x;
  let start = wg * RW * PER;
  var acc = 0.0;
  for (var k = 0u; k < PER; k++) {
    let i = start + k * RW + t;
    if (i < p.n) { acc += da[i] * db[i]; }
  }
  tree[t] = acc;
  reduce_tree(t);
  if (t == 0u) { partial[wg] = tree[0]; }
}

// --- second pass: partials -> one scalar in s[slot] -------------------------------------------------------
@group(0) @binding(1) var<storage, read> parts: array<f32>;
@group(0) @binding(2) var<storage, read_write> s: array<f32>;

// mode 0: s[slot] = Σ; mode 1 (CG's alpha): s[slot] = s[slot2] / Σ; mode 2 (CG's beta and the new r·r):
// s[slot] = Σ / s[slot2], then s[slot2] = Σ. A zero denominator gives 0. One dispatch instead of two.
@compute @workgroup_size(256)
fn dot_final(@builtin(local_invocation_id) l: vec3<u32>) {
  let t = l.x;
  var acc = 0.0;
  for (var i = t; i < p.n; i += RW) { acc += parts[i]; }
  tree[t] = acc;
  reduce_tree(t);
  if (t == 0u) {
    let total = tree[0];
    if (p.mode == 0u) {
      s[p.slot] = total;
    } else if (p.mode == 1u) {
      s[p.slot] = select(0.0, s[p.slot2] / total, total != 0.0);
    } else {
      let old = s[p.slot2];
      s[p.slot] = select(0.0, total / old, old != 0.0);
      s[p.slot2] = total;
    }
  }
}

// --- CG's update in one pass: x += alpha p, r -= alpha q, and the partial sums of the new r·r ------------
@group(0) @binding(1) var<storage, read> cp: array<f32>;
@group(0) @binding(2) var<storage, read> cq: array<f32>;
@group(0) @binding(3) var<storage, read_write> cx: array<f32>;
@group(0) @binding(4) var<storage, read_write> cr: array<f32>;
@group(0) @binding(5) var<storage, read_write> cpartial: array<f32>;
@group(0) @binding(6) var<storage, read> cs: array<f32>;

@compute @workgroup_size(256)
fn cg_update(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) w: vec3<u32>,
             @builtin(num_workgroups) nw: vec3<u32>) {
  let t = l.x;
  let wg = w.x + w.y * nw.x;
  let start = wg * RW * PER;
  let alpha = cs[p.slot];
  var acc = 0.0;
  // the same chunks and tree as dot_partial, so r·r sums in the same order as a separate dot would
  for (var k = 0u; k < PER; k++) {
    let i = start + k * RW + t;
    if (i < p.n) {
      cx[i] += alpha * cp[i];
      let ri = cr[i] - alpha * cq[i];
      cr[i] = ri;
      acc += ri * ri;
    }
  }
  tree[t] = acc;
  reduce_tree(t);
  if (t == 0u) { cpartial[wg] = tree[0]; }
}

// --- y = c * y + a * x + b * s[slot] * x   (slot scaling lets alpha come from the GPU) --------------------
@group(0) @binding(1) var<storage, read> ax: array<f32>;
@group(0) @binding(2) var<storage, read_write> ay: array<f32>;
@group(0) @binding(3) var<storage, read> as_: array<f32>;

// Each invocation updates 4 consecutive elements: per-invocation overhead dominates on CPU adapters.
@compute @workgroup_size(64)
fn axpby(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let base = 4u * (g.x + g.y * nw.x * 64u);
  let k = p.a + p.b * as_[p.slot];
  for (var i = base; i < min(base + 4u, p.n); i++) {
    ay[i] = p.c * ay[i] + k * ax[i];
  }
}

// --- y = x + s[slot] * y  (CG's p = r + beta p) -----------------------------------------------------------
@compute @workgroup_size(64)
fn xpby(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let base = 4u * (g.x + g.y * nw.x * 64u);
  let k = p.a + p.b * as_[p.slot];
  for (var i = base; i < min(base + 4u, p.n); i++) {
    ay[i] = ax[i] + k * ay[i];
  }
}
