import Foundation
import SNNData
import SNNLayers
import SNNModels
import SNNNeurons
import SNNOptimizers
import SNNSearch
import SNNTensor

/// The optimizers selectable by name.
public enum OptimizerName: String, Sendable, CaseIterable { case adamw, adam, sgd }

/// The training losses.
public enum LossName: String, Sendable, CaseIterable {
    /// Cross-entropy of the mean over T of the per-step logits (the papers' default).
    case mean
    /// TET: the mean over t of the per-step cross-entropy.
    case tet
}

/// What training does when a step's loss or gradients are not finite (NaN or infinite).
public enum NonFinitePolicy: String, Sendable, CaseIterable {
    /// Stop with an error naming the epoch and step; the last good checkpoint stays, resumable.
    case stop
    /// Leave the weights, the optimizer state and the batch-norm statistics as they were before the
    /// step, count it in the epoch's `skipped_steps`, and go on.
    case skip
}

/// How static images are presented over T steps.
public enum EncodingName: String, Sendable, CaseIterable {
    case direct, poisson, latency
    /// One image row per time step (row-wise sequential images; T = image height).
    case rows
    /// One image column per time step (T = image width).
    case columns
    /// Event data: one frame per time step (the only encoding of event data sets).
    case frames
    /// Pixel-wise sequential images (T = H·W), in row-major order or a fixed permutation.
    case pixels
    case permutedPixels = "permuted-pixels"
    /// Delta modulation of rows (UP/DOWN spikes per feature; `deltaThreshold`).
    case deltaRows = "delta-rows"
    /// Rate-coded rows: Bernoulli spikes of probability clamp(x, 0, 1), one row per step.
    case rateRows = "rate-rows"
    /// Speech on Spikformer's event-frame grid `[2, 16, 16]` (SHD, SSC: the 700 channels interpolated
    /// onto 512 cells; FSDD: one MFCC frame per step, zero-padded); see ``SpeechGrid``.
    case speechGrid = "speech-grid"
}

/// Masked surrogate gradients for a run (METHODS.md §6).
public struct MSGOptions: Sendable, Equatable {
    /// The masking probability p (before any schedule).
    public var probability: Float
    /// The surrogate masked entries use instead of zero.
    public var substitute: SurrogateChoice?
    /// After `startEpoch` epochs, p (and α, when `finalAlpha` is set) move linearly to their final
    /// values, reached in the last epoch.
    public var schedule: Schedule?

    public struct Schedule: Sendable, Equatable {
        public var startEpoch: Int
        public var finalProbability: Float
        public var finalAlpha: Float?
        public init(startEpoch: Int, finalProbability: Float, finalAlpha: Float? = nil) {
            self.startEpoch = startEpoch
            self.finalProbability = finalProbability
            self.finalAlpha = finalAlpha
        }

        /// "START:FINAL_P[:FINAL_ALPHA]", as `--msg-schedule` takes it.
        public init?(_ text: String) {
            let parts = text.split(separator: ":").map(String.init)
            guard parts.count == 2 || parts.count == 3, let start = Int(parts[0]), let p = Float(parts[1]) else {
                return nil
            }
            let a = parts.count == 3 ? Float(parts[2]) : nil
            if parts.count == 3 && a == nil { return nil }
            self.init(startEpoch: start, finalProbability: p, finalAlpha: a)
        }
    }

    public init(probability: Float, substitute: SurrogateChoice? = nil, schedule: Schedule? = nil) {
        self.probability = probability
        self.substitute = substitute
        self.schedule = schedule
    }

    /// How far the schedule has moved at `epoch` (0-based) of `epochs`: 0 until it starts, 1 at the last epoch.
    func progress(atEpoch epoch: Int, epochs: Int) -> Float? {
        guard let schedule, epoch >= schedule.startEpoch else { return nil }
        let span = epochs - 1 - schedule.startEpoch
        return span <= 0 ? 1 : Float(epoch - schedule.startEpoch) / Float(span)
    }

    /// p at `epoch` (0-based).
    public func probability(atEpoch epoch: Int, epochs: Int) -> Float {
        guard let f = progress(atEpoch: epoch, epochs: epochs), let s = schedule else { return probability }
        return probability + (s.finalProbability - probability) * f
    }

    /// The surrogate's α at `epoch` when the schedule changes it, else nil.
    public func alpha(atEpoch epoch: Int, epochs: Int, initial: Float) -> Float? {
        guard let f = progress(atEpoch: epoch, epochs: epochs), let final = schedule?.finalAlpha else { return nil }
        return initial + (final - initial) * f
    }
}

/// Temporal knowledge sharing for a run (METHODS.md §7).
public struct TKSOptions: Sendable, Equatable {
    /// The final weight α of the TKS term (it ramps from 0).
    public var alpha: Float = 0.7
    public var temperature: Float = 3
    public var detachTeacher = false
    public init(alpha: Float = 0.7, temperature: Float = 3, detachTeacher: Bool = false) {
        self.alpha = alpha
        self.temperature = temperature
        self.detachTeacher = detachTeacher
    }
}

