#!/usr/bin/env python3
"""Reference outputs and gradients of Spikformer's spiking self-attention (SSA), with and without TIM.

Writes ssa_reference.json beside this file. The attention is written the way the original Spikformer
code writes it (Q, K, V = LIF(BN(Conv1d 1x1)), heads split by transpose/reshape/permute as
[T, B, H, N, D], attn = Q @ K^T, (attn @ V) * 0.25, attn LIF, then Conv1d 1x1 -> BN -> LIF), with
SpikingJelly 2.0.0 LIF neurons (tau 2, hard reset to 0, detached reset, sigmoid surrogate alpha 4,
threshold 0.5, as METHODS.md section 5 decides). TIM follows METHODS.md: Q~[0] = Q[0],
Q~[t] = LIF_out(alpha * LIF_in(Conv1d_5(Q~[t-1])) + (1 - alpha) * Q[t]) with single-step LIFs that keep
their state across t, the convolution along the tokens (D channels) or, as released, along the
head's features (tokens as channels). BatchNorm is in training mode (batch statistics over T*B*N).

The weights (shared by the cases) and, for each case: the input x [T, B, C, N], an upstream gradient r, the output
spikes, and d(sum(y*r))/dx, d/d(q_conv.weight) and, with TIM, d/d(tim_conv.weight).

Run with the peer environment (PyTorch CPU + SpikingJelly 2.0.0):
    bash ../../../../shared/bench/peers/setup-venv.sh /tmp/peers
    /tmp/peers/bin/python make_ssa_reference.py
"""
import json
import os

import numpy as np
import torch
import torch.nn as nn
from spikingjelly.activation_based import functional, neuron, surrogate

T, B, C, N, H = 4, 1, 32, 16, 2
D = C // H
rng = np.random.default_rng(14)
torch.manual_seed(14)


def lif(threshold, step_mode="m"):
    return neuron.LIFNode(tau=2.0, v_threshold=threshold, v_reset=0.0, detach_reset=True,
                          surrogate_function=surrogate.Sigmoid(alpha=4.0), step_mode=step_mode)


class SSA(nn.Module):
    def __init__(self, tim_axis=None, alpha=0.5, thresholds=(0.3, 0.25)):
        super().__init__()
        self.q_conv, self.k_conv, self.v_conv = (nn.Conv1d(C, C, 1, bias=False) for _ in range(3))
        self.q_bn, self.k_bn, self.v_bn = (nn.BatchNorm1d(C) for _ in range(3))
        self.q_lif, self.k_lif, self.v_lif = lif(0.5), lif(0.5), lif(0.5)
        self.attn_lif = lif(0.5)
        self.proj_conv = nn.Conv1d(C, C, 1)
        self.proj_bn = nn.BatchNorm1d(C)
        self.proj_lif = lif(0.5)
        self.tim_axis, self.alpha = tim_axis, alpha
        if tim_axis is not None:
            self.tim_conv = nn.Conv1d(D, D, 5, padding=2)
            self.tim_in, self.tim_out = lif(thresholds[0], "s"), lif(thresholds[1], "s")

    def tim(self, q):  # q: [T, B, H, N, D]
        out = [q[0]]
        for t in range(1, T):
            prev = out[-1]
            if self.tim_axis == "tokens":
                u = self.tim_conv(prev.transpose(-1, -2).reshape(B * H, D, N)).reshape(B, H, D, N).transpose(-1, -2)
            else:
                u = self.tim_conv(prev.reshape(B * H, N, D)).reshape(B, H, N, D)
            out.append(self.tim_out(self.alpha * self.tim_in(u) + (1 - self.alpha) * q[t]))
        return torch.stack(out)

    def forward(self, x):  # x: [T, B, C, N]
        xf = x.flatten(0, 1)

        def branch(conv, bn, node):
            y = node(bn(conv(xf)).reshape(T, B, C, N))
            return y.transpose(-1, -2).reshape(T, B, N, H, D).permute(0, 1, 3, 2, 4)

        q = branch(self.q_conv, self.q_bn, self.q_lif)
        k = branch(self.k_conv, self.k_bn, self.k_lif)
        v = branch(self.v_conv, self.v_bn, self.v_lif)
        if self.tim_axis is not None:
            q = self.tim(q)
        attn = q @ k.transpose(-2, -1)
        y = (attn @ v) * 0.25
        y = y.transpose(2, 3).reshape(T, B, N, C)
        y = self.attn_lif(y.transpose(-1, -2))  # [T, B, C, N]
        y = self.proj_bn(self.proj_conv(y.flatten(0, 1))).reshape(T, B, C, N)
        return self.proj_lif(y)


def flat(t):
    # Nine significant digits hold a float32 exactly.
    return [float(f"{v:.9g}") for v in t.detach().numpy().reshape(-1)]


def randn(*shape, scale=1.0, shift=0.0):
    return torch.tensor((rng.standard_normal(shape) * scale + shift).astype(np.float32))


# One set of weights for every case: Q, K, V and the projection (conv, BN scale and shift), TIM's conv.
W = {}
for part in ["q", "k", "v", "proj"]:
    W[part + "_weight"] = randn(C, C, 1, scale=0.4)
    W[part + "_bn_weight"], W[part + "_bn_bias"] = randn(C, scale=0.3, shift=1.0), randn(C, scale=0.3)
W["proj_bias"] = randn(C, scale=0.2)
W["tim_weight"], W["tim_bias"] = randn(D, D, 5, scale=0.3), randn(D, scale=0.1)

out = {"shape": [T, B, C, N], "heads": H, "spikingjelly_version": "2.0.0", "torch_version": torch.__version__,
       "weights": {k: flat(v) for k, v in W.items()}, "cases": {}}
for name, axis in [("plain", None), ("tim_tokens", "tokens"), ("tim_features", "features")]:
    model = SSA(axis)
    with torch.no_grad():
        for part in ["q", "k", "v", "proj"]:
            getattr(model, part + "_conv").weight.copy_(W[part + "_weight"])
            getattr(model, part + "_bn").weight.copy_(W[part + "_bn_weight"])
            getattr(model, part + "_bn").bias.copy_(W[part + "_bn_bias"])
        model.proj_conv.bias.copy_(W["proj_bias"])
        if axis is not None:
            model.tim_conv.weight.copy_(W["tim_weight"])
            model.tim_conv.bias.copy_(W["tim_bias"])
    model.train()
    x = (torch.rand(T, B, C, N) < 0.3).float() * 2 - 0.2
    x.requires_grad_(True)
    r = randn(T, B, C, N)
    functional.reset_net(model)
    y = model(x)
    (y * r).sum().backward()
    case = {"x": flat(x), "r": flat(r), "y": flat(y), "x_grad": flat(x.grad),
            "q_weight_grad": flat(model.q_conv.weight.grad)}
    if axis is not None:
        case["axis"] = axis
        case["tim_weight_grad"] = flat(model.tim_conv.weight.grad)
    out["cases"][name] = case
    print(f"{name}: output firing rate {float(y.detach().mean()):.3f}")

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "ssa_reference.json"), "w") as f:
    json.dump(out, f)
