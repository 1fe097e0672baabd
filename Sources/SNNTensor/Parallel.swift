import Dispatch
import Foundation

/// Carries a value into `concurrentPerform`, whose closure must be `@Sendable`. Only used for work
/// that writes disjoint memory per iteration.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
}

/// How the library spreads kernels over cores.
public enum Parallelism {
    /// Number of worker threads kernels split their work into, fixed for the process (chunk
    /// boundaries, and so reproducible sums, depend on it): `SNN_THREADS` when it is set to a whole
    /// number ≥ 1 (how `snn search` runs its workers on one thread each), else the active processor count
    /// shared among the processes an MPI launcher started on this machine.
    public static let threadCount: Int = defaultThreadCount(environment: ProcessInfo.processInfo.environment)

    /// ``threadCount`` for a process environment.
    static func defaultThreadCount(environment: [String: String]) -> Int {
        if let value = environment["SNN_THREADS"], let n = Int(value), n >= 1 { return n }
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        // Ranks of one job on one machine (Open MPI; MPICH's Hydra): each takes its share of the cores
        // rather than all of them, which would oversubscribe the machine by the rank count.
        for key in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"] {
            if let value = environment[key], let ranks = Int(value), ranks >= 1 { return max(1, cores / ranks) }
        }
        return cores
    }

    /// Calls `body` on contiguous chunks covering `0..<count`, in parallel when the work is large
    /// enough. Chunk boundaries depend only on `count`, `grain` and ``threadCount``, so results that
    /// combine per-chunk partial values in chunk order are reproducible. `body` must only write
    /// memory that no other chunk touches.
    public static func forEachChunk(_ count: Int, grain: Int = 1 << 15, _ body: (Range<Int>) -> Void) {
        let chunks = Swift.min(threadCount, (count + Swift.max(grain, 1) - 1) / Swift.max(grain, 1))
        if chunks <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        let size = (count + chunks - 1) / chunks
        withoutActuallyEscaping(body) { escaping in
            let box = UncheckedSendable(value: escaping)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let start = c * size, end = Swift.min(count, start + size)
                if start < end { box.value(start..<end) }
            }
        }
    }

    /// The sum of `body`'s value over the chunks ``forEachChunk(_:grain:_:)`` makes, added in chunk
    /// order (reproducible for a given ``threadCount``).
    public static func sumOverChunks(_ count: Int, grain: Int = 1 << 15, _ body: (Range<Int>) -> Double) -> Double {
        let chunks = Swift.max(1, Swift.min(threadCount, (count + Swift.max(grain, 1) - 1) / Swift.max(grain, 1)))
        let size = (count + chunks - 1) / Swift.max(chunks, 1)
        var partials = [Double](repeating: 0, count: chunks)
        partials.withUnsafeMutableBufferPointer { slots in
            guard let slot = slots.baseAddress else { return }
            forEachChunk(count, grain: grain) { range in slot[size > 0 ? range.lowerBound / size : 0] = body(range) }
        }
        return partials.reduce(0, +)
    }

    /// Calls `body(i)` for every i in `0..<count`, spread over the worker threads.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 || threadCount == 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            let box = UncheckedSendable(value: escaping)
            DispatchQueue.concurrentPerform(iterations: count) { box.value($0) }
        }
    }
}
