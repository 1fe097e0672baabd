import Foundation
import SNNData
import SNNLayers
import SNNModels
import SNNNeurons
import SNNOptimizers
import SNNTensor

/// One line of `metrics.jsonl`.
public struct EpochMetrics: Sendable {
    public var epoch: Int
    public var learningRate: Float
    public var trainLoss: Float
    public var trainAccuracy: Float
    public var testLoss: Float
    public var testAccuracy: Float
    public var firingRate: Double
    public var seconds: Double

    public var dictionary: [String: Any] {
        ["epoch": epoch, "learning_rate": Double(learningRate), "train_loss": Double(trainLoss),
         "train_accuracy": Double(trainAccuracy), "test_loss": Double(testLoss), "test_accuracy": Double(testAccuracy),
         "firing_rate": firingRate, "seconds": seconds]
    }
}

/// What a trainer reports while it runs.
public enum TrainingEvent: Sendable {
    /// A batch finished: running means over the epoch so far.
    case batch(epoch: Int, epochs: Int, index: Int, count: Int, loss: Float, accuracy: Float, samplesPerSecond: Double)
    /// An epoch finished and was checkpointed.
    case epoch(EpochMetrics)
    /// Training resumed after `completedEpochs` epochs.
    case resumed(completedEpochs: Int)
}

/// The outcome of a run.
public struct TrainingSummary: Sendable {
    public var testAccuracy: Float
    public var bestTestAccuracy: Float
    public var bestEpoch: Int
    public var epochs: Int
    public var seconds: Double
    public var firingRate: Double
    public var runDirectory: String
}

