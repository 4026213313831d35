"""blendct's PyTorch back end: a worker process that runs a model card's checkpoint for the Deno side
(`--backend torch`, lib/prior/denoiser_torch.ts) and, with `--adapt`, trains adapters on the gradient the
Deno side computes with its own operator (test-time adaptation, METHOD.md).

The channel is the process's stdin and stdout, one frame per message in each direction:

    u32 little-endian  n, the length of the header
    n bytes            the header, JSON (UTF-8); `bytes` in it is the length of the payload
    bytes bytes        the payload: float32 little-endian values

Requests (header `op`) and what the worker answers:
    hello   {ckpt, device, threads, deterministic}   → {torch, device, amp, parameters, param}
    eps     {shape [B,C,H,W], t [B], k [B]} + x      → {} + eps      (no gradient kept)
    adapt   {kind, rank, lr, seed}                   → {parameters}  (adapters reset, Adam reset)
    forward {shape, t, k} + x                        → {} + eps      (the graph kept for `backward`)
    plain   {}                                       → {}            (adapters removed: the trained network)
    backward {} + dL/d eps                           → {}            (one Adam step on the adapters)
    save    {}                                       → {shapes} + adapters, Adam moments and step count
    load    {shapes} + the same                      → {}
    bye     {}                                       → {} and the process exits
Errors are answered as {error: "one line"}; the worker stays up. Everything it prints for people goes to
stderr.
"""
import json
import os
import signal
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def read_exact(stream, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def read_frame(stream):
    (n,) = struct.unpack("<I", read_exact(stream, 4))
    header = json.loads(read_exact(stream, n).decode())
    payload = read_exact(stream, header.get("bytes", 0)) if header.get("bytes", 0) else b""
    return header, payload


def write_frame(stream, header, payload=b""):
    header = dict(header, bytes=len(payload))
    raw = json.dumps(header).encode()
    stream.write(struct.pack("<I", len(raw)) + raw + payload)
    stream.flush()


class Worker:
    def __init__(self):
        self.torch = None
        self.net = None
        self.pending = None
        self.opt = None
        self.params = []

    def hello(self, h, _):
        import torch
        self.torch = torch
        from model import SliceUNet, linear_schedule
        threads = int(h.get("threads") or 0)
        if threads > 0:
            torch.set_num_threads(threads)
        want = h.get("device", "auto")
        if want == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("--device cuda: this torch sees no CUDA device; use --device cpu or auto")
        self.device = torch.device("cuda" if want in ("auto", "cuda") and torch.cuda.is_available() else "cpu")
        if h.get("deterministic", True) and self.device.type == "cuda":
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        # a checkpoint fetched with a remote card is read as tensors and plain values only (unpickling could
        # run code); a local one (the user's own files) may hold the other types training writes
        try:
            ck = torch.load(h["ckpt"], map_location="cpu", weights_only=True)
        except Exception:
            if not h.get("trusted"):
                raise RuntimeError("the remote checkpoint holds more than tensors and plain values; "
                                   "download it and pass a local --model card")
            ck = torch.load(h["ckpt"], map_location="cpu")
        if "ema" not in ck or "config" not in ck:
            raise RuntimeError(f"{h['ckpt']}: not a blendct training checkpoint (no ema weights)")
        cfg = ck["config"]
        self.net = SliceUNet(base=cfg["base"], mults=tuple(cfg["mults"]), slices=cfg["slices"], emb_dim=cfg["emb_dim"])
        self.net.load_state_dict({k: v.float() for k, v in ck["ema"].items()})
        self.net.eval().to(self.device)
        self.param = ck.get("settings", {}).get("param", "eps")
        abar = linear_schedule().to(self.device)
        self.sqrt_abar, self.sqrt_1m_abar = abar.sqrt(), (1 - abar).sqrt()
        self.amp = self._amp_choice(h.get("amp", "auto"))
        return {"torch": torch.__version__, "device": str(self.device), "amp": self.amp,
                "parameters": sum(p.numel() for p in self.net.parameters()), "param": self.param,
                "threads": torch.get_num_threads()}, b""

    def _amp_choice(self, amp):
        """bf16 autocast on a CPU with AMX (where it is several times faster) or on CUDA; fp32 elsewhere."""
        if amp == "off":
            return "off"
        if self.device.type == "cuda":
            return "bf16" if self.torch.cuda.is_bf16_supported() else "off"
        try:
            flags = Path("/proc/cpuinfo").read_text()
        except OSError:
            flags = ""
        return "bf16" if ("amx_bf16" in flags or amp == "on") else "off"

    def _autocast(self):
        import contextlib
        if self.amp != "bf16":
            return contextlib.nullcontext()
        return self.torch.autocast(self.device.type, dtype=self.torch.bfloat16)

    def _inputs(self, h, payload):
        torch = self.torch
        shape = h["shape"]
        x = torch.frombuffer(bytearray(payload), dtype=torch.float32).reshape(shape).to(self.device)
        t = torch.tensor(h["t"], dtype=torch.float32, device=self.device)
        k = torch.tensor(h["k"], dtype=torch.float32, device=self.device)
        return x, t, k

    def _eps(self, x, t, k):
        with self._autocast():
            out = self.net(x, t, k).float()
        if self.param == "eps":
            return out
        i = self.torch.clamp(self.torch.round(t), 0, len(self.sqrt_abar) - 1).long()
        return self.sqrt_1m_abar[i][:, None, None, None] * x + self.sqrt_abar[i][:, None, None, None] * out

    @staticmethod
    def _bytes(tensor):
        return tensor.detach().float().cpu().contiguous().numpy().astype("<f4").tobytes()

    def eps(self, h, payload):
        x, t, k = self._inputs(h, payload)
        with self.torch.no_grad():
            return {}, self._bytes(self._eps(x, t, k))

    def adapt(self, h, _):
        from adapt import add_adapters, adapter_parameters, strip_adapters
        strip_adapters(self.net)
        n = add_adapters(self.net, h.get("kind", "lora"), int(h.get("rank", 4)), int(h.get("seed", 0)))
        self.net.to(self.device)
        self.params = adapter_parameters(self.net)
        self.opt = self.torch.optim.Adam(self.params, lr=float(h["lr"]))
        self.pending = None
        return {"parameters": n}, b""

    def plain(self, h, _):
        from adapt import strip_adapters
        strip_adapters(self.net)
        self.params, self.opt, self.pending = [], None, None
        return {}, b""

    def forward(self, h, payload):
        if self.opt is None:
            raise RuntimeError("forward before adapt")
        x, t, k = self._inputs(h, payload)
        eps = self._eps(x, t, k)
        self.pending = eps
        return {}, self._bytes(eps)

    def backward(self, h, payload):
        if self.pending is None:
            raise RuntimeError("backward without a forward")
        g = self.torch.frombuffer(bytearray(payload), dtype=self.torch.float32).reshape(self.pending.shape)
        self.opt.zero_grad(set_to_none=False)
        self.pending.backward(g.to(self.device))
        self.opt.step()
        self.pending = None
        return {}, b""

    def save(self, h, _):
        """Adapters, then Adam's two moments per adapter tensor, then the step count: a run resumed from
        them continues exactly as it would have."""
        if self.opt is None:
            return {"shapes": []}, b""
        torch = self.torch
        tensors, shapes = [], []
        for p in self.params:
            st = self.opt.state.get(p, {})
            m = st.get("exp_avg", torch.zeros_like(p))
            v = st.get("exp_avg_sq", torch.zeros_like(p))
            step = float(st["step"]) if "step" in st else 0.0
            tensors += [p, m, v, torch.tensor([step])]
            shapes += [list(p.shape)]
        return {"shapes": shapes}, b"".join(self._bytes(t.reshape(-1)) for t in tensors)

    def load(self, h, payload):
        torch = self.torch
        flat = torch.frombuffer(bytearray(payload), dtype=torch.float32)
        if len(h["shapes"]) != len(self.params):
            raise RuntimeError(f"adapter state holds {len(h['shapes'])} tensors, this network's adapters {len(self.params)}")
        at = 0
        with torch.no_grad():
            for p, shape in zip(self.params, h["shapes"]):
                if list(p.shape) != list(shape):
                    raise RuntimeError("adapter state does not match this network's adapters")
                n = p.numel()
                p.copy_(flat[at:at + n].reshape(p.shape)); at += n
                m = flat[at:at + n].reshape(p.shape).clone().to(self.device); at += n
                v = flat[at:at + n].reshape(p.shape).clone().to(self.device); at += n
                step = float(flat[at]); at += 1
                if step > 0:
                    self.opt.state[p] = {"step": torch.tensor(step), "exp_avg": m, "exp_avg_sq": v}
        if at != flat.numel():
            raise RuntimeError("adapter state has the wrong length")
        return {}, b""


def main():
    # Ctrl-C reaches the whole process group: the Deno side finishes its step and ends the worker itself
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin = sys.stdin.buffer
    # nothing but frames may reach the channel: fd 1 is duplicated for the frames and then pointed at stderr,
    # so whatever a library prints (from Python or from C) goes to stderr
    stdout = os.fdopen(os.dup(1), "wb", buffering=1 << 20)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    w = Worker()
    # fault injection for tests: exit abruptly after this many requests, as a crashed worker would
    exit_after = int(os.environ.get("BLENDCT_WORKER_EXIT_AFTER", "0") or 0)
    served = 0
    while True:
        served += 1
        if exit_after and served > exit_after:
            os._exit(3)
        try:
            h, payload = read_frame(stdin)
        except EOFError:
            return
        op = h.get("op")
        if op == "bye":
            write_frame(stdout, {})
            return
        try:
            fn = getattr(w, op) if op in ("hello", "eps", "adapt", "plain", "forward", "backward", "save", "load") else None
            if fn is None:
                raise RuntimeError(f"unknown request {op!r}")
            header, out = fn(h, payload)
            write_frame(stdout, header, out)
        except Exception as e:  # one line back to the Deno side, which turns it into its error
            msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            write_frame(stdout, {"error": f"{type(e).__name__}: {msg}"})


if __name__ == "__main__":
    main()
