"""Times scikit-image's radon (forward) and unfiltered back-projection (iradon with filter_name=None) on the
same sizes and views as `deno task bench projector`, in one process, so the bench prints ratios measured
in the same run. Prints one JSON line: {"N,Z": {"radon": s, "backprojection": s}}."""
import json
import sys
import time

import numpy as np
from skimage.transform import iradon, radon

views = int(sys.argv[1])
sizes = [tuple(map(int, s.split("x"))) for s in sys.argv[2].split(",")]
theta = np.arange(views) * 180.0 / views
out = {}
for n, z in sizes:
    img = np.full((n, n), 0.5)
    # skimage works on one slice: time slices until 2 s have passed, then scale to z slices
    t0, k = time.perf_counter(), 0
    while True:
        sino = radon(img, theta=theta, circle=False)
        k += 1
        if time.perf_counter() - t0 > 2 or k >= z:
            break
    fwd = (time.perf_counter() - t0) / k * z
    t0, k = time.perf_counter(), 0
    while True:
        iradon(sino, theta=theta, filter_name=None, circle=False, output_size=n)
        k += 1
        if time.perf_counter() - t0 > 2 or k >= z:
            break
    adj = (time.perf_counter() - t0) / k * z
    out[f"{n},{z}"] = {"radon": fwd, "backprojection": adj}
print(json.dumps(out))
