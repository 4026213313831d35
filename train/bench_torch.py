"""PyTorch's speed on the denoiser, for the same table as `deno task bench denoiser`.

    /usr/bin/python3 train/bench_torch.py [--ckpt PATH] [--size 256] [--batches 1,4,8] [--seconds 3]

Loads the EMA weights of the training checkpoint (the weights train/export.py turns into the shipped ONNX
file; speed depends only on the architecture stored with them), runs eps(x, t, k) on random triplets with
torch.set_num_threads(2) and prints one JSON object: triplets per second for each batch size.
"""
import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from data import CACHE  # noqa: E402
from model import SliceUNet  # noqa: E402


def load(ckpt_path):
    # The training loop rewrites the checkpoint while it runs; a read that catches it mid-write is retried.
    for attempt in range(3):
        try:
            return torch.load(ckpt_path, map_location="cpu")
        except (RuntimeError, EOFError):
            if attempt == 2:
                raise
            time.sleep(2)


@torch.no_grad()
def measure(model, batch, size, seconds, bf16=False):
    g = torch.Generator().manual_seed(batch)
    x = torch.randn(batch, 3, size, size, generator=g)
    t = torch.full((batch,), 500.0)
    k = torch.ones(batch)
    ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    with ctx():
        model(x, t, k)  # warm-up: first call allocates and picks kernels
    calls, start = 0, time.perf_counter()
    while True:
        with ctx():
            model(x, t, k)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    return {"batch": batch, "calls": calls, "seconds": elapsed, "triplets_per_s": batch * calls / elapsed,
            "precision": "bf16 autocast" if bf16 else "fp32"}


def main():
    ap = argparse.ArgumentParser()
    # the committed checkpoint holds the same EMA weights the shipped ONNX was exported from
    shipped = Path(__file__).resolve().parent.parent / "models" / "blendct-prior.ckpt.pt"
    running = CACHE / "train" / "ckpt.pt"
    ap.add_argument("--ckpt", default=str(running if running.exists() else shipped))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batches", default="1,4,8")
    ap.add_argument("--seconds", type=float, default=3.0, help="minimum timed seconds per batch size")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ck = load(args.ckpt)
    cfg = ck["config"]
    model = SliceUNet(base=cfg["base"], mults=tuple(cfg["mults"]), slices=cfg["slices"], emb_dim=cfg["emb_dim"])
    model.load_state_dict(ck["ema"])
    model.eval()
    amx = "amx" in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else False
    results = [measure(model, int(b), args.size, args.seconds, bf16) for bf16 in ([False, True] if amx else [False])
               for b in args.batches.split(",")]
    print(json.dumps({
        "runtime": f"PyTorch {torch.__version__}",
        "threads": args.threads,
        "size": args.size,
        "checkpoint": args.ckpt,
        "step": ck.get("step"),
        "architecture": cfg,
        "results": results,
    }))


if __name__ == "__main__":
    main()
