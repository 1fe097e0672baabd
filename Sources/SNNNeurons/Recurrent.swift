import SNNLayers
import SNNTensor

/// Spiking neurons with all-to-all recurrent connections (SpikingJelly's `LinearRecurrentContainer`,
/// snnTorch's `RLeaky` with a full feedback matrix). Per step t, with S[−1] = 0:
///
///     H[t] = charge(V[t−1], X[t] + W·S[t−1]),   S[t] = fire(H[t]),   V[t] = reset(H[t], S[t])
///
/// X is the already-projected input `[T, N, F]` (a Linear layer, and BN, before this one); W is
/// `[F, F]`. The feedback makes the steps sequential, so the neuron runs step by step through its
/// composed single-step operations rather than the fused kernel; spike statistics are counted on the
/// neuron, which is the layer's child (so a PLIF's τ is a parameter of the model).
public final class RecurrentSpiking: Module, Layer {
    public let neuron: any SpikingNeuron
    @Parameter public var weight: Tensor

    /// `features` neurons fed back to themselves; W ~ U(−1/√F, 1/√F), as a Linear of F inputs.
    public init(features: Int, neuron: any SpikingNeuron) {
        precondition(features > 0, "RecurrentSpiking: features must be positive, got \(features)")
        self.neuron = neuron
        weight = Initializer.uniform([features, features], bound: 1 / Float(features).squareRoot())
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let features = weight.shape[0]
        precondition(
            input.rank == 3 && input.shape[0] >= 1 && input.shape[2] == features,
            "RecurrentSpiking: input must be [T, N, \(features)], got \(input.shape)")
        let steps = input.shape[0], batch = input.shape[1]
        var v = neuron.restingState(like: input.selecting(0))
        var previous: Tensor?
        var spikes: [Tensor] = []
        spikes.reserveCapacity(steps)
        for t in 0..<steps {
            var x = input.selecting(t)
            if let previous { x = x + Tensor.matmul(previous, weight, transposeB: true) }
            let h = neuron.charge(membrane: v, input: x)
            let s = neuron.fire(h)
            v = neuron.reset(h, spikes: s)
            spikes.append(s)
            previous = s
        }
        let output = Tensor.stack(spikes)
        neuron.statistics?.add(spikes: output, neuronsPerSample: features)
        if let counter = OperationCounter.current, steps > 1 {
            // The feedback of steps 0…T−2 drives steps 1…T−1: one accumulate per spike and target.
            counter.record(
                layer: self, macs: Double((steps - 1) * batch * weight.count),
                input: output.slice(0..<(steps - 1)), samples: batch)
        }
        return output
    }
}
