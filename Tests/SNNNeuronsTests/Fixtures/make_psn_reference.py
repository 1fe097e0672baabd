#!/usr/bin/env python3
"""Reference outputs and gradients of SpikingJelly's PSN, MaskedPSN and SlidingPSN.

Writes psn_reference.json beside this file: for each layer, its parameters (set here from a fixed
numpy seed), the input x [T, N, F], an upstream gradient r, and SpikingJelly's spikes and the
gradients of sum(S * r) with respect to x and every parameter.

Run with the peer environment (PyTorch CPU + SpikingJelly 2.0.0):
    /tmp/peers/bin/python make_psn_reference.py
"""
import json
import os

import numpy as np
import torch
from spikingjelly.activation_based import neuron, surrogate

T, N, F = 6, 4, 5
rng = np.random.default_rng(7)


def flat(t):
    return [float(v) for v in t.detach().numpy().reshape(-1)]


def run(layer, params):
    x = torch.tensor((rng.standard_normal((T, N, F)) * 1.5).astype(np.float32), requires_grad=True)
    r = torch.tensor(rng.standard_normal((T, N, F)).astype(np.float32))
    s = layer(x)
    (s * r).sum().backward()
    case = {"x": flat(x), "r": flat(r), "spikes": flat(s), "x_grad": flat(x.grad)}
    for name, p in params.items():
        case[name] = flat(p)
        case[name + "_grad"] = flat(p.grad)
    return case


out = {"shape": [T, N, F], "spikingjelly_version": "2.0.0", "torch_version": torch.__version__}

psn = neuron.PSN(T=T, surrogate_function=surrogate.ATan(alpha=2.0))
with torch.no_grad():
    psn.weight.copy_(torch.tensor(rng.uniform(-0.6, 0.6, (T, T)).astype(np.float32)))
    psn.bias.copy_(torch.tensor(rng.uniform(-1.2, -0.2, (T, 1)).astype(np.float32)))
out["psn"] = run(psn, {"weight": psn.weight, "bias": psn.bias})

masked = neuron.MaskedPSN(k=3, T=T, lambda_init=0.4, surrogate_function=surrogate.ATan(alpha=2.0), step_mode="m")
with torch.no_grad():
    masked.weight.copy_(torch.tensor(rng.uniform(-0.6, 0.6, (T, T)).astype(np.float32)))
    masked.bias.copy_(torch.tensor(rng.uniform(-1.2, -0.2, (T, 1)).astype(np.float32)))
out["masked_psn"] = run(masked, {"weight": masked.weight, "bias": masked.bias})
out["masked_psn"]["order"] = 3
out["masked_psn"]["lambda"] = 0.4

sliding = neuron.SlidingPSN(k=3, exp_init=True, surrogate_function=surrogate.ATan(alpha=2.0), step_mode="m")
out["sliding_psn_initial_weight"] = flat(sliding.weight)
with torch.no_grad():
    sliding.weight.copy_(torch.tensor(rng.uniform(-0.5, 1.0, (3,)).astype(np.float32)))
    sliding.bias.copy_(torch.tensor(-0.7))
out["sliding_psn"] = run(sliding, {"weight": sliding.weight, "bias": sliding.bias})
out["sliding_psn"]["order"] = 3

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "psn_reference.json"), "w") as f:
    json.dump(out, f)
print("wrote psn_reference.json")
