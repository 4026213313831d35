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

// ---- solver kernels on pixel-major arrays ([pixel][zp], slices nz..zp-1 held at zero) ------------------
// CG and TV's PDHG iterate here when the projector runs on this engine, so no pass leaves the layout the
// products need (no transposes, no copies between iterations). Plain loops: clang vectorises them along z.

// Σ a[i] b[i] in float64, in index order
EXPORT("dot")
double dot(const float *a, const float *b, uint32_t n) {
  double s = 0;
  for (uint32_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
  return s;
}

// r = b - r
EXPORT("rsub")
void rsub(const float *b, float *r, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) r[i] = b[i] - r[i];
}

// x += alpha p, r -= alpha q; returns the new r·r in float64
EXPORT("cg_update")
double cg_update(float *x, float *r, const float *p, const float *q, float alpha, uint32_t n) {
  double s = 0;
  for (uint32_t i = 0; i < n; i++) {
    x[i] += alpha * p[i];
    const float ri = r[i] - alpha * q[i];
    r[i] = ri;
    s += (double)ri * (double)ri;
  }
  return s;
}

// p = r + beta p
EXPORT("xpby")
void xpby(const float *r, float *p, float beta, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) p[i] = r[i] + beta * p[i];
}

// out += b · D_zᵀD_z v along z (slices 0..nz-1; circular: they wrap around)
EXPORT("lapz_add")
void lapz_add(const float *v, float *out, float b, uint32_t np, uint32_t zp, uint32_t nz, uint32_t circular) {
  for (uint32_t p = 0; p < np; p++) {
    const float *s = v + (uintptr_t)p * zp;
    float *o = out + (uintptr_t)p * zp;
    for (uint32_t z = 0; z < nz; z++) {
      float d;
      if (circular) {
        d = 2 * s[z] - s[z == 0 ? nz - 1 : z - 1] - s[z + 1 == nz ? 0 : z + 1];
      } else {
        d = 0;
        if (z > 0) d += s[z] - s[z - 1];
        if (z + 1 < nz) d -= s[z + 1] - s[z];
      }
      o[z] += b * d;
    }
  }
}

// pd = (pd + σ (ax − y)) / (1 + σ)
EXPORT("tv_dual_data")
void tv_dual_data(const float *ax, const float *y, const float *sig, float *pd, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) {
    const float s = sig[i];
    pd[i] = (pd[i] + s * (ax[i] - y[i])) / (1.0f + s);
  }
}

// Lanes z0..z0+3 where z < bound, as an all-ones mask.
static inline v128_t lanes_below(uint32_t z0, uint32_t bound) {
  return wasm_i32x4_lt(wasm_i32x4_add(wasm_i32x4_splat((int32_t)z0), wasm_i32x4_make(0, 1, 2, 3)),
                       wasm_i32x4_splat((int32_t)bound));
}

// min/max rather than pmin/pmax: a NaN stays NaN (as in the host loops), never a plausible ±λ or 0
static inline v128_t clamp4(v128_t v, v128_t lo, v128_t hi) { return wasm_f32x4_max(lo, wasm_f32x4_min(hi, v)); }

// q = clip(q + ½ ∇x̄, −λ, λ): forward differences along columns (qx), rows (qy) and slices (qz), 0 on
// the last index of each axis. Four slices per vector; the pad slices stay 0 (x̄'s are 0, and the slice
// difference is masked from nz − 1 on), so qz is 0 on the last slice, which tv_primal relies on.
EXPORT("tv_dual")
void tv_dual(const float *xb, float *qx, float *qy, float *qz, uint32_t H, uint32_t W, uint32_t zp, uint32_t nz,
             float lam) {
  const v128_t lo = wasm_f32x4_splat(-lam), hi = wasm_f32x4_splat(lam), half = wasm_f32x4_splat(0.5f);
  for (uint32_t r = 0; r < H; r++) {
    for (uint32_t c = 0; c < W; c++) {
      const uintptr_t o = ((uintptr_t)r * W + c) * zp;
      const float *v = xb + o;
      const float *vx = c + 1 < W ? v + zp : v;
      const float *vy = r + 1 < H ? v + (uintptr_t)W * zp : v;
      for (uint32_t z = 0; z < zp; z += 4) {
        const v128_t here = wasm_v128_load(v + z);
        const v128_t dx = wasm_f32x4_sub(wasm_v128_load(vx + z), here);
        const v128_t dy = wasm_f32x4_sub(wasm_v128_load(vy + z), here);
        const v128_t dz = wasm_v128_and(wasm_f32x4_sub(wasm_v128_load(v + z + 1), here), lanes_below(z, nz - 1));
        wasm_v128_store(qx + o + z, clamp4(wasm_f32x4_add(wasm_v128_load(qx + o + z), wasm_f32x4_mul(half, dx)), lo, hi));
        wasm_v128_store(qy + o + z, clamp4(wasm_f32x4_add(wasm_v128_load(qy + o + z), wasm_f32x4_mul(half, dy)), lo, hi));
        wasm_v128_store(qz + o + z, clamp4(wasm_f32x4_add(wasm_v128_load(qz + o + z), wasm_f32x4_mul(half, dz)), lo, hi));
      }
    }
  }
}