/// Everything that defines a training run; saved as the run directory's `config.json`.
///
/// Defaults follow the papers' recipe (METHODS.md §0): AdamW with weight decay 0.01 (none on 1-D
/// parameters), learning rate scaled by batch/1024, warm-up then cosine decay to 1e-5, label
/// smoothing 0.1, seed 42.
public struct TrainingConfiguration: Sendable, Equatable {
    public var dataset: DatasetName = .digits
    public var dataDirectory: String?
    public var model: ModelName = .spikingCNN
    public var widths: [Int]?
    public var neuron = NeuronConfiguration()
    public var timeSteps = 4
    public var epochs = 10
    public var batchSize = 64
    /// The base learning rate; the optimizer uses base × batch / 1024 with `linearScaling`. A new run
    /// whose learning rate is not given starts from ``defaultLearningRate(for:)`` of its model.
    public var learningRate: Float = 0.02
    public var linearScaling = true
    public var optimizer: OptimizerName = .adamw
    public var weightDecay: Float = 0.01
    public var momentum: Float = 0.9
    public var labelSmoothing: Float = 0.1
    /// Warm-up epochs; nil = min(5, epochs / 10), so short runs do not spend themselves warming up.
    public var warmupEpochs: Int?
    public var minimumLearningRate: Float = 1e-5
    public var seed: UInt64 = 42
    public var loss: LossName = .mean
    public var encoding: EncodingName = .direct
    public var augmentation = ImageAugmentation()
    public var dropLast = false
    /// Data-parallel runs: batch norm statistics over the global batch of all ranks (`sync_batch_norm`)
    /// instead of each rank's part. Without data parallelism it changes nothing.
    public var synchronizedBatchNorm = false
    /// Train on the first this many training samples only (nil: all). Class-grouped data sets list
    /// their samples class-interleaved, so the first N are class-balanced.
    public var trainSamples: Int?
    /// Test on the first this many test samples only (nil: the whole test split).
    public var testSamples: Int?
    /// Where framed event data is cached (nil: no cache). Not part of a run's record: it changes
    /// how fast data loads, never what it is.
    public var frameCacheDirectory: String? = FrameCache.defaultDirectory
    /// Masked surrogate gradients (nil: off).
    public var msg: MSGOptions?
    /// Temporally weighted output (TWO): learned per-step weights in the loss and at test time.
    public var temporalWeighting = false
    /// Temporal knowledge sharing (nil: off).
    public var tks: TKSOptions?
    /// How event data sets are integrated into the T frames.
    public var framing: Framing = .spikingJellyByNumber
    /// The step of the delta-rows encoding.
    public var deltaThreshold: Float = 0.5
    /// Event frames are resized (bilinear, as BrainCog-based papers do) to this many pixels a side.
    public var eventSize: Int?
    /// What to do with a step whose loss or gradients are not finite.
    public var onNonfinite: NonFinitePolicy = .stop
    /// The size of `--model spikformer` and its TIM (other models ignore it).
    public var spikformer = SpikformerConfiguration()
    /// An evolved architecture (`snn train --architecture`), trained instead of ``model`` when set.
    public var architecture: EvolvedArchitecture?
    /// A network imported from another framework (`snn import`), built instead of ``model`` and
    /// ``architecture`` when set; it keeps its own neuron constants.
    public var importedNetwork: ImportedNetwork?
    /// Static-to-event transfer from a static image set (nil: off). Its loss replaces ``loss``.
    public var transfer: TransferOptions?
    /// Image folders: every image is resized to this size (nil: all must have one size).
    public var imageSize: ImageSize?
    /// Class folders without a test folder: the share of each class held out for testing, drawn
    /// with ``seed``.
    public var validationFraction: Double?
    /// Event folders: the sensor size of recordings whose format records none (nil: their largest
    /// coordinate + 1).
    public var sensorSize: SensorSize?

    public init() {}

    /// The `model` of `config.json` for an ``importedNetwork``.
    public static let importedModelName = "imported"

    /// The base learning rate of a new run of `model` when none is given: 0.02 for every model but
    /// Spikformer, which trains best at 0.08 (measured on the embedded digits, 3 seeds with and
    /// without TIM; docs/design-notes.md, "Spikformer's learning rate"), and the `evolved`
    /// architectures of `snn search` and `snn train --architecture`, 0.64 (docs/design-notes.md, "The
    /// evolved networks' neuron"). A run records the value it resolved in `config.json`, so
    /// `--resume` and `snn evaluate` never depend on this default.
    public static func defaultLearningRate(for model: ModelName, evolved: Bool = false) -> Float {
        evolved ? 0.64 : model == .spikformer ? 0.08 : 0.02
    }

    /// The learning rate the optimizer starts from.
    public var effectiveLearningRate: Float {
        linearScaling ? linearScaledLearningRate(base: learningRate, batchSize: batchSize) : learningRate
    }

    public var resolvedWarmupEpochs: Int { warmupEpochs ?? min(5, epochs / 10) }

