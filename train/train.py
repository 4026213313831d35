"""Trains the 3-slice position-aware prior in physical units (x = HU/1000); resumable, meant to run for hours.

    python3 train/train.py --minutes 170            # resumes from $BLENDCT_CACHE/train/ckpt.pt if present
    python3 train/train.py --volumes RUN/volumes.json --out RUN --steps 2000   # your own data (deno task train)
    torchrun --nproc_per_node 2 train/train.py ...  # PyTorch DDP: gloo on CPU, nccl on GPU

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
from data import CACHE, TripletSampler, isotropic, shipped_volumes  # noqa: E402
from model import SliceUNet, linear_schedule  # noqa: E402

# settings that a resumed run must share with its checkpoint
FIXED = ("param", "base", "crop", "axes", "slices", "whole")


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
    ap.add_argument("--slices", type=int, choices=[1, 3], default=3,
                    help="3: the position-aware 3-slice prior; 1: a 2D prior of single slices (dds2d, mbir)")
    ap.add_argument("--whole", action="store_true",
                    help="whole slices shrunk to --crop pixels (the coarse prior of `deno task generate`); "
                         "procedural phantoms only with --phantoms")
    ap.add_argument("--bf16", choices=["auto", "on", "off"], default="auto",
                    help="bf16 autocast (auto: on where the CPU has AMX)")
    ap.add_argument("--save-every", type=float, default=240, help="seconds between checkpoints")
    ap.add_argument("--tiny", action="store_true", help="tiny model and pool, for tests")
    ap.add_argument("--volumes", help="JSON list of training volumes (HU .npy) written by `deno task train`")
    ap.add_argument("--phantoms", action="store_true", help="with --volumes: also draw procedural phantoms")
    ap.add_argument("--shipped", action="store_true",
                    help="with --volumes: also the shipped prior's own sources (colin27 pseudo-CT, procedural phantoms)")
    ap.add_argument("--init", help="checkpoint (.pt) to fine-tune from: weights only, fresh optimizer")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--workers", type=int, default=-1, help="data-loading worker processes (-1: 1 on CUDA, 0 on CPU)")
    args = ap.parse_args()

    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = torch.device("cuda" if args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available()) else "cpu")
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA device; use --device cpu or auto")
    if world > 1:
        import torch.distributed as dist
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    # the cores are shared by the ranks of one machine
    torch.set_num_threads(max(1, args.threads // int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))))
    if args.batch % world:
        raise SystemExit(f"--batch {args.batch} must be divisible by the {world} processes")
    per_rank = args.batch // world
    main_rank = rank == 0
    bf16 = args.bf16 == "on" or (args.bf16 == "auto" and device.type == "cpu" and "amx" in Path("/proc/cpuinfo").read_text())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "ckpt.pt"
    base = 8 if args.tiny else args.base
    mults = (1, 1, 2, 2) if args.tiny else (1, 2, 3, 4)
    model = SliceUNet(base=base, mults=mults, slices=args.slices).to(device)
    if args.init:
        init = torch.load(args.init, map_location="cpu")
        if args.slices == 1 and init.get("config", {}).get("slices") == 3:
            init = dict(init, config=model.config, ema=fold_to_single(init["ema"]))
        if init.get("config") != model.config:
            raise SystemExit(f"--init {args.init}: its architecture {init.get('config')} differs from {model.config}")
        init_param = init.get("settings", {}).get("param", "eps")
        if init_param != args.param:
            raise SystemExit(f"--init {args.init} predicts {init_param}, not {args.param}: pass --param {init_param}")
        model.load_state_dict(init["ema"])
    ema = copy.deepcopy(model).requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    step, wall, seen = 0, 0.0, 0
    settings = dict(param=args.param, base=base, crop=args.crop, axes=args.axes, slices=args.slices,
                    init=Path(args.init).name if args.init else None, shipped=bool(args.volumes and args.shipped),
                    whole=args.whole)
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location=device)
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
        settings["init"] = ck.get("settings", {}).get("init", settings["init"])
        if main_rank:
            print(f"resumed at step {step} ({wall / 60:.1f} min trained)", flush=True)
    # every rank draws its own triplets (the data are sharded by seed); the step keeps a resumed run fresh
    torch.manual_seed(args.seed + step + 7919 * rank)
    # a whole slice's neighbours must lie as far apart as in the fine prior's isotropic voxels
    volumes = load_volume_list(args.volumes, "all" if args.whole else args.axes) if args.volumes else None
    if volumes is not None and args.shipped:
        # fine-tuning on new scans without forgetting what the shipped prior learned from
        volumes = {**shipped_volumes(), **volumes}
    pool = (2 if args.tiny else 12) if (volumes is None or args.phantoms or (args.shipped and not args.whole)) else 0
    settings["phantoms"] = pool > 0
    sampler = TripletSampler(args.seed + step + 7919 * rank, crop=args.crop, pool=pool, axes=args.axes,
                             volumes=volumes, whole=args.whole)
    net = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if main_rank:
        names = (["phantom"] if pool else []) + sampler.sources()
        print(f"sources: {', '.join(names)}; device {device}; {world} process(es), batch {per_rank} per process; "
              f"bf16 {'on' if bf16 else 'off'}", flush=True)
    abar = linear_schedule().to(device)
    log_new = not (out / "loss.csv").exists()
    log = open(out / "loss.csv", "a", newline="") if main_rank else open(os.devnull, "w")
    writer = csv.writer(log)
    if log_new and main_rank:
        writer.writerow(["step", "wall_s", "loss", "lr", "triplets_per_s"])
    batches = batch_stream(sampler, per_rank, args.workers if args.workers >= 0 else (1 if device.type == "cuda" else 0))
    t_start, t_save = time.time(), time.time()
    acc, n_acc, t_log = 0.0, 0, time.time()

    def checkpoint():
        if not main_rank:
            return
        save_atomic(dict(model=model.state_dict(), ema=ema.state_dict(), opt=opt.state_dict(), step=step,
                         wall=wall + time.time() - t_start, seen=seen, config=model.config, crop=args.crop,
                         batch=args.batch, settings=settings, bf16=bf16), ckpt_path)

    while True:
        elapsed = time.time() - t_start
        stop = elapsed > args.minutes * 60 or (args.steps and step >= args.steps)
        if world > 1:
            # ranks must stop together; rank 0's clock decides
            flag = torch.tensor([1.0 if stop else 0.0], device=device)
            torch.distributed.broadcast(flag, 0)
            stop = bool(flag.item())
        if stop:
            break
        x0, k = next(batches)
        if args.slices == 1:
            # the middle slice of each triplet; gap 1 is what the single-slice partition passes
            x0, k = x0[:, 1:2].contiguous(), torch.ones_like(k)
        x0, k = x0.to(device), k.to(device)
        t = torch.randint(0, 1000, (per_rank,), device=device)
        a = abar[t][:, None, None, None]
        eps = torch.randn_like(x0)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        target = v_target(x0, eps, a) if args.param == "v" else eps
        lr = args.lr * min(1.0, (step + 1) / 500)
        for g in opt.param_groups:
            g["lr"] = lr
        with autocast(bf16):
            pred = net(xt, t.float(), k)
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
        loss_all = loss.detach()
        if world > 1:
            torch.distributed.all_reduce(loss_all)
            loss_all /= world
        acc += loss_all.item()
        n_acc += 1
        if step % 25 == 0:
            now = wall + time.time() - t_start
            rate = n_acc * args.batch / (time.time() - t_log)
            writer.writerow([step, f"{now:.1f}", f"{acc / n_acc:.5f}", f"{lr:.2e}", f"{rate:.2f}"])
            log.flush()
            if main_rank:
                print(f"step {step} loss {acc / n_acc:.4f} {rate:.2f} triplets/s {now / 60:.1f} min", flush=True)
            acc, n_acc, t_log = 0.0, 0, time.time()
        if time.time() - t_save > args.save_every:
            checkpoint()
            t_save = time.time()
    checkpoint()
    if main_rank:
        print(f"saved {ckpt_path} at step {step}", flush=True)
    if world > 1:
        torch.distributed.destroy_process_group()


def fold_to_single(state):
    """3-slice weights as a start for a 1-slice network: the input convolution sees the slice three times
    ({z, z, z}, what the 3-slice prior was given before a 2D prior existed), so its weights are summed over
    the input channels; the output keeps the middle slice's filters."""
    state = dict(state)
    state["inc.weight"] = state["inc.weight"].sum(dim=1, keepdim=True)
    state["outc.weight"] = state["outc.weight"][1:2].clone()
    state["outc.bias"] = state["outc.bias"][1:2].clone()
    return state


