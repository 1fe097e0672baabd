import Foundation
import SNNLayers
import SNNNeurons
import SNNTensor

/// A network brought in from another framework (`snn import` of a NIR graph): a chain of layers
/// described as data, kept in the run's `config.json` and rebuilt as a ``Sequential`` whose
/// children are named `0`, `1`, … in chain order (the weights' keys in the run's checkpoints).
///
/// Each neuron layer keeps its own constants, since a NIR graph gives every node its own τ and
/// threshold; the surrogate (which only shapes gradients) comes from the run's neuron settings.
public struct ImportedNetwork: Sendable, Equatable {
    /// One layer of the chain.
    public enum Layer: Sendable, Equatable {
        case linear(inFeatures: Int, outFeatures: Int, bias: Bool)
        /// `kernel`, `stride`, `padding` and `dilation` are (height, width) pairs.
        case conv2d(
            inChannels: Int, outChannels: Int, kernel: [Int], stride: [Int], padding: [Int], dilation: [Int],
            groups: Int, bias: Bool)
        /// Merges the per-sample axes from `startAxis` (of `[T, N, ...]`) on.
        case flatten(startAxis: Int)
        case avgPool2d(kernel: [Int], stride: [Int], padding: [Int])
        case sumPool2d(kernel: [Int], stride: [Int], padding: [Int])
        /// IF with a hard reset to `resetPotential`.
        case integrateAndFire(threshold: Float, resetPotential: Float)
        /// LIF with τ in time steps and a hard reset to `resetPotential` (also its leak target).
        case leakyIntegrateAndFire(tau: Float, threshold: Float, resetPotential: Float, decayInput: Bool)
    }

    /// The input of one sample at one step (`[C, H, W]` or `[F]`).
    public var inputShape: [Int]
    public var layers: [Layer]

    public init(inputShape: [Int], layers: [Layer]) {
        self.inputShape = inputShape
        self.layers = layers
    }

    /// The per-sample shape after each layer, or a message naming the first layer whose input does
    /// not fit (the graph's shapes are input: they never reach a layer's precondition).
    public func shapes() -> Result<[[Int]], SNNError> {
        var shape = inputShape
        var shapes: [[Int]] = []
        func bad(_ index: Int, _ message: String) -> Result<[[Int]], SNNError> {
            .failure(SNNError(.mismatch, "layer \(index): \(message)"))
        }
        func pooled(_ size: Int, _ k: Int, _ s: Int, _ p: Int, _ d: Int = 1) -> Int {
            (size + 2 * p - d * (k - 1) - 1) / s + 1
        }
        func validPairs(_ pairs: [[Int]], positive: [Bool]) -> Bool {
            zip(pairs, positive).allSatisfy { pair, strict in
                pair.count == 2 && pair.allSatisfy { strict ? $0 >= 1 : $0 >= 0 }
            }
        }
        guard !shape.isEmpty, shape.allSatisfy({ $0 >= 1 }) else {
            return .failure(SNNError(.mismatch, "input shape \(shape) is not a list of sizes ≥ 1"))
        }
        for (index, layer) in layers.enumerated() {
            switch layer {
            case .linear(let inFeatures, let outFeatures, _):
                guard shape == [inFeatures], outFeatures >= 1 else {
                    return bad(index, "Linear(\(inFeatures) → \(outFeatures)) gets input of shape \(shape)")
                }
                shape = [outFeatures]
            case .conv2d(let c, let o, let k, let s, let p, let d, let groups, _):
                guard validPairs([k, s, p, d], positive: [true, true, false, true]) else {
                    return bad(
                        index, "Conv2d kernel \(k), stride \(s), padding \(p), dilation \(d) are not valid pairs")
                }
                guard shape.count == 3, shape[0] == c, groups >= 1, c % groups == 0, o % groups == 0, o >= 1 else {
                    return bad(index, "Conv2d(\(c) → \(o) channels, groups \(groups)) gets input of shape \(shape)")
                }
                let h = pooled(shape[1], k[0], s[0], p[0], d[0]), w = pooled(shape[2], k[1], s[1], p[1], d[1])
                guard h >= 1, w >= 1 else { return bad(index, "Conv2d kernel \(k) is larger than its input \(shape)") }
                shape = [o, h, w]
            case .flatten(let start):
                guard start >= 2, start - 2 < shape.count else {
                    return bad(index, "Flatten from axis \(start) of [T, N] + \(shape)")
                }
                shape = Array(shape.prefix(start - 2)) + [shape.dropFirst(start - 2).reduce(1, *)]
            case .avgPool2d(let k, let s, let p), .sumPool2d(let k, let s, let p):
                guard validPairs([k, s, p], positive: [true, true, false]), 2 * p[0] <= k[0], 2 * p[1] <= k[1] else {
                    return bad(index, "pooling kernel \(k), stride \(s), padding \(p) (padding must be ≤ kernel / 2)")
                }
                guard shape.count == 3 else { return bad(index, "2-d pooling gets input of shape \(shape)") }
                let h = pooled(shape[1], k[0], s[0], p[0]), w = pooled(shape[2], k[1], s[1], p[1])
                guard h >= 1, w >= 1 else { return bad(index, "pooling kernel \(k) is larger than its input \(shape)") }
                shape = [shape[0], h, w]
            case .integrateAndFire(let threshold, let reset):
                guard threshold.isFinite, reset.isFinite else { return bad(index, "IF constants are not finite") }
            case .leakyIntegrateAndFire(let tau, let threshold, let reset, _):
                guard tau.isFinite, tau > 1, threshold.isFinite, reset.isFinite else {
                    return bad(index, "LIF τ = \(tau) time steps (must be > 1) or its constants are not finite")
                }
            }
            shapes.append(shape)
        }
        return .success(shapes)
    }