    /// Checks values a user may get wrong; the message names the option.
    public func validate() throws(SNNError) {
        func bad(_ message: String) -> SNNError { SNNError(.invalidArgument, message) }
        // NaN fails every comparison, so each float is checked for finiteness first, by name.
        let floats: [(String, Float)] =
            [
                ("--learning-rate", learningRate), ("--weight-decay", weightDecay),
                ("--label-smoothing", labelSmoothing),
                ("--tau", neuron.tau), ("--threshold", neuron.threshold), ("--alpha", neuron.surrogate.alpha),
                ("--delta-threshold", deltaThreshold), ("--rotation", augmentation.maxRotation),
                ("--event-drop", augmentation.eventDropProbability), ("momentum", momentum),
                ("minimum learning rate", minimumLearningRate),
                ("--reset-value", neuron.reset.restingPotential),
            ] + (msg.map { [("--msg-probability", $0.probability)] } ?? [])
            + (msg?.substitute.map { [("--msg-substitute α", $0.alpha)] } ?? [])
            + (msg?.schedule.map { [("--msg-schedule final probability", $0.finalProbability)] } ?? [])
            + (msg?.schedule?.finalAlpha.map { [("--msg-schedule final α", $0)] } ?? [])
            + (tks.map { [("--tks-alpha", $0.alpha), ("--tks-temperature", $0.temperature)] } ?? [])
        for (name, value) in floats where !value.isFinite { throw bad("\(name) must be a finite number, got \(value)") }
        if !(neuron.surrogate.alpha > 0) { throw bad("--alpha must be > 0, got \(neuron.surrogate.alpha)") }
        if let sub = msg?.substitute, !(sub.alpha > 0) { throw bad("--msg-substitute α must be > 0, got \(sub.alpha)") }
        if !(momentum >= 0 && momentum < 1) { throw bad("momentum must be in [0, 1), got \(momentum)") }
        if !(minimumLearningRate >= 0) { throw bad("minimum learning rate must be ≥ 0, got \(minimumLearningRate)") }
        if augmentation.cropPadding < 0 { throw bad("--crop-padding must be ≥ 0, got \(augmentation.cropPadding)") }
        if !(augmentation.maxRotation >= 0 && augmentation.maxRotation <= 180) {
            throw bad("--rotation must be in 0…180 degrees, got \(augmentation.maxRotation)")
        }
        if !(augmentation.eventDropProbability >= 0 && augmentation.eventDropProbability < 1) {
            throw bad("--event-drop must be in [0, 1), got \(augmentation.eventDropProbability)")
        }
        if timeSteps < 1 { throw bad("--time-steps must be ≥ 1, got \(timeSteps)") }
        if epochs < 1 { throw bad("--epochs must be ≥ 1, got \(epochs)") }
        if batchSize < 1 { throw bad("--batch-size must be ≥ 1, got \(batchSize)") }
        if !(learningRate > 0) || !learningRate.isFinite {
            throw bad("--learning-rate must be > 0, got \(learningRate)")
        }
        if weightDecay < 0 { throw bad("--weight-decay must be ≥ 0, got \(weightDecay)") }
        if labelSmoothing < 0 || labelSmoothing >= 1 {
            throw bad("--label-smoothing must be in [0, 1), got \(labelSmoothing)")
        }
        if let w = warmupEpochs, w < 0 || w > epochs { throw bad("--warmup-epochs must be in 0…\(epochs), got \(w)") }
        if neuron.threshold <= 0 { throw bad("--threshold must be > 0, got \(neuron.threshold)") }
        if neuron.kind != .integrateAndFire && neuron.tau <= 1 { throw bad("--tau must be > 1, got \(neuron.tau)") }
        if neuron.order < 1 { throw bad("--psn-order must be ≥ 1, got \(neuron.order)") }
        if model == .recurrentMLP && !neuron.isStepwise {
            throw bad(
                "--model recurrent-mlp feeds spikes back step by step: use --neuron if, lif or plif, not \(neuron.kind.rawValue)"
            )
        }
        if model == .recurrentMLP && msg != nil {
            throw bad(
                "--msg-probability masks the fused neuron kernels; recurrent-mlp runs its neurons step by step, unmasked"
            )
        }
        if neuron.kind == .maskedPSN && neuron.order > timeSteps {
            throw bad("--psn-order \(neuron.order) exceeds --time-steps \(timeSteps)")
        }
        if let n = trainSamples, n < 1 { throw bad("--train-samples must be ≥ 1, got \(n)") }
        if let n = testSamples, n < 1 { throw bad("--test-samples must be ≥ 1, got \(n)") }
        if let msg {
            if !(msg.probability >= 0 && msg.probability <= 1) {
                throw bad("--msg-probability must be in [0, 1], got \(msg.probability)")
            }
            if let s = msg.schedule {
                if s.startEpoch < 0 || s.startEpoch >= epochs {
                    throw bad("--msg-schedule start epoch must be in 0…\(epochs - 1), got \(s.startEpoch)")
                }
                if !(s.finalProbability >= 0 && s.finalProbability <= 1) {
                    throw bad("--msg-schedule final probability must be in [0, 1], got \(s.finalProbability)")
                }
                if let a = s.finalAlpha, !(a > 0) { throw bad("--msg-schedule final α must be > 0, got \(a)") }
            }
        }
        if !(deltaThreshold > 0) { throw bad("--delta-threshold must be > 0, got \(deltaThreshold)") }
        if let e = eventSize {
            if e < 1 || e > 1024 { throw bad("--event-size must be in 1…1024, got \(e)") }
            if !dataset.hasEventImages {
                throw bad("--event-size resizes event frames; \(dataset.rawValue) has no event images")
            }
        }
        if augmentation.eventDropProbability > 0 {
            if !dataset.isEventData {
                throw bad("--event-drop drops events; \(dataset.rawValue) has no event recordings")
            }
            if eventSize != nil {
                throw bad("--event-drop needs frames of event counts; --event-size resizes them into other numbers")
            }
        }
        if !framing.fixesFrameCount {
            throw bad(
                "--framing \(framing) gives as many frames as each recording allows; training needs --time-steps frames (sj-number, sj-time or tonic-time-bins)"
            )
        }
        if encoding == .speechGrid {
            if !dataset.isSpeech {
                throw bad(
                    "--encoding speech-grid is for the speech data sets (shd, ssc, fsdd-mfcc), not \(dataset.rawValue)")
            }
        } else if !dataset.hasFileDefinedSamples && dataset.isEventData != (encoding == .frames) {
            throw bad(
                dataset.isEventData
                    ? "\(dataset.rawValue) holds event recordings: use --encoding frames (the default for it)"
                    : "--encoding frames is for event data sets (nmnist, dvs-gesture, cifar10-dvs, n-caltech101, shd, ssc), not \(dataset.rawValue)"
            )
        }
        if let tks {
            if !(tks.alpha >= 0 && tks.alpha <= 1) { throw bad("--tks-alpha must be in [0, 1], got \(tks.alpha)") }
            if !(tks.temperature > 0) { throw bad("--tks-temperature must be > 0, got \(tks.temperature)") }
            if loss == .tet { throw bad("--tks-alpha replaces the loss: use it with --loss mean") }
        }
        if let widths, widths.isEmpty || widths.contains(where: { $0 < 1 }) {
            throw bad("--widths must be positive, got \(widths)")
        }
        if model == .spikformer { try validateSpikformer() }
        if let transfer { try validateTransfer(transfer) }
        try validateFolderOptions()
    }

