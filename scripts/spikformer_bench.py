#!/usr/bin/env python3
"""One training step (forward + backward + SGD) of Spikformer in PyTorch + SpikingJelly, the peer of
`snn bench spikformer`. Prints one JSON line (images_per_s, peak_rss_mib, ...).

The architecture is the original Spikformer code's DVS model as METHODS.md section 5 describes it:
SPS (4 x [Conv3x3 -> BN -> LIF -> MaxPool(3, 2, 1)] with C/8, C/4, C/2, C channels, pooling in the
last stages that leave >= 16 tokens; then x + LIF(BN(Conv3x3(x)))), blocks of [x + SSA(x); x + MLP(x)]
(SSA: Q, K, V = LIF(BN(Conv1d 1x1)), (Q K^T) V * 0.25, LIF, Conv1d 1x1 -> BN -> LIF; MLP: 1x1 convs
C -> 4C -> C with BN and LIF), head = mean over tokens -> Linear, logits averaged over T. LIF: tau 2,
threshold 0.5, hard reset, detached, sigmoid surrogate alpha 4 (SpikingJelly's multi-step LIFNode,
torch backend). --tim adds TIM on the queries (alpha 0.5, kernel 5, thresholds 0.3 / 0.25, the
convolution along the tokens), two single-step LIFs stepping through T as the released code does.

Usage: python scripts/spikformer_bench.py [--tim] [--batch 16] [--T 4] [--size 64] [--dim 256]
       [--heads 16] [--depth 2]  (run with the peer environment: ../shared/bench/peers/setup-venv.sh)
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench", "peers"))
from _common import machine_state, peak_rss_mib, stats, time_runs  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from spikingjelly.activation_based import functional, neuron, surrogate  # noqa: E402


def lif(threshold=0.5, step_mode="m"):
    return neuron.LIFNode(tau=2.0, v_threshold=threshold, v_reset=0.0, detach_reset=True,
                          surrogate_function=surrogate.Sigmoid(alpha=4.0), step_mode=step_mode)


def pooling_stages(side):
    stages = 0
    for k in range(1, 5):
        side = (side - 1) // 2 + 1
        if side * side < 16:
            break
        stages = k
    return stages


class SPS(nn.Module):
    def __init__(self, channels, dim, size):
        super().__init__()
        widths, self.pools = [dim // 8, dim // 4, dim // 2, dim], pooling_stages(size)
        self.convs = nn.ModuleList()
        self.bns = nn.ModuleList()
        self.lifs = nn.ModuleList()
        for w in widths:
            self.convs.append(nn.Conv2d(channels, w, 3, padding=1, bias=False))
            self.bns.append(nn.BatchNorm2d(w))
            self.lifs.append(lif())
            channels = w
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.rpe_conv, self.rpe_bn, self.rpe_lif = nn.Conv2d(dim, dim, 3, padding=1, bias=False), nn.BatchNorm2d(dim), lif()

    def forward(self, x):  # [T, B, C, H, W]
        T, B = x.shape[:2]
        x = x.flatten(0, 1)
        for i, (conv, bn, node) in enumerate(zip(self.convs, self.bns, self.lifs)):
            x = bn(conv(x))
            x = node(x.reshape(T, B, *x.shape[1:])).flatten(0, 1)
            if i >= 4 - self.pools:
                x = self.pool(x)
        rpe = self.rpe_bn(self.rpe_conv(x))
        x = x + self.rpe_lif(rpe.reshape(T, B, *rpe.shape[1:])).flatten(0, 1)
        return x.reshape(T, B, x.shape[1], -1)  # [T, B, C, N]


class SSA(nn.Module):
    def __init__(self, dim, heads, tim):
        super().__init__()
        self.heads = heads
        self.q_conv, self.k_conv, self.v_conv = (nn.Conv1d(dim, dim, 1, bias=False) for _ in range(3))
        self.q_bn, self.k_bn, self.v_bn = (nn.BatchNorm1d(dim) for _ in range(3))
        self.q_lif, self.k_lif, self.v_lif, self.attn_lif = lif(), lif(), lif(), lif()
        self.proj_conv, self.proj_bn, self.proj_lif = nn.Conv1d(dim, dim, 1), nn.BatchNorm1d(dim), lif()
        self.tim = tim
        if tim:
            d = dim // heads
            self.tim_conv = nn.Conv1d(d, d, 5, padding=2)
            self.tim_in, self.tim_out = lif(0.3, "s"), lif(0.25, "s")

    def temporal_interaction(self, q):  # [T, B, H, N, D]
        T, B, H, N, D = q.shape
        out = [q[0]]
        for t in range(1, T):
            u = self.tim_conv(out[-1].transpose(-1, -2).reshape(B * H, D, N)).reshape(B, H, D, N).transpose(-1, -2)
            out.append(self.tim_out(0.5 * self.tim_in(u) + 0.5 * q[t]))
        return torch.stack(out)

    def forward(self, x):  # [T, B, C, N]
        T, B, C, N = x.shape
        xf = x.flatten(0, 1)

        def heads(conv, bn, node):
            y = node(bn(conv(xf)).reshape(T, B, C, N))
            return y.transpose(-1, -2).reshape(T, B, N, self.heads, C // self.heads).permute(0, 1, 3, 2, 4)

        q, k, v = heads(self.q_conv, self.q_bn, self.q_lif), heads(self.k_conv, self.k_bn, self.k_lif), \
            heads(self.v_conv, self.v_bn, self.v_lif)
        if self.tim:
            q = self.temporal_interaction(q)
        y = ((q @ k.transpose(-2, -1)) @ v) * 0.25
        y = self.attn_lif(y.transpose(2, 3).reshape(T, B, N, C).transpose(-1, -2))
        return self.proj_lif(self.proj_bn(self.proj_conv(y.flatten(0, 1))).reshape(T, B, C, N))


class MLP(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc1, self.bn1, self.lif1 = nn.Conv1d(dim, 4 * dim, 1), nn.BatchNorm1d(4 * dim), lif()
        self.fc2, self.bn2, self.lif2 = nn.Conv1d(4 * dim, dim, 1), nn.BatchNorm1d(dim), lif()

    def forward(self, x):
        T, B, C, N = x.shape
        x = self.lif1(self.bn1(self.fc1(x.flatten(0, 1))).reshape(T, B, 4 * C, N))
        return self.lif2(self.bn2(self.fc2(x.flatten(0, 1))).reshape(T, B, C, N))


class Spikformer(nn.Module):
    def __init__(self, channels, size, dim, heads, depth, classes, tim):
        super().__init__()
        self.sps = SPS(channels, dim, size)
        self.attns = nn.ModuleList(SSA(dim, heads, tim) for _ in range(depth))
        self.mlps = nn.ModuleList(MLP(dim) for _ in range(depth))
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        x = self.sps(x)
        for attn, mlp in zip(self.attns, self.mlps):
            x = x + attn(x)
            x = x + mlp(x)
        return self.head(x.mean(-1)).mean(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tim", action="store_true")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--T", type=int, default=4)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=8)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Spikformer(2, a.size, a.dim, a.heads, a.depth, 10, a.tim)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = (torch.rand(a.T, a.batch, 2, a.size, a.size) < 0.1).float()
    labels = torch.randint(0, 10, (a.batch,))

    def step():
        functional.reset_net(model)
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x), labels).backward()
        optimizer.step()

    times, cpu = time_runs(step, a.warmup, a.repeats)
    s = stats(times)
    print(json.dumps({"workload": "spikformer", "impl": "spikingjelly", "tim": a.tim, "batch": a.batch, "T": a.T,
                      "size": a.size, "dim": a.dim, "heads": a.heads, "depth": a.depth,
                      "parameters": sum(p.numel() for p in model.parameters()),
                      "images_per_s": a.batch / s["median_s"], **s, "cpu_util": cpu, "peak_rss_mib": peak_rss_mib(),
                      "torch": torch.__version__, "threads": a.threads, **machine_state()}))


if __name__ == "__main__":
    main()
