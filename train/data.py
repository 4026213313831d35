"""Training and held-out volumes for the 3-slice prior, in physical units, and the triplet sampler.

Units: every volume is loaded in HU and handed to the network as x = HU / 1000 = u - 1, where
u = 1 + HU / 1000 is blendct's linear attenuation unit (air 0, water 1, cortical bone ~2-3). Nothing is
windowed or clipped: the network sees air, fat, soft tissue, contrast and bone at their true values.

Held out (never trained on): the LIDC-IDRI chest CT and the vtk.js head CT (`headsq`), both from npm
`vtk.js@6.2.5`; they are blendct's evaluation volumes. Every source, with its sha256, is listed by
`manifest()` and lands in the model card.
"""
import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np
from scipy import ndimage

from phantoms import phantom

CACHE = Path(os.environ.get("BLENDCT_CACHE", Path.home() / ".cache" / "blendct"))
VTK_TGZ_SHA = "0112f2ece2a4581e967750ff8d4b39b8b82ef6644a6fc3c8fdb2f831e54088c7"
STENT = Path("/usr/lib/python3/dist-packages/imageio/resources/images/stent.npz")
MRICRON = Path("/usr/share/mricron/templates")
NIIVUE_TGZ = CACHE / "npm" / "niivue-niivue-0.21.1.tgz"
ITK_T1 = Path("/usr/share/doc/insighttoolkit5-examples/examples/Data/BrainT1Slice.png")

# LIDC2 in vtk.js is an 8-bit display window: its histogram has fat at 16..22 (a peak), blood and heart at
# 100..150, lung and air all at 0 and bone saturated at 255: the classic mediastinal window [-160, 240] HU
# (fat -130, blood 40). `lidc_window()` checks that reading against the histogram.
LIDC_WINDOW = (-160.0, 240.0)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def vtk_tarball():
    path = CACHE / "vtk" / "vtk.js-6.2.5.tgz"
    if not path.exists():
        raise SystemExit(f"{path} missing: run `cd {path.parent} && npm pack vtk.js@6.2.5` (or any blendct task that loads sample:lidc)")
    if sha256(path) != VTK_TGZ_SHA:
        raise SystemExit(f"{path}: sha256 mismatch; delete it and fetch again")
    return path


def vtk_volume(name):
    """Reads a vtk.js sample volume (index.json + gzipped raw array) from the npm tarball."""
    with tarfile.open(vtk_tarball(), "r:gz") as tar:
        meta = json.load(tar.extractfile(f"package/Data/volume/{name}/index.json"))
        arr = meta["pointData"]["arrays"][0]["data"]
        raw = tar.extractfile(f"package/Data/volume/{name}/data/{arr['ref']['id']}.gz").read()
    dtype = {"Uint8Array": np.uint8, "Int16Array": "<i2"}[arr["dataType"]]
    e = meta["extent"]
    shape = (e[5] - e[4] + 1, e[3] - e[2] + 1, e[1] - e[0] + 1)
    data = np.frombuffer(gzip.decompress(raw), dtype=dtype).reshape(shape)
    return data.astype(np.float32), meta["spacing"]


def load_headsq():
    """Head CT stored as HU + 1024 (64x64 at 3.2 mm, 93 slices at 1.5 mm): returned in HU, resampled in-plane
    to 256x256 (0.8 mm) as blendct's case loader does. Held out."""
    v, _ = vtk_volume("headsq.vti")
    return ndimage.zoom(v - 1024.0, (1, 4, 4), order=1).astype(np.float32)


def lidc_window(v8):
    """(lo, hi) HU of LIDC2's 8-bit window, checked against its fat peak (must land near -120 HU)."""
    hist = np.bincount(v8.astype(np.int64).ravel(), minlength=256).astype(float)
    fat = 5 + float(np.argmax(np.convolve(hist, np.ones(5) / 5, mode="same")[5:60]))
    lo, hi = LIDC_WINDOW
    fat_hu = lo + fat / 255 * (hi - lo)
    assert -150 < fat_hu < -80, f"LIDC fat peak at {fat_hu:.0f} HU: the window reading is wrong"
    return lo, hi


def load_lidc_hu():
    """As blendct's sample loader reads it: the window's floor (air and lung) as -1000 HU."""
    v8, _ = vtk_volume("LIDC2.vti")
    lo, hi = lidc_window(v8)
    return np.where(v8 == 0, -1000.0, lo + (v8 / 255.0) * (hi - lo)).astype(np.float32)


