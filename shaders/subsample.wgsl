// Slice subsampling along z (z-super-resolution's measurement): y keeps slices k·f + o of x, k < Zs.
// Layout [z][j][i], `hw` voxels per slice. The adjoint puts each kept slice back and zeros the others.

struct Params {
  hw: u32, Z: u32, Zs: u32, f: u32,
  o: u32, pad1: u32, pad2: u32, pad3: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn idx(g: vec3<u32>, nw: vec3<u32>) -> u32 { return g.x + g.y * nw.x * 64u; }

@compute @workgroup_size(64)
fn forward(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.Zs * p.hw) { return; }
  let k = i / p.hw;
  dst[i] = src[(k * p.f + p.o) * p.hw + i % p.hw];
}

@compute @workgroup_size(64)
fn adjoint(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let i = idx(g, nw);
  if (i >= p.Z * p.hw) { return; }
  let z = i / p.hw;
  var v = 0.0;
  if (z >= p.o && (z - p.o) % p.f == 0u && (z - p.o) / p.f < p.Zs) {
    v = src[((z - p.o) / p.f) * p.hw + i % p.hw];
  }
  dst[i] = v;
}
