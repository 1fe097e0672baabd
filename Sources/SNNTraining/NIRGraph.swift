import Foundation
import SNNData
import SNNTensor

/// A NIR graph (the Neuromorphic Intermediate Representation, https://neuroir.org) as the Python
/// package `nir` 1.0 lays it out in HDF5: a string dataset `version`, and a group `node` holding
/// `type` = "NIRGraph", `nodes/<name>/` (each with its `type` and fields), `edges` (an n × 2 array of
/// node names) and an optional `metadata` group. Field names and shapes follow `nir/ir/*.py` and
/// `nir/serialization.py` of nir 1.0.8; the node types listed in ``Node`` are read, others are refused
/// by name.
public struct NIRGraph: Sendable, Equatable {
    /// A node of the graph. Neuron parameters hold one value per neuron (NIR's arrays), flattened, in
    /// double precision (τ in seconds is small: τ/dt must come back whole).
    public enum Node: Sendable, Equatable {
        case input(shape: [Int])
        case output(shape: [Int])
        /// y = W x + b with W `[out, in]`.
        case affine(weight: Tensor, bias: Tensor)
        /// y = W x.
        case linear(weight: Tensor)
        /// `stride`, `padding`, `dilation` are (height, width); `inputShape` is (H, W) when given.
        case conv2d(
            weight: Tensor, bias: Tensor, stride: [Int], padding: [Int], dilation: [Int], groups: Int,
            inputShape: [Int]?)
        /// Flattens the per-sample axes `startDim`…`endDim` (no batch axis; negative from the end).
        case flatten(startDim: Int, endDim: Int, inputShape: [Int]?)
        case avgPool2d(kernel: [Int], stride: [Int], padding: [Int])
        case sumPool2d(kernel: [Int], stride: [Int], padding: [Int])
        /// dv/dt = R I; spike and v ← v_reset when v > v_threshold. `shape` is the neurons' (per sample).
        case integrateAndFire(shape: [Int], r: [Double], threshold: [Double], reset: [Double])
        /// τ dv/dt = (v_leak − v) + R I; spike and v ← v_reset when v > v_threshold.
        case leakyIntegrateAndFire(
            shape: [Int], tau: [Double], r: [Double], leak: [Double], threshold: [Double], reset: [Double])
        /// Current-based LIF: τ_syn dI/dt = −I + w_in S, τ_mem dv/dt = (v_leak − v) + R I.
        case currentBasedLIF(
            shape: [Int], tauSynapse: [Double], tauMembrane: [Double], r: [Double], leak: [Double], threshold: [Double],
            reset: [Double], inputWeight: [Double])

        /// The node's datasets in its group, as nir 1.0.8 writes them (type first).
        public var fields: [(name: String, dataset: HDF5Tree.Dataset)] {
            func floats(_ values: [Double], shape: [Int]) -> HDF5Tree.Dataset { .float64(shape: shape, values: values) }
            func tensor(_ t: Tensor) -> HDF5Tree.Dataset { .float32(shape: t.shape, values: t.scalars) }
            func ints(_ values: [Int]) -> HDF5Tree.Dataset {
                .int64(shape: [values.count], values: values.map(Int64.init))
            }
            func int(_ value: Int) -> HDF5Tree.Dataset { .int64(shape: [], values: [Int64(value)]) }
            var fields: [(String, HDF5Tree.Dataset)] = [("type", .strings(shape: [], values: [typeName]))]
            switch self {
            case .input(let shape), .output(let shape): fields.append(("shape", ints(shape)))
            case .affine(let w, let b): fields += [("weight", tensor(w)), ("bias", tensor(b))]
            case .linear(let w): fields.append(("weight", tensor(w)))
            case .conv2d(let w, let b, let s, let p, let d, let g, let input):
                fields += [
                    ("weight", tensor(w)), ("bias", tensor(b)), ("stride", ints(s)), ("padding", ints(p)),
                    ("dilation", ints(d)), ("groups", int(g)),
                ]
                if let input { fields.append(("input_shape", ints(input))) }
            case .flatten(let start, let end, let input):
                fields += [("start_dim", int(start)), ("end_dim", int(end))]
                if let input { fields.append(("input_type", ints(input))) }
            case .avgPool2d(let k, let s, let p), .sumPool2d(let k, let s, let p):
                fields += [("kernel_size", ints(k)), ("stride", ints(s)), ("padding", ints(p))]
            case .integrateAndFire(let shape, let r, let threshold, let reset):
                fields += [("r", r), ("v_threshold", threshold), ("v_reset", reset)].map {
                    ($0.0, floats($0.1, shape: shape))
                }
            case .leakyIntegrateAndFire(let shape, let tau, let r, let leak, let threshold, let reset):
                fields += [("tau", tau), ("r", r), ("v_leak", leak), ("v_threshold", threshold), ("v_reset", reset)].map
                {
                    ($0.0, floats($0.1, shape: shape))
                }
            case .currentBasedLIF(let shape, let tauSyn, let tauMem, let r, let leak, let threshold, let reset, let w):
                fields += [
                    ("tau_syn", tauSyn), ("tau_mem", tauMem), ("r", r), ("v_leak", leak), ("v_threshold", threshold),
                    ("v_reset", reset), ("w_in", w),
                ].map { ($0.0, floats($0.1, shape: shape)) }
            }
            return fields.map { (name: $0.0, dataset: $0.1) }
        }