    /// The options of the class-folder data sets, by flag.
    func validateFolderOptions() throws(SNNError) {
        func bad(_ message: String) -> SNNError { SNNError(.invalidArgument, message) }
        if let s = imageSize {
            if dataset != .imageFolder { throw bad("--image-size resizes the images of --dataset image-folder") }
            if !(1...4096).contains(s.height) || !(1...4096).contains(s.width) {
                throw bad("--image-size must be H or H,W with each side in 1…4096, got \(s)")
            }
        }
        if let f = validationFraction {
            if !dataset.hasClassFolders {
                throw bad(
                    "--validation-fraction splits class folders (--dataset image-folder or event-folder), not "
                        + dataset.rawValue)
            }
            if !(f > 0 && f < 1) { throw bad("--validation-fraction must be in (0, 1), got \(f)") }
        }
        if let s = sensorSize {
            if dataset != .eventFolder { throw bad("--sensor-size sizes the recordings of --dataset event-folder") }
            if !(1...65536).contains(s.width) || !(1...65536).contains(s.height) {
                throw bad("--sensor-size must be W,H with each side in 1…65536, got \(s)")
            }
        }
    }

    /// The held-out split of class folders without a test folder (nil without a fraction).
    public var validationSplit: ValidationSplit? {
        validationFraction.map { ValidationSplit(fraction: $0, seed: seed) }
    }

    /// The transfer options a user may get wrong, by flag.
    func validateTransfer(_ t: TransferOptions) throws(SNNError) {
        func bad(_ message: String) -> SNNError { SNNError(.invalidArgument, message) }
        if !dataset.hasEventImages {
            throw bad(
                "--transfer-from trains on event frames: use an event data set with images "
                    + "(nmnist, dvs-gesture, cifar10-dvs, n-caltech101), not \(dataset.rawValue)")
        }
        if t.source.isEventData || t.source == .fsddMFCC {
            throw bad(
                "--transfer-from takes a static image set (mnist, fashion-mnist, cifar10, cifar100, digits, "
                    + "image-folder), "
                    + "not \(t.source.rawValue)")
        }
        if t.source.needsDirectory && t.dataDirectory == nil {
            throw bad("--transfer-data-dir is required for --transfer-from \(t.source.rawValue)")
        }
        if !model.supportsDomainHeads {
            let convModels = ModelName.allCases.filter(\.supportsDomainHeads).map(\.rawValue)
            throw bad(
                "--transfer-from needs a conv model for its two heads ("
                    + convModels.joined(separator: ", ") + "), not \(model.rawValue)")
        }
        if ![.integrateAndFire, .leakyIntegrateAndFire, .parametricLIF].contains(neuron.kind) {
            throw bad(
                "--transfer-from aligns membrane potentials after reset: use --neuron if, lif or plif, "
                    + "not \(neuron.kind.rawValue)")
        }
        if !(t.alignmentWeight.isFinite && t.alignmentWeight >= 0) {
            throw bad("--alignment-weight must be a finite number ≥ 0, got \(t.alignmentWeight)")
        }
        switch t.stepWeights {
        case .fixed(let w):
            if !(w >= 0 && w <= 1) { throw bad("--fixed-step-weights must be in [0, 1], got \(w)") }
        case .learned:
            if optimizer != .adamw && weightDecay > 0 {
                throw bad(
                    "the learned step weights c_t take no weight decay: use --optimizer adamw (no decay on "
                        + "1-D parameters) or --weight-decay 0 with \(optimizer.rawValue)")
            }
        }
        if tks != nil || temporalWeighting {
            throw bad("--transfer-from has its own loss and readout: not with --tks-alpha or --temporal-weighting")
        }
    }

    /// The Spikformer options a user may get wrong, by flag; what depends on the input size (tokens,
    /// the released TIM axis) is checked with the sample shape, by the model's footprint.
    func validateSpikformer() throws(SNNError) {
        func bad(_ message: String) -> SNNError { SNNError(.invalidArgument, message) }
        let s = spikformer
        if s.embedDimension < 8 {
            throw bad("--embed-dim must be ≥ 8 (SPS's first stage has C/8 channels), got \(s.embedDimension)")
        }
        if s.heads < 1 || s.embedDimension % s.heads != 0 {
            throw bad("--heads must divide --embed-dim \(s.embedDimension), got \(s.heads)")
        }
        if s.depth < 1 { throw bad("--depth must be ≥ 1, got \(s.depth)") }
        if s.mlpRatio < 1 || !s.attentionScale.isFinite {
            throw bad(
                "the Spikformer's MLP ratio must be ≥ 1 and its attention scale finite, got \(s.mlpRatio) and \(s.attentionScale)"
            )
        }
        guard let tim = s.temporalInteraction else { return }
        if !(tim.alpha.isFinite && tim.alpha >= 0 && tim.alpha <= 1) {
            throw bad("--tim-alpha must be in [0, 1], got \(tim.alpha)")
        }
        if tim.kernelSize < 1 || tim.kernelSize % 2 == 0 {
            throw bad("--tim-kernel must be odd and ≥ 1, got \(tim.kernelSize)")
        }
        let t = tim.thresholds
        if !(t.inner.isFinite && t.inner > 0 && t.outer.isFinite && t.outer > 0) {
            throw bad("--tim-thresholds must be two finite numbers > 0, got \(t.inner),\(t.outer)")
        }
    }

    /// Refuses, before any data is read, a run whose single sample cannot fit in memory or whose size
    /// overflows (event recordings are framed into `--time-steps` frames as they load).
    public func validateDataSize(availableBytes: Int = MemoryBudget.physicalBytes) throws(SNNError) {
        guard dataset.isEventData else { return }
        var budget = MemoryBudget(availableBytes: availableBytes)
        try budget.add(
            "one framed recording", factors: [timeSteps] + dataset.nominalFrameShape(eventSize: eventSize),
            flags: ["--time-steps"])
    }

