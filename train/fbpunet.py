"""FBP-UNet (FBPConvNet style): a residual 2D UNet that removes the streaks of blendct's few-view FBP.

    python3 train/fbpunet.py slices --dir RUN --count 1200          # ground truth slices (u) -> RUN/gt.npy
    deno run -A train/fbpunet_pairs.ts RUN                           # blendct's FBP of each -> RUN/fbp-*.npy
    python3 train/fbpunet.py train --dir RUN --setting 8 --minutes 8 # -> models/fbpunet-8.{onnx,json,pt}

The slices come from the prior's own training sources (train/data.py: procedural anatomy and the pseudo-CT
heads, crops at random scales, deformations, intensity jitter), never from the held-out CTs. Units are
blendct's attenuation u (air 0, water 1); the network sees FBP in u and returns the corrected slice in u.
Training resumes from models/fbpunet-SETTING.pt when it exists.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).parent))

MODELS = Path(__file__).resolve().parent.parent / "models"


class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                                  nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    def forward(self, x):
        return self.body(x)


class FbpUNet(nn.Module):
    """FBPConvNet's shape (encoder-decoder with skips, output added to the input) at CPU size."""

    def __init__(self, base=16, levels=4):
        super().__init__()
        ch = [base * 2 ** i for i in range(levels)]
        self.config = dict(base=base, levels=levels)
        self.down = nn.ModuleList([Block(1 if i == 0 else ch[i - 1], ch[i]) for i in range(levels)])
        self.up = nn.ModuleList([nn.ConvTranspose2d(ch[i], ch[i - 1], 2, stride=2) for i in range(levels - 1, 0, -1)])
        self.dec = nn.ModuleList([Block(2 * ch[i - 1], ch[i - 1]) for i in range(levels - 1, 0, -1)])
        self.out = nn.Conv2d(ch[0], 1, 1)

    def forward(self, fbp):
        skips, h = [], fbp
        for i, blk in enumerate(self.down):
            h = blk(h if i == 0 else F.max_pool2d(h, 2))
            skips.append(h)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips[:-1])):
            h = dec(torch.cat([up(h), skip], 1))
        return fbp + self.out(h)


def cmd_slices(args):
    from data import TripletSampler
    sampler = TripletSampler(args.seed, crop=args.size, pool=12)
    out = np.empty((args.count, args.size, args.size), np.float32)
    for i in range(args.count):
        if i % 20 == 0:
            sampler.refresh()
        trip, _ = sampler.sample()
        out[i] = trip[1] + 1.0  # x = u - 1
    Path(args.dir).mkdir(parents=True, exist_ok=True)
    tmp = Path(args.dir) / "gt.tmp.npy"
    np.save(tmp, out)
    os.replace(tmp, Path(args.dir) / "gt.npy")
    sources = ["phantom"] + sampler.sources()
    (Path(args.dir) / "sources.json").write_text(json.dumps(sources))
    print(f"{args.count} slices from {', '.join(sources)}")


def cmd_train(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    d = Path(args.dir)
    gt = np.load(d / "gt.npy", mmap_mode="r")
    fbp = np.load(d / f"fbp-{args.setting}.npy", mmap_mode="r")
    n_val = max(8, len(gt) // 20)
    val_gt, val_fbp = torch.from_numpy(np.array(gt[-n_val:]))[:, None], torch.from_numpy(np.array(fbp[-n_val:]))[:, None]
    N = len(gt) - n_val
    model = FbpUNet(base=args.base)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    MODELS.mkdir(exist_ok=True)
    ckpt = MODELS / f"fbpunet-{args.setting}.pt"
    step, wall = 0, 0.0
    if ckpt.exists():
        ck = torch.load(ckpt)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, wall = ck["step"], ck["wall"]
        print(f"resumed {ckpt.name} at step {step} ({wall / 60:.1f} min)", flush=True)
    bf16 = "amx" in Path("/proc/cpuinfo").read_text()
    rng = np.random.default_rng(args.seed + step)
    t0, c = time.time(), args.crop
    model.train()
    while time.time() - t0 < args.minutes * 60:
        idx = rng.integers(0, N, args.batch)
        y0, x0 = rng.integers(0, gt.shape[1] - c + 1, 2)
        g = torch.from_numpy(np.stack([gt[i, y0:y0 + c, x0:x0 + c] for i in idx]))[:, None]
        f = torch.from_numpy(np.stack([fbp[i, y0:y0 + c, x0:x0 + c] for i in idx]))[:, None]
        if rng.uniform() < 0.5:
            g, f = g.flip(3), f.flip(3)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            pred = model(f)
        loss = F.mse_loss(pred.float(), g)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 100 == 0:
            print(f"step {step} loss {loss.item():.3e}", flush=True)
    wall += time.time() - t0
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(val_fbp[i:i + 4]) for i in range(0, n_val, 4)])
    mse = F.mse_loss(pred, val_gt).item()
    mse_fbp = F.mse_loss(val_fbp, val_gt).item()
    peak = float(val_gt.max())
    torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), step=step, wall=wall, config=model.config),
               ckpt.with_suffix(".tmp"))
    os.replace(ckpt.with_suffix(".tmp"), ckpt)
    onnx_path = MODELS / f"fbpunet-{args.setting}.onnx"
    torch.onnx.export(model, (val_fbp[:1],), str(onnx_path.with_suffix(".tmp")), input_names=["fbp"],
                      output_names=["x"], dynamic_axes={"fbp": {0: "B", 2: "H", 3: "W"}, "x": {0: "B", 2: "H", 3: "W"}},
                      opset_version=17)
    os.replace(onnx_path.with_suffix(".tmp"), onnx_path)
    sources = json.loads((d / "sources.json").read_text()) if (d / "sources.json").exists() else []
    card = dict(setting=args.setting, onnx=onnx_path.name, imageSize=int(gt.shape[1]), minutes=round(wall / 60, 1),
                steps=step, batch=args.batch, crop=c, params=sum(p.numel() for p in model.parameters()),
                config=model.config, trainingSlices=N, sources=sources, loss="MSE in u",
                validation=dict(slices=n_val, psnr_fbp=round(10 * np.log10(peak ** 2 / mse_fbp), 2),
                                psnr_fbpunet=round(10 * np.log10(peak ** 2 / mse), 2)),
                units="u = 1 + HU/1000 (air 0, water 1)",
                more_training="minutes on 2 CPU cores; longer training and real CT slices would sharpen edges")
    (MODELS / f"fbpunet-{args.setting}.json").write_text(json.dumps(card, indent=1) + "\n")
    print(json.dumps(card["validation"]), flush=True)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("slices")
    s.add_argument("--dir", required=True)
    s.add_argument("--count", type=int, default=1200)
    s.add_argument("--size", type=int, default=256)
    s.add_argument("--seed", type=int, default=11)
    t = sub.add_parser("train")
    t.add_argument("--dir", required=True)
    t.add_argument("--setting", required=True)
    t.add_argument("--minutes", type=float, default=8)
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--crop", type=int, default=128)
    t.add_argument("--base", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    {"slices": cmd_slices, "train": cmd_train}[args.cmd](args)


if __name__ == "__main__":
    main()