    /// The network with fresh weights; neurons use `neuron`'s surrogate. Check ``shapes()`` first:
    /// layers whose input does not fit stop at their preconditions.
    public func make(neuron: NeuronConfiguration) -> Sequential {
        Sequential(
            layers.map { layer -> any SNNLayers.Layer in
                switch layer {
                case .linear(let i, let o, let bias): return Linear(i, o, bias: bias)
                case .conv2d(let c, let o, let k, let s, let p, let d, let groups, let bias):
                    return Conv2d(
                        c, o, kernelSize: (k[0], k[1]), stride: (s[0], s[1]), padding: (p[0], p[1]),
                        dilation: (d[0], d[1]), groups: groups, bias: bias)
                case .flatten(let start): return Flatten(startAxis: start)
                case .avgPool2d(let k, let s, let p):
                    return AvgPool2d(kernelSize: (k[0], k[1]), stride: (s[0], s[1]), padding: (p[0], p[1]))
                case .sumPool2d(let k, let s, let p):
                    return SumPool2d(kernelSize: (k[0], k[1]), stride: (s[0], s[1]), padding: (p[0], p[1]))
                case .integrateAndFire(let threshold, let reset):
                    var n = neuron
                    (n.kind, n.threshold, n.reset) = (.integrateAndFire, threshold, .hard(to: reset))
                    return n.make()
                case .leakyIntegrateAndFire(let tau, let threshold, let reset, let decayInput):
                    var n = neuron
                    (n.kind, n.tau, n.threshold, n.reset, n.decayInput) = (
                        .leakyIntegrateAndFire, tau, threshold, .hard(to: reset), decayInput
                    )
                    return n.make()
                }
            })
    }