def brain_mask_from_t1(t1):
    """A rough brain mask of a T1 head: bright tissue, eroded off the skull, largest component, refilled."""
    pos = t1[t1 > 0]
    thr = np.percentile(pos, 55)
    m = t1 > thr
    m = ndimage.binary_erosion(m, iterations=3)
    lab, n = ndimage.label(m)
    if n == 0:
        return m
    sizes = ndimage.sum(m, lab, range(1, n + 1))
    m = lab == (1 + int(np.argmax(sizes)))
    m = ndimage.binary_dilation(m, iterations=4)
    return np.stack([ndimage.binary_fill_holes(s) for s in m])


def pseudo_ct_from_t1(t1, brain):
    """Maps a T1 MRI head to CT-like HU: air, scalp, skull (dark non-brain tissue), CSF/grey/white matter.

    T1 and CT contrasts are inverted for bone and for grey vs white matter, so intensities are remapped per
    tissue class instead of globally. Skull reaches 1000-1900 HU (cortical bone), not a soft window's top.
    """
    t1 = t1.astype(np.float32)
    head = t1 > np.percentile(t1[t1 > 0], 15) * 0.5
    head = ndimage.binary_closing(head, iterations=3)
    head = np.stack([ndimage.binary_fill_holes(s) for s in head])
    brain = ndimage.binary_dilation(brain > 0, iterations=1)
    hv = t1[head]
    n = (t1 - np.percentile(hv, 2)) / (np.percentile(hv, 99.5) - np.percentile(hv, 2))
    hu = np.full(t1.shape, -1000.0, np.float32)
    soft = np.interp(n, [0.0, 0.3, 0.6, 0.85, 1.2], [700, 300, 45, -60, -100])
    hu[head] = soft[head]
    bhu = np.interp(n, [0.1, 0.3, 0.5, 0.7, 1.0], [5, 12, 38, 27, 26])
    hu[brain & head] = bhu[brain & head]
    ring = ndimage.binary_dilation(brain, iterations=10) & head & ~brain
    bone = ring & (n < 0.35)
    hu[bone] = 1000 + 900 * np.clip(0.35 - n[bone], 0, 0.35) / 0.35
    return ndimage.gaussian_filter(hu, 0.6)


def _nib_zyx(img):
    """nibabel [x, y, z] -> blendct [z, y, x] with anterior at the top row (radiological display)."""
    import nibabel as nib
    img = nib.as_closest_canonical(img)  # RAS+
    a = np.asarray(img.get_fdata(), np.float32)
    return np.transpose(a, (2, 1, 0))[::-1, ::-1, :].copy(), tuple(float(s) for s in img.header.get_zooms()[:3][::-1])


def load_colin():
    import nibabel as nib
    t1, sp = _nib_zyx(nib.load(str(MRICRON / "ch2.nii.gz")))
    brain, _ = _nib_zyx(nib.load(str(MRICRON / "ch2bet.nii.gz")))
    return pseudo_ct_from_t1(t1, brain), sp


def load_mni152():
    import nibabel as nib
    if not NIIVUE_TGZ.exists():
        raise OSError(f"{NIIVUE_TGZ} missing (npm pack @niivue/niivue@0.21.1 into {NIIVUE_TGZ.parent})")
    with tarfile.open(NIIVUE_TGZ, "r:gz") as tar:
        raw = tar.extractfile("package/src/mni152.nii.gz").read()
    img = nib.Nifti1Image.from_bytes(gzip.decompress(raw))
    t1, sp = _nib_zyx(img)
    return pseudo_ct_from_t1(t1, brain_mask_from_t1(t1)), sp


def isotropic(vol, spacing, target=None):
    """Resamples to near-isotropic voxels (the finest spacing), so triplets along any axis look alike."""
    target = target or min(spacing)
    f = [s / target for s in spacing]
    if all(abs(x - 1) < 0.05 for x in f):
        return vol
    return ndimage.zoom(vol, f, order=1).astype(np.float32)


