// Joseph's march through one slice, shared by projector.wgsl and fan.wgsl: the loader in
// lib/gpu/context.ts pastes this file where a module says `// #include joseph`; the including module
// declares `src` (the slices, [z][j][i]).
//
// The ray is marched one pixel at a time along its dominant axis (n steps, k = 0..n−1); at step k it
// crosses the other axis at f = f0 + k·fk (in pixel units of that axis, lim pixels long), between the two
// neighbours l0 = floor(f) and l0 + 1, which get the linear weights 1 − w1 and w1. `rowStep` is the index
// step of one k, `stride` that of one l. Only the steps where f lies in (−1, lim) can contribute (the ray's
// chord through the slice), so only they are visited, with one step of margin either side; a neighbour
// outside the slice reads as 0, so the margins and the clipping keep the sum exact either way.
// The steps (k0, k1) of the ray's chord, one step of margin either side; k1 < k0 when the ray misses.
fn joseph_chord(n: u32, lim: i32, f0: f32, fk: f32) -> vec2<i32> {
  var k0 = 0; var k1 = i32(n) - 1;
  if (abs(fk) > 1e-6) {
    let ka = (-1.0 - f0) / fk; let kb = (f32(lim) - f0) / fk;
    k0 = max(k0, i32(floor(min(ka, kb))) - 1);
    k1 = min(k1, i32(ceil(max(ka, kb))) + 1);
  } else if (f0 <= -1.0 || f0 >= f32(lim)) {
    k1 = -1;
  }
  return vec2<i32>(k0, k1);
}

fn joseph_march(base: u32, n: u32, lim: i32, f0: f32, fk: f32, rowStep: u32, stride: u32) -> f32 {
  let chord = joseph_chord(n, lim, f0, fk);
  let k0 = chord.x; let k1 = chord.y;
  var acc = 0.0;
  for (var k = k0; k <= k1; k++) {
    // from f0 at every step, not accumulated: 256 float32 additions would drift by ~1e-2 pixel; and no
    // division in the loop: a CPU adapter runs these lanes as scalar code, where a division costs as
    // much as the rest of a step
    let f = f0 + f32(k) * fk;
    let l0 = i32(floor(f));
    let w1 = f - f32(l0);
    // one unsigned compare tests 0 <= l < lim; robust buffer access keeps an unused read in the binding
    let ia = base + u32(k) * rowStep + u32(l0) * stride;
    let va = select(0.0, src[ia], u32(l0) < u32(lim));
    let vb = select(0.0, src[ia + stride], u32(l0 + 1) < u32(lim));
    acc += (1.0 - w1) * va + w1 * vb;
  }
  return acc;
}
