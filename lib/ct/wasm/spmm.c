// Sparse matrix × multi-slice products for the CPU projector (lib/ct/sparse.ts), built to spmm.wasm by
// build.sh. Volumes are pixel-major here, `zp` slices (a multiple of 4) contiguous per pixel or bin, so
// one weight serves every slice with 128-bit vector loads: the WGSL kernels on a software adapter pay a
// scalar load per lane, this pays one per four slices.
#include <stdint.h>
#include <wasm_simd128.h>

#define EXPORT(name) __attribute__((export_name(name)))

extern unsigned char __heap_base;

// The first free byte after the module's stack and data: the host lays its arrays out from here.
EXPORT("heap_start") uintptr_t heap_start(void) { return ((uintptr_t)&__heap_base + 15) & ~(uintptr_t)15; }

// out[r][z] = Σ_k val[k] · in[col[k]][z] for rows r0 ≤ r < r1; rows are independent, so a caller may
// split them between threads; the sum runs in the order of the row's entries, the same on every run.
EXPORT("spmm")
void spmm(const uint32_t *ptr, const uint32_t *col, const float *val, uint32_t r0, uint32_t r1,
          const float *in, float *out, uint32_t zp) {
  for (uint32_t r = r0; r < r1; r++) {
    const uint32_t k0 = ptr[r], k1 = ptr[r + 1];
    float *o = out + (uintptr_t)r * zp;
    uint32_t z = 0;
    // 32 slices at a time in eight registers, then the rest four at a time
    for (; z + 32 <= zp; z += 32) {
      v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
      for (uint32_t k = k0; k < k1; k++) {
        const v128_t w = wasm_f32x4_splat(val[k]);
        const float *s = in + (uintptr_t)col[k] * zp + z;
        a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(w, wasm_v128_load(s)));
        a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(w, wasm_v128_load(s + 4)));
        a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(w, wasm_v128_load(s + 8)));
        a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(w, wasm_v128_load(s + 12)));
        a4 = wasm_f32x4_add(a4, wasm_f32x4_mul(w, wasm_v128_load(s + 16)));
        a5 = wasm_f32x4_add(a5, wasm_f32x4_mul(w, wasm_v128_load(s + 20)));
        a6 = wasm_f32x4_add(a6, wasm_f32x4_mul(w, wasm_v128_load(s + 24)));
        a7 = wasm_f32x4_add(a7, wasm_f32x4_mul(w, wasm_v128_load(s + 28)));
      }
      wasm_v128_store(o + z, a0);
      wasm_v128_store(o + z + 4, a1);
      wasm_v128_store(o + z + 8, a2);
      wasm_v128_store(o + z + 12, a3);
      wasm_v128_store(o + z + 16, a4);
      wasm_v128_store(o + z + 20, a5);
      wasm_v128_store(o + z + 24, a6);
      wasm_v128_store(o + z + 28, a7);
    }
    for (; z < zp; z += 4) {
      v128_t a = wasm_f32x4_splat(0);
      for (uint32_t k = k0; k < k1; k++) {
        a = wasm_f32x4_add(a, wasm_f32x4_mul(wasm_f32x4_splat(val[k]),
                                             wasm_v128_load(in + (uintptr_t)col[k] * zp + z)));
      }
      wasm_v128_store(o + z, a);
    }
  }
}

// out[col[k]][z] += val[k] · in[r][z] for rows r0 ≤ r < r1: the transpose of spmm with the same matrix,
// as a scatter. The projector keeps only the pixel-major matrix (rows = pixels) and applies A with this:
// the sinogram it scatters into stays in cache, and the volume is read once, in order. `out` must hold
// zeros (or a partial sum) on entry; the order of the additions is fixed.
EXPORT("spmm_t")
void spmm_t(const uint32_t *ptr, const uint32_t *col, const float *val, uint32_t r0, uint32_t r1,
            const float *in, float *out, uint32_t zp) {
  for (uint32_t r = r0; r < r1; r++) {
    const float *s = in + (uintptr_t)r * zp;
    for (uint32_t k = ptr[r]; k < ptr[r + 1]; k++) {
      const v128_t w = wasm_f32x4_splat(val[k]);
      float *o = out + (uintptr_t)col[k] * zp;
      for (uint32_t z = 0; z < zp; z += 4) {
        wasm_v128_store(o + z, wasm_f32x4_add(wasm_v128_load(o + z), wasm_f32x4_mul(w, wasm_v128_load(s + z))));
      }
    }
  }
}

// dst[p][z] = src[z][p] for z < nz (dst's slices nz..zp-1 are zero): slice-major to pixel-major.
EXPORT("to_pixel_major")
void to_pixel_major(const float *src, float *dst, uint32_t nz, uint32_t np, uint32_t zp) {
  for (uint32_t p0 = 0; p0 < np; p0 += 256) {
    const uint32_t p1 = p0 + 256 < np ? p0 + 256 : np;
    for (uint32_t z = 0; z < zp; z++) {
      if (z < nz) {
        const float *s = src + (uintptr_t)z * np;
        for (uint32_t p = p0; p < p1; p++) dst[(uintptr_t)p * zp + z] = s[p];
      } else {
        for (uint32_t p = p0; p < p1; p++) dst[(uintptr_t)p * zp + z] = 0;
      }
    }
  }
}

// dst[z][p] = src[p][z] for z < nz: pixel-major back to slice-major.
EXPORT("to_slice_major")
void to_slice_major(const float *src, float *dst, uint32_t nz, uint32_t np, uint32_t zp) {
  for (uint32_t p0 = 0; p0 < np; p0 += 256) {
    const uint32_t p1 = p0 + 256 < np ? p0 + 256 : np;
    for (uint32_t z = 0; z < nz; z++) {
      float *d = dst + (uintptr_t)z * np;
      for (uint32_t p = p0; p < p1; p++) d[p] = src[(uintptr_t)p * zp + z];
    }
  }
}
