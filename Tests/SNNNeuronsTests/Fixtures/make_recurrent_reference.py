#!/usr/bin/env python3
"""Reference spikes and gradients of a recurrent spiking layer from SpikingJelly's LinearRecurrentContainer.

Writes recurrent_reference.json beside this file. The container's linear connection is fixed to
rc.weight = [I, W], no bias, so its neuron receives x[t] + W·s[t−1], which is what swift-snn's
RecurrentSpiking computes. For each configuration: the input x [T, N, F], the feedback matrix W [F, F],
an upstream gradient r for the spikes, and SpikingJelly's spikes, d(sum(S*r))/dx, d(sum(S*r))/dW and,
for PLIF, the gradient of its parameter w.

Run with the peer environment (PyTorch CPU + SpikingJelly 2.0.0):
    bash ../../../../shared/bench/peers/setup-venv.sh /tmp/peers
    /tmp/peers/bin/python make_recurrent_reference.py
"""
import json
import os

import numpy as np
import torch
from spikingjelly.activation_based import functional, layer, neuron, surrogate

T, N, F = 7, 3, 5
rng = np.random.default_rng(7)

# name: (kind, tau, threshold, v_reset (None = soft), detach_reset, decay_input, surrogate, alpha)
CONFIGS = {
    "lif_hard_detached_atan": ("lif", 2.0, 1.0, 0.0, True, True, "arctangent", 2.0),
    "lif_hard_atan": ("lif", 2.0, 1.0, 0.0, False, True, "arctangent", 2.0),
    "lif_soft_undecayed_sigmoid": ("lif", 4.0, 0.5, None, False, False, "sigmoid", 4.0),
    "if_soft_detached_atan": ("if", None, 1.0, None, True, True, "arctangent", 2.0),
    "plif_hard_detached_sigmoid": ("plif", 3.0, 1.0, 0.0, True, True, "sigmoid", 4.0),
}
SURROGATES = {"arctangent": surrogate.ATan, "sigmoid": surrogate.Sigmoid}


def flat(t):
    return [float(v) for v in t.detach().numpy().reshape(-1)]


out = {"shape": [T, N, F], "spikingjelly_version": "2.0.0", "torch_version": torch.__version__, "cases": {}}
for name, (kind, tau, vth, vreset, detach, decay, sname, alpha) in CONFIGS.items():
    x_np = (rng.standard_normal((T, N, F)) * 1.2 + 0.6).astype(np.float32)
    w_np = (rng.standard_normal((F, F)) * 0.8).astype(np.float32)
    r_np = rng.standard_normal((T, N, F)).astype(np.float32)
    common = dict(v_threshold=vth, v_reset=vreset, detach_reset=detach,
                  surrogate_function=SURROGATES[sname](alpha=alpha), step_mode="s")
    if kind == "lif":
        node = neuron.LIFNode(tau=tau, decay_input=decay, **common)
    elif kind == "plif":
        node = neuron.ParametricLIFNode(init_tau=tau, decay_input=decay, **common)
    else:
        node = neuron.IFNode(**common)
    net = layer.LinearRecurrentContainer(node, in_features=F, out_features=F, bias=False)
    with torch.no_grad():
        net.rc.weight.copy_(torch.cat([torch.eye(F), torch.tensor(w_np)], dim=1))
    x = torch.tensor(x_np, requires_grad=True)
    functional.reset_net(net)
    s = torch.stack([net(x[t]) for t in range(T)])
    loss = (s * torch.tensor(r_np)).sum()
    loss.backward()
    case = {"kind": kind, "tau": tau, "threshold": vth, "v_reset": vreset, "detach_reset": detach,
            "decay_input": decay, "surrogate": sname, "alpha": alpha,
            "x": flat(x), "w": w_np.reshape(-1).tolist(), "r": flat(torch.tensor(r_np)),
            "spikes": flat(s), "x_grad": flat(x.grad), "w_grad": flat(net.rc.weight.grad[:, F:])}
    if kind == "plif":
        case["plif_w"] = float(node.w.detach())
        case["plif_w_grad"] = float(node.w.grad)
    out["cases"][name] = case
    print(f"{name}: firing rate {float(s.detach().mean()):.3f}")

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "recurrent_reference.json"), "w") as f:
    json.dump(out, f)
