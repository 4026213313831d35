"""Seeded procedural anatomy in Hounsfield units (head, chest, abdomen) for training the prior.

Shapes are deformed ellipsoids and tubes whose cross-sections drift with z, so adjacent slices are
correlated the way real anatomy is; HU values follow published tissue ranges.
"""
import numpy as np
from scipy import ndimage


def _grid(shape):
    z, y, x = shape
    zz = np.linspace(-1, 1, z, dtype=np.float32)[:, None, None]
    yy = np.linspace(-1, 1, y, dtype=np.float32)[None, :, None]
    xx = np.linspace(-1, 1, x, dtype=np.float32)[None, None, :]
    return zz, yy, xx


def _smooth_noise(rng, shape, sigma, amp):
    n = rng.standard_normal(shape).astype(np.float32)
    n = ndimage.gaussian_filter(n, sigma)
    return n * (amp / (n.std() + 1e-6))


def _segment_mask(p, a, b, radius):
    """The bounding box of the voxels within `radius` of the segment a→b (points in the grid's normalised
    (z, y, x) coordinates) and, inside it, each voxel's squared distance to the segment in units of radius²."""
    Z, Y, X = p.shape
    lo = np.minimum(a, b) - radius
    hi = np.maximum(a, b) + radius
    to_idx = lambda v, n: (v + 1) * (n - 1) / 2
    z0, z1 = max(int(np.floor(to_idx(lo[0], Z))), 0), min(int(np.ceil(to_idx(hi[0], Z))) + 1, Z)
    y0, y1 = max(int(np.floor(to_idx(lo[1], Y))), 0), min(int(np.ceil(to_idx(hi[1], Y))) + 1, Y)
    x0, x1 = max(int(np.floor(to_idx(lo[2], X))), 0), min(int(np.ceil(to_idx(hi[2], X))) + 1, X)
    if z0 >= z1 or y0 >= y1 or x0 >= x1:
        return None, None
    zz, yy, xx = p.zz[z0:z1], p.yy[:, y0:y1], p.xx[:, :, x0:x1]
    d = b - a
    dd = float(d @ d) + 1e-12
    s = np.clip(((zz - a[0]) * d[0] + (yy - a[1]) * d[1] + (xx - a[2]) * d[2]) / dd, 0, 1)
    dist2 = (zz - a[0] - s * d[0]) ** 2 + (yy - a[1] - s * d[1]) ** 2 + (xx - a[2] - s * d[2]) ** 2
    return (slice(z0, z1), slice(y0, y1), slice(x0, x1)), dist2 / radius**2


def _tree(p, start, direction, radius, length, depth, rng):
    """A branching tree's segments [(a, b, r)] from `start`: each segment splits in two whose radii follow
    Murray's law (r³ = r₁³ + r₂³) and whose lengths shrink, so vessels and airways taper from the hilum to the
    periphery as real ones do."""
    out = []
    stack = [(np.asarray(start, np.float32), np.asarray(direction, np.float32), radius, length, 0)]
    while stack:
        a, d, r, ln, g = stack.pop()
        d = d / (np.linalg.norm(d) + 1e-9)
        b = a + d * ln
        out.append((a, b, r))
        if g + 1 >= depth or r < 0.003:
            continue
        share = rng.uniform(0.35, 0.65)
        radii = [r * share ** (1 / 3), r * (1 - share) ** (1 / 3)]
        axis = np.cross(d, rng.standard_normal(3))
        axis /= np.linalg.norm(axis) + 1e-9
        for child, sign in zip(radii, (1, -1)):
            ang = rng.uniform(0.3, 0.7) * sign
            nd = d * np.cos(ang) + np.cross(axis, d) * np.sin(ang) + rng.normal(0, 0.1, 3)
            stack.append((b, nd, child, ln * rng.uniform(0.65, 0.85), g + 1))
    return out


