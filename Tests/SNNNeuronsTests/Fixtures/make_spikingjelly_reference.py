#!/usr/bin/env python3
"""Reference spikes, membrane potentials and gradients from SpikingJelly's multi-step neurons.

Writes spikingjelly_reference.json beside this file. For each configuration: the input x [T, N, F],
upstream gradients r (for the spikes) and q (for the post-reset membrane v_seq), and SpikingJelly's
outputs: spikes, v_seq, d(sum(S*r) + sum(V*q))/dx and, for PLIF, the gradient of its parameter w.

Run with the peer environment (PyTorch CPU + SpikingJelly 2.0.0):
    bash ../../../../shared/bench/peers/setup-venv.sh /tmp/peers   # or the repo's scripts
    /tmp/peers/bin/python make_spikingjelly_reference.py
"""
import json
import math
import os

import numpy as np
import torch
from spikingjelly.activation_based import neuron, surrogate

T, N, F = 6, 4, 5
rng = np.random.default_rng(2024)


class SuperSpikeMethods(surrogate.SurrogateFunctionBase):
    """SuperSpike as METHODS.md defines it: g = 1 / (alpha*|x| + 1)^2 (SpikingJelly's differs)."""

    def __init__(self, alpha=10.0):
        super().__init__(spiking=True, alpha=alpha)

    @staticmethod
    def spiking_function(x, alpha):
        return _SuperSpike.apply(x, alpha)

    @staticmethod
    def primitive_function(x, alpha):
        return 0.5 + 0.5 * alpha * x / (1 + alpha * x.abs())


class _SuperSpike(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (ctx.alpha * x.abs() + 1) ** 2, None


SURROGATES = {
    "arctangent": lambda a: surrogate.ATan(alpha=a),
    "sigmoid": lambda a: surrogate.Sigmoid(alpha=a),
    "qgate": lambda a: surrogate.PiecewiseQuadratic(alpha=a),
    "rectangular": lambda a: surrogate.Rect(alpha=a),
    "piecewise-linear": lambda a: surrogate.PiecewiseLeakyReLU(w=1.0 / a, c=0.01),
    "erf": lambda a: surrogate.Erf(alpha=a),
    "superspike": lambda a: SuperSpikeMethods(alpha=a),
}

# name: (kind, tau, threshold, v_reset (None = soft), detach_reset, decay_input, surrogate, alpha)
CONFIGS = {
    "lif_hard_atan": ("lif", 2.0, 1.0, 0.0, False, True, "arctangent", 2.0),
    "lif_hard_detached_sigmoid": ("lif", 2.0, 1.0, 0.0, True, True, "sigmoid", 4.0),
    "lif_soft_qgate_braincog": ("lif", 2.0, 0.5, None, False, True, "qgate", 2.0),
    "lif_undecayed_erf": ("lif", 4.0, 1.0, 0.0, False, False, "erf", 2.0),
    "lif_hard_negative_reset_rect": ("lif", 2.0, 1.0, -0.25, False, True, "rectangular", 1.0),
    "lif_soft_detached_superspike": ("lif", 2.0, 1.0, None, True, True, "superspike", 10.0),
    "if_hard_pwl": ("if", None, 1.0, 0.0, False, True, "piecewise-linear", 1.0),
    "if_soft_detached_atan": ("if", None, 1.0, None, True, True, "arctangent", 2.0),
    "plif_hard_atan": ("plif", 2.0, 1.0, 0.0, False, True, "arctangent", 2.0),
    "plif_soft_undecayed_sigmoid": ("plif", 3.0, 1.0, None, True, False, "sigmoid", 4.0),
}


def flat(t):
    return [float(v) for v in t.detach().numpy().reshape(-1)]


out = {"shape": [T, N, F], "spikingjelly_version": "2.0.0", "torch_version": torch.__version__, "cases": {}}
for name, (kind, tau, vth, vreset, detach, decay, sname, alpha) in CONFIGS.items():
    x_np = (rng.standard_normal((T, N, F)) * 1.2 + 0.6).astype(np.float32)
    r_np = rng.standard_normal((T, N, F)).astype(np.float32)
    q_np = rng.standard_normal((T, N, F)).astype(np.float32)
    sg = SURROGATES[sname](alpha)
    common = dict(v_threshold=vth, v_reset=vreset, detach_reset=detach, surrogate_function=sg,
                  step_mode="m", store_v_seq=True)
    if kind == "lif":
        node = neuron.LIFNode(tau=tau, decay_input=decay, **common)
    elif kind == "plif":
        node = neuron.ParametricLIFNode(init_tau=tau, decay_input=decay, **common)
    else:
        node = neuron.IFNode(**common)
    x = torch.tensor(x_np, requires_grad=True)
    s = node(x)
    v = node.v_seq
    loss = (s * torch.tensor(r_np)).sum() + (v * torch.tensor(q_np)).sum()
    loss.backward()
    case = {"kind": kind, "tau": tau, "threshold": vth, "v_reset": vreset, "detach_reset": detach,
            "decay_input": decay, "surrogate": sname, "alpha": alpha,
            "x": flat(x), "r": flat(torch.tensor(r_np)), "q": flat(torch.tensor(q_np)),
            "spikes": flat(s), "v_seq": flat(v), "x_grad": flat(x.grad)}
    if kind == "plif":
        case["w"] = float(node.w.detach())
        case["w_grad"] = float(node.w.grad)
    out["cases"][name] = case
    print(f"{name}: firing rate {float(s.mean()):.3f}")

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "spikingjelly_reference.json"), "w") as f:
    json.dump(out, f)
