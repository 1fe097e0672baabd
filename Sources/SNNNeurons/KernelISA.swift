import CSNNKernels
import Foundation
import SNNTensor

/// The instruction set the C neuron kernels run with: the best this CPU supports, unless the
/// `SNN_NEURON_ISA` environment variable (baseline, avx2, avx512) asks for less.
public enum NeuronKernelISA: Int32, CaseIterable, Sendable, CustomStringConvertible {
    case baseline = 0
    case avx2 = 1
    case avx512 = 2

    /// The variant neurons use in this process.
    public static var current: NeuronKernelISA { NeuronKernelISA(rawValue: snn_neuron_best_isa()) ?? .baseline }

    /// Whether this CPU (and operating system) runs the variant.
    public var isSupported: Bool { snn_neuron_isa_supported(rawValue) != 0 }

    public var description: String {
        switch self {
        case .baseline: "baseline"
        case .avx2: "avx2"
        case .avx512: "avx512"
        }
    }
}

/// The machine's streaming memory bandwidth, the ceiling of every memory-bound kernel: STREAM's
/// triad a[i] = b[i] + s·c[i] on all worker threads, counted as STREAM counts it (12 bytes per
/// element: two reads and a write; the write's read-for-ownership is not counted).
public enum MemoryBandwidth {
    /// The best and median rate over `repeats` passes, in bytes per second, on arrays of `elements`
    /// floats each (choose them far larger than the last-level cache).
    public static func triad(elements: Int, repeats: Int, isa: NeuronKernelISA = .current) -> (
        best: Double, median: Double
    ) {
        precondition(elements >= 1 && repeats >= 1, "MemoryBandwidth.triad: elements and repeats must be ≥ 1")
        let a = UnsafeMutablePointer<Float>.allocate(capacity: elements)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: elements)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: elements)
        defer {
            a.deallocate()
            b.deallocate()
            c.deallocate()
        }
        let grain = 1 << 16
        // First touch on the threads that will stream the pages (it places them, on NUMA machines).
        Parallelism.forEachChunk(elements, grain: grain) { range in
            (a + range.lowerBound).initialize(repeating: 0, count: range.count)
            (b + range.lowerBound).initialize(repeating: 1, count: range.count)
            (c + range.lowerBound).initialize(repeating: 2, count: range.count)
        }
        func pass() -> Double {
            let start = DispatchTime.now().uptimeNanoseconds
            Parallelism.forEachChunk(elements, grain: grain) { range in
                snn_triad(isa.rawValue, a, b, c, 3, range.lowerBound, range.upperBound)
            }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        _ = pass()
        let times = (0..<repeats).map { _ in pass() }.sorted()
        let bytes = 12 * Double(elements)
        return (bytes / times[0], bytes / times[times.count / 2])
    }
}
