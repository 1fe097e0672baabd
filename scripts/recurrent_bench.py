#!/usr/bin/env python3
"""Forward + backward of SpikingJelly's LinearRecurrentContainer around a LIF neuron, the peer of
`snn bench recurrent` (the recurrent-mlp layer): i[t] = [x[t], y[t-1]] W^T + b (one Linear(2F, F)
per step), y[t] = LIF(i[t]) with tau 2, hard reset to 0, detached reset, ATan surrogate; the
container in multi-step mode steps through T. The seed of the backward pass is a fixed random tensor,
as in our workload. Prints one JSON line (neuron_steps_per_s over T x batch x F, peak_rss_mib, ...).

Usage: python scripts/recurrent_bench.py [--T 28] [--batch 64] [--features 256] [--repeats 10]
       (run with the peer environment: ../shared/bench/peers/setup-venv.sh)
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench", "peers"))
from _common import machine_state, peak_rss_mib, stats, time_runs  # noqa: E402

import torch  # noqa: E402
from spikingjelly.activation_based import functional, layer, neuron, surrogate  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--T", type=int, default=28)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--features", type=int, default=256)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    lif = neuron.LIFNode(tau=2.0, v_reset=0.0, detach_reset=True, surrogate_function=surrogate.ATan())
    net = layer.LinearRecurrentContainer(lif, a.features, a.features, bias=True, step_mode="m")
    x = (torch.randn(a.T, a.batch, a.features) + 1).requires_grad_()
    seed = torch.randn(a.T, a.batch, a.features)

    def fwd_bwd():
        functional.reset_net(net)
        net.zero_grad(set_to_none=True)
        x.grad = None
        net(x).backward(seed)

    times, util = time_runs(fwd_bwd, a.warmup, a.repeats)
    n = a.T * a.batch * a.features
    print(json.dumps({"bench": "recurrent", "impl": "sj", "T": a.T, "batch": a.batch, "features": a.features,
                      "threads": a.threads, **stats(times), "neuron_steps_per_s": n / stats(times)["median_s"],
                      "cpu_util": round(util, 2), "peak_rss_mib": peak_rss_mib(), "state": machine_state(),
                      "versions": {"torch": torch.__version__}}))


if __name__ == "__main__":
    main()
