"""Writes a statically quantised (QDQ, int8) copy of an exported prior next to its fp32 model.

    python3 train/quantize.py                      # models/blendct-prior.{onnx,json} + its checkpoint
    python3 train/quantize.py --calib 64 --keep inc,outc

Every convolution but the ones named in --keep gets the QDQ pattern onnxruntime fuses into QLinearConv:
uint8 activations (asymmetric, the input and output ranges seen on calibration triplets), int8 weights per
output channel (symmetric) and an int32 bias at the product of the two scales. Everything else (GroupNorm,
SiLU, attention's matmuls, the time embedding, the eps conversion) stays fp32. The calibration triplets come
from the training distribution (train/data.py's sampler, never the held-out CTs), noised at timesteps spread
over [0, T); the ranges are measured in PyTorch on the checkpoint's EMA weights, the very weights of the ONNX
file (checked: every quantised convolution's weight equals its module's).

The card gains a `quantized` section (file, sha256, scheme, calibration); whether the int8 model keeps the
prior's quality is measured by `deno task bench quantized`, which adds its numbers to that section.
"""
import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from data import TripletSampler  # noqa: E402
from export import EpsOutput  # noqa: E402
from model import SliceUNet, linear_schedule  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def u8_params(lo, hi):
    """Scale and zero point of uint8 for the range [lo, hi] (widened to hold 0, which padding needs)."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-8) / 255.0
    zero = int(np.clip(round(-lo / scale), 0, 255))
    return np.float32(scale), np.uint8(zero)


@torch.no_grad()
def calibrate(wrapped, convs, count, size, seed, batch=4):
    """Per convolution: the min and max of its input and output over `count` noised training triplets."""
    ranges = {name: [np.inf, -np.inf, np.inf, -np.inf] for name in convs}

    def hook(name):
        def f(_mod, inp, out):
            r = ranges[name]
            x = inp[0]
            r[0], r[1] = min(r[0], float(x.min())), max(r[1], float(x.max()))
            r[2], r[3] = min(r[2], float(out.min())), max(r[3], float(out.max()))
        return f

    handles = [mod.register_forward_hook(hook(name)) for name, mod in convs.items()]
    sampler = TripletSampler(seed, crop=size, pool=4)
    slices = wrapped.net.config["slices"]
    abar = linear_schedule()
    g = torch.Generator().manual_seed(seed)
    ts = np.linspace(0, 999, count).round().astype(int)
    for i in range(0, count, batch):
        x0, k = sampler.batch(min(batch, count - i))
        x0 = torch.from_numpy(x0)
        k = torch.from_numpy(k)
        if slices == 1:
            x0, k = x0[:, 1:2].contiguous(), torch.ones_like(k)
        t = torch.from_numpy(ts[i:i + len(x0)]).float()
        a = abar[t.long()][:, None, None, None]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * torch.randn(x0.shape, generator=g)
        wrapped(xt, t, k)
    for h in handles:
        h.remove()
    return ranges


def quantize_graph(model, convs, ranges, keep):
    """Inserts Q/DQ pairs around every convolution not in `keep`; returns the names quantised."""
    from onnx import helper, numpy_helper
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    new_inits, nodes, done = [], [], []
    qdq_of = {}  # activation tensor -> its dequantised copy (shared by every conv that reads it)

    def qdq(tensor, lo, hi):
        if tensor in qdq_of:
            return qdq_of[tensor]
        s, z = u8_params(lo, hi)
        sn, zn = f"{tensor}_qscale", f"{tensor}_qzero"
        new_inits.append(numpy_helper.from_array(np.array(s, np.float32), sn))
        new_inits.append(numpy_helper.from_array(np.array(z, np.uint8), zn))
        q, dq = f"{tensor}_q", f"{tensor}_dq"
        nodes.append(helper.make_node("QuantizeLinear", [tensor, sn, zn], [q], name=f"{tensor}_Q"))
        nodes.append(helper.make_node("DequantizeLinear", [q, sn, zn], [dq], name=f"{tensor}_DQ"))
        qdq_of[tensor] = dq
        return dq

    renamed = {}  # conv output -> the name consumers now read (its dequantised copy)
    for node in list(g.node):
        for i, name in enumerate(node.input):
            if name in renamed:
                node.input[i] = renamed[name]
        if node.op_type != "Conv":
            nodes.append(node)
            continue
        mod = node.input[1][: -len(".weight")] if node.input[1].endswith(".weight") else None
        if mod not in convs or any(mod == k or mod.startswith(k + ".") or mod.split(".")[-1] == k for k in keep):
            nodes.append(node)
            continue
        w = numpy_helper.to_array(inits[node.input[1]])
        b = numpy_helper.to_array(inits[node.input[2]])
        tw = convs[mod].weight.detach().numpy()
        if not np.array_equal(w, tw):
            raise SystemExit(f"the ONNX weights of {mod} are not the checkpoint's: export and checkpoint differ")
        lo_in, hi_in, lo_out, hi_out = ranges[mod]
        s_x, _ = u8_params(lo_in, hi_in)
        s_w = np.maximum(np.abs(w).reshape(w.shape[0], -1).max(axis=1), 1e-12) / 127.0
        w_q = np.clip(np.round(w / s_w[:, None, None, None]), -127, 127).astype(np.int8)
        s_b = (s_x * s_w).astype(np.float32)
        b_q = np.round(b / s_b).astype(np.int32)
        names = {k: f"{mod}.{k}" for k in ("w_q", "w_s", "w_z", "b_q", "b_s", "b_z")}
        new_inits += [numpy_helper.from_array(w_q, names["w_q"]),
                      numpy_helper.from_array(s_w.astype(np.float32), names["w_s"]),
                      numpy_helper.from_array(np.zeros(w.shape[0], np.int8), names["w_z"]),
                      numpy_helper.from_array(b_q, names["b_q"]),
                      numpy_helper.from_array(s_b, names["b_s"]),
                      numpy_helper.from_array(np.zeros(w.shape[0], np.int32), names["b_z"])]
        x_dq = qdq(node.input[0], lo_in, hi_in)
        nodes.append(helper.make_node("DequantizeLinear", [names["w_q"], names["w_s"], names["w_z"]],
                                      [f"{mod}.w_dq"], name=f"{mod}.W_DQ", axis=0))
        nodes.append(helper.make_node("DequantizeLinear", [names["b_q"], names["b_s"], names["b_z"]],
                                      [f"{mod}.b_dq"], name=f"{mod}.B_DQ", axis=0))
        out = node.output[0]
        raw = f"{out}_fp"
        conv = helper.make_node("Conv", [x_dq, f"{mod}.w_dq", f"{mod}.b_dq"], [raw], name=node.name)
        conv.attribute.extend(node.attribute)
        nodes.append(conv)
        s_y, z_y = u8_params(lo_out, hi_out)
        sn, zn = f"{out}_qscale", f"{out}_qzero"
        new_inits.append(numpy_helper.from_array(np.array(s_y, np.float32), sn))
        new_inits.append(numpy_helper.from_array(np.array(z_y, np.uint8), zn))
        nodes.append(helper.make_node("QuantizeLinear", [raw, sn, zn], [f"{out}_q"], name=f"{out}_Q"))
        nodes.append(helper.make_node("DequantizeLinear", [f"{out}_q", sn, zn], [f"{out}_dq"], name=f"{out}_DQ"))
        renamed[out] = f"{out}_dq"
        qdq_of[f"{out}_dq"] = f"{out}_dq"  # already a dequantised copy: a reader needs no second pair
        done.append(mod)
    for o in g.output:
        if o.name in renamed:
            raise SystemExit(f"graph output {o.name} comes straight from a quantised convolution: keep it fp32")
    used = {n for node in nodes for n in node.input}
    kept = [i for i in g.initializer if i.name in used]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    return done


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--card", default=str(ROOT / "models" / "blendct-prior.json"))
    ap.add_argument("--ckpt", default=str(ROOT / "models" / "blendct-prior.ckpt.pt"))
    ap.add_argument("--calib", type=int, default=48, help="calibration triplets (training distribution)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--keep", default="inc,outc",
                    help="convolutions kept in fp32: module names, their prefixes (net.down.0) or last parts (outc)")
    ap.add_argument("--seed", type=int, default=4242)
    args = ap.parse_args()
    torch.set_num_threads(2)
    import onnx
    card_path = Path(args.card)
    card = json.loads(card_path.read_text())
    fp32 = card_path.parent / card["file"]
    if hashlib.sha256(fp32.read_bytes()).hexdigest() != card["sha256"]:
        raise SystemExit(f"{fp32} does not match its card's sha256: re-export it first")
    ck = torch.load(args.ckpt)
    if f"0.1.{ck['step']}" != card["version"]:
        raise SystemExit(f"checkpoint step {ck['step']} is not the card's version {card['version']}: "
                         "pass the checkpoint the model was exported from (--ckpt)")
    cfg = ck["config"]
    net = SliceUNet(base=cfg["base"], mults=tuple(cfg["mults"]), slices=cfg["slices"], emb_dim=cfg["emb_dim"])
    net.load_state_dict(ck["ema"])
    wrapped = EpsOutput(net.eval(), ck.get("settings", {}).get("param", "eps")).eval()
    convs = {name: m for name, m in wrapped.named_modules() if isinstance(m, torch.nn.Conv2d)}
    ranges = calibrate(wrapped, convs, args.calib, args.size, args.seed)
    model = onnx.load(str(fp32))
    keep = set(args.keep.split(",")) if args.keep else set()
    done = quantize_graph(model, convs, ranges, keep)
    onnx.checker.check_model(model)
    out = fp32.with_name(fp32.stem + ".int8.onnx")
    tmp = out.with_suffix(".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, out)
    card["quantized"] = {
        "file": out.name,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "scheme": "static QDQ: uint8 activations (asymmetric, calibrated min/max), int8 weights per output "
                  "channel (symmetric), int32 bias; QLinearConv after onnxruntime's QDQ fusion",
        "quantizedConvolutions": len(done),
        "fp32Convolutions": sorted(set(convs) - set(done)),
        "calibration": {"triplets": args.calib, "size": args.size, "seed": args.seed,
                        "timesteps": "evenly spaced over [0, 999]",
                        "source": "train/data.py TripletSampler (the training distribution; no held-out CT)"},
        "fromSha256": card["sha256"],
    }
    tmp_card = card_path.with_suffix(".json.tmp")
    tmp_card.write_text(json.dumps(card, indent=2) + "\n")
    os.replace(tmp_card, card_path)
    print(json.dumps({"wrote": str(out), "quantized": len(done), "kept": card["quantized"]["fp32Convolutions"]}))


if __name__ == "__main__":
    main()
