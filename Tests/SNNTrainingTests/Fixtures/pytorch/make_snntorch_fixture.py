"""snnTorch spiking-CNN fixture of the swift-snn tests: the snnTorch twin of `--model spiking-cnn
--widths 8,16` on 1x8x8 images (10 classes), its state_dict as safetensors, a fixed input batch and
snnTorch's per-step logits on it in eval mode.

    python make_snntorch_fixture.py     needs torch and snntorch 1.0 (the peers venv of /work/shared/bench/peers)

The neurons are snn.Leaky(beta=0.5, threshold=1, reset_mechanism="zero", reset_delay=False), the setting
snnTorch's own NIR import uses: mem = beta * mem + x, spike when mem > threshold, then mem = 0 -- snn's
LIF with tau = 1 / (1 - beta) and undecayed input. Their beta, threshold and reset are in the state_dict.
"""
import torch
import torch.nn as nn
import snntorch as snn
from snntorch import utils

from common import logits_and_rates, raise_batch_norm, write_fixture

torch.manual_seed(19)
T, N, CLASSES = 4, 6, 10


def leaky():
    return snn.Leaky(beta=0.5, threshold=1.0, reset_mechanism="zero", reset_delay=False, init_hidden=True)


net = nn.Sequential(
    nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), leaky(), nn.MaxPool2d(2),
    nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), leaky(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(16 * 2 * 2, CLASSES),
)


def run(x):
    utils.reset(net)
    return torch.stack([net(x[t]) for t in range(x.shape[0])])


# Batch norm statistics of some random batches (train mode).
with torch.no_grad():
    for _ in range(10):
        run(torch.rand(T, 16, 1, 8, 8) * 1.5)
raise_batch_norm(net)
x = torch.rand(T, N, 1, 8, 8) * 1.5
logits, rates = logits_and_rates(net, snn.Leaky, run, x)
write_fixture("snntorch_cnn", net, x, logits)
print("wrote snntorch_cnn.safetensors and snntorch_cnn_logits.json; firing rates", rates)
