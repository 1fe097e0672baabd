"""SpikingJelly spiking-CNN fixture of the swift-snn tests: the PyTorch twin of `--model spiking-cnn
--widths 8,16` on 1x8x8 images (10 classes), trained for a few steps on random data, its state_dict as
safetensors (common.py: no safetensors package needed), a fixed input batch and SpikingJelly's
per-step logits on it in eval mode.

    python make_fixture.py     needs torch and spikingjelly 2.0 (the peers venv of /work/shared/bench/peers)

The twin's layer order is that of snn's Sequential, so its state_dict keys are snn's parameter paths
with PyTorch's names for the batch norm statistics (running_mean, running_var, num_batches_tracked).
"""

import torch
import torch.nn as nn
from spikingjelly.activation_based import functional, layer, neuron, surrogate

from common import logits_and_rates, raise_batch_norm, write_fixture

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

raise_batch_norm(net)
x = torch.rand(T, N, 1, 8, 8) * 1.5
logits, rates = logits_and_rates(net, neuron.LIFNode, net, x)
functional.reset_net(net)
write_fixture("spikingjelly_cnn", net, x, logits)
print("wrote spikingjelly_cnn.safetensors and spikingjelly_cnn_logits.json; firing rates", rates)