    /// Checks what depends on the data's sample shape `[C, H, W]` (or `[T, C, H, W]` for event frames,
    /// `[F]` for features) and the model built for it, before anything large is allocated: the crop
    /// padding against the image, the model's shape rules, and a lower bound on the memory the run
    /// needs (data, parameters with their gradients and optimizer state, and one batch's
    /// activations), refused when it exceeds `availableBytes`.
    ///
    /// For evaluation (`training` false) only the parameters and one encoded input batch count: no
    /// tape keeps the activations.
    public func validate(
        sampleShape: [Int], trainSamples trainCount: Int, testSamples testCount: Int,
        training: Bool = true, availableBytes: Int = MemoryBudget.physicalBytes
    ) throws(SNNError) {
        try validateEncoding(sampleShape: sampleShape)
        if augmentation.cropPadding > 0 {
            let side =
                sampleShape.count >= 2 ? min(sampleShape[sampleShape.count - 1], sampleShape[sampleShape.count - 2]) : 0
            if augmentation.cropPadding > side {
                throw SNNError(
                    .invalidArgument,
                    "--crop-padding \(augmentation.cropPadding) exceeds the \(side)-pixel side of \(dataset.rawValue)'s images"
                )
            }
        }
        if case .speechGrid(let placement) = resolvedEncoding {
            // Sequences [T, F] or MFCC images [C, H, W] (one row per step, F = C·W).
            guard sampleShape.count == 2 || sampleShape.count == 3 else {
                throw SNNError(
                    .invalidArgument,
                    "--encoding speech-grid needs samples [T, F] or [C, H, W]; \(dataset.rawValue) has \(sampleShape)")
            }
            let channels = sampleShape.count == 2 ? sampleShape[1] : sampleShape[0] * sampleShape[2]
            do { try SpeechGrid(placement).check(channels: channels) } catch {
                throw SNNError(.invalidArgument, "--encoding speech-grid on \(dataset.rawValue): \(error.message)")
            }
        }
        let model = modelConfiguration(inputShape: sampleShape, classes: 1)
        var budget = MemoryBudget(availableBytes: availableBytes)
        try budget.add(
            "the data set", factors: sampleShape + [trainCount + testCount],
            flags: ["--time-steps", "--train-samples", "--test-samples"])
        // An imported network's size is that of its weights, already in memory when it was imported.
        guard importedNetwork == nil else { return }
        let footprint = try model.footprint()
        if training {
            // Weights, gradients and at least one optimizer state per parameter.
            try budget.add("the parameters", factors: [footprint.parameters, 3], flags: ["--widths", "--time-steps"])
            try budget.add(
                "one batch's activations",
                factors: [footprint.activationsPerSampleStep, timeSteps, min(batchSize, max(trainCount, 1))],
                flags: ["--time-steps", "--batch-size", "--widths"])
        } else {
            try budget.add("the parameters", factors: [footprint.parameters], flags: ["--widths", "--time-steps"])
            try budget.add(
                "one encoded input batch", factors: model.inputShape + [timeSteps, min(batchSize, max(testCount, 1))],
                flags: ["--time-steps"])
        }
    }

    /// Checks that the encoding takes samples of shape `sampleShape`: frame sequences `[T, ...]` of
    /// ``timeSteps`` frames for `frames`, images `[C, H, W]` for the image encodings. The named data
    /// sets always fit their default encodings; samples from the user's files (npz) may not.
    func validateEncoding(sampleShape: [Int]) throws(SNNError) {
        let shape = "\(dataset.rawValue) has samples \(sampleShape)"
        switch encoding {
        case .frames:
            // Event frames [T, C, H, W], or the speech sets' channel vectors [T, F].
            guard sampleShape.count == 4 || (sampleShape.count == 2 && dataset.isSpeech) else {
                throw SNNError(.invalidArgument, "--encoding frames takes frame sequences [T, C, H, W]; \(shape)")
            }
            guard sampleShape[0] == timeSteps else {
                throw SNNError(
                    .invalidArgument,
                    "\(shape), sequences of \(sampleShape[0]) frames: use --time-steps "
                        + "\(sampleShape[0])")
            }
        case .speechGrid:
            break  // checked with the grid's own rules
        default:
            guard sampleShape.count == 3 else {
                throw SNNError(
                    .invalidArgument,
                    "--encoding \(encoding.rawValue) takes images [C, H, W]; \(shape)"
                        + (sampleShape.count == 4 ? " (frame sequences: use --encoding frames)" : ""))
            }
        }
    }

    /// The JSON form (`config.json`).
    public var dictionary: [String: Any] {
        var d: [String: Any] = [
            "dataset": dataset.rawValue, "model": model.rawValue, "neuron": neuron.dictionary, "time_steps": timeSteps,
            "epochs": epochs, "batch_size": batchSize, "learning_rate": Double(learningRate),
            "linear_scaling": linearScaling,
            "optimizer": optimizer.rawValue, "weight_decay": Double(weightDecay), "momentum": Double(momentum),
            "label_smoothing": Double(labelSmoothing), "minimum_learning_rate": Double(minimumLearningRate),
            "seed": seed, "loss": loss.rawValue, "encoding": encoding.rawValue,
            "crop_padding": augmentation.cropPadding, "horizontal_flip": augmentation.horizontalFlip,
            "rotation": Double(augmentation.maxRotation), "event_drop": Double(augmentation.eventDropProbability),
            "drop_last": dropLast,
            "warmup_epochs": resolvedWarmupEpochs, "effective_learning_rate": Double(effectiveLearningRate),
        ]
        if let dataDirectory { d["data_dir"] = dataDirectory }
        if let widths { d["widths"] = widths }
        if let trainSamples { d["train_samples"] = trainSamples }
        if let testSamples { d["test_samples"] = testSamples }
        if let msg {
            var m: [String: Any] = ["probability": Double(msg.probability)]
            if let sub = msg.substitute { m["substitute"] = sub.name; m["substitute_alpha"] = Double(sub.alpha) }
            if let s = msg.schedule {
                var sd: [String: Any] = ["start_epoch": s.startEpoch, "final_probability": Double(s.finalProbability)]
                if let a = s.finalAlpha { sd["final_alpha"] = Double(a) }
                m["schedule"] = sd
            }
            d["msg"] = m
        }
        if temporalWeighting { d["temporal_weighting"] = true }
        if dataset.isEventData { d["framing"] = framing.description }
        if let eventSize { d["event_size"] = eventSize }
        if encoding == .deltaRows { d["delta_threshold"] = Double(deltaThreshold) }
        if onNonfinite != .stop { d["on_nonfinite"] = onNonfinite.rawValue }
        if synchronizedBatchNorm { d["sync_batch_norm"] = true }
        if let tks {
            d["tks"] = [
                "alpha": Double(tks.alpha), "temperature": Double(tks.temperature), "detach_teacher": tks.detachTeacher,
            ]
        }
        if model == .spikformer { d["spikformer"] = spikformer.dictionary }
        if let architecture { d["architecture"] = architecture.dictionary }
        if let importedNetwork {
            d["imported_network"] = importedNetwork.dictionary
            d["model"] = Self.importedModelName
        }
        if let transfer { d["transfer"] = transfer.dictionary }
        if let imageSize { d["image_size"] = [imageSize.height, imageSize.width] }
        if let validationFraction { d["validation_fraction"] = validationFraction }
        if let sensorSize { d["sensor_size"] = [sensorSize.width, sensorSize.height] }
        return d
    }

