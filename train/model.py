"""The position-aware 3-slice noise predictor eps(x, t, k): an ADM-style UNet scaled down for CPU.

x: three slices stacked as channels, t: DDPM timestep, k: slice gap code (1 adjacent, 3 jump). The gap is
embedded like a class label and added to the timestep embedding, as METHOD.md says.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

MAX_GAP = 8


def timestep_embedding(t, dim):
    """Sinusoidal features of a float timestep, computed so the ONNX graph has no int casts."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=1)


class GroupNorm32(nn.GroupNorm):
    """GroupNorm that normalises in float32: under CPU bf16 autocast torch 1.13's group_norm gets bf16
    activations with float32 weights and refuses them; statistics in float32 are also the accurate choice."""

    def forward(self, x):
        if x.dtype == torch.float32:
            return super().forward(x)
        return super().forward(x.float()).to(x.dtype)


def norm(ch):
    return GroupNorm32(min(8, ch // 4), ch)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb_dim):
        super().__init__()
        self.n1 = norm(cin)
        self.c1 = nn.Conv2d(cin, cout, 3, padding=1)
        # scale-shift conditioning (ADM's use_scale_shift_norm)
        self.emb = nn.Linear(emb_dim, 2 * cout)
        self.n2 = norm(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.c1(F.silu(self.n1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.n2(h) * (1 + scale) + shift
        h = self.c2(F.silu(h))
        return self.skip(x) + h


class Attention(nn.Module):
    def __init__(self, ch, heads=4):
        super().__init__()
        self.heads = heads
        self.n = norm(ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.out = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        b, c, h, w = x.shape
        qkv = self.qkv(self.n(x)).reshape(b * self.heads, 3 * c // self.heads, h * w)
        q, k, v = qkv.chunk(3, dim=1)
        scale = 1.0 / math.sqrt(math.sqrt(c // self.heads))
        a = torch.softmax(torch.bmm((q * scale).transpose(1, 2), k * scale), dim=-1)
        o = torch.bmm(v, a.transpose(1, 2)).reshape(b, c, h, w)
        return x + self.out(o)


class SliceUNet(nn.Module):
    """UNet: one ResBlock per level down, two up, self-attention at the lowest resolution."""

    def __init__(self, base=32, mults=(1, 2, 3, 4), slices=3, emb_dim=128):
        super().__init__()
        self.config = dict(base=base, mults=list(mults), slices=slices, emb_dim=emb_dim)
        self.emb_dim = emb_dim
        self.t_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.gap_emb = nn.Embedding(MAX_GAP, emb_dim)
        chs = [base * m for m in mults]
        self.inc = nn.Conv2d(slices, chs[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.pool = nn.ModuleList()
        cin = chs[0]
        for i, c in enumerate(chs):
            self.down.append(ResBlock(cin, c, emb_dim))
            cin = c
            self.pool.append(nn.Conv2d(c, c, 3, stride=2, padding=1) if i < len(chs) - 1 else nn.Identity())
        self.mid1 = ResBlock(cin, cin, emb_dim)
        self.attn = Attention(cin)
        self.mid2 = ResBlock(cin, cin, emb_dim)
        self.up = nn.ModuleList()
        for i in reversed(range(len(chs))):
            c = chs[i]
            self.up.append(nn.ModuleList([ResBlock(cin + c, c, emb_dim), ResBlock(c, c, emb_dim)]))
            cin = c
        self.out_norm = norm(cin)
        self.outc = nn.Conv2d(cin, slices, 3, padding=1)
        nn.init.zeros_(self.outc.weight)
        nn.init.zeros_(self.outc.bias)

    def forward(self, x, t, k):
        gap = torch.clamp(torch.round(k), 0, MAX_GAP - 1).long()
        emb = self.t_mlp(timestep_embedding(t, self.emb_dim)) + self.gap_emb(gap)
        h = self.inc(x)
        skips = []
        for block, pool in zip(self.down, self.pool):
            h = block(h, emb)
            skips.append(h)
            h = pool(h)
        h = self.mid2(self.attn(self.mid1(h, emb)), emb)
        for (b1, b2), skip in zip(self.up, reversed(skips)):
            if h.shape[-1] != skip.shape[-1] or h.shape[-2] != skip.shape[-2]:
                h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = b2(b1(torch.cat([h, skip], dim=1), emb), emb)
        return self.outc(F.silu(self.out_norm(h)))


def linear_schedule(T=1000, beta_start=1e-4, beta_end=0.02):
    betas = torch.linspace(beta_start, beta_end, T, dtype=torch.float64)
    return torch.cumprod(1 - betas, dim=0).float()
