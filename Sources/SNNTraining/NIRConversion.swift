import Foundation
import SNNLayers
import SNNModels
import SNNNeurons
import SNNTensor

/// Conversion between sequential models and NIR graphs.
///
/// Time constants follow the exporters of SpikingJelly 2.0 (`nir_exchange`) and snnTorch, not NIR's
/// documentation (which speaks of milliseconds): the step is `dt` = 10⁻⁴ s, stored in the graph's
/// metadata, and the forward-Euler step of NIR's equations gives back the discrete neurons:
/// - LIF: τ_NIR = τ·dt; r = 1 with decayed input (h = v + (x − (v − v_r))/τ), r = τ without
///   (h = v − (v − v_r)/τ + x, snnTorch's `Leaky`); v_leak = v_reset = v_r.
/// - IF: r = 1/dt (h = v + x); v_reset = v_r.
/// NIR neurons reset to v_reset (a hard reset) and fire when v > v_threshold (snn: v ≥ V_th; the
/// two differ only when v equals the threshold exactly). A soft reset has no NIR form and is refused.
public enum NIRConversion {
    /// The time step of exported graphs, and of imported graphs whose metadata names none.
    public static let defaultTimeStep = 1e-4

    /// The graph of a trained ``Sequential`` model for per-step input `inputShape`: Linear (with a
    /// following BatchNorm1d folded in) → Affine / Linear, Conv2d (with BatchNorm2d folded in) →
    /// Conv2d, Flatten, AvgPool2d, IF / LIF / PLIF (at its learned τ) → IF / LIF; Dropout is left out
    /// (it is the identity at inference). Any other layer is an error naming it.
    public static func graph(of model: any Layer, inputShape: [Int], timeSteps: Int) throws(SNNError) -> NIRGraph {
        guard let sequential = model as? Sequential else {
            throw SNNError(
                .unsupported,
                "only sequential models (spiking-mlp, shd-fc, transfer-scnn, imported networks) can be written "
                    + "as NIR; \(type(of: model)) is not one")
        }
        let layers = sequential.layers
        var nodes: [String: NIRGraph.Node] = ["input": .input(shape: inputShape)]
        var order = ["input"]
        var shape = inputShape
        var index = 0
        func refuse(_ i: Int, _ why: String) -> SNNError {
            SNNError(.unsupported, "layer \(i) (\(type(of: layers[i]))): \(why)")
        }
        /// The weight (`[out, ...]`) and bias of the Linear or Conv2d at `i`, with the batch norm right
        /// after it folded in (inference: y = γ(x − μ)/√(σ² + ε) + β per output channel), and whether
        /// there was one.
        func folded(_ i: Int, weight: Tensor, bias: Tensor?, channelAxisFromEnd: Int)
            -> (weight: [Float], bias: [Float], folded: Bool)
        {
            let out = weight.shape[0], perOutput = weight.count / max(out, 1)
            var w = weight.scalars
            var b = bias?.scalars ?? [Float](repeating: 0, count: out)
            guard i + 1 < layers.count, let bn = layers[i + 1] as? BatchNorm,
                bn.channelAxisFromEnd == channelAxisFromEnd, bn.weight.count == out
            else { return (w, b, false) }
            let gamma = bn.weight.scalars, beta = bn.bias.scalars
            let mean = bn.runningMean.scalars, variance = bn.runningVariance.scalars
            for o in 0..<out {
                let scale = gamma[o] / (variance[o] + bn.epsilon).squareRoot()
                for k in 0..<perOutput { w[o * perOutput + k] *= scale }
                b[o] = (b[o] - mean[o]) * scale + beta[o]
            }
            return (w, b, true)
        }
        while index < layers.count {
            let layer = layers[index]
            let name = String(index)
            var consumed = 1
            var node: NIRGraph.Node?
            switch layer {
            case let linear as Linear:
                let out = linear.weight.shape[0], inFeatures = linear.weight.shape[1]
                guard shape == [inFeatures] else { throw refuse(index, "gets input \(shape), expects [\(inFeatures)]") }
                let (w, b, norm) = folded(
                    index, weight: linear.weight, bias: linear.hasBias ? linear.bias : nil, channelAxisFromEnd: -1)
                if norm { consumed = 2 }
                let weight = Tensor(shape: [out, inFeatures], scalars: w)
                node =
                    linear.hasBias || consumed == 2
                    ? .affine(weight: weight, bias: Tensor(shape: [out], scalars: b)) : .linear(weight: weight)
                shape = [out]
            case let conv as Conv2d:
                let o = conv.weight.shape[0]
                guard shape.count == 3, shape[0] == conv.weight.shape[1] * conv.groups else {
                    throw refuse(index, "gets input \(shape)")
                }
                let (w, b, norm) = folded(
                    index, weight: conv.weight, bias: conv.hasBias ? conv.bias : nil, channelAxisFromEnd: -3)
                if norm { consumed = 2 }
                let (kh, kw) = (conv.weight.shape[2], conv.weight.shape[3])
                func out(_ size: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int) -> Int {
                    (size + 2 * p - d * (k - 1) - 1) / s + 1
                }
                node = .conv2d(
                    weight: Tensor(shape: conv.weight.shape, scalars: w), bias: Tensor(shape: [o], scalars: b),
                    stride: [conv.stride.0, conv.stride.1], padding: [conv.padding.0, conv.padding.1],
                    dilation: [conv.dilation.0, conv.dilation.1], groups: conv.groups, inputShape: [shape[1], shape[2]])
                shape = [
                    o, out(shape[1], kh, conv.stride.0, conv.padding.0, conv.dilation.0),
                    out(shape[2], kw, conv.stride.1, conv.padding.1, conv.dilation.1),
                ]
            case let flatten as Flatten:
                let start: Int
                switch flatten.span {
                case .lastAxes(let n): start = shape.count - n
                case .fromAxis(let a): start = a - 2  // time-major [T, N, ...]: NIR has neither axis
                }
                guard start >= 0, start < shape.count else {
                    throw refuse(index, "flattens axes the input \(shape) lacks")
                }
                node = .flatten(startDim: start, endDim: -1, inputShape: shape)
                shape = Array(shape.prefix(start)) + [shape.dropFirst(start).reduce(1, *)]
            case is AvgPool2d, is SumPool2d:
                // A sum pool is an average pool scaled by its window.
                let sum = layer as? SumPool2d
                guard let pool = sum?.average ?? layer as? AvgPool2d, shape.count == 3 else {
                    throw refuse(index, "gets input \(shape)")
                }
                let k = [pool.kernelSize.0, pool.kernelSize.1], s = [pool.stride.0, pool.stride.1]
                let p = [pool.padding.0, pool.padding.1]
                node =
                    sum == nil
                    ? .avgPool2d(kernel: k, stride: s, padding: p) : .sumPool2d(kernel: k, stride: s, padding: p)
                shape = [shape[0], (shape[1] + 2 * p[0] - k[0]) / s[0] + 1, (shape[2] + 2 * p[1] - k[1]) / s[1] + 1]
            case let neuron as StatefulNeuronDescribing:
                node = try neuronNode(neuron.neuronDescription, shape: shape) { why in refuse(index, why) }
            case is Dropout:
                node = nil
            case is BatchNorm:
                throw refuse(index, "batch norm that follows no Linear or Conv2d has no NIR node")
            default:
                // NIR 1.0 has no max pooling and no parallel (PSN / PSU) neurons, and SpikingJelly's and
                // snnTorch's exporters map none of them; Conv1d and recurrent layers are not mapped here.
                throw refuse(
                    index, "snn does not write this layer as NIR (NIR 1.0 has no max pooling and no parallel neurons)")
            }
            if let node {
                nodes[name] = node
                order.append(name)
            }
            index += consumed
        }
        nodes["output"] = .output(shape: shape)
        order.append("output")
        let edges = zip(order, order.dropFirst()).map { (source: $0, target: $1) }
        return NIRGraph(
            nodes: nodes, edges: edges,
            metadata: [
                "dt": .number(defaultTimeStep), "time_steps": .number(Double(timeSteps)),
                "source": .string("swift-snn"),
                "convention": .string(
                    "SpikingJelly nir_exchange: dt in seconds; LIF tau = tau_steps * dt, r = 1 (decay_input) or "
                        + "tau_steps, v_leak = v_reset; IF r = 1/dt; hard reset to v_reset; fires at v >= v_threshold"),
            ])
    }

