import ArgumentParser
import Foundation
import SNN

/// The `snn` command line.
public struct SNNCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "snn",
        abstract: "Train, evaluate and benchmark spiking neural networks on the CPU.",
        version: SNNCommand.version,
        subcommands: [
            Train.self, Evaluate.self, Report.self, Export.self, Import.self, Search.self, SearchWorker.self,
            DataCommand.self, Bench.self,
            Info.self,
        ])

    /// The release this binary was built from (`snn --version`).
    public static let version = "0.5.0"

    public init() {}

    /// Parses the process's arguments and runs the chosen command, as `ParsableCommand.main()` does,
    /// after the one-line slow-fallback note for training and benchmarks (``SlowFallbackNote``).
    /// Write failures of any command are reported, not signalled (see the body).
    public static func main() {
        // A file over the size limit (ulimit -f) then fails its write with EFBIG, reported as one error
        // line naming the file, instead of the signal killing the process with a core dump.
        signal(SIGXFSZ, SIG_IGN)
        do {
            var command = try parseAsRoot()
            SlowFallbackNote.print(before: command)
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// `snn info`: what the library runs on.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the BLAS, convolution backend, neuron kernels and thread count in use.")

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let facts: [String: Any] = [
            "blas": BLAS.description,
            "blas_core": BLAS.coreName,
            "onednn": ConvolutionBackend.oneDNNAvailable,
            "threads": Parallelism.threadCount,
            "avx512": BLAS.cpuHasAVX512,
            "neuron_kernels": NeuronKernelISA.current.description,
            // Data-parallel training (`--distributed`) loads Open MPI at run time.
            "mpi": Communicator.libraryVersion ?? "unavailable",
        ]
        if json {
            print(try JSONLine.encode(facts))
        } else {
            for (key, value) in facts.sorted(by: { $0.key < $1.key }) { print("\(key): \(value)") }
        }
    }
}

/// Encodes a dictionary as one JSON line with sorted keys.
enum JSONLine {
    static func encode(_ object: [String: Any]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
