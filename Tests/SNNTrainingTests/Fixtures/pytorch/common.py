"""What the fixture scripts beside this file share: larger batch norm scales so that every neuron
layer fires, the logits with a check of the firing rates, and the fixture files (the state_dict as
safetensors, written with numpy only, and the input and logits as JSON)."""
import json
import os
import struct

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))


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


def raise_batch_norm(net):
    """Short training on random labels leaves the neurons nearly silent; larger batch norm scales and
    shifts make every neuron layer fire (checked by logits_and_rates), so that the logits depend on
    every layer."""
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(1.5, 2.5)
                m.bias.uniform_(0.2, 0.6)


def logits_and_rates(net, neuron_type, run, x):
    """run(x) in eval mode, with the mean firing rate of every `neuron_type` layer, each of which must
    be between 0.05 and 0.95: a silent layer would leave the logits blind to everything before it."""
    outputs = {}
    layers = [m for m in net if isinstance(m, neuron_type)]
    hooks = [m.register_forward_hook(lambda m, i, o: outputs.setdefault(m, []).append(o.mean().item()))
             for m in layers]
    net.eval()
    with torch.no_grad():
        logits = run(x)
    for h in hooks:
        h.remove()
    rates = [sum(outputs[m]) / len(outputs[m]) for m in layers]
    assert all(0.05 < r < 0.95 for r in rates), f"firing rates {rates}: the fixture would test little"
    return logits, rates


def write_fixture(name, net, x, logits):
    """NAME.safetensors (the state_dict) and NAME_logits.json (input and logits, flattened, with shapes)."""
    state = net.state_dict()
    save_safetensors(state, os.path.join(HERE, name + ".safetensors"))
    with open(os.path.join(HERE, name + "_logits.json"), "w") as f:
        json.dump({"input_shape": list(x.shape), "input": x.ravel().tolist(), "logits_shape": list(logits.shape),
                   "logits": logits.ravel().tolist(), "keys": sorted(state.keys())}, f)