    /// Reads `config.json`; `file` names it in errors.
    public init(dictionary d: [String: Any], file: String) throws(SNNError) {
        func field<T>(_ key: String, _ type: T.Type) throws(SNNError) -> T {
            guard let v = d[key] as? T else { throw SNNError(.corrupt, "missing or invalid \"\(key)\"", file: file) }
            return v
        }
        func number(_ key: String) throws(SNNError) -> NSNumber { try field(key, NSNumber.self) }
        self.init()
        guard let ds = DatasetName(rawValue: try field("dataset", String.self)) else {
            throw SNNError(.corrupt, "unknown dataset \(d["dataset"] ?? "")", file: file)
        }
        let modelField = try field("model", String.self)
        // An imported network is named "imported" (its layers are in "imported_network").
        let imported = modelField == Self.importedModelName && d["imported_network"] != nil
        guard let m = imported ? ModelName.spikingMLP : ModelName(rawValue: modelField) else {
            throw SNNError(.corrupt, "unknown model \(d["model"] ?? "")", file: file)
        }
        guard let n = NeuronConfiguration(dictionary: try field("neuron", [String: Any].self)) else {
            throw SNNError(.corrupt, "invalid \"neuron\"", file: file)
        }
        guard let opt = OptimizerName(rawValue: try field("optimizer", String.self)),
            let lossName = LossName(rawValue: try field("loss", String.self)),
            let enc = EncodingName(rawValue: try field("encoding", String.self))
        else {
            throw SNNError(.corrupt, "unknown optimizer, loss or encoding", file: file)
        }
        dataset = ds
        model = m
        neuron = n
        optimizer = opt
        loss = lossName
        encoding = enc
        dataDirectory = d["data_dir"] as? String
        widths = d["widths"] as? [Int]
        trainSamples = (d["train_samples"] as? NSNumber)?.intValue
        testSamples = (d["test_samples"] as? NSNumber)?.intValue
        if let m = d["msg"] {
            guard let m = m as? [String: Any], let p = (m["probability"] as? NSNumber)?.floatValue else {
                throw SNNError(.corrupt, "invalid \"msg\"", file: file)
            }
            var options = MSGOptions(probability: p)
            if let name = m["substitute"] as? String {
                guard let sub = SurrogateChoice(name: name, alpha: (m["substitute_alpha"] as? NSNumber)?.floatValue)
                else {
                    throw SNNError(.corrupt, "unknown msg substitute \(name)", file: file)
                }
                options.substitute = sub
            }
            if let sd = m["schedule"] {
                guard let sd = sd as? [String: Any], let start = (sd["start_epoch"] as? NSNumber)?.intValue,
                    let fp = (sd["final_probability"] as? NSNumber)?.floatValue
                else {
                    throw SNNError(.corrupt, "invalid \"msg.schedule\"", file: file)
                }
                options.schedule = .init(
                    startEpoch: start, finalProbability: fp, finalAlpha: (sd["final_alpha"] as? NSNumber)?.floatValue)
            }
            msg = options
        }
        temporalWeighting = d["temporal_weighting"] as? Bool ?? false
        eventSize = (d["event_size"] as? NSNumber)?.intValue
        if let v = d["delta_threshold"] {
            guard let v = (v as? NSNumber)?.floatValue else {
                throw SNNError(.corrupt, "invalid \"delta_threshold\"", file: file)
            }
            deltaThreshold = v
        }
        if let f = d["framing"] {
            guard let name = f as? String, let framing = Framing(name: name) else {
                throw SNNError(.corrupt, "unknown framing \(f)", file: file)
            }
            self.framing = framing
        }
        if let t = d["tks"] {
            guard let t = t as? [String: Any], let a = (t["alpha"] as? NSNumber)?.floatValue,
                let tau = (t["temperature"] as? NSNumber)?.floatValue
            else {
                throw SNNError(.corrupt, "invalid \"tks\"", file: file)
            }
            tks = TKSOptions(alpha: a, temperature: tau, detachTeacher: t["detach_teacher"] as? Bool ?? false)
        }
        timeSteps = try number("time_steps").intValue
        epochs = try number("epochs").intValue
        batchSize = try number("batch_size").intValue
        learningRate = try number("learning_rate").floatValue
        linearScaling = try field("linear_scaling", Bool.self)
        weightDecay = try number("weight_decay").floatValue
        momentum = try number("momentum").floatValue
        labelSmoothing = try number("label_smoothing").floatValue
        minimumLearningRate = try number("minimum_learning_rate").floatValue
        seed = try number("seed").uint64Value
        warmupEpochs = try number("warmup_epochs").intValue
        let rotation = (d["rotation"] as? NSNumber)?.floatValue ?? 0  // absent before rotation existed
        guard rotation >= 0 && rotation <= 180 else {
            throw SNNError(.corrupt, "\"rotation\" must be in 0…180", file: file)
        }
        let eventDrop = (d["event_drop"] as? NSNumber)?.floatValue ?? 0  // absent before event drop existed
        guard eventDrop >= 0 && eventDrop < 1 else {
            throw SNNError(.corrupt, "\"event_drop\" must be in [0, 1)", file: file)
        }
        if let policy = d["on_nonfinite"] {
            guard let name = policy as? String, let p = NonFinitePolicy(rawValue: name) else {
                throw SNNError(.corrupt, "\"on_nonfinite\" must be stop or skip", file: file)
            }
            onNonfinite = p
        }
        if let sd = d["spikformer"] {
            guard let sd = sd as? [String: Any], let s = SpikformerConfiguration(dictionary: sd) else {
                throw SNNError(.corrupt, "invalid \"spikformer\"", file: file)
            }
            spikformer = s
        } else if model == .spikformer {
            throw SNNError(.corrupt, "missing \"spikformer\" (the model's size)", file: file)
        }
        if let t = d["transfer"] {
            guard let t = t as? [String: Any], let options = TransferOptions(dictionary: t) else {
                throw SNNError(.corrupt, "invalid \"transfer\"", file: file)
            }
            transfer = options
        }
        if let v = d["image_size"] {
            guard let sides = v as? [NSNumber], sides.count == 2 else {
                throw SNNError(.corrupt, "\"image_size\" must be [height, width]", file: file)
            }
            imageSize = ImageSize(height: sides[0].intValue, width: sides[1].intValue)
        }
        if let v = d["sensor_size"] {
            guard let sides = v as? [NSNumber], sides.count == 2 else {
                throw SNNError(.corrupt, "\"sensor_size\" must be [width, height]", file: file)
            }
            sensorSize = SensorSize(width: sides[0].intValue, height: sides[1].intValue)
        }
        if let v = d["validation_fraction"] {
            guard let f = (v as? NSNumber)?.doubleValue else {
                throw SNNError(.corrupt, "\"validation_fraction\" must be a number", file: file)
            }
            validationFraction = f
        }
        let cropPadding = try number("crop_padding").intValue
        guard cropPadding >= 0 else { throw SNNError(.corrupt, "\"crop_padding\" must be ≥ 0", file: file) }
        augmentation = ImageAugmentation(
            cropPadding: cropPadding,
            horizontalFlip: try field("horizontal_flip", Bool.self), maxRotation: rotation,
            eventDropProbability: eventDrop)
        dropLast = try field("drop_last", Bool.self)
        // Absent from runs made before data-parallel training.
        if let sync = d["sync_batch_norm"] {
            guard let sync = sync as? Bool else {
                throw SNNError(.corrupt, "\"sync_batch_norm\" is not a boolean", file: file)
            }
            synchronizedBatchNorm = sync
        }
        if let a = d["architecture"] {
            guard let a = a as? [String: Any] else { throw SNNError(.corrupt, "invalid \"architecture\"", file: file) }
            architecture = try EvolvedArchitecture(dictionary: a, file: file)
        }
        if let n = d["imported_network"] {
            guard let n = n as? [String: Any] else {
                throw SNNError(.corrupt, "invalid \"imported_network\"", file: file)
            }
            importedNetwork = try ImportedNetwork(dictionary: n, file: file)
        }
        try validate()
    }