        /// Nodes are equal when their types and fields are (weights value for value).
        public static func == (a: Node, b: Node) -> Bool {
            a.fields.map(\.name) == b.fields.map(\.name) && a.fields.map(\.dataset) == b.fields.map(\.dataset)
        }

        /// The node's NIR type name.
        public var typeName: String {
            switch self {
            case .input: "Input"
            case .output: "Output"
            case .affine: "Affine"
            case .linear: "Linear"
            case .conv2d: "Conv2d"
            case .flatten: "Flatten"
            case .avgPool2d: "AvgPool2d"
            case .sumPool2d: "SumPool2d"
            case .integrateAndFire: "IF"
            case .leakyIntegrateAndFire: "LIF"
            case .currentBasedLIF: "CubaLIF"
            }
        }
    }

    /// A metadata value: NIR stores strings and numbers there.
    public enum MetadataValue: Sendable, Equatable {
        case string(String)
        case number(Double)
    }

    /// The NIR release whose file layout this reader and writer follow.
    public static let formatVersion = "1.0.8"
    /// The node types ``Node`` reads.
    public static let readableTypes = [
        "Input", "Output", "Affine", "Linear", "Conv2d", "Flatten", "AvgPool2d", "SumPool2d", "IF", "LIF", "CubaLIF",
    ]

    public var nodes: [String: Node]
    public var edges: [(source: String, target: String)]
    public var metadata: [String: MetadataValue]

    public init(
        nodes: [String: Node], edges: [(source: String, target: String)], metadata: [String: MetadataValue] = [:]
    ) {
        self.nodes = nodes
        self.edges = edges
        self.metadata = metadata
    }

    public static func == (a: NIRGraph, b: NIRGraph) -> Bool {
        a.nodes == b.nodes && a.metadata == b.metadata
            && a.edges.map { [$0.source, $0.target] } == b.edges.map { [$0.source, $0.target] }
    }

    /// Reads a `.nir` file.
    public static func read(_ path: String) throws(SNNError) -> NIRGraph {
        try NIRGraph(objects: try HDF5Tree.read(path), file: path)
    }

    /// Writes a `.nir` file (atomically) that Python's `nir.read` reads.
    public func write(to path: String) throws(SNNError) {
        try HDF5Tree.write(objects, to: path)
    }

