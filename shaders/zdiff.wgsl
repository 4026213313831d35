// Finite differences along z (slices), for the z-TV data consistency of the sampler and for 3D TV.
// Volume layout [z][j][i], `hw` = voxels per slice. D_z x[k] = x[k+1] - x[k] for k < Z-1 and 0 on the last
// slice, so D_zᵀ w[k] = w[k-1] - w[k] with w[-1] = 0 and w[Z-1] ignored. With `circular` = 1 the slices wrap
// around (x[Z] = x[0]), as the DDS reference code's difference operator does.

struct Params {
  n: u32, hw: u32, circular: u32, pad1: u32,
  a: f32, b: f32, pad2: f32, pad3: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn idx(g: vec3<u32>, nw: vec3<u32>) -> u32 { return g.x + g.y * nw.x * 64u; }

fn next(i: u32) -> u32 { return (i + p.hw) % p.n; }
fn prev(i: u32) -> u32 { return (i + p.n - p.hw) % p.n; }

fn dz(i: u32) -> f32 {
  if (i + p.hw < p.n || p.circular == 1u) { return x[next(i)] - x[i]; }
  return 0.0;
}

fn dzt(i: u32) -> f32 {
  // reads x as the difference field w
  if (p.circular == 1u) { return x[prev(i)] - x[i]; }
  var v = 0.0;
  if (i >= p.hw) { v += x[i - p.hw]; }
  if (i + p.hw < p.n) { v -= x[i]; }
  return v;
}

// y = D_z x
@compute @workgroup_size(64)
fn apply_dz(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  y[i] = dz(i);
}

// y = D_zᵀ x
@compute @workgroup_size(64)
fn apply_dzt(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  y[i] = dzt(i);
}

// y = a * y + b * D_zᵀ x
@compute @workgroup_size(64)
fn add_dzt(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  y[i] = p.a * y[i] + p.b * dzt(i);
}

// y = y + b * D_zᵀ D_z x   (the z Laplacian with Neumann ends)
@compute @workgroup_size(64)
fn add_lapz(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  var v = 0.0;
  if (p.circular == 1u) {
    v = 2.0 * x[i] - x[prev(i)] - x[next(i)];
  } else {
    if (i >= p.hw) { v += x[i] - x[i - p.hw]; }   // D_z x[k-1]
    if (i + p.hw < p.n) { v -= x[i + p.hw] - x[i]; }          // D_z x[k]
  }
  y[i] = y[i] + p.b * v;
}

// ADMM step for the z-TV term, in place on (z, u) with t = D_z v + u already in y:
// z = soft(t, a), u = t - z. Here x holds D_z v, y holds z and a third buffer holds u.
@group(0) @binding(3) var<storage, read_write> u: array<f32>;

@compute @workgroup_size(64)
fn shrink(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  let t = x[i] + u[i];
  let zv = sign(t) * max(abs(t) - p.a, 0.0);
  y[i] = zv;
  u[i] = t - zv;
}
