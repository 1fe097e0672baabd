"""SpikingJelly spiking-CNN fixture of the swift-snn tests: the PyTorch twin of `--model spiking-cnn
--widths 8,16` on 1x8x8 images (10 classes), trained for a few steps on random data, its state_dict as
safetensors (written here, no safetensors package needed), a fixed input batch and SpikingJelly's
per-step logits on it in eval mode.

    python make_fixture.py     needs torch and spikingjelly 2.0 (the peers venv of /work/shared/bench/peers)

The twin's layer order is that of snn's Sequential, so its state_dict keys are snn's parameter paths
with PyTorch's names for the batch norm statistics (running_mean, running_var, num_batches_tracked).
"""
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn
from spikingjelly.activation_based import functional, layer, neuron, surrogate

HERE = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(18)
T, N, CLASSES = 4, 6, 10


def lif():
    # snn's default neuron: LIF, tau 2, decayed input, threshold 1, hard reset to 0, arctangent(2).
    return neuron.LIFNode(tau=2.0, decay_input=True, v_threshold=1.0, v_reset=0.0,
                          surrogate_function=surrogate.ATan(alpha=2.0), detach_reset=True, step_mode="m")


net = nn.Sequential(
    layer.Conv2d(1, 8, 3, padding=1, bias=False, step_mode="m"), layer.BatchNorm2d(8, step_mode="m"), lif(),
    layer.MaxPool2d(2, step_mode="m"),
    layer.Conv2d(8, 16, 3, padding=1, bias=False, step_mode="m"), layer.BatchNorm2d(16, step_mode="m"), lif(),
    layer.MaxPool2d(2, step_mode="m"),
    layer.Flatten(step_mode="m"), layer.Linear(16 * 2 * 2, CLASSES, step_mode="m"),
)

# A few training steps so that every parameter and batch norm statistic is SpikingJelly's own.
optimizer = torch.optim.Adam(net.parameters(), lr=0.002)
for step in range(20):
    x = torch.rand(T, 16, 1, 8, 8) * 1.5
    y = torch.randint(0, CLASSES, (16,))
    loss = nn.functional.cross_entropy(net(x).mean(0), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    functional.reset_net(net)

# Twenty steps on random labels leave the neurons nearly silent; larger batch norm scales and shifts
# make both layers fire (checked below), so that the logits depend on every layer.
with torch.no_grad():
    for m in net:
        if isinstance(m, nn.BatchNorm2d):
            m.weight.uniform_(1.5, 2.5)
            m.bias.uniform_(0.2, 0.6)
net.eval()
x = torch.rand(T, N, 1, 8, 8) * 1.5
# The spikes of both neuron layers, for the check below: a silent layer would leave the logits blind
# to everything before it.
rates = []
hooks = [m.register_forward_hook(lambda m, i, o: rates.append(o.mean().item()))
         for m in net if isinstance(m, neuron.LIFNode)]
with torch.no_grad():
    logits = net(x)
functional.reset_net(net)
for h in hooks:
    h.remove()
assert all(0.05 < r < 0.95 for r in rates), f"firing rates {rates}: the fixture would test little"


def save_safetensors(tensors, path):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        array = t.detach().cpu().numpy()
        dtype = {np.float32: "F32", np.int64: "I64"}[array.dtype.type]
        data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))


state = net.state_dict()
save_safetensors(state, os.path.join(HERE, "spikingjelly_cnn.safetensors"))
with open(os.path.join(HERE, "spikingjelly_cnn_logits.json"), "w") as f:
    json.dump({"input_shape": list(x.shape), "input": x.ravel().tolist(), "logits_shape": list(logits.shape),
               "logits": logits.ravel().tolist(), "keys": sorted(state.keys())}, f)
print("wrote spikingjelly_cnn.safetensors and spikingjelly_cnn_logits.json; firing rates", rates)