    /// The graph from the objects of its HDF5 file; `file` names it in errors.
    public init(objects: [String: HDF5Tree.Object], file: String) throws(SNNError) {
        let fields = FieldReader(objects: objects, file: file)
        guard objects["node"] == .group else {
            throw SNNError(.corrupt, "no group \"node\": not a NIR graph file", file: file)
        }
        let type = try fields.string("node/type")
        guard type == "NIRGraph" else {
            throw SNNError(.unsupported, "the root node is a \(type), not a NIRGraph", file: file)
        }
        guard objects["node/nodes"] == .group else {
            throw SNNError(.corrupt, "no group \"node/nodes\": not a NIR graph file", file: file)
        }
        var nodes: [String: Node] = [:]
        let names = objects.keys.compactMap { key -> String? in
            guard key.hasPrefix("node/nodes/"), objects[key] == .group else { return nil }
            let name = key.dropFirst("node/nodes/".count)
            return name.contains("/") ? nil : String(name)
        }
        for name in names.sorted() { nodes[name] = try fields.node(name) }
        var edges: [(source: String, target: String)] = []
        if objects["node/edges"] != nil {
            let (shape, values) = try fields.strings("node/edges")
            // An empty edge list is written by h5py as a 1-d empty array.
            guard (shape.count == 2 && shape[1] == 2) || values.isEmpty else {
                throw SNNError(.corrupt, "\"node/edges\" has shape \(shape); expected [n, 2]", file: file)
            }
            for i in stride(from: 0, to: values.count, by: 2) {
                let (source, target) = (values[i], values[i + 1])
                for end in [source, target] where nodes[end] == nil {
                    throw SNNError(.corrupt, "edge \(source) → \(target) names no node \"\(end)\"", file: file)
                }
                edges.append((source, target))
            }
        }
        var metadata: [String: MetadataValue] = [:]
        for (key, value) in objects where key.hasPrefix("node/metadata/") {
            let name = String(key.dropFirst("node/metadata/".count))
            switch value {
            case .strings(_, let v) where v.count == 1: metadata[name] = .string(v[0])
            case .numbers(_, let v) where v.count == 1: metadata[name] = .number(v[0])
            default: continue  // arrays and nested groups: not used here
            }
        }
        self.init(nodes: nodes, edges: edges, metadata: metadata)
    }

    /// The objects of the graph's HDF5 file, parents first.
    public var objects: [(path: String, dataset: HDF5Tree.Dataset)] {
        var out: [(path: String, dataset: HDF5Tree.Dataset)] = [
            ("version", .strings(shape: [], values: [Self.formatVersion])), ("node", .group),
            ("node/type", .strings(shape: [], values: ["NIRGraph"])), ("node/nodes", .group),
        ]
        for (name, node) in nodes.sorted(by: { $0.key < $1.key }) {
            let base = "node/nodes/\(name)"
            out.append((base, .group))
            out += node.fields.map { ("\(base)/\($0.name)", $0.dataset) }
        }
        out.append(
            ("node/edges", .strings(shape: [edges.count, 2], values: edges.flatMap { [$0.source, $0.target] })))
        if !metadata.isEmpty {
            out.append(("node/metadata", .group))
            for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
                switch value {
                case .string(let s): out.append(("node/metadata/\(key)", .strings(shape: [], values: [s])))
                case .number(let x): out.append(("node/metadata/\(key)", .float64(shape: [], values: [x])))
                }
            }
        }
        return out
    }
}

/// Typed access to the fields of a NIR file, with errors that name the field.
private struct FieldReader {
    let objects: [String: HDF5Tree.Object]
    let file: String

    func missing(_ path: String) -> SNNError { SNNError(.corrupt, "missing the NIR field \"\(path)\"", file: file) }
    func wrong(_ path: String, _ expected: String) -> SNNError {
        SNNError(.corrupt, "the NIR field \"\(path)\" is not \(expected)", file: file)
    }

    func string(_ path: String) throws(SNNError) -> String {
        guard let object = objects[path] else { throw missing(path) }
        guard case .strings(_, let values) = object, values.count == 1 else { throw wrong(path, "one string") }
        return values[0]
    }

    func strings(_ path: String) throws(SNNError) -> (shape: [Int], values: [String]) {
        guard let object = objects[path] else { throw missing(path) }
        guard case .strings(let shape, let values) = object else { throw wrong(path, "an array of strings") }
        return (shape, values)
    }

    func numbers(_ path: String) throws(SNNError) -> (shape: [Int], values: [Double]) {
        guard let object = objects[path] else { throw missing(path) }
        guard case .numbers(let shape, let values) = object else { throw wrong(path, "numeric") }
        guard values.allSatisfy(\.isFinite) else { throw wrong(path, "finite") }
        return (shape, values)
    }

    func tensor(_ path: String, rank: Int) throws(SNNError) -> Tensor {
        let (shape, values) = try numbers(path)
        guard shape.count == rank else { throw wrong(path, "of rank \(rank) (its shape is \(shape))") }
        return Tensor(shape: shape, scalars: values.map { Float($0) })
    }

    func doubles(_ path: String) throws(SNNError) -> [Double] { try numbers(path).values }

    /// A whole number (an integer dataset, or a float one holding a whole number).
    func integers(_ path: String) throws(SNNError) -> [Int] {
        try numbers(path).values.map { v throws(SNNError) -> Int in
            guard v == v.rounded(), abs(v) < 1e9 else { throw wrong(path, "a whole number") }
            return Int(v)
        }
    }