    /// Loads the data set's two splits, cut to ``trainSamples`` and ``testSamples``.
    public func loadData() throws(SNNError) -> (train: LabeledImages, test: LabeledImages) {
        var (train, test) = try dataset.load(
            directory: dataDirectory, frames: timeSteps, framing: framing,
            limits: (trainSamples, testSamples), eventSize: eventSize,
            cache: frameCacheDirectory.map(FrameCache.init(directory:)),
            imageSize: imageSize, validation: validationSplit, sensorSize: sensorSize)
        func cut(_ data: LabeledImages, _ n: Int?, _ flag: String, _ what: String) throws(SNNError) -> LabeledImages {
            guard let n else { return data }
            guard n <= data.count else {
                throw SNNError(
                    .invalidArgument, "\(flag) \(n) exceeds the \(data.count) \(what) samples of \(dataset.rawValue)")
            }
            return n < data.count ? data.subset(Array(0..<n)) : data
        }
        train = try cut(train, trainSamples, "--train-samples", "training")
        test = try cut(test, testSamples, "--test-samples", "test")
        return (train, test)
    }

    /// The training split of the transfer's static image set, with the pairing of its images to the
    /// classes of `events` (the event training set); nil without transfer. Image folders are read
    /// at the event frames' size (all their class folders when there is no `train` folder).
    public func loadStaticImages(events: LabeledImages) throws(SNNError)
        -> (images: LabeledImages, pairing: StaticPairing)?
    {
        guard let transfer else { return nil }
        let images: LabeledImages
        if transfer.source == .imageFolder, let directory = transfer.dataDirectory {
            let shape = events.images.shape
            let size = shape.count == 5 ? ImageSize(height: shape[3], width: shape[4]) : nil
            images = try ImageFolder.loadTraining(directory: directory, size: size)
        } else {
            images = try transfer.source.load(directory: transfer.dataDirectory).train
        }
        let channels = images.images.rank == 4 ? images.images.shape[1] : 0
        guard channels == 1 || channels == 3 else {
            throw SNNError(
                .invalidArgument,
                "--transfer-from \(transfer.source.rawValue): images must be grey or RGB "
                    + "[N, 1 or 3, H, W], got \(images.images.shape)")
        }
        let pairing = try StaticPairing(
            staticLabels: images.labels, staticClassCount: images.classCount,
            eventClassCount: events.classCount, source: transfer.source.rawValue,
            target: dataset.rawValue, staticClassNames: images.classNames,
            eventClassNames: events.classNames)
        return (images, pairing)
    }

