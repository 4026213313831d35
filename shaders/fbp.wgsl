// Ramp-type filtering of each projection row for FBP, by direct convolution with a precomputed spatial
// kernel `taps` of length 2D-1 (index D-1 is offset 0). Sums run in a fixed order.

struct Params {
  D: u32, A: u32, Z: u32, pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> taps: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn filter_rows(@builtin(global_invocation_id) g: vec3<u32>) {
  let u = g.x; let a = g.y; let z = g.z;
  if (u >= p.D || a >= p.A || z >= p.Z) { return; }
  let row = (z * p.A + a) * p.D;
  var acc = 0.0;
  for (var v = 0u; v < p.D; v++) {
    acc += taps[u + p.D - 1u - v] * src[row + v];
  }
  dst[row + u] = acc;
}
