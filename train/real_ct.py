"""Fetches the real CT scans that Debian ships inside its packages and writes them as HU NIfTI for
`deno task train --data DIR/train --val DIR/val --unit hu` (the shipped prior's fine-tune). Nothing here is
committed: the archives are downloaded from the Debian mirror this machine's apt is configured with (its
`pool/`; `--mirror URL` overrides it), checked against their sha256, and only the volumes are kept.

    python3 train/real_ct.py --out ~/.cache/blendct/realct

| volume | from | what | licence |
|---|---|---|---|
| train/plastimatch_t0 | plastimatch 1.10.0 tests data | 4D chest CT of a lung-cancer patient, phase t0 | BSD-3-Clause |
| train/amos_0336 | CamiTK 5.2.0 test data | chest-abdomen-pelvis CT from the AMOS training set | LGPL-3+ (CamiTK); cite Ji et al. 2022 |
| train/sinus | CamiTK 5.2.0 test data | head (sinus) CT, Philips Brilliance 40, resampled to 0.8 mm | LGPL-3+ (CamiTK) |
| val/headphantom | plastimatch 1.10.0 tests data | CT of an anthropomorphic head phantom, resampled to 0.94 mm | BSD-3-Clause |

Never fetched here: the volumes the data policy (DESIGN.md) keeps for independent evaluation of blendct.
A head CT of that set went into the fine-tune of 2026-12-03 against the policy; that prior was withdrawn.

Left out: CamiTK's FullHead (VTK's head CT, possibly the same head as blendct's held-out headsq) and
the second breathing phase of the plastimatch patient (the same person again).
"""
import argparse
import hashlib
import io
import subprocess
import tarfile
import urllib.request
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

# paths inside a Debian mirror's pool: the host is the machine's own apt mirror (see `apt_mirror`), so a
# user's mirror or proxy serves them (these orig tarballs are in Debian's pool, not in bookworm's sources)
ARCHIVES = {
    "plastimatch": ("main/p/plastimatch/plastimatch_1.10.0+dfsg.2.orig-debian-tests-data.tar.xz",
                    "ec55aef6c99c89db952d9773f1d22a18850afe07fce4401e1f3c7a320f873bc3"),
    "camitk": ("main/c/camitk/camitk_5.2.0.orig.tar.gz",
               "71cb912b688040892386a7186adcfc053a488100ed885b82869285caa069f949"),
}


def apt_mirror():
    """The Debian archive this machine's apt uses (`apt-get indextargets`), e.g. `http://mirror/debian/`."""
    try:
        out = subprocess.run(["apt-get", "indextargets", "--format", "$(REPO_URI)"], capture_output=True,
                             text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = []
    main = [u for u in dict.fromkeys(out) if "security" not in u]
    if not main:
        raise SystemExit("no Debian mirror configured for apt here: pass --mirror URL (the archive root, "
                         "the folder that holds pool/)")
    return main[0]


MIRROR = None


def fetch(name, cache):
    rel, sha = ARCHIVES[name]
    url = (MIRROR or apt_mirror()).rstrip("/") + "/pool/" + rel
    path = cache / url.rsplit("/", 1)[1]
    if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != sha:
        print(f"downloading {url}", flush=True)
        tmp = path.with_suffix(".part")
        urllib.request.urlretrieve(url, tmp)
        got = hashlib.sha256(tmp.read_bytes()).hexdigest()
        if got != sha:
            raise SystemExit(f"{url}: sha256 {got}, expected {sha}")
        tmp.rename(path)
    return path


def members(archive, wanted):
    """The bytes of the archive's members whose names contain one of `wanted`."""
    out = {}
    with (tarfile.open(fileobj=archive) if isinstance(archive, io.BytesIO) else tarfile.open(archive)) as tar:
        for m in tar:
            if m.isfile() and any(w in m.name for w in wanted):
                out[m.name] = tar.extractfile(m).read()
    return out


def metaimage(header, data=None):
    """A MetaImage (.mha with its data, or .mhd with `data` the bytes of its raw file) as (zyx array, zyx spacing)."""
    end = header.index(b"ElementDataFile")
    end = header.index(b"\n", end) + 1
    hdr = {k.strip(): v.strip() for k, v in (l.split("=", 1) for l in header[:end].decode().splitlines() if "=" in l)}
    dims = [int(x) for x in hdr["DimSize"].split()]
    raw = header[end:] if data is None else data
    if hdr.get("CompressedData", "False") == "True":
        raw = zlib.decompress(raw)
    dt = {"MET_SHORT": "<i2", "MET_USHORT": "<u2", "MET_FLOAT": "<f4"}[hdr["ElementType"]]
    vol = np.frombuffer(raw, dt)[:np.prod(dims)].reshape(dims[::-1]).astype(np.float32)
    return vol, [float(x) for x in hdr["ElementSpacing"].split()][::-1]


def save(vol, spacing, path):
    vol = np.clip(np.round(vol), -1024, 3071).astype(np.int16)
    affine = np.diag([spacing[2], spacing[1], spacing[0], 1.0])
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.ascontiguousarray(vol.transpose(2, 1, 0)), affine), str(path))
    print(f"{path}: {vol.shape} voxels of {[round(s, 3) for s in spacing]} mm, HU {vol.min()}..{vol.max()}")


def plastimatch(cache, out):
    outer = members(fetch("plastimatch", cache), ["registration-tutorial.tar.gz", "headphantom.mha.tar.gz"])
    for name, blob in outer.items():
        for inner, data in members(io.BytesIO(blob), ["t0.mha", "headphantom.mha"]).items():
            vol, sp = metaimage(data)
            if "headphantom" in inner:
                save(ndimage.zoom(vol, (1, 0.5, 0.5), order=1), [sp[0], 2 * sp[1], 2 * sp[2]], out / "val/headphantom.nii.gz")
            else:
                save(vol, sp, out / "train/plastimatch_t0.nii.gz")


def camitk(cache, out):
    import pydicom
    got = members(fetch("camitk", cache), ["testdata/amos_0336/amos_0336.", "dicom/testdata/sinus/"])
    mhd = next(k for k in got if k.endswith("amos_0336.mhd"))
    vol, sp = metaimage(got[mhd], got[mhd[:-4] + ".zraw"])
    save(vol, sp, out / "train/amos_0336.nii.gz")
    ds = [pydicom.dcmread(io.BytesIO(v)) for k, v in got.items() if "/sinus/" in k]
    ds = sorted((d for d in ds if "PixelData" in d), key=lambda d: float(d.ImagePositionPatient[2]))
    vol = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in ds]).astype(np.float32)
    dz = abs(float(ds[1].ImagePositionPatient[2]) - float(ds[0].ImagePositionPatient[2]))
    px = float(ds[0].PixelSpacing[0])
    save(ndimage.zoom(vol, (1, px / 0.8, px / 0.8), order=1), [dz, 0.8, 0.8], out / "train/sinus.nii.gz")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(Path.home() / ".cache/blendct/realct"))
    ap.add_argument("--mirror", help="Debian archive root holding pool/ (default: the one apt uses here)")
    args = ap.parse_args()
    global MIRROR
    MIRROR = args.mirror
    out = Path(args.out).expanduser()
    cache = out / "archives"
    cache.mkdir(parents=True, exist_ok=True)
    plastimatch(cache, out)
    camitk(cache, out)
    print(f"deno task train --data {out}/train --val {out}/val --unit hu --init models/blendct-prior.json --shipped")


if __name__ == "__main__":
    main()