# name -> (loader returning HU or (HU, spacing), training weight, axes used, description for the manifest)
# The stent CT angiogram of python3-imageio is not used: its histogram (0..2000, 75% of voxels at exactly
# 0, soft tissue 0..150, contrast 250..400, bone above) shows HU clipped below at 0, so fat, lung and air
# all read as water; in physical units it would teach the prior that fat is water.
SOURCES = {
    "colin27": (load_colin, 0.4, (0, 1, 2)),
}
# niivue's MNI152 (load_mni152) is skull-stripped: its sulci turn into "bone" in the pseudo-CT, so it is
# kept out until a skull model exists for it.
PHANTOM_WEIGHT = 0.6


def shipped_volumes():
    """The shipped prior's real sources, loaded as TripletSampler's `volumes` ({name: (HU, weight, axes)});
    TripletSampler keeps only axis 0 of each when it trains on z alone."""
    out = {}
    for name, (load, w, axes_used) in SOURCES.items():
        try:
            got = load()
        except (OSError, SystemExit, ImportError, KeyError) as e:
            print(f"warning: training source {name} unavailable ({e}); using the others", flush=True)
            continue
        vol, sp = got if isinstance(got, tuple) else (got, (1.0, 1.0, 1.0))
        out[name] = (isotropic(vol, sp, target=max(min(sp), 0.9)).astype(np.float32), w, axes_used)
    return out


def manifest(sources=None):
    present = sources if sources is not None else list(SOURCES)
    entries = []
    if "colin27" in present:
        entries.append({"source": "Debian mricron-data", "file": str(MRICRON / "ch2.nii.gz"),
                        "sha256": sha256(MRICRON / "ch2.nii.gz") if (MRICRON / "ch2.nii.gz").exists() else None,
                        "mask": str(MRICRON / "ch2bet.nii.gz"), "anatomy": "head",
                        "kind": "pseudo-CT from T1 MRI (colin27)", "licence": "BSD-3-Clause (MRIcron)", "axes": "z, y, x"})
    if "mni152" in present:
        entries.append({"source": "npm @niivue/niivue@0.21.1", "file": "src/mni152.nii.gz",
                        "sha256_package": sha256(NIIVUE_TGZ) if NIIVUE_TGZ.exists() else None, "anatomy": "head",
                        "kind": "pseudo-CT from T1 MRI (MNI152 template), brain mask by thresholding",
                        "licence": "BSD-2-Clause (niivue); MNI152 template licence permits use with attribution", "axes": "z, y, x"})
    entries.append({"source": "train/phantoms.py", "anatomy": "head, chest, abdomen", "kind": "procedural HU anatomy",
                    "slices": "fresh seeded volumes 48x256x256", "axes": "z"})
    return {
        "training": entries,
        "test": [
            {"source": "npm vtk.js@6.2.5", "file": "Data/volume/LIDC2.vti", "sha256_package": VTK_TGZ_SHA, "anatomy": "chest",
             "kind": "real CT (LIDC-IDRI), 8-bit window calibrated to HU by lidc_window", "licence": "CC BY 3.0",
             "use": "held out: evaluation only"},
            {"source": "npm vtk.js@6.2.5", "file": "Data/volume/headsq.vti", "sha256_package": VTK_TGZ_SHA, "anatomy": "head",
             "kind": "real CT (HU + 1024)", "licence": "BSD-3-Clause (vtk.js)", "use": "held out: evaluation only"},
        ],
        "intensity": "x = HU / 1000 (= u - 1 with u = 1 + HU/1000); linear scale jitter 0.9..1.1 of u; 20% of triplets clipped to a random [lo, hi] in HU (lo -1000..-100, hi 150..2500) so windowed exports read back in HU are in distribution; no [0, 1] window; crops: half of them at least 25% body, half anywhere in the field of view (from step 1544 on); scale 0.7-1.5, a third zoomed out 1.5-2.5 with air around (from step 4086 on)",
    }


def _deform(trip, rng):
    """Random in-plane affine (rotation, anisotropic scale, shear) plus a mild elastic field, same for the
    three slices so their correlation along the stacking axis is kept."""
    c = trip.shape[1]
    th = rng.uniform(-0.3, 0.3)
    sx, sy = np.exp(rng.uniform(-0.2, 0.2, 2))
    sh = rng.uniform(-0.08, 0.08)
    m = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) @ np.array([[sy, sh], [0, sx]])
    centre = np.array([c / 2, c / 2])
    yy, xx = np.mgrid[0:c, 0:c].astype(np.float32)
    coords = np.einsum("ij,jhw->ihw", m, np.stack([yy - centre[0], xx - centre[1]])) + centre[:, None, None]
    if rng.uniform() < 0.5:
        amp = rng.uniform(1.0, 3.0)
        for d in range(2):
            coords[d] += ndimage.gaussian_filter(rng.standard_normal((c, c)).astype(np.float32), c / 8) * amp * (c / 8)
    return np.stack([ndimage.map_coordinates(s, coords, order=1, mode="nearest") for s in trip])


