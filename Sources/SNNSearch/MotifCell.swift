import SNNLayers
import SNNNeurons
import SNNTensor

/// A sign-constrained spiking convolution, the edge of every motif: Conv k×k (stride 1, same
/// padding, no bias) → BatchNorm → sign constraint, applied to the spikes of the edge's source
/// node. The neuron in front of the convolution is the source node's own (one per node, shared by
/// all its outgoing edges, so each spiking neuron exists, and is counted, once).
public final class SpikingEdge: Module, Layer {
    public let conv: Conv2d
    public let norm: BatchNorm2d
    public let sign: Motif.Sign

    public init(channels: Int, kernelSize: Int, sign: Motif.Sign) {
        conv = Conv2d(channels, channels, kernelSize: kernelSize, padding: kernelSize / 2, bias: false)
        norm = BatchNorm2d(channels)
        self.sign = sign
        super.init()
    }

    /// Spikes `[N, C, H, W]` in, input current out.
    public func callAsFunction(_ spikes: Tensor) -> Tensor {
        let x = norm(conv(spikes))
        switch sign {
        case .positive: return x.relu()
        case .negative: return -((-x).relu())
        case .identity: return x
        }
    }
}

/// DARTS' factorised reduction: two 1×1 convolutions of stride 2, one on the input and one on the
/// input shifted by one pixel down and right, concatenated along channels, then BatchNorm. It halves
/// an even spatial size.
public final class FactorizedReduce: Module, Layer {
    public let first: Conv2d, second: Conv2d
    public let norm: BatchNorm2d

    public init(_ inChannels: Int, _ outChannels: Int) {
        precondition(outChannels % 2 == 0, "FactorizedReduce: output channels must be even, got \(outChannels)")
        first = Conv2d(inChannels, outChannels / 2, kernelSize: 1, stride: 2, bias: false)
        second = Conv2d(inChannels, outChannels / 2, kernelSize: 1, stride: 2, bias: false)
        norm = BatchNorm2d(outChannels)
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let h = input.shape[input.rank - 2], w = input.shape[input.rank - 1]
        precondition(h % 2 == 0 && w % 2 == 0, "FactorizedReduce: spatial size must be even, got \(h)×\(w)")
        let shifted = input.slice(1..<h, alongAxis: -2).slice(1..<w, alongAxis: -1)
            .padded(alongAxis: -2, before: 0, after: 1).padded(alongAxis: -1, before: 0, after: 1)
        return norm(Tensor.concatenate([first(input), second(shifted)], alongAxis: -3))
    }
}

/// Nearest-neighbour upsampling of `[…, H, W]` by an integer factor.
public final class NearestUpsample: Module, Layer {
    public let factor: Int

    public init(factor: Int) {
        precondition(factor >= 1, "NearestUpsample: factor must be ≥ 1, got \(factor)")
        self.factor = factor
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        guard factor > 1 else { return input }
        let lead = Array(input.shape.dropLast(2)), h = input.shape[input.rank - 2], w = input.shape[input.rank - 1]
        return input.reshaped(to: lead + [h, 1, w, 1]).broadcast(to: lead + [h, factor, w, factor])
            .reshaped(to: lead + [h * factor, w * factor])
    }
}

extension SpikingNeuron {
    /// One time step of input `[N, …]`: charge from `membrane` (rest when nil), fire, reset into
    /// `membrane`; returns the spikes and adds them to the neuron's statistics when enabled.
    public func step(_ input: Tensor, membrane: inout Tensor?) -> Tensor {
        let h = charge(membrane: membrane ?? restingState(like: input), input: input)
        let s = fire(h)
        membrane = reset(h, spikes: s)
        statistics?.add(spikes: s, neuronsPerSample: s.count / max(s.shape[0], 1))
        return s
    }
}

/// The state a cell carries from one time step to the next: every node's membrane potential and
/// the spikes of the previous step (for delayed edges).
public struct CellState {
    public var membranes: [Tensor?]
    public var previousSpikes: [Tensor?]

    public init(nodes: Int) {
        membranes = Array(repeating: nil, count: nodes)
        previousSpikes = Array(repeating: nil, count: nodes)
    }
}