    /// The JSON form (`config.json`'s `imported_network`).
    public var dictionary: [String: Any] {
        [
            "input_shape": inputShape,
            "layers": layers.map { layer -> [String: Any] in
                switch layer {
                case .linear(let i, let o, let bias):
                    return ["type": "linear", "in_features": i, "out_features": o, "bias": bias]
                case .conv2d(let c, let o, let k, let s, let p, let d, let groups, let bias):
                    return [
                        "type": "conv2d", "in_channels": c, "out_channels": o, "kernel": k, "stride": s, "padding": p,
                        "dilation": d, "groups": groups, "bias": bias,
                    ]
                case .flatten(let start): return ["type": "flatten", "start_axis": start]
                case .avgPool2d(let k, let s, let p):
                    return ["type": "avg_pool2d", "kernel": k, "stride": s, "padding": p]
                case .sumPool2d(let k, let s, let p):
                    return ["type": "sum_pool2d", "kernel": k, "stride": s, "padding": p]
                case .integrateAndFire(let threshold, let reset):
                    return ["type": "if", "threshold": Double(threshold), "reset_potential": Double(reset)]
                case .leakyIntegrateAndFire(let tau, let threshold, let reset, let decayInput):
                    return [
                        "type": "lif", "tau": Double(tau), "threshold": Double(threshold),
                        "reset_potential": Double(reset), "decay_input": decayInput,
                    ]
                }
            },
        ]
    }

    /// Reads ``dictionary`` back; `file` names `config.json` in errors.
    public init(dictionary d: [String: Any], file: String) throws(SNNError) {
        func bad(_ what: String) -> SNNError { SNNError(.corrupt, "\"imported_network\": \(what)", file: file) }
        guard let shape = (d["input_shape"] as? [NSNumber])?.map(\.intValue), let list = d["layers"] as? [Any] else {
            throw bad("missing \"input_shape\" or \"layers\"")
        }
        var layers: [Layer] = []
        for (index, item) in list.enumerated() {
            guard let l = item as? [String: Any], let type = l["type"] as? String else {
                throw bad("layer \(index) has no \"type\"")
            }
            func int(_ key: String) throws(SNNError) -> Int {
                guard let v = (l[key] as? NSNumber)?.intValue else { throw bad("layer \(index) lacks \"\(key)\"") }
                return v
            }
            func float(_ key: String) throws(SNNError) -> Float {
                guard let v = (l[key] as? NSNumber)?.floatValue else { throw bad("layer \(index) lacks \"\(key)\"") }
                return v
            }
            func pair(_ key: String) throws(SNNError) -> [Int] {
                guard let v = (l[key] as? [NSNumber])?.map(\.intValue), v.count == 2 else {
                    throw bad("layer \(index) lacks the pair \"\(key)\"")
                }
                return v
            }
            func flag(_ key: String) throws(SNNError) -> Bool {
                guard let v = l[key] as? Bool else { throw bad("layer \(index) lacks \"\(key)\"") }
                return v
            }
            switch type {
            case "linear":
                layers.append(
                    .linear(
                        inFeatures: try int("in_features"), outFeatures: try int("out_features"), bias: try flag("bias")
                    ))
            case "conv2d":
                layers.append(
                    .conv2d(
                        inChannels: try int("in_channels"), outChannels: try int("out_channels"),
                        kernel: try pair("kernel"), stride: try pair("stride"), padding: try pair("padding"),
                        dilation: try pair("dilation"), groups: try int("groups"), bias: try flag("bias")))
            case "flatten": layers.append(.flatten(startAxis: try int("start_axis")))
            case "avg_pool2d":
                layers.append(
                    .avgPool2d(kernel: try pair("kernel"), stride: try pair("stride"), padding: try pair("padding")))
            case "sum_pool2d":
                layers.append(
                    .sumPool2d(kernel: try pair("kernel"), stride: try pair("stride"), padding: try pair("padding")))
            case "if":
                layers.append(
                    .integrateAndFire(threshold: try float("threshold"), resetPotential: try float("reset_potential")))
            case "lif":
                layers.append(
                    .leakyIntegrateAndFire(
                        tau: try float("tau"), threshold: try float("threshold"),
                        resetPotential: try float("reset_potential"), decayInput: try flag("decay_input")))
            default: throw bad("layer \(index) has the unknown type \"\(type)\"")
            }
        }
        self.init(inputShape: shape, layers: layers)
        if case .failure(let error) = shapes() { throw bad(error.message) }
    }
}
