import ArgumentParser
import Foundation
import SNN

extension Bench {
    /// `snn bench allreduce`: the cost of data-parallel training's gradient allreduce on its own, for
    /// the scaling projection of docs/performance.md. Run under `mpirun -np N`; rank 0 prints.
    struct Allreduce: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "allreduce",
            abstract: "Float sum allreduce over the ranks of an MPI job (run it under mpirun -np N).")
        @OptionGroup var common: Common
        @Option(help: "Floats per allreduce (default: the gradients of the default spiking CNN).")
        var count = 21_482

        func validate() throws {
            guard count >= 1 else { throw ValidationError("--count must be ≥ 1, got \(count)") }
        }

        func run() throws {
            let world: Communicator
            do {
                world = try Communicator.world()
            } catch {
                throw CommandFailure(error)
            }
            // Zeros, so that repeated sums stay finite; the ranks fall into step after the first calls
            // (the warm-up), so each timed call measures the exchange rather than a late rank.
            var values = [Float](repeating: 0, count: count)
            world.barrier()
            let times = Bench.time(common) { world.allReduce(&values) }
            Communicator.finalize()
            guard world.isRoot else { return }
            let m = Bench.median(times), bytes = 4 * count
            try Bench.emit(
                [
                    "workload": "allreduce", "ranks": world.size, "floats": count, "bytes": bytes,
                    "median_seconds": m, "min_seconds": times.min() ?? m,
                    "gigabytes_per_second": Double(bytes) / m / 1e9,
                    "mpi": Communicator.libraryVersion ?? "",
                ], json: common.json,
                summary: String(
                    format: "allreduce of %d bytes over %d ranks: median %.1f µs (%.2f GB/s)", bytes, world.size,
                    m * 1e6, Double(bytes) / m / 1e9))
        }
    }
}