class TripletSampler:
    """Draws (triplet in x = HU/1000, gap) pairs: gap 1 and 3 half and half, axial/coronal/sagittal stacks
    of real volumes, random crops at a random scale, affine and elastic deformation, flips, and a linear
    jitter of the attenuation scale (air stays at -1)."""

    def __init__(self, seed, crop=96, pool=12, axes="all", volumes=None, whole=False):
        self.rng = np.random.default_rng(seed)
        self.crop = crop
        self.axes = axes
        # whole: the full slice (a square around it), shrunk to `crop` pixels: the coarse prior of generation
        # learns the layout of a whole slice, which a 96-pixel crop of a 256-pixel slice never shows
        self.whole = whole
        self.real, self.weights, self.real_axes = {}, {}, {}
        for name, (vol, w, axes_used) in (volumes if volumes is not None else shipped_volumes()).items():
            self.real[name], self.weights[name] = vol.astype(np.float32), w
            self.real_axes[name] = axes_used if axes == "all" else (0,)
        self.pool_size = pool
        self.pool = [self._new_phantom() for _ in range(pool)] if pool else []
        self.drawn = 0

    def sources(self):
        return list(self.real)

    def _new_phantom(self):
        anatomy = self.rng.choice(["chest", "abdomen", "head"], p=[0.45, 0.35, 0.2])
        return phantom(anatomy, (48, 256, 256), int(self.rng.integers(1 << 31)))

    def refresh(self):
        if self.pool:
            self.pool[int(self.rng.integers(self.pool_size))] = self._new_phantom()

    def sample(self):
        r = self.rng
        names = (["phantom"] if self.pool else []) + list(self.real)
        w = np.array([PHANTOM_WEIGHT if n == "phantom" else self.weights[n] for n in names])
        src = names[int(r.choice(len(names), p=w / w.sum()))]
        if src == "phantom":
            vol, axis = self.pool[int(r.integers(self.pool_size))], 0
        else:
            vol = self.real[src]
            axis = int(r.choice(self.real_axes[src]))
        vol = np.moveaxis(vol, axis, 0)
        gap = 1 if r.uniform() < 0.5 else 3
        # pixel size and field of view vary between scanners and patients: crops at a random scale, a third of
        # them zoomed out (up to 2.5x, air around the body), so that the prior's guess at high noise
        # (t >= 900, where it can only know the mean) is not that of a body-filled picture: it sat 350 HU
        # above full slices with air around them
        c = self.crop
        D, Y, X = vol.shape
        z0 = int(r.integers(0, max(1, D - 2 * gap)))
        if self.whole:
            # the whole field of view, 0.9-1.3x (air around it), centred within 5% of its side
            cs = int(round(max(Y, X) * float(np.exp(r.uniform(np.log(0.9), np.log(1.3))))))
            j = max(1, cs // 20)
            y0 = (Y - cs) // 2 + int(r.integers(-j, j + 1))
            x0 = (X - cs) // 2 + int(r.integers(-j, j + 1))
            trip = vol[z0:z0 + 2 * gap + 1:gap, max(y0, 0):max(y0 + cs, 0), max(x0, 0):max(x0 + cs, 0)]
        else:
            lo, hi = (0.7, 1.5) if r.uniform() < 2 / 3 else (1.5, 2.5)
            scale = float(np.exp(r.uniform(np.log(lo), np.log(hi))))
            cs = int(round(c * scale))
            # half the crops anywhere in the field of view (reaching a quarter crop past its edges, filled with air)
            tries = 8 if r.uniform() < 0.5 else 1
            m = cs // 4
            for _ in range(tries):
                y0 = int(r.integers(-m, max(-m + 1, Y - cs + m + 1)))
                x0 = int(r.integers(-m, max(-m + 1, X - cs + m + 1)))
                trip = vol[z0:z0 + 2 * gap + 1:gap, max(y0, 0):max(y0 + cs, 0), max(x0, 0):max(x0 + cs, 0)]
                if trip.size and (trip > -500).mean() > 0.25:
                    break
        if trip.shape[0] < 3:
            trip = np.concatenate([trip, np.repeat(trip[-1:], 3 - trip.shape[0], 0)])
        if trip.shape[1] < cs or trip.shape[2] < cs:
            top, left = max(0, -y0), max(0, -x0)
            pad = ((0, 0), (top, cs - trip.shape[1] - top), (left, cs - trip.shape[2] - left))
            trip = np.pad(trip, pad, constant_values=-1000.0)
        if self.whole:
            trip = shrink(trip, c)
        elif cs != c:
            trip = ndimage.zoom(trip, (1, c / trip.shape[1], c / trip.shape[2]), order=1)[:, :c, :c]
        if r.uniform() < 0.6:
            trip = _deform(trip, r)
        if r.uniform() < 0.2 and not self.whole:
            # a windowed export read back in HU: values clipped at the window's ends, still in HU (LIDC-like)
            trip = np.clip(trip, r.uniform(-1000, -100), r.uniform(150, 2500))
        x = trip / 1000.0  # = u - 1
        # linear intensity-scale jitter of attenuation u (keeps air at u = 0, i.e. x = -1)
        x = (x + 1) * r.uniform(0.9, 1.1) - 1
        if r.uniform() < 0.5:
            x = x[:, :, ::-1]
        if r.uniform() < 0.5 and not self.whole:
            # (a whole slice keeps anterior at the top, as a generated one should)
            x = x[:, ::-1, :]
        if r.uniform() < 0.5:
            x = x[::-1]
        return np.ascontiguousarray(np.maximum(x, -1.0), dtype=np.float32), gap

    def batch(self, n):
        xs, ks = zip(*(self.sample() for _ in range(n)))
        self.drawn += n
        return np.stack(xs), np.array(ks, np.float32)


def held_out_volumes():
    """The evaluation volumes in HU: {name: volume}. Missing ones are left out with a warning."""
    out = {}
    for name, load in (("lidc", load_lidc_hu), ("headsq", load_headsq)):
        try:
            out[name] = load()
        except (OSError, SystemExit) as e:
            print(f"warning: held-out volume {name} unavailable ({e})", flush=True)
    return out


def shrink(v, size):
    """Square slices resampled to `size` pixels; when shrinking (2-8x for a whole slice), smoothed first so a
    coarse pixel is an average, not an aliased sample."""
    s = v.shape[1]
    if s > size:
        v = ndimage.gaussian_filter(v, (0, 0.4 * s / size, 0.4 * s / size))
    if s == size:
        return v
    return ndimage.zoom(v, (1, size / s, size / s), order=1)[:, :size, :size]


def shrink_whole(v, size):
    """A volume's slices as whole squares (padded with air) smoothed and shrunk to `size` pixels."""
    D, Y, X = v.shape
    s = max(Y, X)
    top, left = (s - Y) // 2, (s - X) // 2
    v = np.pad(v, ((0, 0), (top, s - Y - top), (left, s - X - left)), constant_values=-1000.0)
    return shrink(v, size).astype(np.float32)


def test_triplets(count, seed=0, size=256, volumes=None, whole=False):
    """Deterministic held-out triplets (x = HU/1000), alternating between the held-out volumes; `whole`:
    whole slices shrunk to `size` (the coarse prior's input) instead of centred crops."""
    vols = volumes if volumes is not None else held_out_volumes()
    if whole:
        vols = {n: shrink_whole(v, size) for n, v in vols.items()}
    names = sorted(vols)
    # one common square size: the largest that every volume's slices hold
    size = min([size] + [min(vols[n].shape[1:]) for n in names])
    rng = np.random.default_rng(seed)
    out, gaps = [], []
    for i in range(count):
        v = vols[names[i % len(names)]]
        gap = 1 if (i // len(names)) % 2 == 0 else 3
        margin = min(10, v.shape[0] // 4)
        z0 = int(rng.integers(margin, max(margin + 1, v.shape[0] - margin - 2 * gap)))
        Y, X = v.shape[1:]
        s = min(size, Y, X)
        y0, x0 = (Y - s) // 2, (X - s) // 2
        out.append(v[z0:z0 + 2 * gap + 1:gap, y0:y0 + s, x0:x0 + s] / 1000.0)
        gaps.append(gap)
    return np.stack(out).astype(np.float32), np.array(gaps, np.float32)
