#!/usr/bin/env python3
"""Reference values from PyTorch for the SNNLayers / SNNOptimizers tests.

Writes reference.json beside this file. Inputs are generated here from a fixed numpy seed and stored in
the JSON too, so the Swift tests feed the very same numbers to our implementation.

Run: python3 make_reference.py   (needs torch and numpy; see ../../../../scripts/peers-venv.sh)
"""
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

rng = np.random.default_rng(1234)


def arr(shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def t(a, grad=False):
    return torch.tensor(a, requires_grad=grad)


def flat(x):
    return [float(v) for v in np.asarray(x.detach() if torch.is_tensor(x) else x, dtype=np.float32).reshape(-1)]


out = {"torch_version": torch.__version__}

# ---- optimizers: 5 steps on a [3, 4] and a [4] parameter with fixed gradient sequences ----
p0 = arr([3, 4]); b0 = arr([4])
grads = [(arr([3, 4]), arr([4])) for _ in range(5)]
out["optim_inputs"] = {"weight": flat(p0), "bias": flat(b0),
                       "grads": [{"weight": flat(g), "bias": flat(h)} for g, h in grads]}
configs = {
    "sgd": lambda ps: torch.optim.SGD(ps, lr=0.1),
    "sgd_momentum_wd": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.01, dampening=0.1),
    "sgd_nesterov": lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
    "adam": lambda ps: torch.optim.Adam(ps, lr=0.01, weight_decay=0.1),
    "adamw": lambda ps: torch.optim.AdamW(ps, lr=0.01, weight_decay=0.05),
    # AdamW with no decay on 1-D parameters: two parameter groups.
    "adamw_exclude_1d": None,
}
for name, make in configs.items():
    w = t(p0.copy(), True); b = t(b0.copy(), True)
    if make is None:
        opt = torch.optim.AdamW([{"params": [w], "weight_decay": 0.05}, {"params": [b], "weight_decay": 0.0}], lr=0.01)
    else:
        opt = make([w, b])
    for g, h in grads:
        w.grad = t(g); b.grad = t(h)
        opt.step()
    out["optim_" + name] = {"weight": flat(w), "bias": flat(b)}

# ---- losses ----
logits = arr([5, 7]); labels = [int(v) for v in rng.integers(0, 7, size=5)]
out["loss_inputs"] = {"logits": flat(logits), "labels": labels}
for smoothing in (0.0, 0.1):
    x = t(logits, True)
    loss = F.cross_entropy(x, torch.tensor(labels), label_smoothing=smoothing)
    loss.backward()
    out[f"cross_entropy_{smoothing}"] = {"loss": float(loss), "grad": flat(x.grad)}
targets = torch.softmax(torch.tensor(arr([5, 7])), dim=1)
x = t(logits, True)
loss = F.kl_div(F.log_softmax(x, dim=1), targets, reduction="batchmean")
loss.backward()
out["kl_div"] = {"targets": flat(targets), "loss": float(loss), "grad": flat(x.grad)}

# ---- normalisation ----
x_np = arr([2, 3, 4, 5], 2.0) + 1.0
bn = torch.nn.BatchNorm2d(3)
with torch.no_grad():
    bn.weight.copy_(torch.tensor([1.5, -0.5, 2.0])); bn.bias.copy_(torch.tensor([0.1, 0.2, -0.3]))
x = t(x_np, True)
y = bn(x)
g_np = arr([2, 3, 4, 5])
y.backward(t(g_np))
bn.eval()
y_eval = bn(t(x_np))
out["batchnorm2d"] = {"input": flat(x_np), "upstream": flat(g_np), "output": flat(y), "input_grad": flat(x.grad),
                      "weight_grad": flat(bn.weight.grad), "bias_grad": flat(bn.bias.grad),
                      "running_mean": flat(bn.running_mean), "running_var": flat(bn.running_var),
                      "eval_output": flat(y_eval)}
ln = torch.nn.LayerNorm([4, 5])
with torch.no_grad():
    ln.weight.copy_(torch.tensor(arr([4, 5]))); ln.bias.copy_(torch.tensor(arr([4, 5])))
x = t(x_np, True)
y = ln(x)
y.backward(t(g_np))
out["layernorm"] = {"weight": flat(ln.weight), "bias": flat(ln.bias), "output": flat(y), "input_grad": flat(x.grad)}

# ---- resizing and pooling of an odd-sized input ----
img = arr([2, 3, 7, 5])
out["resize_input"] = flat(img)
out["bilinear_11x4"] = flat(F.interpolate(t(img), size=(11, 4), mode="bilinear", align_corners=False))
out["bilinear_3x3"] = flat(F.interpolate(t(img), size=(3, 3), mode="bilinear", align_corners=False))
out["nearest_11x4"] = flat(F.interpolate(t(img), size=(11, 4), mode="nearest"))
out["nearest_3x2"] = flat(F.interpolate(t(img), size=(3, 2), mode="nearest"))
out["avgpool_3_2_1"] = flat(F.avg_pool2d(t(img), 3, stride=2, padding=1))
out["maxpool_3_2_1"] = flat(F.max_pool2d(t(img), 3, stride=2, padding=1))
out["adaptive_4x3"] = flat(F.adaptive_avg_pool2d(t(img), (4, 3)))

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference.json"), "w") as f:
    json.dump(out, f)
print("wrote reference.json")
