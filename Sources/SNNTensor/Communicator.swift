import CSNNKernels
import Dispatch
import Foundation

/// The processes of one MPI job (`mpirun -np N`, `srun`): this process's rank, their number, and
/// the collective operations data-parallel training needs.
///
/// MPI is loaded at run time (Open MPI's `libmpi.so.40`), so nothing about it is needed to build the
/// package or to run on one machine. There is one world per process: ``world()`` initialises MPI on
/// its first call. Every rank must make the same collective calls in the same order with the same
/// sizes; a rank that stops calling makes the others wait until the launcher ends the job.
///
/// MPI's default error handler ends the whole job on a communication error, so the collectives here
/// do not throw: a failure that comes back all the same is a bug (a call before ``world()`` or after
/// ``finalize()``) and stops with a precondition.
public final class Communicator: @unchecked Sendable {
    /// This process's rank in the job, 0 ..< ``size``.
    public let rank: Int
    /// The number of processes in the job.
    public let size: Int
    /// Seconds spent inside collective calls so far (waiting for slower ranks included).
    public private(set) var communicationSeconds: Double = 0

    /// Rank 0, the one that writes files and prints progress.
    public var isRoot: Bool { rank == 0 }

    /// Reductions of ``allReduce(_:_:)``.
    public enum Reduction: Sendable {
        case sum, maximum

        var native: snn_mpi_operation { self == .sum ? SNN_MPI_SUM : SNN_MPI_MAX }
    }

    private init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    /// Whether an MPI library (Open MPI) can be loaded.
    public static var isAvailable: Bool { snn_mpi_available() != 0 }

    /// The MPI library's own one-line description ("Open MPI v4.1.4, package: Debian ..."), or nil.
    public static var libraryVersion: String? {
        isAvailable ? String(cString: snn_mpi_library_version()) : nil
    }

    /// The number of processes the launcher started when this process runs under one: Open MPI's
    /// `mpirun` sets `OMPI_COMM_WORLD_SIZE`, PMI launchers (MPICH's Hydra, Slurm's `srun`) `PMI_SIZE`.
    /// Nil outside a launcher or when the variable is not a whole number ≥ 1.
    public static func launcherWorldSize(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Int? {
        for key in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] {
            if let value = environment[key], let n = Int(value), n >= 1 { return n }
        }
        return nil
    }

    nonisolated(unsafe) private static var shared: Communicator?
    private static let lock = NSLock()

    /// The job's world (MPI_COMM_WORLD), initialising MPI on the first call. Throws when no MPI
    /// library can be loaded or MPI does not start.
    public static func world() throws(SNNError) -> Communicator {
        lock.lock()
        defer { lock.unlock() }
        if let shared { return shared }
        var rank: Int32 = 0, size: Int32 = 0
        switch Int(snn_mpi_initialize(&rank, &size)) {
        case SNN_MPI_OK: break
        case SNN_MPI_UNAVAILABLE:
            throw SNNError(
                .unsupported,
                "no MPI library could be loaded (libmpi.so.40 of Open MPI: apt-get install libopenmpi-dev openmpi-bin)")
        default:
            throw SNNError(.io, "MPI did not start (MPI_Init_thread failed)")
        }
        let world = Communicator(rank: Int(rank), size: Int(size))
        shared = world
        return world
    }

    /// Ends MPI in this process (MPI_Finalize) when ``world()`` started it: call once, after the
    /// last collective, before a successful exit (Open MPI's launcher reports ranks that exit
    /// without it as failed).
    public static func finalize() { _ = snn_mpi_finalize() }

    /// Ends every rank of the job with exit status `code` (MPI_Abort); for a failure that only this
    /// rank sees, which would leave the others waiting in their next collective.
    public func abort(code: Int32) -> Never {
        snn_mpi_abort(code)
        exit(code)  // reached only when MPI was already finalised
    }

    /// Replaces every rank's `values` with their element-wise reduction over all ranks.
    public func allReduce(_ values: inout [Float], _ reduction: Reduction = .sum) {
        collective("allreduce", &values) { snn_mpi_allreduce_float($0, $1, reduction.native) }
    }

    /// ``allReduce(_:_:)`` for doubles (counts and sums that must stay exact).
    public func allReduce(_ values: inout [Double], _ reduction: Reduction = .sum) {
        collective("allreduce", &values) { snn_mpi_allreduce_double($0, $1, reduction.native) }
    }

    /// Whether `flag` is true on any rank.
    public func anyRank(_ flag: Bool) -> Bool {
        var value: [Double] = [flag ? 1 : 0]
        allReduce(&value, .maximum)
        return value[0] != 0
    }

    /// Replaces `values` on every rank with rank `root`'s (same count on every rank).
    public func broadcast(_ values: inout [Float], from root: Int = 0) {
        collective("broadcast", &values) { snn_mpi_broadcast_float($0, $1, Int32(root)) }
    }

    /// Replaces `bytes` on every rank with rank `root`'s, whatever their length on the other ranks.
    public func broadcast(_ bytes: inout [UInt8], from root: Int) {
        var length: [Double] = [rank == root ? Double(bytes.count) : 0]
        allReduce(&length)  // only `root` contributes
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length[0])) }
        collective("broadcast", &bytes) { snn_mpi_broadcast_bytes($0, $1, Int32(root)) }
    }

    /// Every rank's `bytes`, by rank, on every rank.
    public func allGather(_ bytes: [UInt8]) -> [[UInt8]] {
        (0..<size).map { r in
            var part = r == rank ? bytes : []
            broadcast(&part, from: r)
            return part
        }
    }

    /// Waits until every rank has called it.
    public func barrier() {
        timed { precondition(Int(snn_mpi_barrier()) == SNN_MPI_OK, "MPI barrier failed") }
    }

    /// Runs the C collective `call` on `values`' storage and count, timed.
    private func collective<Element>(
        _ name: String, _ values: inout [Element], _ call: (UnsafeMutablePointer<Element>?, Int) -> Int32
    ) {
        timed {
            let status = values.withUnsafeMutableBufferPointer { Int(call($0.baseAddress, $0.count)) }
            precondition(status == SNN_MPI_OK, "MPI \(name) of \(values.count) values failed (\(status))")
        }
    }

    private func timed(_ body: () -> Void) {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        communicationSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

extension Tensor {
    /// The element-wise sum of this tensor over every rank of `communicator` (same shape on each).
    /// Differentiable: every rank's objective depends on the sum, so the gradient that reaches this
    /// rank's input is the sum of the gradients all ranks give the result (an allreduce again).
    public func allReduced(over communicator: Communicator) -> Tensor {
        func sum(_ t: Tensor) -> Tensor {
            var values = t.scalars
            communicator.allReduce(&values)
            return Tensor(shape: t.shape, scalars: values)
        }
        return Tensor(sum(self.detached), input: self) { sum($0) }
    }
}