def _lung_interior(p, lung, centre_x, half_width, rng, contrast):
    """What real lungs have and TV cannot make: parenchyma with texture (−900…−700 HU), branching vessel
    trees and airway trees (lumen air inside a soft-tissue wall) from the hilum outwards, and a fissure."""
    sub = np.where(lung)
    if sub[0].size == 0:
        return
    base = rng.uniform(-880, -760)
    tex = _smooth_noise(rng, p.shape, rng.uniform(1.0, 2.5), rng.uniform(15, 45))
    p.vol[lung] = np.clip(base + tex[lung], -950, -650)
    # a fissure: a thin, gently curved sheet across the lung, slightly denser than the parenchyma
    zc, yc = rng.uniform(-0.3, 0.3), rng.uniform(-0.2, 0.2)
    sheet = np.abs((p.yy - yc) - rng.uniform(0.4, 0.9) * (p.zz - zc) - 0.15 * np.sin(3 * p.xx + rng.uniform(0, 6.3))) < 0.006
    p.vol[sheet & lung] = rng.uniform(-650, -450)
    outward = np.sign(centre_x) if centre_x else 1.0
    # the hilum sits on the lung's medial side
    hilum = np.array([rng.uniform(-0.2, 0.2), rng.uniform(-0.1, 0.1), centre_x - outward * half_width * 0.7],
                     np.float32)
    vessel_hu = rng.uniform(150, 350) if contrast else rng.uniform(-20, 60)
    trees = []
    for kind in ["vessel"] * int(rng.integers(8, 13)) + ["airway"] * int(rng.integers(3, 6)):
        # z is in the grid's normalised units, whose voxels are thicker than in-plane ones: slower along z
        d = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), outward * rng.uniform(0.3, 1)], np.float32)
        root = hilum + np.array([rng.uniform(-0.5, 0.5), rng.normal(0, 0.05), rng.normal(0, 0.03)], np.float32)
        trees.append((kind, _tree(p, root, d, rng.uniform(0.014, 0.024),
                                  rng.uniform(0.15, 0.25), int(rng.integers(7, 10)), rng)))
    for kind, segs in trees:
        for a, b, r in segs:
            idx, d2 = _segment_mask(p, a, b, r)
            if idx is None:
                continue
            m = (d2 <= 1) & lung[idx]
            view = p.vol[idx]
            if kind == "vessel":
                view[m] = vessel_hu + rng.normal(0, 10)
            else:
                view[m] = rng.uniform(-150, 0)  # the wall
                view[(d2 <= 0.49) & lung[idx]] = rng.uniform(-1000, -950)


class Painter:
    def __init__(self, shape, rng):
        self.shape = shape
        self.rng = rng
        self.zz, self.yy, self.xx = _grid(shape)
        self.vol = np.full(shape, -1000.0, dtype=np.float32)

    def ellipse(self, cx, cy, ax, ay, drift=0.05, wobble=0.08, rot=None):
        """Mask of an elliptic cylinder whose centre and axes vary smoothly along z."""
        r = self.rng
        p = r.uniform(0, 2 * np.pi, 4)
        f = r.uniform(0.5, 2.0, 2)
        z = self.zz
        cx_z = cx + drift * np.sin(f[0] * np.pi * z + p[0])
        cy_z = cy + drift * np.sin(f[1] * np.pi * z + p[1])
        ax_z = ax * (1 + wobble * np.sin(np.pi * z + p[2]))
        ay_z = ay * (1 + wobble * np.sin(np.pi * z + p[3]))
        th = r.uniform(-0.3, 0.3) if rot is None else rot
        c, s = np.cos(th), np.sin(th)
        dx, dy = self.xx - cx_z, self.yy - cy_z
        u, v = c * dx + s * dy, -s * dx + c * dy
        # an angular bump makes outlines less perfectly elliptic
        ang = np.arctan2(v, u)
        k = r.integers(2, 5)
        bump = 1 + 0.06 * r.uniform(0.3, 1) * np.sin(k * ang + r.uniform(0, 6.3))
        return (u / ax_z) ** 2 + (v / ay_z) ** 2 <= bump**2

    def tube(self, radius, length_frac=1.0):
        """A vessel-like tube: a random smooth path crossing the volume along z."""
        r = self.rng
        x0, y0 = r.uniform(-0.6, 0.6, 2)
        vx, vy = r.uniform(-0.4, 0.4, 2)
        ax, ay = r.uniform(0, 0.15, 2)
        ph = r.uniform(0, 6.3)
        z = self.zz
        cx = x0 + vx * z + ax * np.sin(2 * z + ph)
        cy = y0 + vy * z + ay * np.cos(2 * z + ph)
        m = (self.xx - cx) ** 2 + (self.yy - cy) ** 2 <= radius**2
        if length_frac < 1:
            z0 = r.uniform(-1, 1 - 2 * length_frac)
            m = m & (z >= z0) & (z <= z0 + 2 * length_frac)
        return m

    def paint(self, mask, hu, jitter=0.0):
        self.vol[mask] = hu + (self.rng.normal(0, jitter) if jitter else 0.0)


