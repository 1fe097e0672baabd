import ArgumentParser
import Foundation
import SNN

extension DatasetName: ExpressibleByArgument {}
extension ModelName: ExpressibleByArgument {}
extension NeuronKind: ExpressibleByArgument {}
extension OptimizerName: ExpressibleByArgument {}
extension LossName: ExpressibleByArgument {}
extension EncodingName: ExpressibleByArgument {}
extension AlignmentMeasure: ExpressibleByArgument {}

/// `snn train`.
///
/// Every training option is optional: one that is not given keeps ``TrainingConfiguration``'s
/// default (stated in its help). That is how `--resume`, which takes its options from the run's
/// `config.json`, can refuse options that would be silently ignored.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a spiking network and write a run directory (config.json, metrics.jsonl, checkpoints).")

    @Option(help: "Data set: \(DatasetName.allCases.map(\.rawValue).joined(separator: ", ")) (default: digits).")
    var dataset: DatasetName?
    @Option(help: "Directory holding the data set's files (not needed for digits).")
    var dataDir: String?
    @Option(
        help: """
            image-folder: resize every image bilinearly to H×H or H×W pixels (H or H,W; default: keep the size, \
            which must then be the same for all).
            """)
    var imageSize: String?
    @Option(
        parsing: .unconditional,
        help: """
            image-folder or event-folder without a test folder: hold out this share of each class for testing \
            (seeded with --seed).
            """)
    var validationFraction: Double?
    @Option(
        help: """
            event-folder: the sensor size W,H of recordings whose format records none (.bin, .npz; overrides an \
            AEDAT 3.1 header's camera; default: the largest coordinate + 1).
            """)
    var sensorSize: String?
    @Option(
        help: ArgumentHelp(
            "Model: \(ModelName.allCases.map(\.rawValue).joined(separator: ", "))"
                + " (default: spiking-cnn; vgg-snn with --transfer-from)."))
    var model: ModelName?
    @Option(help: "Hidden widths of spiking-mlp or conv channels of spiking-cnn, comma-separated.")
    var widths: String?
    @Option(
        help:
            "Train an evolved architecture instead of --model: FILE#K for front member K of an snn search pareto.json, or a genome JSON file."
    )
    var architecture: String?
    @Option(
        parsing: .unconditional,
        help: "Channels C of the --architecture's first module (default: the pareto.json's, else 8).")
    var channels: Int?
    @OptionGroup var neuronOptions: NeuronOptions
    @Option(
        name: [.customLong("time-steps"), .customLong("frames")], parsing: .unconditional,
        help: "Simulation time steps T (for event data: the frames each recording is integrated into; default: 4).")
    var timeSteps: Int?
    @Option(
        parsing: .unconditional,
        help: "Training epochs (default: 10). With --resume: extend (or end) the run at this many epochs.")
    var epochs: Int?
    @Option(parsing: .unconditional, help: "Mini-batch size (default: 64).")
    var batchSize: Int?
    @Option(
        parsing: .unconditional,
        help:
            "Base learning rate (scaled by batch/1024 unless --no-linear-scaling; default: 0.02; 0.08 for spikformer; 0.64 for --architecture)."
    )
    var learningRate: Float?
    @Flag(inversion: .prefixedNo, help: "Scale the learning rate by batch size / 1024 (default: on).")
    var linearScaling: Bool?
    @Option(help: "Optimizer: adamw, adam or sgd (default: adamw).")
    var optimizer: OptimizerName?
    @Option(parsing: .unconditional, help: "Weight decay (AdamW: decoupled, none on 1-D parameters; default: 0.01).")
    var weightDecay: Float?
    @Option(parsing: .unconditional, help: "Label smoothing of the cross-entropy, in [0, 1) (default: 0.1).")
    var labelSmoothing: Float?
    @Option(parsing: .unconditional, help: "Warm-up epochs before the cosine decay (default: min(5, epochs/10)).")
    var warmupEpochs: Int?
    @Option(
        help: "Loss: mean (cross-entropy of the mean output) or tet (mean of per-step cross-entropies; default: mean).")
    var loss: LossName?
    @Option(
        help:
            "Encoding: direct, poisson, latency; sequential rows, columns, pixels, permuted-pixels (one row / column / pixel per step), delta-rows (UP/DOWN spikes of row sequences), rate-rows (Bernoulli spikes of rows scaled to [0, 1]); frames for event data; speech-grid for shd, ssc and fsdd-mfcc (each step's channels on a 2×16×16 grid, for spikformer) (default: frames for event data sets, else direct)."
    )
    var encoding: EncodingName?
    @Option(
        parsing: .unconditional,
        help: "Step of the delta-rows encoding (UP/DOWN spikes when a feature moves by this much; default: 0.5).")
    var deltaThreshold: Float?
    @Option(
        parsing: .unconditional,
        help: "Resize event frames bilinearly to N×N pixels (e.g. 48, as BrainCog-based papers do).")
    var eventSize: Int?
    @Option(
        help:
            "How event data is integrated into the T frames: \(Framing.names.joined(separator: ", ")) (default: sj-number)."
    )
    var framing: String?
    @Option(
        parsing: .unconditional,
        help: "Random-crop padding for augmentation, at most the image's smaller side (default: 0 = off).")
    var cropPadding: Int?
    @Flag(help: "Random horizontal flips for augmentation.")
    var horizontalFlip = false
    @Option(
        parsing: .unconditional,
        help: "Random rotations by up to ± this many degrees for augmentation (default: 0 = off).")
    var rotation: Float?
    @Option(
        parsing: .unconditional,
        help:
            "Event sets: drop each counted event with this probability, per epoch (tonic's DropEvent; not with --event-size)."
    )
    var eventDrop: Float?
    @Option(
        parsing: .unconditional,
        help: "Masked surrogate gradients (MSG): mask each element's surrogate derivative with this probability.")
    var msgProbability: Float?
    @Option(help: "MSG: surrogate that masked entries use instead of zero (a --surrogate name, optionally NAME:ALPHA).")
    var msgSubstitute: String?
    @Option(
        help:
            "MSG schedule START:FINAL_P[:FINAL_ALPHA]: after START epochs, move p (and α) linearly to the final values."
    )
    var msgSchedule: String?
    @Flag(
        help:
            "Temporally weighted output (TWO): per-step weights learned from per-step accuracy, in the loss and at test time."
    )
    var temporalWeighting = false
    @Option(
        parsing: .unconditional,
        help: "Temporal knowledge sharing (TKS): final weight α of the TKS loss (ramps from 0; 0.7 in the paper).")
    var tksAlpha: Float?
    @Option(parsing: .unconditional, help: "TKS temperature τ (default: 3).")
    var tksTemperature: Float?
    @Flag(help: "TKS: stop gradients through the teacher (the released code keeps them).")
    var tksDetachTeacher = false
    @Option(
        parsing: .unconditional,
        help:
            "Spikformer: embedding dimension C, a multiple of --heads, ≥ 8 (default: \(SpikformerConfiguration().embedDimension))."
    )
    var embedDim: Int?
    @Option(
        parsing: .unconditional, help: "Spikformer: attention heads H (default: \(SpikformerConfiguration().heads)).")
    var heads: Int?
    @Option(parsing: .unconditional, help: "Spikformer: encoder blocks (default: \(SpikformerConfiguration().depth)).")
    var depth: Int?
    @Flag(help: "Spikformer: the temporal interaction module (TIM) on every block's queries.")
    var tim = false
    @Option(
        parsing: .unconditional,
        help: "TIM: weight α of the history, in [0, 1] (default: \(TemporalInteractionConfiguration().alpha)).")
    var timAlpha: Float?
    @Option(
        parsing: .unconditional,
        help: "TIM: odd kernel size of its convolution (default: \(TemporalInteractionConfiguration().kernelSize)).")
    var timKernel: Int?
    @Option(
        help:
            "TIM: the axis its convolution slides along: tokens (any size) or features (the released code's variant; needs tokens = C/H) (default: tokens)."
    )
    var timAxis: TemporalInteraction.Axis?
    @Option(
        help:
            "TIM: thresholds of its two neurons, IN,OUT, or the presets released (1,1) or intended (0.3,0.5) that silence it at initialisation (default: 0.3,0.25)."
    )
    var timThresholds: String?
    @Option(
        help: """
            Static-to-event transfer: train on the event data set with the paired static images of this set (mnist, \
            fashion-mnist, cifar10, cifar100, digits), two heads on a conv model: vgg-snn unless --model says \
            otherwise (the papers' extractor; transfer-scnn is the small one of their N-MNIST runs).
            """)
    var transferFrom: DatasetName?
    @Option(help: "Directory holding the --transfer-from data set's files.")
    var transferDataDir: String?
    @Option(
        help: ArgumentHelp(
            "Transfer: the domain alignment, "
                + AlignmentMeasure.allCases.map(\.rawValue).joined(separator: ", ")
                + " (default: cka)."))
    var alignment: AlignmentMeasure?
    @Option(parsing: .unconditional, help: "Transfer: the weight of the alignment loss L_KT (default: 0.5).")
    var alignmentWeight: Float?
    @Option(
        parsing: .unconditional,
        help: "Transfer: fix every step weight w_t at W in [0, 1] instead of learning w_t = σ(c_t).")
    var fixedStepWeights: Float?
    @Flag(help: "Transfer: no sliding training (never replace static inputs by their event partners).")
    var noSliding = false
    @Flag(help: "Transfer: present static images inverted (1 − V), for black-on-white image sets.")
    var invertStatic = false
    @Option(
        parsing: .unconditional,
        help: "Train on the first N training samples only (class-balanced for class-grouped data sets such as N-MNIST)."
    )
    var trainSamples: Int?
    @Option(
        parsing: .unconditional, help: "Test on the first N test samples only (also what `snn evaluate --run` uses).")
    var testSamples: Int?
    @Option(help: "Folder of the framed-event-data cache, or 'off' (default: $SNN_CACHE_DIR or ~/.cache/snn/frames).")
    var frameCache: String?
    @Option(
        help:
            "When a step's loss or gradients are not finite: stop (keep the last good checkpoint) or skip the step (default: stop)."
    )
    var onNonfinite: NonFinitePolicy?
    @Option(parsing: .unconditional, help: "Random seed (weights, data order, augmentation; default: 42).")
    var seed: UInt64?
    @Option(help: "Run directory to create (default: runs/MODEL-DATASET-TIMESTAMP, made unique with -2, -3, …).")
    var output: String?
    @Option(
        help:
            "Continue the run in this directory from its last checkpoint (its options come from its config.json; only --epochs, --on-nonfinite, --frame-cache and --json may be given)."
    )
    var resume: String?
    @Flag(help: "Print a JSON summary as the last line of standard output (progress goes to standard error).")
    var json = false
    @Flag(
        help: """
            Data-parallel training over the ranks of an MPI job (mpirun -np N snn train ...; on by itself when \
            OMPI_COMM_WORLD_SIZE or PMI_SIZE says N > 1): --batch-size per rank, rank 0 writes the run.
            """)
    var distributed = false
    @Flag(help: "With data-parallel training: batch norm statistics over the global batch of all ranks.")
    var syncBatchNorm = false

    /// The options that define a run, which `--resume` takes from the run's config.json.
    var givenRunOptions: [String] {
        var given: [(String, Bool)] =
            [
                ("--dataset", dataset != nil), ("--data-dir", dataDir != nil), ("--image-size", imageSize != nil),
                ("--validation-fraction", validationFraction != nil), ("--sensor-size", sensorSize != nil),
                ("--model", model != nil), ("--widths", widths != nil),
                ("--architecture", architecture != nil), ("--channels", channels != nil),
                ("--time-steps", timeSteps != nil), ("--batch-size", batchSize != nil),
                ("--learning-rate", learningRate != nil),
                ("--[no-]linear-scaling", linearScaling != nil), ("--optimizer", optimizer != nil),
                ("--weight-decay", weightDecay != nil), ("--label-smoothing", labelSmoothing != nil),
                ("--warmup-epochs", warmupEpochs != nil), ("--loss", loss != nil), ("--encoding", encoding != nil),
                ("--delta-threshold", deltaThreshold != nil), ("--event-size", eventSize != nil),
                ("--framing", framing != nil),
                ("--crop-padding", cropPadding != nil), ("--horizontal-flip", horizontalFlip),
                ("--rotation", rotation != nil),
                ("--event-drop", eventDrop != nil), ("--msg-probability", msgProbability != nil),
                ("--msg-substitute", msgSubstitute != nil), ("--msg-schedule", msgSchedule != nil),
                ("--temporal-weighting", temporalWeighting), ("--tks-alpha", tksAlpha != nil),
                ("--tks-temperature", tksTemperature != nil), ("--tks-detach-teacher", tksDetachTeacher),
                ("--train-samples", trainSamples != nil), ("--test-samples", testSamples != nil),
                ("--seed", seed != nil),
                ("--output", output != nil), ("--embed-dim", embedDim != nil), ("--heads", heads != nil),
                ("--depth", depth != nil), ("--tim", tim), ("--tim-alpha", timAlpha != nil),
                ("--tim-kernel", timKernel != nil),
                ("--tim-axis", timAxis != nil), ("--tim-thresholds", timThresholds != nil),
                ("--transfer-from", transferFrom != nil), ("--transfer-data-dir", transferDataDir != nil),
                ("--sync-batch-norm", syncBatchNorm),
            ] + transferOptionsGiven.map { ($0, true) }
        given += neuronOptions.given.map { ($0, true) }
        return given.filter(\.1).map(\.0)
    }

    /// The transfer options other than --transfer-from and its directory that were given.
    var transferOptionsGiven: [String] {
        [
            ("--alignment", alignment != nil), ("--alignment-weight", alignmentWeight != nil),
            ("--fixed-step-weights", fixedStepWeights != nil), ("--no-sliding", noSliding),
            ("--invert-static", invertStatic),
        ].filter(\.1).map(\.0)
    }

    /// Whether this run is data-parallel: asked for, or started by an MPI launcher with several ranks.
    var isDistributed: Bool { distributed || (Communicator.launcherWorldSize() ?? 1) > 1 }

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be ≥ 1, got \(epochs)") }
        if syncBatchNorm && !isDistributed {
            throw ValidationError("--sync-batch-norm needs --distributed (or an MPI launcher with several ranks)")
        }
        if transferFrom != nil && isDistributed {
            throw ValidationError("--transfer-from does not run data-parallel yet; leave out --distributed")
        }
        if resume != nil {
            let ignored = givenRunOptions
            guard ignored.isEmpty else {
                throw ValidationError(
                    "--resume continues a run with the options of its config.json; \(ignored.joined(separator: ", ")) cannot change now (only --epochs, --on-nonfinite, --frame-cache and --json can be given)"
                )
            }
            return
        }
        let d = dataset ?? .digits
        if d.needsDirectory && dataDir == nil {
            throw ValidationError("--data-dir is required for --dataset \(d.rawValue)")
        }
        if architecture != nil && (model != nil || widths != nil) {
            throw ValidationError("--architecture replaces --model and --widths; give one or the other")
        }
        if architecture == nil && channels != nil { throw ValidationError("--channels sizes an --architecture") }
        if let channels, channels < 2 || channels % 2 != 0 {
            throw ValidationError("--channels must be even and ≥ 2, got \(channels)")
        }
        if msgProbability == nil && (msgSubstitute != nil || msgSchedule != nil) {
            throw ValidationError("--msg-substitute and --msg-schedule need --msg-probability")
        }
        let transferFlags = (transferDataDir != nil ? ["--transfer-data-dir"] : []) + transferOptionsGiven
        if transferFrom == nil && !transferFlags.isEmpty {
            throw ValidationError("\(transferFlags.joined(separator: ", ")) need --transfer-from")
        }
        if transferFrom != nil && loss != nil {
            throw ValidationError(
                "--transfer-from trains with its own loss (TET form with the alignment term): --loss does not apply")
        }
        if tksAlpha == nil && (tksDetachTeacher || tksTemperature != nil) {
            throw ValidationError("--tks-temperature and --tks-detach-teacher need --tks-alpha")
        }
        let timOptions = [
            ("--tim-alpha", timAlpha != nil), ("--tim-kernel", timKernel != nil),
            ("--tim-axis", timAxis != nil), ("--tim-thresholds", timThresholds != nil),
        ].filter(\.1).map(\.0)
        if !tim && !timOptions.isEmpty { throw ValidationError("\(timOptions.joined(separator: ", ")) need --tim") }
        let spikformerOptions = [
            ("--embed-dim", embedDim != nil), ("--heads", heads != nil), ("--depth", depth != nil),
            ("--tim", tim),
        ].filter(\.1).map(\.0)
        if (model ?? TrainingConfiguration().model) != .spikformer && !spikformerOptions.isEmpty {
            throw ValidationError("\(spikformerOptions.joined(separator: ", ")) size --model spikformer")
        }
        do {
            try makeConfiguration().validate()
        } catch let error as SNNError {
            throw ValidationError(error.message)
        }
    }

    func parsedWidths() throws -> [Int]? { try Self.parseWidths(widths) }

    /// `--widths`: positive integers separated by commas (nil when not given).
    static func parseWidths(_ widths: String?) throws -> [Int]? {
        guard let widths else { return nil }
        let values = widths.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("--widths must be positive integers separated by commas, got '\(widths)'")
        }
        return values.compactMap { $0 }
    }

    /// The configuration of a new run: the given options over the defaults.
    func makeConfiguration() throws -> TrainingConfiguration {
        var c = TrainingConfiguration()
        if let dataset { c.dataset = dataset }
        c.dataDirectory = dataDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        if let imageSize {
            guard let size = ImageSize(imageSize) else {
                throw ValidationError("--image-size must be H or H,W (whole numbers), got '\(imageSize)'")
            }
            c.imageSize = size
        }
        c.validationFraction = validationFraction
        if let sensorSize {
            guard let size = SensorSize(sensorSize) else {
                throw ValidationError("--sensor-size must be W,H (two whole numbers), got '\(sensorSize)'")
            }
            c.sensorSize = size
        }
        // Transfer runs default to the papers' extractor, VGG-SNN (METHODS.md §4), not the project's default.
        if let model { c.model = model } else if transferFrom != nil { c.model = .vggSNN }
        c.widths = try parsedWidths()
        if let architecture { c.architecture = try Self.loadArchitecture(architecture, channels: channels) }
        let neuronDefaults: NeuronConfiguration =
            c.architecture != nil
            ? .evolved
            : c.model == .spikformer ? .spikformer : NeuronConfiguration()
        c.neuron = try neuronOptions.configuration(defaults: neuronDefaults)
        if let timeSteps { c.timeSteps = timeSteps }
        if let epochs { c.epochs = epochs }
        if let batchSize { c.batchSize = batchSize }
        c.learningRate =
            learningRate ?? TrainingConfiguration.defaultLearningRate(for: c.model, evolved: c.architecture != nil)
        if let linearScaling { c.linearScaling = linearScaling }
        if let optimizer { c.optimizer = optimizer }
        if let weightDecay { c.weightDecay = weightDecay }
        if let labelSmoothing { c.labelSmoothing = labelSmoothing }
        c.warmupEpochs = warmupEpochs
        if let loss { c.loss = loss }
        c.encoding = encoding ?? (c.dataset.isEventData ? .frames : .direct)
        if let framing {
            guard let f = Framing(name: framing) else {
                throw ValidationError(
                    "--framing must be one of \(Framing.names.joined(separator: ", ")), got '\(framing)'")
            }
            c.framing = f
        }
        if let deltaThreshold { c.deltaThreshold = deltaThreshold }
        c.eventSize = eventSize
        // ImageAugmentation's initialiser takes only valid values: check the user's first.
        let padding = cropPadding ?? 0, degrees = rotation ?? 0, drop = eventDrop ?? 0
        guard padding >= 0 else { throw ValidationError("--crop-padding must be ≥ 0, got \(padding)") }
        guard degrees >= 0 && degrees <= 180 else {
            throw ValidationError("--rotation must be in 0…180 degrees, got \(degrees)")
        }
        guard drop >= 0 && drop < 1 else { throw ValidationError("--event-drop must be in [0, 1), got \(drop)") }
        c.augmentation = ImageAugmentation(
            cropPadding: padding, horizontalFlip: horizontalFlip, maxRotation: degrees,
            eventDropProbability: drop)
        if let seed { c.seed = seed }
        c.trainSamples = trainSamples
        c.testSamples = testSamples
        if let frameCache { c.frameCacheDirectory = frameCache == "off" ? nil : frameCache }
        if let onNonfinite { c.onNonfinite = onNonfinite }
        if let p = msgProbability {
            c.msg = MSGOptions(probability: p, substitute: try parsedSubstitute(), schedule: try parsedSchedule())
        }
        c.temporalWeighting = temporalWeighting
        if let a = tksAlpha {
            c.tks = TKSOptions(
                alpha: a, temperature: tksTemperature ?? TKSOptions().temperature, detachTeacher: tksDetachTeacher)
        }
        if let embedDim { c.spikformer.embedDimension = embedDim }
        if let heads { c.spikformer.heads = heads }
        if let depth { c.spikformer.depth = depth }
        if tim { c.spikformer.temporalInteraction = try parsedTemporalInteraction() }
        if let transferFrom {
            let directory = transferDataDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
            var t = TransferOptions(source: transferFrom, dataDirectory: directory)
            if let alignment { t.alignment = alignment }
            if let alignmentWeight { t.alignmentWeight = alignmentWeight }
            if let fixedStepWeights { t.stepWeights = .fixed(fixedStepWeights) }
            t.sliding = !noSliding
            t.invertStatic = invertStatic
            c.transfer = t
        }
        return c
    }

    /// An evolved architecture from `FILE#K` (member K of a pareto.json's front) or a genome file.
    static func loadArchitecture(_ spec: String, channels: Int?) throws -> EvolvedArchitecture {
        var path = spec, member: Int?
        if let hash = spec.lastIndex(of: "#") {
            path = String(spec[..<hash])
            guard let k = Int(spec[spec.index(after: hash)...]), k >= 0 else {
                throw ValidationError("--architecture FILE#K needs a front index K ≥ 0, got '\(spec)'")
            }
            member = k
        }
        do {
            let object = try AtomicFile.readJSON(path)
            if let member {
                guard let front = object["front"] as? [[String: Any]] else {
                    throw SNNError(.corrupt, "not an snn search pareto.json (no \"front\" list)", file: path)
                }
                guard member < front.count, let genome = front[member]["genome"] as? [String: Any] else {
                    throw SNNError(
                        .invalidArgument, "the front has \(front.count) members (0…\(front.count - 1)), not #\(member)",
                        file: path)
                }
                return EvolvedArchitecture(
                    genome: try ArchitectureGenome(jsonObject: genome, file: path),
                    channels: channels ?? object["channels"] as? Int ?? 8)
            }
            let genome = object["genome"] as? [String: Any] ?? object
            return EvolvedArchitecture(
                genome: try ArchitectureGenome(jsonObject: genome, file: path), channels: channels ?? 8)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    func parsedTemporalInteraction() throws -> TemporalInteractionConfiguration {
        var t = TemporalInteractionConfiguration()
        if let timAlpha { t.alpha = timAlpha }
        if let timKernel { t.kernelSize = timKernel }
        if let timAxis { t.axis = timAxis }
        if let timThresholds {
            guard let thresholds = TemporalInteraction.Thresholds(timThresholds) else {
                throw ValidationError(
                    "--tim-thresholds must be IN,OUT (two numbers), released or intended; got '\(timThresholds)'")
            }
            t.thresholds = thresholds
        }
        return t
    }

    func parsedSubstitute() throws -> SurrogateChoice? {
        guard let msgSubstitute else { return nil }
        let parts = msgSubstitute.split(separator: ":").map(String.init)
        let alpha = parts.count == 2 ? Float(parts[1]) : nil
        guard (parts.count == 1 || (parts.count == 2 && alpha != nil)),
            let s = SurrogateChoice(name: parts[0], alpha: alpha)
        else {
            throw ValidationError(
                "--msg-substitute must be one of \(SurrogateChoice.names.joined(separator: ", ")), optionally NAME:ALPHA; got '\(msgSubstitute)'"
            )
        }
        return s
    }

    func parsedSchedule() throws -> MSGOptions.Schedule? {
        guard let msgSchedule else { return nil }
        guard let s = MSGOptions.Schedule(msgSchedule) else {
            throw ValidationError(
                "--msg-schedule must be START:FINAL_P or START:FINAL_P:FINAL_ALPHA, got '\(msgSchedule)'")
        }
        return s
    }

    func run() throws {
        let trainer: Trainer
        let setup = Date()
        var communicator: Communicator?
        do {
            if isDistributed {
                communicator = try Communicator.world()
                // The BLAS may already run with every core's thread; give it this rank's share.
                BLAS.setThreadCount(Parallelism.threadCount)
            }
            if let resume {
                trainer = try Trainer(
                    resuming: resume, epochs: epochs, onNonfinite: onNonfinite,
                    frameCache: frameCache.map { $0 == "off" ? nil : $0 }, communicator: communicator)
            } else {
                let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
                let c = try makeConfiguration()
                let directory =
                    output
                    ?? "runs/\(c.architecture == nil ? c.model.rawValue : "evolved")-\(c.dataset.rawValue)-\(stamp)"
                trainer = try Trainer(
                    configuration: c, directory: directory, uniqueDirectory: output == nil,
                    communicator: communicator)
            }
        } catch let error as SNNError {
            throw CommandFailure(error)
        }
        // Rank 0 speaks for a data-parallel run (its metrics are those of all ranks); the others are quiet.
        let speaks = communicator?.isRoot ?? true
        let reporter = ProgressReporter(toStandardError: json, quiet: !speaks)
        reporter.write(String(format: "data loaded and model built in %.1f s\n", Date().timeIntervalSince(setup)))
        if let communicator, speaks {
            reporter.write("data-parallel over \(communicator.size) ranks (\(Communicator.libraryVersion ?? "MPI"))\n")
        }
        if speaks { trainer.onEvent = reporter.handle }
        let summary: TrainingSummary
        let interruption = InterruptionHandler.install()
        trainer.shouldStop = { interruption.signal != nil }
        do {
            summary = try trainer.run()
        } catch  where error.code == .interrupted {
            reporter.write("\n")
            if speaks {
                FileHandle.standardError.write(
                    Data("interrupted — resume with: snn train --resume \(trainer.runDirectory.path)\n".utf8))
            }
            throw ExitCode(128 + (interruption.signal ?? SIGINT))
        } catch {
            throw CommandFailure(error)
        }
        reporter.write(
            String(
                format: "best test accuracy %.2f%% (epoch %d), final %.2f%%, %.1f s; run directory %@\n",
                summary.bestTestAccuracy * 100, summary.bestEpoch, summary.testAccuracy * 100, summary.seconds,
                summary.runDirectory))
        // After the last collective: ranks that exit without it count as failed for the launcher.
        if communicator != nil { Communicator.finalize() }
        if json && speaks {
            var line: [String: Any] = [
                "test_accuracy": Double(summary.testAccuracy),
                "best_test_accuracy": Double(summary.bestTestAccuracy),
                "best_epoch": summary.bestEpoch, "epochs": summary.epochs, "seconds": summary.seconds,
                "firing_rate": summary.firingRate, "run_dir": summary.runDirectory,
                "skipped_steps": summary.skippedSteps, "world_size": communicator?.size ?? 1,
            ]
            // Rank 0's time inside collectives (allreduces, and waiting there for slower ranks).
            if let communicator { line["communication_seconds"] = communicator.communicationSeconds }
            print(try JSONLine.encode(line))
        }
    }
}

extension NonFinitePolicy: ExpressibleByArgument {}
extension TemporalInteraction.Axis: ExpressibleByArgument {}