// x' = max((x − τ(Aᵀpd + ∇ᵀq) + τγ a) / (1 + τγ), 0); x̄ = 2x' − x. ∇ᵀq along z reads qz one slice back
// (masked on slice 0) and qz itself, which is 0 on the last slice and the pads.
EXPORT("tv_primal")
void tv_primal(const float *atp, const float *qx, const float *qy, const float *qz, const float *tau, float *x,
               float *xb, const float *anchor, float gamma, uint32_t H, uint32_t W, uint32_t zp, uint32_t nz) {
  (void)nz;
  const v128_t zero = wasm_f32x4_splat(0), one = wasm_f32x4_splat(1), two = wasm_f32x4_splat(2);
  const v128_t gam = wasm_f32x4_splat(gamma), first = lanes_below(0, 1);
  for (uint32_t r = 0; r < H; r++) {
    for (uint32_t c = 0; c < W; c++) {
      const uintptr_t o = ((uintptr_t)r * W + c) * zp;
      // neighbours that do not exist read this pixel's own values with weight 0
      const uintptr_t ox = c > 0 ? o - zp : o, oy = r > 0 ? o - (uintptr_t)W * zp : o;
      const v128_t wxm = wasm_f32x4_splat(c > 0 ? 1.0f : 0.0f), wxp = wasm_f32x4_splat(c + 1 < W ? 1.0f : 0.0f);
      const v128_t wym = wasm_f32x4_splat(r > 0 ? 1.0f : 0.0f), wyp = wasm_f32x4_splat(r + 1 < H ? 1.0f : 0.0f);
      for (uint32_t z = 0; z < zp; z += 4) {
        const uintptr_t i = o + z;
        v128_t g = wasm_f32x4_mul(wxm, wasm_v128_load(qx + ox + z));
        g = wasm_f32x4_sub(g, wasm_f32x4_mul(wxp, wasm_v128_load(qx + i)));
        g = wasm_f32x4_add(g, wasm_f32x4_mul(wym, wasm_v128_load(qy + oy + z)));
        g = wasm_f32x4_sub(g, wasm_f32x4_mul(wyp, wasm_v128_load(qy + i)));
        v128_t back = wasm_v128_load(qz + i - 1);
        if (z == 0) back = wasm_v128_andnot(back, first);
        g = wasm_f32x4_add(g, wasm_f32x4_sub(back, wasm_v128_load(qz + i)));
        const v128_t old = wasm_v128_load(x + i), t = wasm_v128_load(tau + i);
        const v128_t tg = wasm_f32x4_mul(t, gam);
        v128_t nx = wasm_f32x4_sub(old, wasm_f32x4_mul(t, wasm_f32x4_add(wasm_v128_load(atp + i), g)));
        nx = wasm_f32x4_div(wasm_f32x4_add(nx, wasm_f32x4_mul(tg, wasm_v128_load(anchor + i))), wasm_f32x4_add(one, tg));
        nx = wasm_f32x4_max(zero, nx);
        wasm_v128_store(x + i, nx);
        wasm_v128_store(xb + i, wasm_f32x4_sub(wasm_f32x4_mul(two, nx), old));
      }
    }
  }
}
