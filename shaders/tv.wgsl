// PDHG (Chambolle-Pock) for min_x ½‖Ax − y‖² + λ‖∇x‖₁ + (γ/2)‖x − a‖² + ι[x ≥ 0], 3D anisotropic TV with an
// optional proximity term to an anchor a (the diffusion sampler's Tweedie estimate; γ = 0 without), the diagonal
// preconditioning of Pock & Chambolle (2011): σ = 1/(row sums of |K|), τ = 1/(column sums of |K|).
// ∇ is the forward difference along x, y, z with 0 on the last index; q holds its 3 components [3][n].

struct Params {
  n: u32, W: u32, hw: u32, Z: u32,
  lambda: f32, gamma: f32, pad1: f32, pad2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn idx(g: vec3<u32>, nw: vec3<u32>) -> u32 { return g.x + g.y * nw.x * 64u; }

// --- data dual: pd = (pd + σ (A x̄ − y)) / (1 + σ) -------------------------------------------------------
@group(0) @binding(1) var<storage, read> ax: array<f32>;
@group(0) @binding(2) var<storage, read> meas: array<f32>;
@group(0) @binding(3) var<storage, read> sig: array<f32>;
@group(0) @binding(4) var<storage, read_write> pd: array<f32>;

@compute @workgroup_size(64)
fn dual_data(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  let s = sig[i];
  pd[i] = (pd[i] + s * (ax[i] - meas[i])) / (1.0 + s);
}

// --- TV dual: q = clip(q + ½ ∇x̄, −λ, λ) ---------------------------------------------------------------------
@group(0) @binding(1) var<storage, read> xb: array<f32>;
@group(0) @binding(2) var<storage, read_write> q: array<f32>;

fn grad(i: u32, axis: u32) -> f32 {
  let x = i % p.W;
  let y = (i / p.W) % (p.hw / p.W);
  let z = i / p.hw;
  if (axis == 0u) { if (x + 1u < p.W) { return xb[i + 1u] - xb[i]; } return 0.0; }
  if (axis == 1u) { if (y + 1u < p.hw / p.W) { return xb[i + p.W] - xb[i]; } return 0.0; }
  if (z + 1u < p.Z) { return xb[i + p.hw] - xb[i]; }
  return 0.0;
}

@compute @workgroup_size(64)
fn dual_tv(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  for (var a = 0u; a < 3u; a++) {
    let k = a * p.n + i;
    q[k] = clamp(q[k] + 0.5 * grad(i, a), -p.lambda, p.lambda);
  }
}

// --- primal: x' = clip(x − τ (Aᵀpd + ∇ᵀq), 0, 1); x̄ = 2x' − x ----------------------------------------------
@group(0) @binding(1) var<storage, read> atp: array<f32>;
@group(0) @binding(2) var<storage, read> qq: array<f32>;
@group(0) @binding(3) var<storage, read> tau: array<f32>;
@group(0) @binding(4) var<storage, read_write> xv: array<f32>;
@group(0) @binding(5) var<storage, read_write> xbar: array<f32>;
@group(0) @binding(6) var<storage, read> anchor: array<f32>;

// ∇ᵀq: for each axis, q[i − step] (if i has a predecessor) − q[i] (if i is not last)
fn gradT(i: u32) -> f32 {
  let x = i % p.W;
  let H = p.hw / p.W;
  let y = (i / p.W) % H;
  let z = i / p.hw;
  var v = 0.0;
  if (x > 0u) { v += qq[i - 1u]; }
  if (x + 1u < p.W) { v -= qq[i]; }
  if (y > 0u) { v += qq[p.n + i - p.W]; }
  if (y + 1u < H) { v -= qq[p.n + i]; }
  if (z > 0u) { v += qq[2u * p.n + i - p.hw]; }
  if (z + 1u < p.Z) { v -= qq[2u * p.n + i]; }
  return v;
}

@compute @workgroup_size(64)
fn primal(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  let old = xv[i];
  // prox of τ((γ/2)‖x − a‖² + ι[x ≥ 0]); non-negativity is the only constraint: attenuation has no upper bound
  let t = tau[i];
  let nx = max((old - t * (atp[i] + gradT(i)) + t * p.gamma * anchor[i]) / (1.0 + t * p.gamma), 0.0);
  xv[i] = nx;
  xbar[i] = 2.0 * nx - old;
}

// --- step sizes from the operator's absolute row/column sums ----------------------------------------------
@group(0) @binding(1) var<storage, read_write> st: array<f32>;

// σ = 1 / max(A·1, ε) in place
@compute @workgroup_size(64)
fn invert(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  st[i] = 1.0 / max(st[i], 1e-6);
}

// τ = 1 / (Aᵀ·1 + 6) in place (6: each voxel sits in at most 6 difference rows)
@compute @workgroup_size(64)
fn invert_tau(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  st[i] = 1.0 / (st[i] + 6.0);
}