    func integer(_ path: String) throws(SNNError) -> Int {
        let v = try integers(path)
        guard v.count == 1 else { throw wrong(path, "one number") }
        return v[0]
    }

    /// A (height, width) pair, given as one number for both or as two.
    func pair(_ path: String) throws(SNNError) -> [Int] {
        if case .strings = objects[path] {
            let mode = try string(path)
            guard mode == "valid" else { throw wrong(path, "a pair of numbers or \"valid\" (it is \"\(mode)\")") }
            return [0, 0]
        }
        let v = try integers(path)
        guard v.count == 1 || v.count == 2 else { throw wrong(path, "one or two numbers") }
        return v.count == 1 ? [v[0], v[0]] : v
    }

    func node(_ name: String) throws(SNNError) -> NIRGraph.Node {
        let base = "node/nodes/\(name)/"
        let type = try string(base + "type")
        func f(_ field: String) throws(SNNError) -> [Double] { try doubles(base + field) }
        /// Neuron parameters: one value per neuron, all of one shape (given first).
        func neuronFields(_ names: [String]) throws(SNNError) -> (shape: [Int], values: [[Double]]) {
            var out: [[Double]] = []
            for field in names { out.append(try f(field)) }
            let shape = try numbers(base + names[0]).shape
            guard let count = out.first?.count, out.allSatisfy({ $0.count == count }) else {
                throw SNNError(
                    .corrupt, "node \"\(name)\": \(names.joined(separator: ", ")) differ in size", file: file)
            }
            return (shape, out)
        }
        /// v_reset is absent in files of nir before 1.0 (then 0, as nir reads it).
        func reset(_ threshold: [Double]) throws(SNNError) -> [Double] {
            objects[base + "v_reset"] == nil ? [Double](repeating: 0, count: threshold.count) : try f("v_reset")
        }
        switch type {
        case "Input": return .input(shape: try integers(base + "shape"))
        case "Output": return .output(shape: try integers(base + "shape"))
        case "Affine":
            return .affine(weight: try tensor(base + "weight", rank: 2), bias: try tensor(base + "bias", rank: 1))
        case "Linear": return .linear(weight: try tensor(base + "weight", rank: 2))
        case "Conv2d":
            return .conv2d(
                weight: try tensor(base + "weight", rank: 4), bias: try tensor(base + "bias", rank: 1),
                stride: try pair(base + "stride"), padding: try pair(base + "padding"),
                dilation: try pair(base + "dilation"), groups: try integer(base + "groups"),
                inputShape: objects[base + "input_shape"] == nil ? nil : try integers(base + "input_shape"))
        case "Flatten":
            return .flatten(
                startDim: try integer(base + "start_dim"), endDim: try integer(base + "end_dim"),
                inputShape: objects[base + "input_type"] == nil ? nil : try integers(base + "input_type"))
        case "AvgPool2d", "SumPool2d":
            let (k, s, p) = (try pair(base + "kernel_size"), try pair(base + "stride"), try pair(base + "padding"))
            return type == "AvgPool2d"
                ? .avgPool2d(kernel: k, stride: s, padding: p) : .sumPool2d(kernel: k, stride: s, padding: p)
        case "IF":
            let (shape, v) = try neuronFields(["v_threshold", "r"])
            return .integrateAndFire(shape: shape, r: v[1], threshold: v[0], reset: try reset(v[0]))
        case "LIF":
            let (shape, v) = try neuronFields(["tau", "r", "v_leak", "v_threshold"])
            return .leakyIntegrateAndFire(
                shape: shape, tau: v[0], r: v[1], leak: v[2], threshold: v[3], reset: try reset(v[3]))
        case "CubaLIF":
            let (shape, v) = try neuronFields(["tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "w_in"])
            return .currentBasedLIF(
                shape: shape, tauSynapse: v[0], tauMembrane: v[1], r: v[2], leak: v[3], threshold: v[4],
                reset: try reset(v[4]),
                inputWeight: v[5])
        default:
            throw SNNError(
                .unsupported,
                "node \"\(name)\" has the NIR type \"\(type)\", which snn does not read (it reads "
                    + NIRGraph.readableTypes.joined(separator: ", ") + ")", file: file)
        }
    }
}
