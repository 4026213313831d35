"""Exports the EMA weights of a training checkpoint to ONNX with its model card and parity fixture.

    python3 train/export.py                 # $BLENDCT_CACHE/train/ckpt.pt -> models/, only if it improved
    python3 train/export.py --force --out /tmp/m --name tiny

The card's evaluation uses held-out triplets of the evaluation CT (never trained on): eps-MSE at
t = 100, 500, 900 and the PSNR gain of one-step Tweedie denoising at t = 200.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from data import CACHE, manifest, test_triplets  # noqa: E402
from model import SliceUNet, linear_schedule  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a, dtype="<f4").tobytes()).decode()


class EpsOutput(torch.nn.Module):
    """Wraps a v- (or eps-) predicting network so that the exported graph outputs eps, the model contract:
    eps = sqrt(1 - abar_t) x_t + sqrt(abar_t) v, with abar looked up from the training schedule by t."""

    def __init__(self, net, param):
        super().__init__()
        self.net, self.param = net, param
        abar = linear_schedule()
        self.register_buffer("sqrt_abar", abar.sqrt())
        self.register_buffer("sqrt_1m_abar", (1 - abar).sqrt())

    def forward(self, x, t, k):
        out = self.net(x, t, k)
        if self.param == "eps":
            return out
        i = torch.clamp(torch.round(t), 0, 999).long()
        a = self.sqrt_abar[i][:, None, None, None]
        b = self.sqrt_1m_abar[i][:, None, None, None]
        return b * x + a * out


def run_volumes(path):
    """Validation volumes of a `deno task train` run (HU .npy), or its training ones when it has none."""
    spec = json.loads(Path(path).read_text())
    chosen = spec.get("val") or spec["train"]
    return {f"{i}:{Path(v['path']).stem}": np.load(v["path"]).astype(np.float32) for i, v in enumerate(chosen)}, spec


@torch.no_grad()
def evaluate(model, count=8, size=256, volumes=None, whole=False):
    """Held-out Tweedie numbers in HU: x0 RMSE of the one-step estimate against the constant guess (the
    best constant, the triplets' own mean) at t = 200, 500, 700, 900, eps-MSE at 100/500/900, and the PSNR
    gain of one-step denoising at t = 200 over [-1024, 3071] HU."""
    x0, k = test_triplets(count, seed=0, size=size, volumes=volumes, whole=whole)
    x0, k = torch.from_numpy(x0), torch.from_numpy(k)
    if model.net.config["slices"] == 1:
        x0, k = x0[:, 1:2].contiguous(), torch.ones_like(k)
    abar = linear_schedule()
    g = torch.Generator().manual_seed(1234)
    out = {"eps_mse": {}, "x0_rmse_hu": {}, "constant_rmse_hu": {}, "triplet_mean_rmse_hu": {}, "test_triplets": count, "test_size": x0.shape[-1],
           "test_volumes": ", ".join(sorted(volumes)) if volumes else
           "held-out LIDC chest (window read back in HU) and headsq head CT",
           "test_crop": f"whole slices shrunk to {size}" if whole else f"centred {size} crops"}

    def run(t):
        eps = torch.randn(x0.shape, generator=g)
        a = abar[t]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        pred = torch.cat([model(xt[i:i + 4], torch.full((len(xt[i:i + 4]),), float(t)), k[i:i + 4])
                          for i in range(0, count, 4)])
        x0_hat = (xt - (1 - a).sqrt() * pred) / a.sqrt()
        return eps, pred, xt, x0_hat

    for t in (100, 500, 900):
        eps, pred, _, _ = run(t)
        out["eps_mse"][str(t)] = float(torch.mean((pred - eps) ** 2))
    # the constant guess: one value for every voxel (the test set's mean), which needs no look at the data;
    # each triplet's own mean is a stronger (oracle) constant, reported beside it
    const = float(torch.sqrt(torch.mean((x0 - x0.mean()) ** 2))) * 1000
    oracle = float(torch.sqrt(torch.mean((x0 - x0.mean(dim=(1, 2, 3), keepdim=True)) ** 2))) * 1000
    for t in (200, 500, 700, 900):
        _, _, _, x0_hat = run(t)
        out["x0_rmse_hu"][str(t)] = float(torch.sqrt(torch.mean((x0_hat - x0) ** 2))) * 1000
        out["constant_rmse_hu"][str(t)] = const
        out["triplet_mean_rmse_hu"][str(t)] = oracle
    t = 200
    _, _, xt, x0_hat = run(t)
    a = abar[t]
    noisy = xt / a.sqrt()
    rng = 4.095  # [-1024, 3071] HU in x = HU/1000

    def psnr(p, q):
        return float(10 * torch.log10(rng ** 2 / torch.mean((p - q) ** 2)))

    p_noisy = np.mean([psnr(noisy[i], x0[i]) for i in range(count)])
    p_hat = np.mean([psnr(x0_hat[i], x0[i]) for i in range(count)])
    out["tweedie_t200"] = {"psnr_noisy_db": float(p_noisy), "psnr_denoised_db": float(p_hat),
                           "gain_db": float(p_hat - p_noisy), "range_hu": [-1024, 3071]}
    return out


def loss_curve(csv_path, png_path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = np.genfromtxt(csv_path, delimiter=",", names=True)
    rows = np.atleast_1d(rows)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(rows["step"], rows["loss"], lw=0.6, alpha=0.5, label="mean of 25 steps")
    if len(rows) > 20:
        k = 20
        sm = np.convolve(rows["loss"], np.ones(k) / k, mode="valid")
        ax.plot(rows["step"][k - 1:], sm, lw=1.5, label="moving average")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("eps MSE (training)")
    ax.set_title("blendct prior: training loss")
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=100)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=str(CACHE / "train" / "ckpt.pt"))
    ap.add_argument("--out", default=str(ROOT / "models"))
    ap.add_argument("--name", default="blendct-prior")
    ap.add_argument("--force", action="store_true", help="write even if the held-out x0 RMSE did not improve")
    ap.add_argument("--ckpt-copy", default=None, help="also copy a compact resumable checkpoint here")
    ap.add_argument("--volumes", default=None, help="volumes.json of a `deno task train` run: evaluate on its validation volumes")
    ap.add_argument("--eval-on", choices=["run", "held-out"], default="run",
                    help="with --volumes: evaluate on the run's validation volumes or on blendct's held-out CTs")
    ap.add_argument("--eval-count", type=int, default=8)
    ap.add_argument("--eval-size", type=int, default=256, help="(a whole-slice prior is evaluated at its own size)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    ck = torch.load(args.ckpt)
    cfg = ck["config"]
    model = SliceUNet(base=cfg["base"], mults=tuple(cfg["mults"]), slices=cfg["slices"], emb_dim=cfg["emb_dim"])
    model.load_state_dict(ck["ema"])
    model.eval()
    param = ck.get("settings", {}).get("param", "eps")
    wrapped = EpsOutput(model, param).eval()
    run_vols, run_spec = run_volumes(args.volumes) if args.volumes else (None, None)
    whole = bool(ck.get("settings", {}).get("whole"))
    # a whole-slice (coarse) prior works at its training size; the others on 256-pixel slices
    image_size = ck.get("crop", 96) if whole else 256
    ev = evaluate(wrapped, args.eval_count, image_size if whole else args.eval_size,
                  volumes=None if args.eval_on == "held-out" else run_vols, whole=whole)
    score = float(np.mean(list(ev["x0_rmse_hu"].values())))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    card_path = out / f"{args.name}.json"
    if card_path.exists() and not args.force:
        old = json.loads(card_path.read_text())
        old_rmse = old["evaluation"].get("x0_rmse_hu")
        old_score = float(np.mean(list(old_rmse.values()))) if old_rmse else float("inf")
        if score >= old_score:
            print(f"not exported: mean held-out x0 RMSE {score:.1f} HU is not better than the shipped {old_score:.1f} HU")
            return
    onnx_path = out / f"{args.name}.onnx"
    tmp = onnx_path.with_suffix(".onnx.tmp")
    slices = cfg["slices"]
    x = torch.randn(2, slices, 48, 48, generator=torch.Generator().manual_seed(7))
    t = torch.tensor([100.0, 700.0])
    k = torch.tensor([1.0, 3.0 if slices == 3 else 1.0])
    torch.onnx.export(wrapped, (x, t, k), str(tmp), opset_version=17, input_names=["x", "t", "k"],
                      output_names=["eps"], dynamic_axes={"x": {0: "B", 2: "H", 3: "W"}, "t": {0: "B"},
                                                          "k": {0: "B"}, "eps": {0: "B", 2: "H", 3: "W"}})
    import onnx
    onnx.checker.check_model(onnx.load(str(tmp)))
    os.replace(tmp, onnx_path)
    sha = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
    with torch.no_grad():
        eps = wrapped(x, t, k).numpy()
    parity = {"x_shape": list(x.shape), "t": t.tolist(), "k": k.tolist(), "x": b64(x.numpy()), "eps": b64(eps)}
    parity_text = json.dumps(parity)
    (out / f"{args.name}.parity.json").write_text(parity_text)
    params = sum(p.numel() for p in model.parameters())
    card = {
        "name": args.name,
        "version": f"0.1.{ck['step']}",
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "file": onnx_path.name,
        "sha256": sha,
        "opset": 17,
        "parameters": params,
        "architecture": {"type": "ADM-style UNet (ResBlocks, GroupNorm, SiLU, attention at lowest level)", **cfg},
        "inputs": {"x": ["B", slices, "H", "W"], "t": ["B"], "k": ["B"]},
        "outputs": {"eps": ["B", slices, "H", "W"]},
        "slices": slices,
        "imageSize": image_size,
        "trainCrop": ck.get("crop", 96),
        "wholeSlice": whole,
        "gaps": [1, 3] if slices == 3 else [1],
        "schedule": {"type": "linear", "beta_start": 1e-4, "beta_end": 0.02, "T": 1000},
        "intensity": {
            "unit": "u = 1 + HU/1000 = mu/mu_water (air 0, water 1, bone ~2-3)",
            "unitRange": [0, 3.5],
            "modelRange": [-1, 2.5],
            "fromUnit": "model = u - 1 = HU/1000 (linear; unitRange maps onto modelRange)",
            "trainedValues": "HU -1000..~2500 (x -1..2.5), scale jitter 0.9..1.1; values outside are not clipped",
        },
        "parameterisation": {"trained": param, "output": "eps",
                              "conversion": "eps = sqrt(1-abar_t) x_t + sqrt(abar_t) v, inside the ONNX graph" if param == "v" else "none"},
        "training": {
            "steps": ck["step"],
            "wallSeconds": round(ck["wall"]),
            "tripletsSeen": ck.get("seen", 0),
            "batch": ck.get("batch", 16),
            "optimizer": "AdamW lr 2e-4 (500-step warm-up), weight decay 1e-4, grad clip 1",
            "loss": "MSE on v" if param == "v" else "MSE on eps",
            "axes": ck.get("settings", {}).get("axes", "z"),
            "initialisedFrom": ck.get("settings", {}).get("init"),
            "precision": "bf16 autocast" if ck.get("bf16") else "fp32",
            "ema": "0.999 with warm-up min(0.999, (1+n)/(10+n))",
            "device": "CPU (2 cores), torch " + torch.__version__,
            "data": manifest() if run_spec is None else {
                # a run with --shipped drew the shipped prior's own sources too
                "training": ([e for e in manifest()["training"]
                              if ck["settings"].get("phantoms", not whole) or e["source"] != "train/phantoms.py"]
                             if ck.get("settings", {}).get("shipped") else []) +
                [{"source": v["source"], "sha256": v["sha256"], "unit": v["unit"], "shape": v["shape"]}
                 for v in run_spec["train"]],
                "test": [{"source": v["source"], "sha256": v["sha256"], "unit": v["unit"], "shape": v["shape"]}
                         for v in run_spec.get("val", [])],
            },
        },
        "evaluation": ev,
        "parity": {"file": f"{args.name}.parity.json", "sha256": hashlib.sha256(parity_text.encode()).hexdigest(),
                   "tolerance": 1e-4},
    }
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    loss_csv = Path(args.ckpt).parent / "loss.csv"
    if loss_csv.exists():
        loss_curve(loss_csv, out / f"{args.name}.loss.png")
    if args.ckpt_copy:
        compact = {key: ck[key] for key in ck if key != "model"}
        # Adam moments in fp16 and no separate online weights: resuming from EMA weights costs a little
        # freshness but keeps the committed file small; train.py accepts it (model = ema when absent)
        compact["opt"] = copy_opt_half(ck["opt"])
        torch.save(compact, args.ckpt_copy + ".tmp")
        os.replace(args.ckpt_copy + ".tmp", args.ckpt_copy)
    print(json.dumps({"exported": str(onnx_path), "step": ck["step"], "evaluation": ev}, indent=1))


def copy_opt_half(opt):
    state = {}
    for key, val in opt["state"].items():
        state[key] = {n: (v.half() if torch.is_tensor(v) and v.dtype == torch.float32 and v.dim() > 0 else v)
                      for n, v in val.items()}
    return {"state": state, "param_groups": opt["param_groups"]}


if __name__ == "__main__":
    main()
