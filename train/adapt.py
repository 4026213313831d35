"""Test-time adaptation of a trained prior (D3IP, Chung & Ye, ECCV 2024): adapters that start as the
identity, so the adapted network is exactly the trained one until a gradient step moves them.

Two kinds of adapters, chosen by `kind`:
- `lora`: a low-rank update W + B·A on every 3×3 and 1×1 convolution of the UNet (A: rank filters of the
  layer's own kernel size, B: a 1×1 convolution from rank to the output channels, initialised at zero);
- `norm`: a per-channel scale and shift after every GroupNorm (initialised at 1 and 0), the adapter of
  "norm/bias only" fine-tuning.
The trained weights stay frozen; only the adapters' parameters are returned by `adapter_parameters`.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

KINDS = ("lora", "norm")


class LoRAConv(nn.Module):
    """conv(x) + up(down(x)): `down` has the layer's kernel, stride and padding with `rank` outputs, `up` is
    a 1×1 convolution to the layer's outputs whose weights start at zero."""

    def __init__(self, conv, rank, generator):
        super().__init__()
        self.conv = conv
        self.down = nn.Conv2d(conv.in_channels, rank, conv.kernel_size, conv.stride, conv.padding, bias=False)
        self.up = nn.Conv2d(rank, conv.out_channels, 1, bias=False)
        fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
        with torch.no_grad():
            self.down.weight.copy_(torch.randn(self.down.weight.shape, generator=generator) / fan_in**0.5)
            self.up.weight.zero_()

    def forward(self, x):
        return self.conv(x) + self.up(self.down(x))


class NormAffine(nn.Module):
    """A trainable per-channel scale and shift after a (frozen) normalisation layer."""

    def __init__(self, norm):
        super().__init__()
        self.norm = norm
        self.scale = nn.Parameter(torch.ones(norm.num_channels))
        self.shift = nn.Parameter(torch.zeros(norm.num_channels))

    def forward(self, x):
        h = self.norm(x)
        return h * self.scale.to(h.dtype)[None, :, None, None] + self.shift.to(h.dtype)[None, :, None, None]


def add_adapters(net, kind="lora", rank=4, seed=0):
    """Freezes `net` and wraps its layers with adapters in place; returns the number of adapter parameters.
    The wrapped network computes exactly what `net` did (the adapters' outputs start at zero / identity)."""
    if kind not in KINDS:
        raise ValueError(f"adapter kind {kind!r}: one of {', '.join(KINDS)}")
    for p in net.parameters():
        p.requires_grad_(False)
    gen = torch.Generator().manual_seed(seed)

    def wrap(module):
        for name, child in list(module.named_children()):
            if kind == "lora" and isinstance(child, nn.Conv2d) and not isinstance(child, LoRAConv):
                setattr(module, name, LoRAConv(child, rank, gen))
            elif kind == "norm" and isinstance(child, nn.GroupNorm):
                setattr(module, name, NormAffine(child))
            else:
                wrap(child)

    wrap(net)
    return sum(p.numel() for p in adapter_parameters(net))


def strip_adapters(net):
    """Unwraps every adapter, leaving the trained network as it was."""
    for module in list(net.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, LoRAConv):
                setattr(module, name, child.conv)
            elif isinstance(child, NormAffine):
                setattr(module, name, child.norm)


def adapter_parameters(net):
    """The adapters' parameters, in a fixed order (module order), the only ones an optimiser should see."""
    out = []
    for m in net.modules():
        if isinstance(m, LoRAConv):
            out += [m.down.weight, m.up.weight]
        elif isinstance(m, NormAffine):
            out += [m.scale, m.shift]
    for p in out:
        p.requires_grad_(True)
    return out


def adapter_state(net):
    """The adapters' tensors as a list (for a resumable run's state)."""
    return [p.detach().clone() for p in adapter_parameters(net)]


def load_adapter_state(net, tensors):
    params = adapter_parameters(net)
    if len(params) != len(tensors) or any(p.shape != t.shape for p, t in zip(params, tensors)):
        raise ValueError("adapter state does not match this network's adapters")
    with torch.no_grad():
        for p, t in zip(params, tensors):
            p.copy_(t)


def _selftest():
    """The adapted network equals the original before any step (used by tests/test_adapt.py)."""
    from model import SliceUNet
    torch.manual_seed(0)
    net = SliceUNet(base=8, mults=(1, 2), emb_dim=32).eval()
    x, t, k = torch.randn(2, 3, 16, 16), torch.tensor([10.0, 500.0]), torch.tensor([1.0, 3.0])
    with torch.no_grad():
        ref = net(x, t, k)
    for kind in KINDS:
        import copy
        m = copy.deepcopy(net)
        n = add_adapters(m, kind)
        with torch.no_grad():
            assert torch.equal(m(x, t, k), ref) or F.mse_loss(m(x, t, k), ref) < 1e-14, kind
        assert n > 0
