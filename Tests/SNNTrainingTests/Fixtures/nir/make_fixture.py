"""NIR fixtures of the swift-snn tests, and the reader the tests check our NIR export with.

    python make_fixture.py            writes lif_net.nir (a small LIF network written by Python's nir)
                                      and lif_net_spikes.json (its input and output spikes, run by
                                      SpikingJelly's own NIR importer); needs torch, spikingjelly 2.0,
                                      nir 1.0.8 (the peers venv of /work/shared/bench/peers).
    python make_fixture.py --dump F   reads the NIR file F with nir.read (type-checked) and prints every
                                      node's type and fields as JSON; needs nir, numpy and h5py only.

Time constants follow SpikingJelly's and snnTorch's NIR exchange: dt = 1e-4 s, LIF tau = tau_steps * dt,
r = 1 with decayed input or tau_steps without, IF r = 1 / dt, v_leak = v_reset.
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DT = 1e-4


def dump(path):
    import nir

    graph = nir.read(path)
    out = {"nodes": {}, "edges": sorted([list(e) for e in graph.edges]), "metadata": {}}
    for key, value in graph.metadata.items():
        value = value.decode() if isinstance(value, bytes) else value
        out["metadata"][key] = value.item() if hasattr(value, "item") else value
    for name, node in graph.nodes.items():
        fields = {}
        for key, value in node.to_dict().items():
            if key in ("type", "metadata"):
                continue
            if value is None:
                continue
            array = np.asarray(value)
            if array.dtype.kind in "fiu":
                # Values as repr strings: exact, whatever the JSON reader does with long numbers.
                values = [repr(float(v)) for v in array.astype(np.float64).ravel()]
                fields[key] = {"shape": list(array.shape), "values": values}
        out["nodes"][name] = {"type": type(node).__name__, "fields": fields}
    print(json.dumps(out, sort_keys=True))


def make():
    import nir
    import torch
    from spikingjelly.activation_based.nir_exchange import import_from_nir

    rng = np.random.default_rng(18)
    T, N = 6, 3

    def full(shape, value):
        # Neuron constants in double precision, as SpikingJelly's exporter writes them: tau / dt
        # must come back as whole time steps.
        return np.full(shape, value, dtype=np.float64)

    conv_w = rng.normal(0, 0.6, (4, 1, 3, 3)).astype(np.float32)
    conv_b = rng.normal(0.2, 0.1, (4,)).astype(np.float32)
    fc1_w = rng.normal(0, 0.5, (10, 36)).astype(np.float32)
    fc1_b = rng.normal(0.1, 0.1, (10,)).astype(np.float32)
    fc2_w = rng.normal(0.3, 0.6, (5, 10)).astype(np.float32)
    nodes = {
        "input": nir.Input(input_type=np.array([1, 6, 6])),
        "conv": nir.Conv2d(
            input_shape=(6, 6), weight=conv_w, stride=1, padding=1, dilation=1, groups=1, bias=conv_b
        ),
        # LIF with decayed input: tau = 2 steps, r = 1.
        "lif1": nir.LIF(
            tau=full((4, 6, 6), 2 * DT), r=full((4, 6, 6), 1.0), v_leak=full((4, 6, 6), 0.0),
            v_threshold=full((4, 6, 6), 1.0), v_reset=full((4, 6, 6), 0.0),
        ),
        "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "flat": nir.Flatten(input_type={"input": np.array([4, 3, 3])}, start_dim=0, end_dim=-1),
        "fc1": nir.Affine(weight=fc1_w, bias=fc1_b),
        # IF: r = 1 / dt, threshold 0.5.
        "if1": nir.IF(r=full((10,), 1 / DT), v_threshold=full((10,), 0.5), v_reset=full((10,), 0.0)),
        "fc2": nir.Linear(weight=fc2_w),
        # LIF without input decay (snnTorch's Leaky): tau = 3 steps, r = 3, leaking to v_reset = 0.2.
        "lif2": nir.LIF(
            tau=full((5,), 3 * DT), r=full((5,), 3.0), v_leak=full((5,), 0.2), v_threshold=full((5,), 0.8),
            v_reset=full((5,), 0.2),
        ),
        "output": nir.Output(output_type=np.array([5])),
    }
    order = ["input", "conv", "lif1", "pool", "flat", "fc1", "if1", "fc2", "lif2", "output"]
    graph = nir.NIRGraph(nodes=nodes, edges=list(zip(order, order[1:])), metadata={"dt": DT})
    path = os.path.join(HERE, "lif_net.nir")
    nir.write(path, graph)

    x = rng.uniform(0, 1.5, (T, N, 1, 6, 6)).astype(np.float32)
    net = import_from_nir(path, dt=DT, step_mode="m")
    with torch.no_grad():
        result = net(torch.from_numpy(x))
    spikes = (result[0] if isinstance(result, tuple) else result).numpy()
    rate = spikes.mean()
    assert 0.1 < rate < 0.9, f"output firing rate {rate}: the fixture would test little"
    with open(os.path.join(HERE, "lif_net_spikes.json"), "w") as f:
        json.dump(
            {"input_shape": list(x.shape), "input": x.ravel().tolist(), "spikes_shape": list(spikes.shape),
             "spikes": spikes.ravel().tolist()}, f)
    print("wrote lif_net.nir and lif_net_spikes.json; output firing rate", rate)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--dump":
        dump(sys.argv[2])
    else:
        make()
