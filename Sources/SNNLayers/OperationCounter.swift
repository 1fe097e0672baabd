import Foundation
import SNNTensor

/// Counts the multiply-accumulates of synaptic layers (Linear, Conv1d, Conv2d) and how sparse their
/// inputs are, for the synaptic-operation and energy estimates. Active only inside ``measure(_:)``;
/// layers check it with one task-local read, so training without it costs nothing.
public final class OperationCounter: @unchecked Sendable {
    /// The counter of the current task, if any.
    @TaskLocal public static var current: OperationCounter?

    /// What one layer did over all calls.
    public struct Record: Sendable {
        /// Multiply-accumulates as if every input were nonzero.
        public var macs: Double = 0
        /// Multiply-accumulates weighted by the fraction of nonzero inputs (the synaptic operations
        /// of a layer fed with spikes).
        public var activeMACs: Double = 0
        /// Whether every input seen was 0 or 1 (a spiking input).
        public var binaryInput = true
        /// Input elements seen and nonzero input elements seen.
        public var inputElements: Double = 0
        public var nonzeroInputs: Double = 0
        /// Samples (batch entries, without T) seen.
        public var samples = 0

        /// Fraction of nonzero inputs.
        public var inputFiringRate: Double { inputElements > 0 ? nonzeroInputs / inputElements : 0 }
    }

    private let lock = NSLock()
    private var records: [ObjectIdentifier: Record] = [:]
    private var order: [ObjectIdentifier] = []

    public init() {}

    /// Runs `body` with this counter active.
    public func measure<R>(_ body: () throws -> R) rethrows -> R {
        try OperationCounter.$current.withValue(self) { try body() }
    }

    /// Called by synaptic layers.
    public func record(layer: Module, macs: Double, input: Tensor, samples: Int) {
        var nonzero = 0.0, binary = true
        input.withUnsafeBufferPointer { p in
            var count = 0
            for v in p {
                if v != 0 { count += 1; if v != 1 { binary = false } }
            }
            nonzero = Double(count)
        }
        let fraction = input.count > 0 ? nonzero / Double(input.count) : 0
        lock.lock()
        defer { lock.unlock() }
        let id = ObjectIdentifier(layer)
        if records[id] == nil { order.append(id) }
        var r = records[id, default: Record()]
        r.macs += macs
        r.activeMACs += macs * fraction
        r.binaryInput = r.binaryInput && binary
        r.inputElements += Double(input.count)
        r.nonzeroInputs += nonzero
        r.samples += samples
        records[id] = r
    }

    /// The records of `model`'s layers by path, in the order they first ran.
    public func records(in model: Module) -> [(path: String, record: Record)] {
        var names: [ObjectIdentifier: String] = [:]
        for (path, module) in model.namedModules() { names[ObjectIdentifier(module)] = String(path.dropLast()) }
        lock.lock()
        defer { lock.unlock() }
        return order.compactMap { id in records[id].map { (names[id] ?? "?", $0) } }
    }
}

/// The energy model of the Spikformer convention used by the papers: 4.6 pJ per multiply-accumulate
/// of a layer with analog (non-spike) input, 0.9 pJ per synaptic operation (accumulate triggered by
/// a spike).
public struct EnergyEstimate: Sendable {
    public static let joulesPerMAC = 4.6e-12
    public static let joulesPerSOP = 0.9e-12

    /// MACs of layers with analog input, per sample.
    public var macs: Double
    /// Synaptic operations (input firing rate × MACs of layers with spike input), per sample.
    public var synapticOperations: Double

    public var joules: Double { Self.joulesPerMAC * macs + Self.joulesPerSOP * synapticOperations }

    /// Sums the records of a counted evaluation; `samples` is the number of evaluated samples.
    public init(records: [OperationCounter.Record], samples: Int) {
        let n = Double(max(samples, 1))
        macs = records.filter { !$0.binaryInput }.reduce(0) { $0 + $1.macs } / n
        synapticOperations = records.filter { $0.binaryInput }.reduce(0) { $0 + $1.activeMACs } / n
    }
}