/// One cell: a motif with its input projections, one spiking neuron per node and one edge per motif
/// edge. It runs one time step at a time, because FbI and MI feed spikes back from the previous step.
///
/// Per step: n0 = pre0(s0), n1 = pre1(s1) (+ the global input, for a module's last cell), where s0
/// and s1 are the spikes of the two previous cells; every node's input current goes through the
/// node's neuron; an internal node's current is the sum of its incoming edges applied to the source
/// nodes' spikes (this step's, or the previous step's for delayed edges, none at t = 0); the output
/// is the concatenation of n2's and n3's spikes.
public final class MotifCell: Module {
    public let motif: Motif
    public let channels: Int
    /// Projection of s0 to C channels: 1×1 conv + BN, or a factorised reduction after a reduction cell.
    public let preprocess0: any Layer
    /// Projection of s1 to C channels: 1×1 conv + BN.
    public let preprocess1: any Layer
    /// The neuron of node k.
    public let neurons: [any SpikingNeuron]
    /// The edges of ``Motif/edges``, in that order.
    public let edges: [SpikingEdge]

    /// `inChannels0`/`inChannels1`: channels of s0 and s1; `reduceInput0`: s0 has twice the spatial size.
    public init(
        motif: Motif, channels: Int, inChannels0: Int, inChannels1: Int, reduceInput0: Bool,
        kernelSizes: [Int], makeNeuron: () -> any SpikingNeuron
    ) {
        precondition(
            kernelSizes.count == motif.edges.count,
            "MotifCell: \(motif.rawValue) has \(motif.edges.count) edges, got \(kernelSizes.count) kernel sizes")
        self.motif = motif
        self.channels = channels
        preprocess0 =
            reduceInput0
            ? FactorizedReduce(inChannels0, channels)
            : Sequential {
                Conv2d(inChannels0, channels, kernelSize: 1, bias: false); BatchNorm2d(channels)
            }
        preprocess1 = Sequential {
            Conv2d(inChannels1, channels, kernelSize: 1, bias: false); BatchNorm2d(channels)
        }
        neurons = (0..<motif.nodeCount).map { _ in makeNeuron() }
        edges = zip(motif.edges, kernelSizes).map { SpikingEdge(channels: channels, kernelSize: $1, sign: $0.sign) }
        super.init()
    }

    /// The node currents and spikes of one step.
    public struct Step {
        /// Input current of each node.
        public var currents: [Tensor]
        /// Spikes of each node.
        public var spikes: [Tensor]
        /// The cell's output: n2's and n3's spikes concatenated along channels.
        public var output: Tensor
    }

    /// The projected inputs (n0, n1 currents) of one step; `extra` is added to n1.
    public func inputs(_ s0: Tensor, _ s1: Tensor, extra: Tensor?) -> (Tensor, Tensor) {
        let n1 = preprocess1(s1)
        return (preprocess0(s0), extra.map { n1 + $0 } ?? n1)
    }

    /// One time step from the previous cells' spikes `[N, C, H, W]`.
    public func step(_ s0: Tensor, _ s1: Tensor, extra: Tensor? = nil, state: inout CellState) -> Step {
        let (n0, n1) = inputs(s0, s1, extra: extra)
        return step(n0: n0, n1: n1, state: &state)
    }

    /// One time step from the input currents n0 and n1.
    public func step(n0: Tensor, n1: Tensor, state: inout CellState) -> Step {
        var currents = [Tensor?](repeating: nil, count: motif.nodeCount)
        var spikes = [Tensor?](repeating: nil, count: motif.nodeCount)
        func fire(_ node: Int, _ current: Tensor) {
            currents[node] = current
            spikes[node] = neurons[node].step(current, membrane: &state.membranes[node])
        }
        fire(0, n0)
        fire(1, n1)
        let motifEdges = motif.edges
        for node in motif.computeOrder {
            var sum: Tensor?
            for (edge, layer) in zip(motifEdges, edges) where edge.target == node {
                // A delayed edge reads the source's spikes of the previous step: none at t = 0.
                guard let input = edge.delayed ? state.previousSpikes[edge.source] : spikes[edge.source] else {
                    continue
                }
                let x = layer(input)
                sum = sum.map { $0 + x } ?? x
            }
            // Every internal node has at least one undelayed edge, so `sum` is set.
            guard let sum else { preconditionFailure("MotifCell: node \(node) of \(motif.rawValue) has no input") }
            fire(node, sum)
        }
        // Every node has fired by now (n0, n1 and the compute order cover all of them).
        let s = spikes.compactMap { $0 }
        precondition(s.count == motif.nodeCount, "MotifCell: \(motif.rawValue) left a node unfired")
        state.previousSpikes = s
        return Step(
            currents: currents.compactMap { $0 }, spikes: s,
            output: Tensor.concatenate(Motif.outputNodes.map { s[$0] }, alongAxis: -3))
    }
}
