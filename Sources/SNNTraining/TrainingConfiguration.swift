import Foundation
import SNNData
import SNNLayers
import SNNModels
import SNNNeurons
import SNNOptimizers
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

/// How static images are presented over T steps.
public enum EncodingName: String, Sendable, CaseIterable {
    case direct, poisson, latency
    /// One image row per time step (row-wise sequential images; T = image height).
    case rows
    /// One image column per time step (T = image width).
    case columns
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
    /// The base learning rate; the optimizer uses base × batch / 1024 with `linearScaling`.
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
    /// Train on the first this many training samples only (nil: all); the test split is never cut.
    public var trainSamples: Int?

    public init() {}

    /// The learning rate the optimizer starts from.
    public var effectiveLearningRate: Float {
        linearScaling ? linearScaledLearningRate(base: learningRate, batchSize: batchSize) : learningRate
    }

    public var resolvedWarmupEpochs: Int { warmupEpochs ?? min(5, epochs / 10) }

    /// Checks values a user may get wrong; the message names the option.
    public func validate() throws(SNNError) {
        func bad(_ message: String) -> SNNError { SNNError(.invalidArgument, message) }
        if timeSteps < 1 { throw bad("--time-steps must be ≥ 1, got \(timeSteps)") }
        if epochs < 1 { throw bad("--epochs must be ≥ 1, got \(epochs)") }
        if batchSize < 1 { throw bad("--batch-size must be ≥ 1, got \(batchSize)") }
        if !(learningRate > 0) || !learningRate.isFinite { throw bad("--learning-rate must be > 0, got \(learningRate)") }
        if weightDecay < 0 { throw bad("--weight-decay must be ≥ 0, got \(weightDecay)") }
        if labelSmoothing < 0 || labelSmoothing >= 1 { throw bad("--label-smoothing must be in [0, 1), got \(labelSmoothing)") }
        if let w = warmupEpochs, w < 0 || w > epochs { throw bad("--warmup-epochs must be in 0…\(epochs), got \(w)") }
        if neuron.threshold <= 0 { throw bad("--threshold must be > 0, got \(neuron.threshold)") }
        if neuron.kind != .integrateAndFire && neuron.tau <= 1 { throw bad("--tau must be > 1, got \(neuron.tau)") }
        if neuron.order < 1 { throw bad("--psn-order must be ≥ 1, got \(neuron.order)") }
        if neuron.kind == .maskedPSN && neuron.order > timeSteps {
            throw bad("--psn-order \(neuron.order) exceeds --time-steps \(timeSteps)")
        }
        if let n = trainSamples, n < 1 { throw bad("--train-samples must be ≥ 1, got \(n)") }
        if let widths, widths.isEmpty || widths.contains(where: { $0 < 1 }) { throw bad("--widths must be positive, got \(widths)") }
    }

    /// The JSON form (`config.json`).
    public var dictionary: [String: Any] {
        var d: [String: Any] = [
            "dataset": dataset.rawValue, "model": model.rawValue, "neuron": neuron.dictionary, "time_steps": timeSteps,
            "epochs": epochs, "batch_size": batchSize, "learning_rate": Double(learningRate), "linear_scaling": linearScaling,
            "optimizer": optimizer.rawValue, "weight_decay": Double(weightDecay), "momentum": Double(momentum),
            "label_smoothing": Double(labelSmoothing), "minimum_learning_rate": Double(minimumLearningRate),
            "seed": seed, "loss": loss.rawValue, "encoding": encoding.rawValue,
            "crop_padding": augmentation.cropPadding, "horizontal_flip": augmentation.horizontalFlip, "drop_last": dropLast,
            "warmup_epochs": resolvedWarmupEpochs, "effective_learning_rate": Double(effectiveLearningRate),
        ]
        if let dataDirectory { d["data_dir"] = dataDirectory }
        if let widths { d["widths"] = widths }
        if let trainSamples { d["train_samples"] = trainSamples }
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
        guard let m = ModelName(rawValue: try field("model", String.self)) else {
            throw SNNError(.corrupt, "unknown model \(d["model"] ?? "")", file: file)
        }
        guard let n = NeuronConfiguration(dictionary: try field("neuron", [String: Any].self)) else {
            throw SNNError(.corrupt, "invalid \"neuron\"", file: file)
        }
        guard let opt = OptimizerName(rawValue: try field("optimizer", String.self)),
              let lossName = LossName(rawValue: try field("loss", String.self)),
              let enc = EncodingName(rawValue: try field("encoding", String.self)) else {
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
        augmentation = ImageAugmentation(cropPadding: try number("crop_padding").intValue,
                                         horizontalFlip: try field("horizontal_flip", Bool.self))
        dropLast = try field("drop_last", Bool.self)
        try validate()
    }

    /// Loads the data set's two splits, the training split cut to ``trainSamples``.
    public func loadData() throws(SNNError) -> (train: LabeledImages, test: LabeledImages) {
        var (train, test) = try dataset.load(directory: dataDirectory)
        if let n = trainSamples {
            guard n <= train.count else {
                throw SNNError(.invalidArgument, "--train-samples \(n) exceeds the \(train.count) training samples of \(dataset.rawValue)")
            }
            if n < train.count { train = train.subset(Array(0..<n)) }
        }
        return (train, test)
    }

    /// The encoding of the inputs over time.
    public var resolvedEncoding: Encoding {
        switch encoding {
        case .direct: .direct
        case .poisson: .poisson(seed: seed)
        case .latency: .latency(threshold: 0)
        case .rows: .rows
        case .columns: .columns
        }
    }

    /// The model this configuration trains, for samples of shape `sampleShape` (`[C, H, W]`).
    public func modelConfiguration(inputShape sampleShape: [Int], classes: Int) -> ModelConfiguration {
        var n = neuron
        n.timeSteps = timeSteps
        return ModelConfiguration(name: model, inputShape: resolvedEncoding.stepShape(forSample: sampleShape), classes: classes,
                                  neuron: n, widths: widths)
    }

    /// A fresh optimizer.
    public func makeOptimizer() -> any Optimizer {
        switch optimizer {
        case .adamw: AdamW(learningRate: effectiveLearningRate, weightDecay: weightDecay, excludeOneDimensionalFromDecay: true)
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