/// Trains a model from a ``TrainingConfiguration`` into a run directory: `config.json`,
/// `metrics.jsonl` and the `best` and `last` checkpoints, each written atomically.
///
/// All randomness of epoch e (data order, augmentation, dropout masks, Poisson spikes) is derived from
/// (seed, e), and checkpoints are taken at epoch ends, so a run resumed after being killed at any
/// point ends with exactly the weights and metrics of an uninterrupted run.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let runDirectory: RunDirectory
    public let model: any Layer
    public let optimizer: any Optimizer
    let train: LabeledImages
    let test: LabeledImages
    private var completedEpochs = 0
    private var best: (accuracy: Float, epoch: Int) = (-1, 0)
    /// Called on the training thread for each event.
    public var onEvent: ((TrainingEvent) -> Void)?

    /// Sets up a new run: loads the data, builds the model, creates `directory` and writes
    /// `config.json`. On any error nothing is left behind.
    public init(configuration: TrainingConfiguration, directory: String) throws(SNNError) {
        try configuration.validate()
        let (train, test) = try configuration.loadData()
        if let required = configuration.resolvedEncoding.requiredTimeSteps(forSample: Array(train.images.shape.dropFirst())),
           required != configuration.timeSteps {
            throw SNNError(.invalidArgument, "--encoding \(configuration.encoding.rawValue) presents \(required) steps per image: use --time-steps \(required)")
        }
        self.configuration = configuration
        self.train = train
        self.test = test
        GlobalRandom.seed(configuration.seed)
        model = configuration.modelConfiguration(inputShape: Array(train.images.shape.dropFirst()),
                                                 classes: train.classCount).make()
        optimizer = configuration.makeOptimizer()
        runDirectory = try RunDirectory.create(at: directory, configuration: configuration.dictionary)
    }

    /// Reopens the run in `directory` at its last checkpoint.
    public init(resuming directory: String) throws(SNNError) {
        runDirectory = try RunDirectory.open(at: directory)
        let config = try TrainingConfiguration(dictionary: try runDirectory.readConfiguration(), file: runDirectory.configurationPath)
        let (train, test) = try config.loadData()
        configuration = config
        self.train = train
        self.test = test
        GlobalRandom.seed(config.seed)
        model = config.modelConfiguration(inputShape: Array(train.images.shape.dropFirst()), classes: train.classCount).make()
        optimizer = config.makeOptimizer()
        if let state = try runDirectory.loadCheckpoint(.last, model: model, optimizer: optimizer) {
            completedEpochs = state.epoch
            best = (state.bestAccuracy, state.bestEpoch)
            GlobalRandom.state = state.randomState
            try runDirectory.truncateMetrics(afterEpoch: state.epoch)
        } else {
            try runDirectory.truncateMetrics(afterEpoch: 0)
        }
    }

    var encoding: Encoding { configuration.resolvedEncoding }

    /// Trains the remaining epochs and returns the summary.
    public func run() throws(SNNError) -> TrainingSummary {
        let start = Date()
        if completedEpochs > 0 { onEvent?(.resumed(completedEpochs: completedEpochs)) }
        let loader = DataLoader(train, batchSize: configuration.batchSize, order: .shuffled(seed: configuration.seed),
                                dropLast: configuration.dropLast, augmentation: configuration.augmentation)
        var last: EpochMetrics?
        for epoch in completedEpochs..<configuration.epochs {
            last = try trainEpoch(epoch, loader: loader)
        }
        if last == nil {  // already complete: report the stored final metrics
            let evaluation = Evaluator.evaluate(model, on: test, timeSteps: configuration.timeSteps, encoding: encoding,
                                                batchSize: configuration.batchSize)
            last = EpochMetrics(epoch: configuration.epochs, learningRate: optimizer.learningRate, trainLoss: .nan,
                                trainAccuracy: .nan, testLoss: evaluation.loss, testAccuracy: evaluation.accuracy,
                                firingRate: evaluation.firingRate, seconds: 0)
        }
        return TrainingSummary(testAccuracy: last!.testAccuracy, bestTestAccuracy: best.accuracy, bestEpoch: best.epoch,
                               epochs: configuration.epochs, seconds: Date().timeIntervalSince(start),
                               firingRate: last!.firingRate, runDirectory: runDirectory.path)
    }

    /// Seeds every per-epoch random stream from (seed, epoch).
    private func reseed(forEpoch epoch: Int) {
        let base = configuration.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(epoch)
        for (k, (_, module)) in model.namedModules().enumerated() {
            (module as? Dropout)?.reseed(base &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15)
        }
    }

    private func trainEpoch(_ epoch: Int, loader: DataLoader) throws(SNNError) -> EpochMetrics {
        let epochStart = Date()
        reseed(forEpoch: epoch)
        for (_, module) in model.namedModules() {
            (module as? any ProgressivelyMasked)?.updateMask(epoch: epoch, epochs: configuration.epochs)
        }
        model.train()
        var encoder = Encoder(epochEncoding(epoch), timeSteps: configuration.timeSteps)
        let batches = loader.batchCount
        var lossSum: Double = 0, correct = 0, seen = 0
        for batch in loader.batches(forEpoch: epoch) {
            optimizer.learningRate = configuration.learningRate(atEpoch: Double(epoch) + Double(batch.index) / Double(batches))
            let input = encoder.encode(batch.inputs)
            var logits = Tensor(0)
            let (loss, gradients) = valueWithGradient(at: model) { model in
                let perStep = model(input)
                logits = Readout.mean(perStep).detached
                switch configuration.loss {
                case .mean:
                    return crossEntropy(logits: Readout.mean(perStep), labels: batch.labels,
                                        labelSmoothing: configuration.labelSmoothing)
                case .tet:
                    return temporalEfficientTrainingLoss(perStepLogits: perStep, labels: batch.labels,
                                                         labelSmoothing: configuration.labelSmoothing)
                }
            }
            guard loss.item.isFinite else {
                throw SNNError(.invalidArgument, "training diverged: loss \(loss.item) at epoch \(epoch + 1), batch \(batch.index + 1); lower --learning-rate")
            }
            optimizer.update(model, along: gradients)
            lossSum += Double(loss.item) * Double(batch.labels.count)
            correct += zip(logits.argmax(alongAxis: 1), batch.labels).filter { $0 == $1 }.count
            seen += batch.labels.count
            onEvent?(.batch(epoch: epoch + 1, epochs: configuration.epochs, index: batch.index + 1, count: batches,
                            loss: Float(lossSum / Double(seen)), accuracy: Float(correct) / Float(seen),
                            samplesPerSecond: Double(seen) / Date().timeIntervalSince(epochStart)))
        }
        let evaluation = Evaluator.evaluate(model, on: test, timeSteps: configuration.timeSteps, encoding: encoding,
                                            batchSize: configuration.batchSize)
        let metrics = EpochMetrics(epoch: epoch + 1, learningRate: optimizer.learningRate,
                                   trainLoss: Float(lossSum / Double(max(seen, 1))),
                                   trainAccuracy: Float(correct) / Float(max(seen, 1)), testLoss: evaluation.loss,
                                   testAccuracy: evaluation.accuracy, firingRate: evaluation.firingRate,
                                   seconds: Date().timeIntervalSince(epochStart))
        let improved = evaluation.accuracy > best.accuracy
        if improved { best = (evaluation.accuracy, epoch + 1) }
        let state = CheckpointState(epoch: epoch + 1, bestAccuracy: best.accuracy, bestEpoch: best.epoch,
                                    randomState: GlobalRandom.state)
        try runDirectory.appendMetrics(metrics.dictionary)
        if improved { try runDirectory.saveCheckpoint(.best, model: model, optimizer: optimizer, state: state) }
        try runDirectory.saveCheckpoint(.last, model: model, optimizer: optimizer, state: state)
        completedEpochs = epoch + 1
        onEvent?(.epoch(metrics))
        return metrics
    }

    private func epochEncoding(_ epoch: Int) -> Encoding {
        if case .poisson(let seed) = encoding { return .poisson(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15) }
        return encoding
    }
}