def load_volume_list(path, axes):
    """The volumes of a `deno task train` run: {"train": [{"path": HU .npy, ...}], ...} -> {name: (HU, 1, axes)}."""
    import json
    spec = json.loads(Path(path).read_text())
    out = {}
    for i, v in enumerate(spec["train"]):
        vol = np.load(v["path"]).astype(np.float32)
        if axes == "all":
            sp = tuple(v.get("spacing", (1.0, 1.0, 1.0)))
            vol = isotropic(vol, sp, target=max(min(sp), 0.5))
        # TripletSampler keeps only axis 0 when it trains on z alone
        out[f"{i}:{Path(v['path']).stem}"] = (vol, 1.0, (0, 1, 2))
    if not out:
        raise SystemExit(f"{path}: no training volumes")
    return out


class _Triplets(torch.utils.data.IterableDataset):
    def __init__(self, sampler, batch):
        super().__init__()
        self.sampler, self.batch = sampler, batch

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        if info is not None:
            # each worker process draws its own stream
            self.sampler.rng = np.random.default_rng(self.sampler.rng.integers(1 << 31) + info.id)
        n = 0
        while True:
            x0, k = self.sampler.batch(self.batch)
            n += 1
            if n % 40 == 0:
                self.sampler.refresh()
            yield torch.from_numpy(x0), torch.from_numpy(k)


def batch_stream(sampler, batch, workers):
    """Batches of triplets, drawn in `workers` worker processes (0: in this process, which on a 2-core CPU is
    faster than a worker competing with the network for the same cores)."""
    if workers == 0:
        def gen():
            n = 0
            while True:
                x0, k = sampler.batch(batch)
                n += 1
                if n % 40 == 0:
                    sampler.refresh()
                yield torch.from_numpy(x0), torch.from_numpy(k)
        return gen()
    loader = torch.utils.data.DataLoader(_Triplets(sampler, batch), batch_size=None, num_workers=workers,
                                         pin_memory=torch.cuda.is_available(), prefetch_factor=4)
    return iter(loader)


if __name__ == "__main__":
    main()
