"""Training and test volumes for the 3-slice prior, and the triplet sampler.

Every source is listed with package, version, file and sha256 in `train/manifest.json`. Evaluation data
(LIDC2 chest from vtk.js) is never used for training: it is only the held-out test set.
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
    """Head CT, stored as HU + 1024 (air 0, soft tissue ~1050, bone > 2000): returned in HU at 1.6 mm."""
    v, _ = vtk_volume("headsq.vti")
    v = ndimage.zoom(v - 1024.0, (1, 2, 2), order=1)
    return v


def load_stent():
    """CT angiogram (abdomen), values are HU clipped to [0, 2000]; kept clipped (window must start at 0)."""
    return np.load(STENT)["arr_0"].astype(np.float32)


def pseudo_ct_from_t1(t1, brain):
    """Maps a T1 MRI head to CT-like HU: air, scalp, skull (dark non-brain tissue), CSF/grey/white matter.

    T1 and CT contrasts are inverted for bone and for grey vs white matter, so intensities are remapped per
    tissue class instead of globally.
    """
    t1 = t1.astype(np.float32)
    head = t1 > np.percentile(t1[t1 > 0], 15) * 0.5
    head = ndimage.binary_closing(head, iterations=3)
    head = np.stack([ndimage.binary_fill_holes(s) for s in head])
    brain = ndimage.binary_dilation(brain > 0, iterations=1)
    hv = t1[head]
    n = (t1 - np.percentile(hv, 2)) / (np.percentile(hv, 99.5) - np.percentile(hv, 2))
    hu = np.full(t1.shape, -1000.0, np.float32)
    # scalp and extracranial soft tissue; T1-bright fat becomes fat HU
    soft = np.interp(n, [0.0, 0.3, 0.6, 0.85, 1.2], [700, 300, 45, -60, -100])
    hu[head] = soft[head]
    # brain: CSF dark, grey ~38 HU, white ~27 HU (T1 has white brighter than grey)
    bhu = np.interp(n, [0.1, 0.3, 0.5, 0.7, 1.0], [5, 12, 38, 27, 26])
    hu[brain & head] = bhu[brain & head]
    # the skull: dark T1 ring between scalp and brain
    ring = ndimage.binary_dilation(brain, iterations=10) & head & ~brain
    bone = ring & (n < 0.35)
    hu[bone] = 700 + 600 * np.clip(0.35 - n[bone], 0, 0.35) / 0.35
    return ndimage.gaussian_filter(hu, 0.6)


def load_mri_head():
    import nibabel as nib

    t1 = nib.load(str(MRICRON / "ch2.nii.gz")).get_fdata()
    brain = nib.load(str(MRICRON / "ch2bet.nii.gz")).get_fdata()
    # nibabel gives [x, y, z]; blendct and the sampler use [z, y, x] with anterior at the top row
    hu = pseudo_ct_from_t1(np.transpose(t1, (2, 1, 0))[:, ::-1, :], np.transpose(brain, (2, 1, 0))[:, ::-1, :])
    z, y, x = hu.shape
    out = np.full((z, 256, 256), -1000.0, np.float32)
    oy, ox = (256 - y) // 2, (256 - x) // 2
    out[:, oy:oy + y, ox:ox + x] = hu
    return out


def load_lidc_test():
    """The held-out evaluation chest CT (8-bit windowed, returned as model units in [0, 1])."""
    v, _ = vtk_volume("LIDC2.vti")
    return v / 255.0


def manifest():
    return {
        "training": [
            {"source": "npm vtk.js@6.2.5", "file": "Data/volume/headsq.vti", "sha256_package": VTK_TGZ_SHA,
             "anatomy": "head", "kind": "real CT", "licence": "BSD-3-Clause (vtk.js)", "slices": "all 93, in-plane x2"},
            {"source": "Debian python3-imageio", "file": str(STENT), "sha256": sha256(STENT) if STENT.exists() else None,
             "anatomy": "abdomen (CT angiogram)", "kind": "real CT", "licence": "BSD-2-Clause", "slices": "all 256"},
            {"source": "Debian mricron-data", "file": str(MRICRON / "ch2.nii.gz"),
             "sha256": sha256(MRICRON / "ch2.nii.gz") if (MRICRON / "ch2.nii.gz").exists() else None,
             "mask": str(MRICRON / "ch2bet.nii.gz"),
             "anatomy": "head", "kind": "pseudo-CT from T1 MRI (colin27)", "licence": "BSD-3-Clause (MRIcron)",
             "slices": "all 181, z stride 2-3"},
            {"source": "train/phantoms.py", "anatomy": "head, chest, abdomen", "kind": "procedural HU anatomy",
             "slices": "fresh seeded volumes 48x256x256"},
        ],
        "test": [
            {"source": "npm vtk.js@6.2.5", "file": "Data/volume/LIDC2.vti", "anatomy": "chest", "kind": "real CT (LIDC-IDRI)",
             "licence": "CC BY 3.0", "use": "evaluation and held-out test only"},
        ],
    }


class TripletSampler:
    """Draws (triplet in [-1, 1], gap) pairs: gap 1 and 3 half and half, random windows, flips and crops."""

    def __init__(self, seed, crop=96, pool=12):
        self.rng = np.random.default_rng(seed)
        self.crop = crop
        self.real = {}
        for name, load in (("headsq", load_headsq), ("stent", load_stent), ("mri", load_mri_head)):
            try:
                self.real[name] = load()
            except (OSError, SystemExit, ImportError) as e:
                # a missing source narrows the training data; say so instead of failing
                print(f"warning: training source {name} unavailable ({e}); using the others", flush=True)
        self.pool_size = pool
        self.pool = [self._new_phantom() for _ in range(pool)]
        self.drawn = 0

    def _new_phantom(self):
        anatomy = self.rng.choice(["chest", "abdomen", "head"], p=[0.45, 0.35, 0.2])
        return phantom(anatomy, (48, 256, 256), int(self.rng.integers(1 << 31)))

    def refresh(self):
        self.pool[int(self.rng.integers(self.pool_size))] = self._new_phantom()

    def _window(self, hu, clipped_at_zero):
        r = self.rng
        if clipped_at_zero:
            lo, width = 0.0, r.uniform(250, 700)
        elif r.uniform() < 0.35:
            lo, width = r.uniform(-1024, -600), r.uniform(1200, 2600)
        else:
            lo, width = r.uniform(-160, 20), r.uniform(250, 550)
        x = np.clip((hu - lo) / width, 0, 1)
        if r.uniform() < 0.3:
            x = x ** r.uniform(0.75, 1.35)
        return x

    def sample(self):
        r = self.rng
        # source weights: procedural 0.5, stent 0.18, headsq 0.12, MRI pseudo-CT 0.2 (renormalized over the
        # sources present)
        names = ["phantom"] + [n for n in ("stent", "headsq", "mri") if n in self.real]
        w = np.array([{"phantom": 0.5, "stent": 0.18, "headsq": 0.12, "mri": 0.2}[n] for n in names])
        src = names[int(r.choice(len(names), p=w / w.sum()))]
        if src == "phantom":
            vol, stride, clipped = self.pool[int(r.integers(self.pool_size))], 1, False
        elif src == "stent":
            vol, stride, clipped = self.real["stent"], int(r.integers(1, 3)), True
        elif src == "headsq":
            vol, stride, clipped = self.real["headsq"], 1, False
        else:
            vol, stride, clipped = self.real["mri"], int(r.integers(2, 4)), False
        gap = 1 if r.uniform() < 0.5 else 3
        step = gap * stride
        z0 = int(r.integers(0, vol.shape[0] - 2 * step))
        c = self.crop
        Y, X = vol.shape[1:]
        for _ in range(6):
            y0 = int(r.integers(0, max(1, Y - c + 1)))
            x0 = int(r.integers(0, max(1, X - c + 1)))
            trip = vol[z0:z0 + 2 * step + 1:step, y0:y0 + c, x0:x0 + c]
            if (trip > -500).mean() > 0.3:
                break
        if trip.shape[1] < c or trip.shape[2] < c:
            pad = ((0, 0), (0, c - trip.shape[1]), (0, c - trip.shape[2]))
            trip = np.pad(trip, pad, constant_values=0.0 if clipped else -1000.0)
        x = self._window(trip, clipped)
        if r.uniform() < 0.5:
            x = x[:, :, ::-1]
        # both vertical orientations occur in real data (vtk.js's LIDC has the spine at the top rows)
        if r.uniform() < 0.5:
            x = x[:, ::-1, :]
        if r.uniform() < 0.5:
            x = x[::-1]
        return np.ascontiguousarray(x * 2 - 1, dtype=np.float32), gap

    def batch(self, n):
        xs, ks = zip(*(self.sample() for _ in range(n)))
        self.drawn += n
        return np.stack(xs), np.array(ks, np.float32)


def test_triplets(count, seed=0, size=256):
    """Deterministic held-out triplets from the evaluation volume, in [-1, 1]."""
    v = load_lidc_test()
    rng = np.random.default_rng(seed)
    out, gaps = [], []
    for i in range(count):
        gap = 1 if i % 2 == 0 else 3
        z0 = int(rng.integers(10, v.shape[0] - 10 - 2 * gap))
        out.append(v[z0:z0 + 2 * gap + 1:gap, :size, :size] * 2 - 1)
        gaps.append(gap)
    return np.stack(out).astype(np.float32), np.array(gaps, np.float32)