    /// The encoding of the inputs over time.
    public var resolvedEncoding: Encoding {
        switch encoding {
        case .direct: .direct
        case .poisson: .poisson(seed: seed)
        case .latency: .latency(threshold: 0)
        case .rows: .rows
        case .columns: .columns
        case .frames: .frames
        case .pixels: .pixels(permutationSeed: nil)
        case .permutedPixels: .pixels(permutationSeed: 0x5EED_0F_0DE5)  // fixed: the same order for every run
        case .deltaRows: .deltaRows(threshold: deltaThreshold)
        case .rateRows: .rateRows(seed: seed ^ 0x5EED_0F_7A7E)
        // Cochlear channels are neighbouring frequencies and are interpolated (METHODS.md §5); short
        // feature vectors are placed one per cell.
        case .speechGrid: .speechGrid(dataset.isEventData ? .resampled : .padded)
        }
    }

    /// The model this configuration trains, for samples of shape `sampleShape` (`[C, H, W]`).
    public func modelConfiguration(inputShape sampleShape: [Int], classes: Int) -> ModelConfiguration {
        var n = neuron
        n.timeSteps = timeSteps
        let heads: ClassifierHeads =
            transfer.map { .staticAndEvent(learnedStepWeights: $0.stepWeights == .learned) }
            ?? .single
        return ModelConfiguration(
            name: model, inputShape: resolvedEncoding.stepShape(forSample: sampleShape), classes: classes,
            neuron: n, widths: widths, spikformer: spikformer, heads: heads)
    }

    /// A fresh model for samples of shape `sampleShape`: the evolved ``architecture`` when set
    /// (checked against the input size), otherwise ``model``.
    public func makeModel(sampleShape: [Int], classes: Int) throws(SNNError) -> any Layer {
        let configuration = modelConfiguration(inputShape: sampleShape, classes: classes)
        if let importedNetwork {
            // The data must fit the imported network: its shapes are checked, the data's here.
            guard configuration.inputShape == importedNetwork.inputShape else {
                throw SNNError(
                    .mismatch,
                    "the imported network takes per-step input \(importedNetwork.inputShape); "
                        + "\(dataset.rawValue) with the \(encoding.rawValue) encoding gives \(configuration.inputShape)"
                )
            }
            guard case .success(let shapes) = importedNetwork.shapes(), shapes.last == [classes] else {
                throw SNNError(
                    .mismatch, "the imported network does not end in the \(classes) classes of \(dataset.rawValue)")
            }
            return importedNetwork.make(neuron: configuration.neuron)
        }
        guard let architecture else { return configuration.make() }
        let space = SearchSpace(channels: architecture.channels, neuron: configuration.neuron)
        try space.validate(inputShape: configuration.inputShape, modules: architecture.genome.modules.count)
        return EvolvedNetwork(
            genome: architecture.genome, space: space, inputShape: configuration.inputShape, classes: classes)
    }

    /// A fresh optimizer.
    public func makeOptimizer() -> any Optimizer {
        switch optimizer {
        case .adamw:
            AdamW(learningRate: effectiveLearningRate, weightDecay: weightDecay, excludeOneDimensionalFromDecay: true)
        case .adam: Adam(learningRate: effectiveLearningRate, weightDecay: weightDecay)
        case .sgd: SGD(learningRate: effectiveLearningRate, momentum: momentum, weightDecay: weightDecay)
        }
    }

    /// The learning rate at a fractional epoch (per-step warm-up, then cosine to the minimum).
    public func learningRate(atEpoch progress: Double) -> Float {
        let base = effectiveLearningRate, warm = Double(resolvedWarmupEpochs)
        if progress < warm {
            return 1e-6 + Float(progress / warm) * (base - 1e-6)
        }
        let fraction = Float(min(progress, Double(epochs)) / Double(epochs))
        return minimumLearningRate + 0.5 * (base - minimumLearningRate) * (1 + cos(Float.pi * fraction))
    }
}

extension SpikformerConfiguration {
    /// The JSON form (`config.json`'s "spikformer"); "tim" is present when TIM is on.
    public var dictionary: [String: Any] {
        var d: [String: Any] = [
            "embed_dim": embedDimension, "heads": heads, "depth": depth, "mlp_ratio": mlpRatio,
            "attention_scale": Double(attentionScale),
        ]
        if let tim = temporalInteraction {
            d["tim"] = [
                "alpha": Double(tim.alpha), "kernel": tim.kernelSize, "axis": tim.axis.rawValue,
                "thresholds": [Double(tim.thresholds.inner), Double(tim.thresholds.outer)],
            ]
        }
        return d
    }

    /// Reads ``dictionary`` back; nil when something is missing or of the wrong type.
    public init?(dictionary d: [String: Any]) {
        guard let c = (d["embed_dim"] as? NSNumber)?.intValue, let h = (d["heads"] as? NSNumber)?.intValue,
            let depth = (d["depth"] as? NSNumber)?.intValue, let ratio = (d["mlp_ratio"] as? NSNumber)?.intValue,
            let scale = (d["attention_scale"] as? NSNumber)?.floatValue
        else { return nil }
        var tim: TemporalInteractionConfiguration?
        if let t = d["tim"] {
            guard let t = t as? [String: Any], let alpha = (t["alpha"] as? NSNumber)?.floatValue,
                let kernel = (t["kernel"] as? NSNumber)?.intValue,
                let axis = (t["axis"] as? String).flatMap(TemporalInteraction.Axis.init(rawValue:)),
                let thresholds = t["thresholds"] as? [NSNumber], thresholds.count == 2
            else { return nil }
            tim = TemporalInteractionConfiguration(
                alpha: alpha, kernelSize: kernel, axis: axis,
                thresholds: .init(
                    inner: thresholds[0].floatValue,
                    outer: thresholds[1].floatValue))
        }
        self.init(
            embedDimension: c, heads: h, depth: depth, mlpRatio: ratio, attentionScale: scale, temporalInteraction: tim)
    }
}