def _spine(p, cy, scale):
    r = p.rng
    body = p.ellipse(0.0, cy, 0.09 * scale, 0.075 * scale, drift=0.01, wobble=0.05, rot=0)
    p.paint(body, r.uniform(650, 900))
    inner = p.ellipse(0.0, cy, 0.07 * scale, 0.057 * scale, drift=0.0, wobble=0.0, rot=0) & body
    p.paint(inner, r.uniform(180, 320))
    canal_y = cy + 0.12 * scale
    arch = p.ellipse(0.0, canal_y, 0.085 * scale, 0.06 * scale, drift=0.01, wobble=0.05, rot=0)
    p.paint(arch, r.uniform(600, 900))
    p.paint(p.ellipse(0.0, canal_y, 0.045 * scale, 0.035 * scale, drift=0.0, wobble=0.02, rot=0), 25)
    # spinous process
    p.paint(p.ellipse(0.0, canal_y + 0.09 * scale, 0.02 * scale, 0.07 * scale, drift=0.0, rot=0), 700)


def _body(p, ax, ay, fat, muscle=True):
    r = p.rng
    outer = p.ellipse(0, 0, ax, ay, drift=0.01, wobble=0.04, rot=0)
    p.paint(outer, r.uniform(-120, -80))  # subcutaneous fat
    inner = p.ellipse(0, 0, ax - fat, ay - fat, drift=0.01, wobble=0.04, rot=0)
    if muscle:
        p.paint(inner, r.uniform(35, 60))
    return inner


def chest(shape, rng):
    p = Painter(shape, rng)
    r = rng
    ax, ay = r.uniform(0.72, 0.92), r.uniform(0.5, 0.68)
    inner = _body(p, ax, ay, r.uniform(0.04, 0.1))
    inner = ndimage.binary_erosion(inner, iterations=4)
    # ribs: small bright ellipses on a ring, present at slice ranges (ribs cross axial planes obliquely)
    n = r.integers(8, 12)
    for i in range(n):
        a = np.pi * (i + 0.5) / n + r.uniform(-0.05, 0.05)
        for side in (-1, 1):
            cx = side * abs((ax - 0.1) * np.sin(a))
            cy = -(ay - 0.08) * np.cos(a)
            m = p.ellipse(cx, cy, 0.035, 0.02, drift=0.02, wobble=0.1)
            zc = r.uniform(-1, 1)
            m &= np.abs(p.zz - zc) < r.uniform(0.15, 0.4)
            p.paint(m, r.uniform(500, 1000))
    # lungs
    lungs = []
    lw, lh = ax * r.uniform(0.36, 0.44), ay * r.uniform(0.62, 0.78)
    for side in (-1, 1):
        lung = p.ellipse(side * ax * 0.45, -0.05, lw, lh, drift=0.03, wobble=0.1) & inner
        p.paint(lung, r.uniform(-880, -780))
        lungs.append((lung, side * ax * 0.45, lw))
    # mediastinum, heart, great vessels
    heart = p.ellipse(r.uniform(-0.05, 0.15), 0.05, ax * 0.32, ay * 0.42, drift=0.04, wobble=0.1)
    heart &= p.zz > r.uniform(-1.0, 0.2)
    p.paint(heart, r.uniform(30, 55))
    contrast = r.uniform() < 0.5
    if contrast:
        p.paint(p.ellipse(0.05, 0.02, ax * 0.15, ay * 0.22) & heart, r.uniform(150, 350))
    aorta = p.ellipse(r.uniform(-0.12, 0.0), ay * 0.45, 0.07, 0.07, drift=0.02, wobble=0.03)
    p.paint(aorta, r.uniform(150, 350) if contrast else r.uniform(35, 50))
    _spine(p, ay * 0.62, 1.0)
    for lung, cx, lw_ in lungs:
        _lung_interior(p, lung & (p.vol < -600), cx, lw_, r, contrast)
    return p.vol