    /// The NIR neuron of a stateful neuron layer of neurons shaped `shape` (per sample).
    static func neuronNode(
        _ d: StatefulNeuronDescription, shape: [Int], refuse: (String) -> SNNError
    ) throws(SNNError) -> NIRGraph.Node {
        guard case .hard(let resetPotential) = d.reset else {
            throw refuse(
                "NIR neurons reset to a potential; a "
                    + (d.reset == .soft ? "soft reset" : "neuron without reset") + " has no NIR form"
            )
        }
        func full(_ x: Double) -> [Double] { [Double](repeating: x, count: shape.reduce(1, *)) }
        let dt = defaultTimeStep
        guard let tau = d.tau else {
            return .integrateAndFire(
                shape: shape, r: full(1 / dt), threshold: full(Double(d.threshold)), reset: full(Double(resetPotential))
            )
        }
        return .leakyIntegrateAndFire(
            shape: shape, tau: full(Double(tau) * dt), r: full(d.decayInput ? 1 : Double(tau)),
            leak: full(Double(resetPotential)),
            threshold: full(Double(d.threshold)), reset: full(Double(resetPotential)))
    }

    /// The imported network of a graph, its weights keyed by parameter path, and its number of
    /// outputs. The graph must be a chain from its one Input node to its one Output node; every node
    /// type ``ImportedNetwork`` has a layer for is taken, and any other (CubaLIF, neurons with
    /// per-neuron constants or an input scale snn's neurons lack) is an error naming the node.
    public static func network(from graph: NIRGraph, file: String) throws(SNNError)
        -> (network: ImportedNetwork, weights: [String: Tensor], outputs: Int)
    {
        func bad(_ message: String) -> SNNError { SNNError(.unsupported, message, file: file) }
        let (order, first, last) = try chain(graph, file: file)
        guard case .input(let inputShape) = first.node, !inputShape.isEmpty, inputShape.allSatisfy({ $0 >= 1 }) else {
            throw bad("the Input node \"\(first.name)\" has no usable shape")
        }
        var dt = defaultTimeStep
        if case .number(let value) = graph.metadata["dt"] {
            guard value > 0, value.isFinite else { throw bad("the metadata's dt is \(value); it must be > 0") }
            dt = value
        }
        var layers: [ImportedNetwork.Layer] = []
        var weights: [String: Tensor] = [:]
        var shape = inputShape
        for (name, node) in order {
            func refuse(_ why: String) -> SNNError { bad("node \"\(name)\" (\(node.typeName)): \(why)") }
            /// One value for all neurons (snn's neuron layers have scalar constants).
            func uniform(_ values: [Double], _ field: String) throws(SNNError) -> Double {
                guard let first = values.first, values.allSatisfy({ $0 == first }) else {
                    throw refuse("\(field) differs between neurons; snn's neurons share one value per layer")
                }
                return first
            }
            func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-4 * max(abs(a), abs(b), 1e-12) }
            let key = String(layers.count)
            switch node {
            case .input, .output: throw refuse("an Input or Output node inside the chain")
            case .affine(let w, _), .linear(let w):
                var bias: Tensor?
                if case .affine(_, let b) = node { bias = b }
                guard w.shape[1] >= 1, w.shape[0] >= 1 else { throw refuse("weight of shape \(w.shape)") }
                if let bias, bias.shape != [w.shape[0]] {
                    throw refuse("bias of shape \(bias.shape) for weight \(w.shape)")
                }
                layers.append(.linear(inFeatures: w.shape[1], outFeatures: w.shape[0], bias: bias != nil))
                weights[key + ".weight"] = w
                if let bias { weights[key + ".bias"] = bias }
            case .conv2d(let w, let b, let s, let p, let d, let groups, _):
                guard b.shape == [w.shape[0]] else { throw refuse("bias of shape \(b.shape) for weight \(w.shape)") }
                layers.append(
                    .conv2d(
                        inChannels: w.shape[1] * groups, outChannels: w.shape[0], kernel: [w.shape[2], w.shape[3]],
                        stride: s, padding: p, dilation: d, groups: groups, bias: true))
                weights[key + ".weight"] = w
                weights[key + ".bias"] = b
            case .flatten(let start, let end, _):
                let rank = shape.count
                let first = start < 0 ? start + rank : start, last = end < 0 ? end + rank : end
                guard first >= 0, first < rank, last == rank - 1 else {
                    throw refuse("flattens axes \(start)…\(end) of \(shape); snn flattens up to the last axis")
                }
                layers.append(.flatten(startAxis: first + 2))
            case .avgPool2d(let k, let s, let p): layers.append(.avgPool2d(kernel: k, stride: s, padding: p))
            case .sumPool2d(let k, let s, let p): layers.append(.sumPool2d(kernel: k, stride: s, padding: p))
            case .integrateAndFire(_, let r, let threshold, let reset):
                let rate = try uniform(r, "r")
                guard close(rate * dt, 1) else {
                    throw refuse("r = \(rate) with dt = \(dt): snn's IF adds its input unscaled, which is r = 1/dt")
                }
                layers.append(
                    .integrateAndFire(
                        threshold: Float(try uniform(threshold, "v_threshold")),
                        resetPotential: Float(try uniform(reset, "v_reset"))))
            case .leakyIntegrateAndFire(_, let tau, let r, let leak, let threshold, let reset):
                let steps = try uniform(tau, "tau") / dt
                guard steps > 1, steps.isFinite else {
                    throw refuse("tau / dt = \(steps) time steps; snn's LIF needs more than 1")
                }
                let resistance = try uniform(r, "r")
                let decayInput: Bool
                if close(resistance, 1) {
                    decayInput = true
                } else if close(resistance, steps) {
                    decayInput = false
                } else {
                    throw refuse("r = \(resistance); snn's LIF takes r = 1 (decayed input) or r = tau / dt = \(steps)")
                }
                let resetPotential = try uniform(reset, "v_reset")
                guard try uniform(leak, "v_leak") == resetPotential else {
                    throw refuse("v_leak differs from v_reset; snn's LIF leaks towards its reset potential")
                }
                layers.append(
                    .leakyIntegrateAndFire(
                        tau: Float(steps), threshold: Float(try uniform(threshold, "v_threshold")),
                        resetPotential: Float(resetPotential), decayInput: decayInput))
            case .currentBasedLIF:
                throw refuse("snn has no current-based LIF neuron")
            }
            let network = ImportedNetwork(inputShape: inputShape, layers: layers)
            switch network.shapes() {
            case .success(let shapes): shape = shapes.last ?? inputShape
            case .failure(let error): throw refuse(error.message)
            }
            // Neuron parameters given per neuron must match the layer's width.
            switch node {
            case .integrateAndFire(_, let r, _, _), .leakyIntegrateAndFire(_, _, let r, _, _, _):
                if r.count != 1 && r.count != shape.reduce(1, *) {
                    throw refuse("\(r.count) neurons for an input of shape \(shape)")
                }
            default: break
            }
        }
        if case .output(let outputShape) = last.node, !outputShape.isEmpty,
            outputShape.reduce(1, *) != shape.reduce(1, *)
        {
            throw bad("the Output node \"\(last.name)\" has shape \(outputShape), the chain ends in \(shape)")
        }
        guard shape.count == 1 else {
            throw bad("the chain ends in shape \(shape); a classifier ends in one axis of class scores")
        }
        return (ImportedNetwork(inputShape: inputShape, layers: layers), weights, shape[0])
    }

    /// The nodes between the Input and the Output node in edge order, and those two.
    static func chain(_ graph: NIRGraph, file: String) throws(SNNError) -> (
        inner: [(name: String, node: NIRGraph.Node)], input: (name: String, node: NIRGraph.Node),
        output: (name: String, node: NIRGraph.Node)
    ) {
        func bad(_ message: String) -> SNNError { SNNError(.unsupported, message, file: file) }
        let inputs = graph.nodes.filter { if case .input = $0.value { true } else { false } }.keys.sorted()
        let outputs = graph.nodes.filter { if case .output = $0.value { true } else { false } }.keys.sorted()
        guard inputs.count == 1, outputs.count == 1 else {
            throw bad("the graph has \(inputs.count) Input and \(outputs.count) Output nodes; snn imports one of each")
        }
        var next: [String: String] = [:]
        for edge in graph.edges {
            guard next[edge.source] == nil else {
                throw bad("node \"\(edge.source)\" feeds several nodes; snn imports chains of layers")
            }
            next[edge.source] = edge.target
        }
        var current = inputs[0]
        var order: [(name: String, node: NIRGraph.Node)] = []
        var seen: Set<String> = [current]
        while let target = next[current], let node = graph.nodes[target] {
            guard seen.insert(target).inserted else { throw bad("the graph has a cycle through \"\(target)\"") }
            order.append((target, node))
            current = target
        }
        guard current == outputs[0], let input = graph.nodes[inputs[0]], let output = order.popLast() else {
            throw bad("the chain from \"\(inputs[0])\" stops at \"\(current)\" before the Output node")
        }
        guard seen.count == graph.nodes.count else {
            let left = Set(graph.nodes.keys).subtracting(seen).sorted()
            throw bad("nodes off the input-to-output chain: \(left.joined(separator: ", "))")
        }
        return (order, (inputs[0], input), output)
    }
}
