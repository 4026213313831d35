// Kernels of the DiffusionBlend++ sampler: gathering slice triplets for the network, scattering its noise
// estimates back (each slice from the one group that owns it), Tweedie, the DDIM update, and a
// counter-based Gaussian generator so noise is a pure function of (seed, step, index).

struct Params {
  hw: u32, n: u32, seed: u32, stream: u32,
  a: f32, b: f32, c: f32, d: f32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn idx(g: vec3<u32>, nw: vec3<u32>) -> u32 { return g.x + g.y * nw.x * 64u; }

// --- counter-based normal numbers ------------------------------------------------------------------------
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn normal_at(seed: u32, stream: u32, i: u32) -> f32 {
  let key = pcg(seed ^ pcg(stream + 0x9e3779b9u));
  let h1 = pcg(key ^ pcg(2u * i));
  let h2 = pcg(key ^ pcg(2u * i + 1u));
  // u1 in (0, 1], u2 in [0, 1): 24-bit mantissas so f32 represents them exactly
  let u1 = (f32(h1 >> 8u) + 1.0) / 16777216.0;
  let u2 = f32(h2 >> 8u) / 16777216.0;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

@group(0) @binding(1) var<storage, read_write> out: array<f32>;

// out[i] = a * N(0, 1)
@compute @workgroup_size(64)
fn noise(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  out[i] = p.a * normal_at(p.seed, p.stream, i);
}

// --- triplet gather / scatter -----------------------------------------------------------------------------
// gather: batch[g][c] = vol[slices[3g + c]];  n = groups * 3 * hw
@group(0) @binding(1) var<storage, read> vol: array<f32>;
@group(0) @binding(2) var<storage, read> slices: array<u32>;
@group(0) @binding(3) var<storage, read_write> batch: array<f32>;

@compute @workgroup_size(64)
fn gather(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  let plane = i / p.hw;
  batch[i] = vol[slices[plane] * p.hw + (i % p.hw)];
}

// scatter: eps[z] = batch[owner[z]] where owner[z] = 3 * group + channel;  n = Z * hw
@group(0) @binding(1) var<storage, read> src_batch: array<f32>;
@group(0) @binding(2) var<storage, read> owner: array<u32>;
@group(0) @binding(3) var<storage, read_write> eps_vol: array<f32>;

@compute @workgroup_size(64)
fn scatter(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  let z = i / p.hw;
  eps_vol[i] = src_batch[owner[z] * p.hw + (i % p.hw)];
}

// --- Tweedie in attenuation units u: v = ((x − √(1−ᾱ) ε) / √ᾱ − o) / s  for the model's map m = s u + o ---
// a = √ᾱ · s, b = √(1−ᾱ), c = o / s, d > 0.5: non-negative (attenuation cannot be below zero; this is the
// only constraint: nothing clips at the top, so bone and contrast keep their values).
@group(0) @binding(1) var<storage, read> xt: array<f32>;
@group(0) @binding(2) var<storage, read> eps: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;

@compute @workgroup_size(64)
fn tweedie(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  let u = (xt[i] - p.b * eps[i]) / p.a - p.c;
  v[i] = select(u, max(u, 0.0), p.d > 0.5);
}

// --- DDIM update: x = √ᾱ' (s v + o) + √(1−ᾱ') (η ξ + √(1−η²) ε);  a = √ᾱ' s, b = √(1−ᾱ'), c = η, d = √ᾱ' o --
@group(0) @binding(1) var<storage, read> v0: array<f32>;
@group(0) @binding(2) var<storage, read> eps_in: array<f32>;
@group(0) @binding(3) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(64)
fn ddim(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.n) { return; }
  let xi = normal_at(p.seed, p.stream, i);
  x[i] = p.a * v0[i] + p.d + p.b * (p.c * xi + sqrt(1.0 - p.c * p.c) * eps_in[i]);
}
