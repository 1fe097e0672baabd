import ArgumentParser
import Foundation
import SNN

extension ParallelSpikingUnit.Variant: ExpressibleByArgument {}

/// `snn bench`: the performance workloads of the project (not tests; see docs/performance.md).
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a benchmark workload and print its figures.",
        subcommands: [
            GEMM.self, Conv.self, MemoryWorkload.self, LIFWorkload.self, PSNWorkload.self, PSUWorkload.self,
            LinearLIFWorkload.self, RecurrentWorkload.self, TrainStep.self, EventsWorkload.self, SpikformerStep.self,
            Allreduce.self,
        ])

    /// Options shared by every workload.
    struct Common: ParsableArguments {
        @Flag(help: "Print one JSON line per workload.")
        var json = false
        @Option(help: "Untimed warm-up repetitions.")
        var warmup = 3
        @Option(help: "Timed repetitions (the median is reported).")
        var repeats = 10

        func validate() throws {
            guard warmup >= 0 else { throw ValidationError("--warmup must be ≥ 0, got \(warmup)") }
            guard repeats >= 1 else { throw ValidationError("--repeats must be ≥ 1, got \(repeats)") }
        }
    }

    /// Runs `body` warm-up + repeats times and returns the timed durations in seconds.
    static func time(_ common: Common, _ body: () -> Void) -> [Double] {
        for _ in 0..<common.warmup { body() }
        return (0..<common.repeats).map { _ in
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
    }

    static func timeThrowing(_ common: Common, _ body: () throws -> Void) throws -> [Double] {
        for _ in 0..<common.warmup { try body() }
        return try (0..<common.repeats).map { _ in
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
    }

    /// Times SGD steps (momentum 0.9, learning rate 0.01, as the peers' scripts) of `model` on the
    /// input `input()` makes, with the mean over T of its per-step logits in the cross-entropy.
    static func timeTrainingSteps(_ common: Common, _ model: some Layer, labels: [Int], input: () -> Tensor) -> [Double]
    {
        let optimizer = SGD(learningRate: 0.01, momentum: 0.9)
        return time(common) {
            let (_, gradients) = valueWithGradient(at: model) { model in
                crossEntropy(logits: Readout.mean(model(input())), labels: labels)
            }
            optimizer.update(model, along: gradients)
        }
    }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func emit(_ fields: [String: Any], json: Bool, summary: String) throws {
        print(json ? try JSONLine.encode(fields) : summary)
    }

    struct GEMM: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gemm", abstract: "Dense float32 matrix product n×n·n×n.")
        @OptionGroup var common: Common
        @Option(help: "Matrix size.")
        var n = 2048

        func validate() throws {
            guard n >= 1 else { throw ValidationError("--n must be ≥ 1, got \(n)") }
        }

        func run() throws {
            var g = RandomGenerator(seed: 0)
            let a = Tensor.randomNormal([n, n], using: &g), b = Tensor.randomNormal([n, n], using: &g)
            let times = Bench.time(common) { _ = Tensor.matmul(a, b) }
            let m = Bench.median(times), flop = 2 * pow(Double(n), 3)
            try Bench.emit(
                [
                    "workload": "gemm", "n": n, "median_seconds": m, "min_seconds": times.min()!,
                    "gflop_per_second": flop / m / 1e9, "best_gflop_per_second": flop / times.min()! / 1e9,
                    "blas": BLAS.description, "threads": Parallelism.threadCount,
                ], json: common.json,
                summary: String(
                    format: "gemm %d³: %.1f GFLOP/s (median %.2f ms) on %@", n, flop / m / 1e9, m * 1e3,
                    BLAS.description))
        }
    }

    struct Conv: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "conv", abstract: "conv2d forward + backward data + backward weights, 3×3, padding 1.")
        @OptionGroup var common: Common
        @Option(help: "Batch size.") var batch = 32
        @Option(help: "Input channels.") var channels = 64
        @Option(help: "Input height and width.") var size = 32
        @Option(help: "Output channels.") var outChannels = 128
        @Option(help: "Implementation: automatic (oneDNN when present) or reference (im2col + sgemm).")
        var backend: BackendName = .automatic

        enum BackendName: String, ExpressibleByArgument, CaseIterable { case automatic, reference }

        func validate() throws {
            guard batch >= 1, channels >= 1, size >= 1, outChannels >= 1 else {
                throw ValidationError("--batch, --channels, --size and --out-channels must be ≥ 1")
            }
        }

        func run() throws {
            let chosen: ConvolutionBackend = backend == .automatic ? .automatic : .reference
            var g = RandomGenerator(seed: 0)
            let x = Tensor.randomNormal([batch, channels, size, size], using: &g)
            let w = Tensor.randomNormal([outChannels, channels, 3, 3], using: &g)
            let upstream = Tensor.randomNormal([batch, outChannels, size, size], using: &g)
            let times = ConvolutionBackend.$current.withValue(chosen) {
                Bench.time(common) {
                    _ = GradientTape.record { tape in
                        let (xw, ww) = (tape.watch(x), tape.watch(w))
                        let y = Tensor.conv2d(xw, weight: ww, padding: (1, 1))
                        return tape.gradients(of: y, withRespectTo: [xw, ww], seed: upstream)
                    }
                }
            }
            let m = Bench.median(times)
            let flop = 3 * 2 * Double(batch * outChannels * size * size * channels * 9)
            let used = chosen == .automatic && ConvolutionBackend.oneDNNAvailable ? "onednn" : "reference"
            try Bench.emit(
                [
                    "workload": "conv", "batch": batch, "channels": channels, "size": size, "out_channels": outChannels,
                    "milliseconds": m * 1e3, "min_milliseconds": times.min()! * 1e3, "gflop_per_second": flop / m / 1e9,
                    "backend": used, "threads": Parallelism.threadCount,
                ], json: common.json,
                summary: String(
                    format: "conv fwd+bwd [%d, %d, %d, %d] → %d: %.1f ms, %.1f GFLOP/s (%@)",
                    batch, channels, size, size, outChannels, m * 1e3, flop / m / 1e9, used))
        }
    }

    /// Options of the neuron workloads: the shapes [T, batch, neurons].
    struct NeuronShapes: ParsableArguments {
        @Option(name: .customLong("time-steps"), parsing: .upToNextOption, help: "Time steps; one workload each.")
        var timeSteps: [Int] = []
        @Option(help: "Batch size.") var batch = 32
        @Option(help: "Neurons per sample.") var neurons = 65536

        func validate() throws {
            guard timeSteps.allSatisfy({ $0 >= 1 }), batch >= 1, neurons >= 1 else {
                throw ValidationError("--time-steps, --batch and --neurons must be ≥ 1")
            }
        }
    }

    /// The least memory traffic of a neuron layer's forward + backward per neuron-step, in bytes:
    /// x read, spikes written (forward); ∂L/∂S read, x read again to recompute the membrane, ∂L/∂X
    /// written (backward) — five floats. Keeping the membrane instead costs a write and a read more.
    static let bytesPerNeuronStep = 20.0

    /// The streaming-bandwidth ceiling the neuron workloads compare with (bytes/s): the triad's best
    /// of 5 passes over 3 × 32 Mi floats, measured once per process.
    static let bandwidthCeiling: Double = MemoryBandwidth.triad(elements: 1 << 25, repeats: 5).best

    /// Forward + backward of a neuron layer on x ~ N(1, 1), one JSON line per T.
    static func neuronWorkload(
        _ name: String, _ common: Common, _ shapes: NeuronShapes, defaultTimeSteps: [Int],
        make: (Int) -> any Layer
    ) throws {
        try neuronWorkload(
            name, common, timeSteps: shapes.timeSteps.isEmpty ? defaultTimeSteps : shapes.timeSteps,
            batch: shapes.batch, neurons: shapes.neurons, make: make)
    }

    static func neuronWorkload(
        _ name: String, _ common: Common, timeSteps: [Int], batch: Int, neurons: Int, make: (Int) -> any Layer
    ) throws {
        for t in timeSteps {
            let layer = make(t)
            var g = RandomGenerator(seed: 0)
            let x = Tensor.randomNormal([t, batch, neurons], mean: 1, standardDeviation: 1, using: &g)
            let upstream = Tensor.randomNormal([t, batch, neurons], using: &g)
            let parameters = layer.namedParameters().map(\.parameter).filter(\.requiresGradient)
            let times = Bench.time(common) {
                GradientTape.record { tape in
                    let xw = tape.watch(x)
                    for p in parameters { p.wrappedValue = tape.watch(p.wrappedValue) }
                    defer { for p in parameters { p.wrappedValue = p.wrappedValue.detached } }
                    _ = tape.gradients(
                        of: layer(xw), withRespectTo: [xw] + parameters.map(\.wrappedValue), seed: upstream)
                }
            }
            let forwardTimes = Bench.time(common) { _ = layer(x) }
            let rate = layer(x).mean().item
            let m = Bench.median(times), steps = Double(t * batch * neurons)
            try Bench.emit(
                [
                    "workload": name, "time_steps": t, "batch": batch, "neurons": neurons,
                    "median_seconds": m, "neuron_steps_per_second": steps / m,
                    "forward_neuron_steps_per_second": steps / Bench.median(forwardTimes),
                    "firing_rate": rate, "threads": Parallelism.threadCount,
                    "bytes_per_neuron_step": bytesPerNeuronStep,
                    "bandwidth_fraction": bytesPerNeuronStep * steps / m / bandwidthCeiling,
                    "bandwidth_ceiling_gb_s": bandwidthCeiling / 1e9, "isa": NeuronKernelISA.current.description,
                ], json: common.json,
                summary: String(
                    format:
                        "%@ [%d, %d, %d]: %.0f M neuron-steps/s fwd+bwd (%.1f ms), firing rate %.3f, %.0f %% of %.1f GB/s",
                    name, t, batch, neurons, steps / m / 1e6, m * 1e3, rate,
                    100 * bytesPerNeuronStep * steps / m / bandwidthCeiling, bandwidthCeiling / 1e9))
        }
    }

    struct MemoryWorkload: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "memory",
            abstract:
                "Streaming memory bandwidth: STREAM's triad a = b + s·c on all threads, the ceiling of the neuron workloads."
        )
        @OptionGroup var common: Common
        @Option(help: "Floats per array (default 64 Mi: three arrays of 256 MiB, far beyond any cache).")
        var elements = 1 << 26

        func validate() throws {
            guard elements >= 1 else { throw ValidationError("--elements must be ≥ 1, got \(elements)") }
        }

        func run() throws {
            let (best, median) = MemoryBandwidth.triad(elements: elements, repeats: common.repeats)
            try Bench.emit(
                [
                    "workload": "memory", "kernel": "triad", "elements": elements, "bytes_per_element": 12,
                    "triad_gb_s": best / 1e9, "median_gb_s": median / 1e9, "threads": Parallelism.threadCount,
                    "isa": NeuronKernelISA.current.description,
                ], json: common.json,
                summary: String(
                    format: "triad, 3 × %d floats, %d threads: %.1f GB/s best, %.1f GB/s median", elements,
                    Parallelism.threadCount, best / 1e9, median / 1e9))
        }
    }

    struct LinearLIFWorkload: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "linear-lif",
            abstract: """
                The Open Neuromorphic library benchmark on CPU: Linear(n, n) then LIF (τ = 5, hard reset, \
                arctangent) over T steps, forward + backward of the summed spikes; time and peak memory.
                """)
        @OptionGroup var common: Common
        @Option(help: "Features n of the Linear(n, n) layer.") var neurons = 4096
        @Option(help: "Time steps.") var timeSteps = 500
        @Option(help: "Batch size.") var batch = 16

        func validate() throws {
            guard neurons >= 1, timeSteps >= 1, batch >= 1 else {
                throw ValidationError("--neurons, --time-steps and --batch must be ≥ 1")
            }
        }

        func run() throws {
            GlobalRandom.seed(0)
            // SpikingJelly's LIFNode(tau=5, ATan) as the peers' script builds it: decayed input, hard
            // reset to 0, reset not detached.
            let model = Sequential([
                Linear(neurons, neurons),
                LIF(tau: 5, threshold: 1, reset: .hard(to: 0), detachReset: false, surrogate: .arctangent(alpha: 2)),
            ])
            var g = RandomGenerator(seed: 0)
            let x = Tensor.randomUniform([timeSteps, batch, neurons], using: &g)
            let times = Bench.time(common) {
                _ = valueWithGradient(at: model) { model in model(x).sum() }
            }
            let forwardTimes = Bench.time(common) { _ = model(x) }
            let m = Bench.median(times), f = Bench.median(forwardTimes)
            try Bench.emit(
                [
                    "workload": "linear-lif", "neurons": neurons, "time_steps": timeSteps, "batch": batch,
                    "median_seconds": m, "forward_median_seconds": f, "peak_rss_mib": Bench.peakResidentMiB(),
                    "threads": Parallelism.threadCount, "isa": NeuronKernelISA.current.description,
                ], json: common.json,
                summary: String(
                    format: "linear-lif n = %d, T = %d, batch %d: %.2f s fwd+bwd, %.2f s forward, peak RSS %.0f MiB",
                    neurons, timeSteps, batch, m, f, Bench.peakResidentMiB()))
        }
    }

    struct RecurrentWorkload: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "recurrent",
            abstract: """
                The recurrent-mlp layer: Linear(F, F) then F recurrent LIF neurons (τ = 2, hard reset, \
                arctangent), forward + backward on [T, batch, F] (SpikingJelly's LinearRecurrentContainer).
                """)
        @OptionGroup var common: Common
        @Option(help: "Time steps (sequential MNIST: 28 rows).") var timeSteps = 28
        @Option(help: "Batch size.") var batch = 64
        @Option(help: "Features F.") var features = 256

        func validate() throws {
            guard timeSteps >= 1, batch >= 1, features >= 1 else {
                throw ValidationError("--time-steps, --batch and --features must be ≥ 1")
            }
        }

        func run() throws {
            GlobalRandom.seed(0)
            try Bench.neuronWorkload(
                "recurrent", common, timeSteps: [timeSteps], batch: batch, neurons: features
            ) { _ in
                Sequential([
                    Linear(features, features),
                    RecurrentSpiking(
                        features: features,
                        neuron: LIF(
                            tau: 2, threshold: 1, reset: .hard(to: 0), detachReset: true,
                            surrogate: .arctangent(alpha: 2))),
                ])
            }
        }
    }

    struct LIFWorkload: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lif",
            abstract:
                "Fused multi-step LIF forward + backward (τ = 2, hard reset, detached, arctangent) on [T, batch, neurons]."
        )
        @OptionGroup var common: Common
        @OptionGroup var shapes: NeuronShapes
        @Option(help: "Mask the surrogate gradient with this probability (MSG; measures its cost).")
        var msgProbability: Float?

        func validate() throws {
            if let p = msgProbability, !(p >= 0 && p <= 1) {
                throw ValidationError("--msg-probability must be in [0, 1], got \(p)")
            }
        }

        func run() throws {
            try Bench.neuronWorkload(
                msgProbability == nil ? "lif" : "lif-msg", common, shapes, defaultTimeSteps: [8, 4]
            ) { _ in
                let lif = LIF(
                    tau: 2, threshold: 1, reset: .hard(to: 0), detachReset: true, surrogate: .arctangent(alpha: 2))
                lif.gradientMask = msgProbability.map { SurrogateGradientMask(probability: $0) }
                return lif
            }
        }
    }

    struct PSNWorkload: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "psn", abstract: "PSN (T×T weights, arctangent) forward + backward on [T, batch, neurons].")
        @OptionGroup var common: Common
        @OptionGroup var shapes: NeuronShapes

        func run() throws {
            GlobalRandom.seed(0)
            try Bench.neuronWorkload("psn", common, shapes, defaultTimeSteps: [4, 8, 16, 32]) { t in
                PSN(timeSteps: t, surrogate: .arctangent(alpha: 2))
            }
        }
    }

    struct PSUWorkload: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "psu",
            abstract:
                "PSU, IPSU or RPSU (τ = 2, V_th = 0.5, learnable α) forward + backward on [T, batch, neurons].")
        @OptionGroup var common: Common
        @OptionGroup var shapes: NeuronShapes
        @Option(help: "The variant: psu, ipsu or rpsu.") var variant = ParallelSpikingUnit.Variant.psu

        func run() throws {
            GlobalRandom.seed(0)
            try Bench.neuronWorkload(variant.rawValue, common, shapes, defaultTimeSteps: [4, 8, 16, 32]) { t in
                ParallelSpikingUnit(variant, timeSteps: t, tau: 2, threshold: 0.5)
            }
        }
    }

    struct EventsWorkload: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "events",
            abstract: "Read + decode an AEDAT 3.1 file and integrate it into T frames (SpikingJelly split by number).")
        @OptionGroup var common: Common
        @Option(help: "The AEDAT 3.1 recording (default: ../shared/data/events/davis346-aedat31-reencoded.aedat).")
        var file = "../shared/data/events/davis346-aedat31-reencoded.aedat"
        @Option(help: "Sensor width.") var width = 346
        @Option(help: "Sensor height.") var height = 260
        @Option(help: "Frames T.") var frames = 10

        func run() throws {
            var count = 0
            var last = Tensor(0)
            let times = try Bench.timeThrowing(common) {
                // Read, decode and frame in two passes over the packets (no event arrays in between).
                last = try AEDAT31.frames(
                    try FileBytes.read(file), file: file, width: width, height: height,
                    frames: frames, framing: .spikingJellyByNumber)
            }
            count = try AEDAT31.read(file, width: width, height: height).count
            let total = last.sum().item
            let m = Bench.median(times)
            try Bench.emit(
                [
                    "workload": "events", "events": count, "frames_sum": Double(total), "frames": frames,
                    "median_seconds": m, "milliseconds": m * 1e3, "events_per_second": Double(count) / m,
                ],
                json: common.json,
                summary: String(format: "decode + frame %d events into %d frames: %.2f ms", count, frames, m * 1e3))
        }
    }

    /// Peak resident memory of this process in MiB.
    static func peakResidentMiB() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024  // kilobytes on Linux
    }

    struct TrainStep: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train-step",
            abstract:
                "One SGD training step of the peers' conv SNN (convnet_bench.py): [Conv3×3-BN-LIF(-AvgPool2)]×4, Linear."
        )
        @OptionGroup var common: Common
        @Option(help: "Batch size.") var batch = 32
        @Option(help: "Time steps.") var timeSteps = 4

        func validate() throws {
            guard batch >= 1, timeSteps >= 1 else { throw ValidationError("--batch and --time-steps must be ≥ 1") }
        }

        func run() throws {
            GlobalRandom.seed(0)
            var layers: [any Layer] = []
            var channels = 3, size = 32
            for (out, pool) in [(64, false), (128, true), (256, true), (256, true)] {
                layers += [
                    Conv2d(channels, out, kernelSize: 3, padding: 1, bias: false), BatchNorm2d(out),
                    LIF(tau: 2, threshold: 1, reset: .hard(to: 0), detachReset: true, surrogate: .arctangent(alpha: 2)),
                ]
                if pool {
                    layers.append(AvgPool2d(2))
                    size /= 2
                }
                channels = out
            }
            layers += [Flatten(lastAxes: 3), Linear(channels * size * size, 10)]
            let model = Sequential(layers)
            var g = RandomGenerator(seed: 0)
            let x = Tensor.randomNormal([batch, 3, 32, 32], using: &g)
            let labels = (0..<batch).map { _ in Int(g.next() % 10) }
            let times = Bench.timeTrainingSteps(common, model, labels: labels) { x.repeated(timeSteps) }
            let m = Bench.median(times)
            try Bench.emit(
                [
                    "workload": "train-step", "batch": batch, "time_steps": timeSteps, "median_seconds": m,
                    "milliseconds": m * 1e3, "images_per_second": Double(batch) / m,
                    "peak_rss_mib": Bench.peakResidentMiB(),
                    "threads": Parallelism.threadCount, "onednn": ConvolutionBackend.oneDNNAvailable,
                ], json: common.json,
                summary: String(
                    format: "train-step batch %d, T = %d: %.1f ms, %.1f images/s, peak RSS %.0f MiB",
                    batch, timeSteps, m * 1e3, Double(batch) / m, Bench.peakResidentMiB()))
        }
    }

    struct SpikformerStep: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "spikformer",
            abstract:
                "One SGD training step of Spikformer (METHODS.md §5's DVS configuration by default), optionally with TIM."
        )
        @OptionGroup var common: Common
        @Option(help: "Batch size.") var batch = 16
        @Option(help: "Time steps.") var timeSteps = 4
        @Option(help: "Input height and width (2 channels).") var size = 64
        @Option(help: "Embedding dimension C.") var embedDim = 256
        @Option(help: "Attention heads.") var heads = 16
        @Option(help: "Encoder blocks.") var depth = 2
        @Flag(help: "With the temporal interaction module on every block's queries.") var tim = false

        func validate() throws {
            guard batch >= 1, timeSteps >= 1 else { throw ValidationError("--batch and --time-steps must be ≥ 1") }
        }

        func run() throws {
            GlobalRandom.seed(0)
            let configuration = SpikformerConfiguration(
                embedDimension: embedDim, heads: heads, depth: depth,
                temporalInteraction: tim ? TemporalInteractionConfiguration() : nil)
            let model: Spikformer
            do {
                model = try Spikformer(inputShape: [2, size, size], classes: 10, configuration: configuration)
            } catch {
                throw ValidationError(error.message)
            }
            var g = RandomGenerator(seed: 0)
            // Event frames: sparse spike counts.
            let x = Tensor.bernoulli([timeSteps, batch, 2, size, size], probability: 0.1, using: &g)
            let labels = (0..<batch).map { _ in Int(g.next() % 10) }
            let times = Bench.timeTrainingSteps(common, model, labels: labels) { x }
            let m = Bench.median(times)
            try Bench.emit(
                [
                    "workload": "spikformer", "tim": tim, "batch": batch, "time_steps": timeSteps, "size": size,
                    "embed_dim": embedDim, "heads": heads, "depth": depth, "parameters": model.parameterCount,
                    "median_seconds": m, "milliseconds": m * 1e3, "images_per_second": Double(batch) / m,
                    "peak_rss_mib": Bench.peakResidentMiB(), "threads": Parallelism.threadCount,
                    "onednn": ConvolutionBackend.oneDNNAvailable, "blas": BLAS.description,
                ], json: common.json,
                summary: String(
                    format: "spikformer%@ batch %d, T = %d, 2×%d×%d: %.1f ms, %.1f images/s, peak RSS %.0f MiB",
                    tim ? " + TIM" : "", batch, timeSteps, size, size, m * 1e3, Double(batch) / m,
                    Bench.peakResidentMiB()))
        }
    }
}