def abdomen(shape, rng):
    p = Painter(shape, rng)
    r = rng
    ax, ay = r.uniform(0.7, 0.95), r.uniform(0.55, 0.75)
    _body(p, ax, ay, r.uniform(0.05, 0.14), muscle=False)
    p.paint(p.ellipse(0, 0, ax - 0.1, ay - 0.1, drift=0.01, rot=0), r.uniform(-110, -70))  # visceral fat
    p.paint(p.ellipse(0, 0, ax - 0.08, ay - 0.08, drift=0.01, rot=0) & ~p.ellipse(0, 0, ax - 0.13, ay - 0.13, rot=0),
            r.uniform(35, 55))  # abdominal wall muscle
    contrast = r.uniform() < 0.6
    liver = p.ellipse(-ax * 0.4, -0.1, ax * 0.42, ay * 0.6, drift=0.05, wobble=0.12)
    p.paint(liver, r.uniform(90, 130) if contrast else r.uniform(50, 70))
    spleen = p.ellipse(ax * 0.55, 0.15, ax * 0.15, ay * 0.25, drift=0.04)
    p.paint(spleen & (p.zz < r.uniform(-0.2, 0.6)), r.uniform(40, 120))
    for side in (-1, 1):
        kid = p.ellipse(side * ax * 0.33, ay * 0.35, 0.1, 0.15, drift=0.03, wobble=0.15)
        kid &= np.abs(p.zz - r.uniform(-0.5, 0.5)) < 0.6
        p.paint(kid, r.uniform(150, 250) if contrast else r.uniform(25, 40))
        p.paint(p.ellipse(side * ax * 0.33, ay * 0.35, 0.04, 0.06) & kid, r.uniform(0, 30))
    # bowel loops: soft tissue, gas and positive contrast pockets
    for _ in range(r.integers(8, 18)):
        c = (r.uniform(-0.4, 0.5) * ax, r.uniform(-0.5, 0.3) * ay)
        loop = p.ellipse(c[0], c[1], r.uniform(0.05, 0.12), r.uniform(0.05, 0.12), drift=0.08, wobble=0.2)
        p.paint(loop, r.uniform(20, 50))
        q = r.uniform()
        inner = p.ellipse(c[0], c[1], r.uniform(0.02, 0.06), r.uniform(0.02, 0.06), drift=0.06) & loop
        if q < 0.35:
            p.paint(inner, r.uniform(-1000, -900))
        elif q < 0.55:
            p.paint(inner, r.uniform(150, 400))
    aorta = p.ellipse(-0.05, ay * 0.4, 0.05, 0.05, drift=0.02, wobble=0.03)
    p.paint(aorta, r.uniform(150, 300) if contrast else 45)
    p.paint(p.ellipse(0.12, ay * 0.38, 0.06, 0.045, drift=0.02), r.uniform(100, 200) if contrast else 40)
    _spine(p, ay * 0.62, 1.1)
    # pelvis/iliac wings at one end
    if r.uniform() < 0.5:
        for side in (-1, 1):
            m = p.ellipse(side * ax * 0.6, ay * 0.2, 0.12, 0.25, drift=0.03) & (p.zz > r.uniform(0.2, 0.7))
            p.paint(m, r.uniform(500, 900))
            p.paint(p.ellipse(side * ax * 0.6, ay * 0.2, 0.08, 0.2, drift=0.0) & m, r.uniform(150, 300))
    return p.vol


def head(shape, rng):
    p = Painter(shape, rng)
    r = rng
    ax, ay = r.uniform(0.58, 0.72), r.uniform(0.72, 0.9)
    scalp = p.ellipse(0, 0, ax, ay, drift=0.01, wobble=0.06, rot=0)
    p.paint(scalp, r.uniform(20, 60))
    t = r.uniform(0.04, 0.08)
    p.paint(p.ellipse(0, 0, ax - 0.03, ay - 0.03, drift=0.01, wobble=0.06, rot=0), r.uniform(800, 1400))
    brain = p.ellipse(0, 0, ax - 0.03 - t, ay - 0.03 - t, drift=0.01, wobble=0.06, rot=0)
    p.paint(brain, r.uniform(28, 40))
    p.vol[brain] += _smooth_noise(r, p.vol.shape, 4, r.uniform(2, 5))[brain]
    # white matter, ventricles, sulci-like CSF spots
    wm = p.ellipse(0, 0, (ax - t) * 0.65, (ay - t) * 0.65, drift=0.02, wobble=0.15) & brain
    p.paint(wm, r.uniform(22, 30))
    for side in (-1, 1):
        v = p.ellipse(side * 0.08, r.uniform(-0.2, 0.1), 0.05, r.uniform(0.15, 0.3), drift=0.03, wobble=0.3)
        p.paint(v & (np.abs(p.zz) < r.uniform(0.3, 0.8)), r.uniform(2, 15))
    for _ in range(r.integers(10, 30)):
        s = p.tube(r.uniform(0.005, 0.015), length_frac=r.uniform(0.1, 0.5)) & brain & ~wm
        p.paint(s, r.uniform(5, 15))
    # sinuses / orbits at one end
    if r.uniform() < 0.5:
        for side in (-1, 1):
            o = p.ellipse(side * 0.25, -ay * 0.7, 0.12, 0.1) & (p.zz < r.uniform(-0.6, 0.0))
            p.paint(o, r.uniform(-1000, -100))
    return p.vol


GENERATORS = {"chest": chest, "abdomen": abdomen, "head": head}


def phantom(anatomy, shape, seed):
    rng = np.random.default_rng(seed)
    vol = GENERATORS[anatomy](shape, rng)
    body = vol > -900
    vol = vol + np.where(body, _smooth_noise(rng, shape, 1.5, rng.uniform(3, 12)), 0)
    # partial-volume blur, stronger along z where slices are thick
    return ndimage.gaussian_filter(vol, (rng.uniform(0.5, 1.0), 0.7, 0.7)).astype(np.float32)
