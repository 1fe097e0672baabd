import Foundation

/// Where a tracked tensor sits on a ``GradientTape``.
public struct TapeNode: Sendable, Hashable {
    @usableFromInline let tapeID: UInt64
    @usableFromInline let index: Int

    /// Whether this node belongs to the tape that is recording now.
    @usableFromInline var isLive: Bool { GradientTape.current?.id == tapeID }
}

/// A runtime tape for reverse-mode automatic differentiation.
///
/// Inside ``GradientTape/record(_:)`` every differentiable primitive applied to a tracked tensor
/// appends one record (its inputs, its output and its pullback); ``gradients(of:withRespectTo:seed:)``
/// walks the records in reverse and accumulates gradients. Outside a recording scope nothing is
/// stored. Primitives are added with ``Tensor/init(_:inputs:pullback:)``, so that each derivative is
/// written beside its forward kernel. Gradients are first-order only: pullbacks run unrecorded.
public final class GradientTape: @unchecked Sendable {
    /// The tape recording in the current task or thread, if any.
    @TaskLocal public static var current: GradientTape?

    struct Record {
        let output: Int
        let inputs: [Int?]
        let pullback: (Tensor, [Bool]) -> [Tensor?]
    }

    let id: UInt64
    private var records: [Record] = []
    private var nodeShapes: [[Int]] = []

    nonisolated(unsafe) private static var nextID: UInt64 = 1
    private static let idLock = NSLock()

    init() {
        GradientTape.idLock.lock()
        id = GradientTape.nextID
        GradientTape.nextID += 1
        GradientTape.idLock.unlock()
    }

    /// Runs `body` with a fresh tape recording; nested recording scopes are not supported.
    public static func record<R>(_ body: (GradientTape) throws -> R) rethrows -> R {
        precondition(current == nil, "GradientTape.record: nested recording scopes are not supported")
        let tape = GradientTape()
        return try $current.withValue(tape) { try body(tape) }
    }

    /// Returns `tensor` as a new leaf of this tape: operations on the result are recorded.
    public func watch(_ tensor: Tensor) -> Tensor {
        var leaf = tensor
        leaf.node = TapeNode(tapeID: id, index: newNode(shape: tensor.shape))
        return leaf
    }

    private func newNode(shape: [Int]) -> Int {
        nodeShapes.append(shape)
        return nodeShapes.count - 1
    }

    func append(output: Tensor, inputs: [Tensor], pullback: @escaping (Tensor, [Bool]) -> [Tensor?]) -> Tensor {
        let inputNodes: [Int?] = inputs.map { t in
            guard let node = t.node, node.tapeID == id else { return nil }
            return node.index
        }
        var tracked = output
        let index = newNode(shape: output.shape)
        tracked.node = TapeNode(tapeID: id, index: index)
        records.append(Record(output: index, inputs: inputNodes, pullback: pullback))
        return tracked
    }

    /// The gradients of `output` with respect to each tensor of `sources` (zeros where `output` does
    /// not depend on a source). `seed` is the gradient of the final objective with respect to
    /// `output`; it defaults to ones (for a scalar loss, d loss / d loss = 1).
    public func gradients(of output: Tensor, withRespectTo sources: [Tensor], seed: Tensor? = nil) -> [Tensor] {
        guard let outputNode = output.node, outputNode.tapeID == id else {
            return sources.map { Tensor(zeros: $0.shape) }
        }
        if let seed {
            precondition(
                seed.shape == output.shape,
                "GradientTape.gradients: seed shape \(seed.shape) differs from output shape \(output.shape)")
        }
        // Only nodes on a path from a source need gradients.
        var needed = [Bool](repeating: false, count: nodeShapes.count)
        for s in sources { if let n = s.node, n.tapeID == id { needed[n.index] = true } }
        for r in records where r.inputs.contains(where: { $0.map { needed[$0] } ?? false }) {
            needed[r.output] = true
        }
        var grads = [Tensor?](repeating: nil, count: nodeShapes.count)
        grads[outputNode.index] = (seed ?? Tensor(ones: output.shape)).detached
        GradientTape.$current.withValue(nil) {
            for r in records.reversed() {
                guard needed[r.output], let g = grads[r.output] else { continue }
                let needs = r.inputs.map { $0.map { needed[$0] } ?? false }
                guard needs.contains(true) else { continue }
                let inputGrads = r.pullback(g, needs)
                precondition(
                    inputGrads.count == r.inputs.count,
                    "pullback returned \(inputGrads.count) gradients for \(r.inputs.count) inputs")
                for (k, node) in r.inputs.enumerated() {
                    guard let node, needs[k], let gi = inputGrads[k] else { continue }
                    precondition(
                        gi.shape == nodeShapes[node],
                        "pullback gave a gradient of shape \(gi.shape) for an input of shape \(nodeShapes[node])")
                    if let existing = grads[node] { grads[node] = existing + gi } else { grads[node] = gi }
                }
                // Sources keep their gradient; intermediate ones are no longer needed.
                if r.output != outputNode.index { grads[r.output] = nil }
            }
        }
        return sources.map { s in
            guard let n = s.node, n.tapeID == id, let g = grads[n.index] else { return Tensor(zeros: s.shape) }
            return g
        }
    }
}

extension Tensor {
    /// Records a differentiable primitive: `result` was computed from `inputs`, and `pullback` maps the
    /// gradient of the result to the gradients of the inputs (one entry per input, `nil` for none).
    /// The second argument of `pullback` tells which inputs need a gradient, so costly ones can be
    /// skipped. Without an active tape, or when no input is tracked, `result` is returned unchanged.
    public init(_ result: Tensor, inputs: [Tensor], pullback: @escaping (Tensor, [Bool]) -> [Tensor?]) {
        guard let tape = GradientTape.current,
            inputs.contains(where: { $0.node?.tapeID == tape.id })
        else {
            self = result
            return
        }
        self = tape.append(output: result, inputs: inputs, pullback: pullback)
    }

    /// ``init(_:inputs:pullback:)`` for a primitive of one input.
    public init(_ result: Tensor, input: Tensor, pullback: @escaping (Tensor) -> Tensor) {
        self.init(result, inputs: [input]) { g, _ in [pullback(g)] }
    }
}

/// The value of `f` at `x` and the gradient of its (summed) value with respect to `x`.
public func valueWithGradient(at x: Tensor, _ f: (Tensor) -> Tensor) -> (value: Tensor, gradient: Tensor) {
    let (value, grads) = valueWithGradient(at: [x]) { f($0[0]) }
    return (value, grads[0])
}

/// The value of `f` at `xs` and the gradients of its (summed) value with respect to each of `xs`.
public func valueWithGradient(at xs: [Tensor], _ f: ([Tensor]) -> Tensor) -> (value: Tensor, gradients: [Tensor]) {
    GradientTape.record { tape in
        let watched = xs.map { tape.watch($0) }
        let value = f(watched)
        let grads = tape.gradients(of: value, withRespectTo: watched)
        return (value.detached, grads)
    }
}

/// The gradient of the (summed) value of `f` at `x`.
public func gradient(at x: Tensor, _ f: (Tensor) -> Tensor) -> Tensor {
    valueWithGradient(at: x, f).gradient
}
