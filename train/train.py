"""Trains the 3-slice position-aware prior in physical units (x = HU/1000); resumable, meant to run for hours.

    python3 train/train.py --minutes 170            # resumes from $BLENDCT_CACHE/train/ckpt.pt if present

The network predicts v = sqrt(abar) eps - sqrt(1 - abar) x0 (v-prediction): its Tweedie estimate stays good
at high noise, where an eps-predictor's x0 = (x_t - sqrt(1-abar) eps) / sqrt(abar) blows up. The exported
ONNX graph converts v back to eps, so the model contract (eps(x, t, k)) is unchanged.

Writes the checkpoint atomically every few minutes and a loss log (CSV) next to it.
"""
import argparse
import contextlib
import copy
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from data import CACHE, TripletSampler  # noqa: E402
from model import SliceUNet, linear_schedule  # noqa: E402

# settings that a resumed run must share with its checkpoint
FIXED = ("param", "base", "crop", "axes")


def ema_decay(step, cap):
    """EMA warm-up: early averages forget the (zero-initialized) start instead of holding on to it."""
    return min(cap, (1 + step) / (10 + step))


def save_atomic(obj, path):
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def autocast(enabled):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=torch.bfloat16)


def v_target(x0, eps, a):
    return a.sqrt() * eps - (1 - a).sqrt() * x0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(CACHE / "train"))
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--steps", type=int, default=0, help="stop after this many total steps (0: time only)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=96)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--base", type=int, default=24)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--axes", choices=["z", "all"], default="all")
    ap.add_argument("--param", choices=["v", "eps"], default="v")
    ap.add_argument("--bf16", choices=["auto", "on", "off"], default="auto",
                    help="bf16 autocast (auto: on where the CPU has AMX)")
    ap.add_argument("--save-every", type=float, default=240, help="seconds between checkpoints")
    ap.add_argument("--tiny", action="store_true", help="tiny model and pool, for tests")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    bf16 = args.bf16 == "on" or (args.bf16 == "auto" and "amx" in Path("/proc/cpuinfo").read_text())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "ckpt.pt"
    base = 8 if args.tiny else args.base
    mults = (1, 1, 2, 2) if args.tiny else (1, 2, 3, 4)
    model = SliceUNet(base=base, mults=mults)
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    step, wall, seen = 0, 0.0, 0
    settings = dict(param=args.param, base=base, crop=args.crop, axes=args.axes)
    if ckpt_path.exists():
        ck = torch.load(ckpt_path)
        for key in FIXED:
            if key in ck.get("settings", {}) and ck["settings"][key] != settings[key]:
                raise SystemExit(f"{ckpt_path} was trained with {key}={ck['settings'][key]}, not {settings[key]}: "
                                 "pass the same setting, or another --out")
        # a committed (compact) checkpoint carries only the EMA weights and fp16 Adam moments
        model.load_state_dict(ck.get("model", ck["ema"]))
        ema.load_state_dict(ck["ema"])
        opt.load_state_dict(ck["opt"])
        for st in opt.state.values():
            for n, v in st.items():
                if torch.is_tensor(v) and v.dtype == torch.float16:
                    st[n] = v.float()
        step, wall, seen = ck["step"], ck["wall"], ck.get("seen", 0)
        print(f"resumed at step {step} ({wall / 60:.1f} min trained)", flush=True)
    torch.manual_seed(args.seed + step)
    sampler = TripletSampler(args.seed + step, crop=args.crop, pool=2 if args.tiny else 12, axes=args.axes)
    print(f"sources: {', '.join(['phantom'] + sampler.sources())}; bf16 {'on' if bf16 else 'off'}", flush=True)
    abar = linear_schedule()
    log_new = not (out / "loss.csv").exists()
    log = open(out / "loss.csv", "a", newline="")
    writer = csv.writer(log)
    if log_new:
        writer.writerow(["step", "wall_s", "loss", "lr", "triplets_per_s"])
    t_start, t_save = time.time(), time.time()
    acc, n_acc, t_log = 0.0, 0, time.time()

    def checkpoint():
        save_atomic(dict(model=model.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step,
                         wall=wall + time.time() - t_start, seen=seen, config=model.config, crop=args.crop,
                         batch=args.batch, settings=settings, bf16=bf16), ckpt_path)

    while True:
        elapsed = time.time() - t_start
        if elapsed > args.minutes * 60 or (args.steps and step >= args.steps):
            break
        x0, k = sampler.batch(args.batch)
        x0, k = torch.from_numpy(x0), torch.from_numpy(k)
        t = torch.randint(0, 1000, (args.batch,))
        a = abar[t][:, None, None, None]
        eps = torch.randn_like(x0)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        target = v_target(x0, eps, a) if args.param == "v" else eps
        lr = args.lr * min(1.0, (step + 1) / 500)
        for g in opt.param_groups:
            g["lr"] = lr
        with autocast(bf16):
            pred = model(xt, t.float(), k)
        loss = torch.mean((pred.float() - target) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        d = ema_decay(step, args.ema)
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.mul_(d).add_(pm.detach(), alpha=1 - d)
            for be, bm in zip(ema.buffers(), model.buffers()):
                be.copy_(bm)
        step += 1
        seen += args.batch
        acc += loss.item()
        n_acc += 1
        if step % 25 == 0:
            now = wall + time.time() - t_start
            rate = n_acc * args.batch / (time.time() - t_log)
            writer.writerow([step, f"{now:.1f}", f"{acc / n_acc:.5f}", f"{lr:.2e}", f"{rate:.2f}"])
            log.flush()
            print(f"step {step} loss {acc / n_acc:.4f} {rate:.2f} triplets/s {now / 60:.1f} min", flush=True)
            acc, n_acc, t_log = 0.0, 0, time.time()
        if step % 40 == 0:
            sampler.refresh()
        if time.time() - t_save > args.save_every:
            checkpoint()
            t_save = time.time()
    checkpoint()
    print(f"saved {ckpt_path} at step {step}", flush=True)


if __name__ == "__main__":
    main()
