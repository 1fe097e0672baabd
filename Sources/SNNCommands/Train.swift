import ArgumentParser
import Foundation
import SNN

extension DatasetName: ExpressibleByArgument {}
extension ModelName: ExpressibleByArgument {}
extension NeuronKind: ExpressibleByArgument {}
extension OptimizerName: ExpressibleByArgument {}
extension LossName: ExpressibleByArgument {}
extension EncodingName: ExpressibleByArgument {}

/// The reset options of the command line.
enum ResetName: String, ExpressibleByArgument, CaseIterable { case hard, soft, none }

/// Neuron options shared by the commands that build models.
struct NeuronOptions: ParsableArguments {
    @Option(help: "Spiking neuron: \(NeuronKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var neuron: NeuronKind = .leakyIntegrateAndFire
    @Option(help: "Surrogate gradient: \(SurrogateChoice.names.joined(separator: ", ")).")
    var surrogate = "arctangent"
    @Option(help: "Surrogate sharpness α (default: the surrogate's own).")
    var alpha: Float?
    @Option(help: "Membrane time constant τ (LIF; initial τ for PLIF).")
    var tau: Float = 2
    @Option(help: "Firing threshold V_th.")
    var threshold: Float = 1
    @Option(help: "Reset after a spike: hard (to --reset-value), soft (subtract V_th) or none.")
    var reset: ResetName = .hard
    @Option(help: "Membrane value of a hard reset.")
    var resetValue: Float = 0
    @Flag(inversion: .prefixedNo, help: "Detach the reset from the graph (no gradient through it).")
    var detachReset = true
    @Option(help: "Order k of the masked and sliding PSN.")
    var psnOrder = 2

    func configuration() throws -> NeuronConfiguration {
        guard let surrogate = SurrogateChoice(name: surrogate, alpha: alpha) else {
            throw ValidationError("unknown surrogate '\(self.surrogate)'; choose one of \(SurrogateChoice.names.joined(separator: ", "))")
        }
        let r: Reset = switch reset {
        case .hard: .hard(to: resetValue)
        case .soft: .soft
        case .none: .none
        }
        return NeuronConfiguration(kind: neuron, surrogate: surrogate, tau: tau, threshold: threshold, reset: r, detachReset: detachReset,
                                   order: psnOrder)
    }
}

/// Writes progress for people: a redrawn bar on a terminal, plain lines otherwise.
final class ProgressReporter {
    let interactive: Bool
    let handle: FileHandle
    let started = Date()
    private var lastDraw = Date.distantPast

    init(toStandardError: Bool) {
        handle = toStandardError ? FileHandle.standardError : FileHandle.standardOutput
        interactive = isatty(toStandardError ? STDERR_FILENO : STDOUT_FILENO) != 0
    }

    func write(_ text: String) {
        handle.write(Data(text.utf8))
    }

    func handle(_ event: TrainingEvent) {
        switch event {
        case .resumed(let epochs):
            write("resumed after epoch \(epochs)\n")
        case let .batch(epoch, epochs, index, count, loss, accuracy, rate):
            guard interactive, index == count || Date().timeIntervalSince(lastDraw) > 0.1 else { return }
            lastDraw = Date()
            let width = 24, filled = width * index / max(count, 1)
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let elapsed = Date().timeIntervalSince(started)
            let done = Double(epoch - 1) + Double(index) / Double(count)
            let eta = done > 0 ? elapsed / done * (Double(epochs) - done) : 0
            write(String(format: "\r\u{1B}[Kepoch %d/%d %@ %d/%d  loss %.4f  acc %.2f%%  %.0f samples/s  ETA %@",
                         epoch, epochs, bar, index, count, loss, accuracy * 100, rate, Self.clock(eta)))
        case .epoch(let m):
            if interactive { write("\r\u{1B}[K") }
            write(String(format: "epoch %d: lr %.2e  train loss %.4f  acc %.2f%%  test loss %.4f  acc %.2f%%  firing %.3f  %.1f s\n",
                         m.epoch, m.learningRate, m.trainLoss, m.trainAccuracy * 100, m.testLoss, m.testAccuracy * 100,
                         m.firingRate, m.seconds))
        }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return String(format: "%02d:%02d", s / 60, s % 60)
    }
}

/// `snn train`.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a spiking network and write a run directory (config.json, metrics.jsonl, checkpoints).")

    @Option(help: "Data set: \(DatasetName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var dataset: DatasetName = .digits
    @Option(help: "Directory holding the data set's files (not needed for digits).")
    var dataDir: String?
    @Option(help: "Model: \(ModelName.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model: ModelName = .spikingCNN
    @Option(help: "Hidden widths of spiking-mlp or conv channels of spiking-cnn, comma-separated.")
    var widths: String?
    @OptionGroup var neuronOptions: NeuronOptions
    @Option(name: [.customLong("time-steps"), .customLong("frames")],
            help: "Simulation time steps T (for event data: the frames each recording is integrated into).")
    var timeSteps = 4
    @Option(help: "Training epochs.")
    var epochs = 10
    @Option(help: "Mini-batch size.")
    var batchSize = 64
    @Option(help: "Base learning rate (scaled by batch/1024 unless --no-linear-scaling).")
    var learningRate: Float = 0.02
    @Flag(inversion: .prefixedNo, help: "Scale the learning rate by batch size / 1024.")
    var linearScaling = true
    @Option(help: "Optimizer: adamw, adam or sgd.")
    var optimizer: OptimizerName = .adamw
    @Option(help: "Weight decay (AdamW: decoupled, none on 1-D parameters).")
    var weightDecay: Float = 0.01
    @Option(help: "Label smoothing of the cross-entropy.")
    var labelSmoothing: Float = 0.1
    @Option(help: "Warm-up epochs before the cosine decay (default: min(5, epochs/10)).")
    var warmupEpochs: Int?
    @Option(help: "Loss: mean (cross-entropy of the mean output) or tet (mean of per-step cross-entropies).")
    var loss: LossName = .mean
    @Option(help: "Encoding: direct, poisson, latency; sequential rows, columns, pixels, permuted-pixels (one row / column / pixel per step), delta-rows (UP/DOWN spikes of row sequences), rate-rows (Bernoulli spikes of rows scaled to [0, 1]); frames for event data (default: frames for event data sets, else direct).")
    var encoding: EncodingName?
    @Option(help: "Step of the delta-rows encoding (UP/DOWN spikes when a feature moves by this much).")
    var deltaThreshold: Float = 0.5
    @Option(help: "Resize event frames bilinearly to N×N pixels (e.g. 48, as BrainCog-based papers do).")
    var eventSize: Int?
    @Option(help: "How event data is integrated into the T frames: \(Framing.names.joined(separator: ", ")).")
    var framing = "sj-number"
    @Option(help: "Random-crop padding for augmentation (0 = off).")
    var cropPadding = 0
    @Flag(help: "Random horizontal flips for augmentation.")
    var horizontalFlip = false
    @Option(help: "Random rotations by up to ± this many degrees for augmentation (0 = off).")
    var rotation: Float = 0
    @Option(help: "Event sets: drop each counted event with this probability, per epoch (tonic's DropEvent; not with --event-size).")
    var eventDrop: Float = 0
    @Option(help: "Masked surrogate gradients (MSG): mask each element's surrogate derivative with this probability.")
    var msgProbability: Float?
    @Option(help: "MSG: surrogate that masked entries use instead of zero (a --surrogate name, optionally NAME:ALPHA).")
    var msgSubstitute: String?
    @Option(help: "MSG schedule START:FINAL_P[:FINAL_ALPHA]: after START epochs, move p (and α) linearly to the final values.")
    var msgSchedule: String?
    @Flag(help: "Temporally weighted output (TWO): per-step weights learned from per-step accuracy, in the loss and at test time.")
    var temporalWeighting = false
    @Option(help: "Temporal knowledge sharing (TKS): final weight α of the TKS loss (ramps from 0; 0.7 in the paper).")
    var tksAlpha: Float?
    @Option(help: "TKS temperature τ.")
    var tksTemperature: Float = 3
    @Flag(help: "TKS: stop gradients through the teacher (the released code keeps them).")
    var tksDetachTeacher = false
    @Option(help: "Train on the first N training samples only (class-balanced for class-grouped data sets such as N-MNIST).")
    var trainSamples: Int?
    @Option(help: "Test on the first N test samples only (also what `snn evaluate --run` uses).")
    var testSamples: Int?
    @Option(help: "Folder of the framed-event-data cache, or 'off' (default: $SNN_CACHE_DIR or ~/.cache/snn/frames).")
    var frameCache: String?
    @Option(help: "Random seed (weights, data order, augmentation).")
    var seed: UInt64 = 42
    @Option(help: "Run directory to create (default: runs/MODEL-DATASET-TIMESTAMP).")
    var output: String?
    @Option(help: "Continue the run in this directory from its last checkpoint (other options are taken from its config.json).")
    var resume: String?
    @Flag(help: "Print a JSON summary as the last line of standard output (progress goes to standard error).")
    var json = false

    func validate() throws {
        guard timeSteps >= 1 else { throw ValidationError("--time-steps must be ≥ 1, got \(timeSteps)") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be ≥ 1, got \(epochs)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be ≥ 1, got \(batchSize)") }
        guard learningRate > 0 else { throw ValidationError("--learning-rate must be > 0, got \(learningRate)") }
        if let trainSamples, trainSamples < 1 { throw ValidationError("--train-samples must be ≥ 1, got \(trainSamples)") }
        if let testSamples, testSamples < 1 { throw ValidationError("--test-samples must be ≥ 1, got \(testSamples)") }
        guard cropPadding >= 0 else { throw ValidationError("--crop-padding must be ≥ 0, got \(cropPadding)") }
        guard rotation >= 0 && rotation <= 180 else { throw ValidationError("--rotation must be in 0…180 degrees, got \(rotation)") }
        guard eventDrop >= 0 && eventDrop < 1 else { throw ValidationError("--event-drop must be in [0, 1), got \(eventDrop)") }
        if dataset.needsDirectory && dataDir == nil && resume == nil {
            throw ValidationError("--data-dir is required for --dataset \(dataset.rawValue)")
        }
        _ = try parsedWidths()
        if msgProbability == nil && (msgSubstitute != nil || msgSchedule != nil) {
            throw ValidationError("--msg-substitute and --msg-schedule need --msg-probability")
        }
        _ = try parsedSubstitute()
        _ = try parsedSchedule()
        if tksAlpha == nil && tksDetachTeacher { throw ValidationError("--tks-detach-teacher needs --tks-alpha") }
        _ = try neuronOptions.configuration()
    }

    func parsedWidths() throws -> [Int]? {
        guard let widths else { return nil }
        let values = widths.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--widths must be positive integers separated by commas, got '\(widths)'")
        }
        return values.map { $0! }
    }

    func makeConfiguration() throws -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.dataset = dataset
        c.dataDirectory = dataDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        c.model = model
        c.widths = try parsedWidths()
        c.neuron = try neuronOptions.configuration()
        c.timeSteps = timeSteps
        c.epochs = epochs
        c.batchSize = batchSize
        c.learningRate = learningRate
        c.linearScaling = linearScaling
        c.optimizer = optimizer
        c.weightDecay = weightDecay
        c.labelSmoothing = labelSmoothing
        c.warmupEpochs = warmupEpochs
        c.loss = loss
        c.encoding = encoding ?? (dataset.isEventData ? .frames : .direct)
        guard let f = Framing(name: framing) else {
            throw ValidationError("--framing must be one of \(Framing.names.joined(separator: ", ")), got '\(framing)'")
        }
        c.framing = f
        c.deltaThreshold = deltaThreshold
        c.eventSize = eventSize
        c.augmentation = ImageAugmentation(cropPadding: cropPadding, horizontalFlip: horizontalFlip, maxRotation: rotation,
                                           eventDropProbability: eventDrop)
        c.seed = seed
        c.trainSamples = trainSamples
        c.testSamples = testSamples
        if let frameCache { c.frameCacheDirectory = frameCache == "off" ? nil : frameCache }
        if let p = msgProbability {
            c.msg = MSGOptions(probability: p, substitute: try parsedSubstitute(), schedule: try parsedSchedule())
        }
        c.temporalWeighting = temporalWeighting
        if let a = tksAlpha { c.tks = TKSOptions(alpha: a, temperature: tksTemperature, detachTeacher: tksDetachTeacher) }
        return c
    }

    func parsedSubstitute() throws -> SurrogateChoice? {
        guard let msgSubstitute else { return nil }
        let parts = msgSubstitute.split(separator: ":").map(String.init)
        let alpha = parts.count == 2 ? Float(parts[1]) : nil
        guard (parts.count == 1 || (parts.count == 2 && alpha != nil)), let s = SurrogateChoice(name: parts[0], alpha: alpha) else {
            throw ValidationError("--msg-substitute must be one of \(SurrogateChoice.names.joined(separator: ", ")), optionally NAME:ALPHA; got '\(msgSubstitute)'")
        }
        return s
    }

    func parsedSchedule() throws -> MSGOptions.Schedule? {
        guard let msgSchedule else { return nil }
        guard let s = MSGOptions.Schedule(msgSchedule) else {
            throw ValidationError("--msg-schedule must be START:FINAL_P or START:FINAL_P:FINAL_ALPHA, got '\(msgSchedule)'")
        }
        return s
    }

    func run() throws {
        let trainer: Trainer
        let setup = Date()
        do {
            if let resume {
                trainer = try Trainer(resuming: resume)
            } else {
                let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
                let directory = output ?? "runs/\(model.rawValue)-\(dataset.rawValue)-\(stamp)"
                trainer = try Trainer(configuration: try makeConfiguration(), directory: directory)
            }
        } catch let error as SNNError {
            throw CommandFailure(error)
        }
        let reporter = ProgressReporter(toStandardError: json)
        reporter.write(String(format: "data loaded and model built in %.1f s\n", Date().timeIntervalSince(setup)))
        trainer.onEvent = reporter.handle
        let summary: TrainingSummary
        do {
            summary = try trainer.run()
        } catch {
            throw CommandFailure(error)
        }
        reporter.write(String(format: "best test accuracy %.2f%% (epoch %d), final %.2f%%, %.1f s; run directory %@\n",
                              summary.bestTestAccuracy * 100, summary.bestEpoch, summary.testAccuracy * 100, summary.seconds,
                              summary.runDirectory))
        if json {
            print(try JSONLine.encode([
                "test_accuracy": Double(summary.testAccuracy), "best_test_accuracy": Double(summary.bestTestAccuracy),
                "best_epoch": summary.bestEpoch, "epochs": summary.epochs, "seconds": summary.seconds,
                "firing_rate": summary.firingRate, "run_dir": summary.runDirectory,
            ]))
        }
    }
}

/// A library error shown as one line, with a non-zero exit.
struct CommandFailure: Error, CustomStringConvertible {
    let message: String
    init(_ error: any Error) { message = "\(error)" }
    var description: String { message }
}
