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
    /// TWO's weights, in runs with `temporalWeighting`.
    public private(set) var temporalWeighting: TemporalWeighting?
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
        if configuration.temporalWeighting { temporalWeighting = TemporalWeighting(timeSteps: configuration.timeSteps) }
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
        if config.temporalWeighting { temporalWeighting = TemporalWeighting(timeSteps: config.timeSteps) }
        if let state = try runDirectory.loadCheckpoint(.last, model: model, optimizer: optimizer) {
            completedEpochs = state.epoch
            best = (state.bestAccuracy, state.bestEpoch)
            if config.temporalWeighting {
                guard let w = state.temporalWeights, w.count == config.timeSteps else {
                    throw SNNError(.corrupt, "checkpoint lacks the \(config.timeSteps) temporal weights of this TWO run",
                                   file: runDirectory.path + "/last.json")
                }
                temporalWeighting = TemporalWeighting(weights: w)
            }
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
                                                batchSize: configuration.batchSize, temporalWeights: temporalWeighting?.weights)
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
        if let msg = configuration.msg {
            let e = epoch, epochs = configuration.epochs
            setSurrogateGradientMask(SurrogateGradientMask(probability: msg.probability(atEpoch: e, epochs: epochs),
                                                           substitute: msg.substitute),
                                     on: model, seed: base ^ 0x4D53_4721_4D53_4721)
            if let alpha = msg.alpha(atEpoch: e, epochs: epochs, initial: configuration.neuron.surrogate.alpha) {
                for (_, module) in model.namedModules() { (module as? SurrogateGradientMasking)?.setSurrogateAlpha(alpha) }
            }
        }
    }

    /// The training loss of one batch's per-step outputs `[T, N, C]` and the prediction logits it trains.
    private func loss(_ perStep: Tensor, labels: [Int], epoch: Int) -> (loss: Tensor, logits: Tensor) {
        let readout = temporalWeighting.map { Readout.weighted(perStep, weights: $0.weights) } ?? Readout.mean(perStep)
        let smoothing = configuration.labelSmoothing
        if let tks = configuration.tks {
            let a = 1 - tks.alpha * Float(epoch) / Float(configuration.epochs)
            let shared = temporalKnowledgeSharingLoss(perStepLogits: perStep, labels: labels, temperature: tks.temperature,
                                                      detachTeacher: tks.detachTeacher)
            return (crossEntropy(logits: readout, labels: labels, labelSmoothing: smoothing) * a + shared * (1 - a), readout)
        }
        switch configuration.loss {
        case .mean:
            return (crossEntropy(logits: readout, labels: labels, labelSmoothing: smoothing), readout)
        case .tet:
            return (temporalEfficientTrainingLoss(perStepLogits: perStep, labels: labels, labelSmoothing: smoothing), readout)
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
        var perStepCorrect = [Int](repeating: 0, count: configuration.timeSteps)
        for batch in loader.batches(forEpoch: epoch) {
            optimizer.learningRate = configuration.learningRate(atEpoch: Double(epoch) + Double(batch.index) / Double(batches))
            let input = encoder.encode(batch.inputs)
            var logits = Tensor(0)
            let (loss, gradients) = valueWithGradient(at: model) { model in
                let perStep = model(input)
                if temporalWeighting != nil {  // TWO learns from each step's own accuracy
                    let outputs = perStep.detached
                    for t in 0..<outputs.shape[0] {
                        perStepCorrect[t] += zip(outputs.selecting(t).argmax(alongAxis: 1), batch.labels).filter { $0 == $1 }.count
                    }
                }
                let (loss, readout) = self.loss(perStep, labels: batch.labels, epoch: epoch)
                logits = readout.detached
                return loss
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
        temporalWeighting?.update(afterEpoch: epoch + 1, perStepAccuracy: perStepCorrect.map { Double($0) / Double(max(seen, 1)) })
        let evaluation = Evaluator.evaluate(model, on: test, timeSteps: configuration.timeSteps, encoding: encoding,
                                            batchSize: configuration.batchSize, temporalWeights: temporalWeighting?.weights)
        let metrics = EpochMetrics(epoch: epoch + 1, learningRate: optimizer.learningRate,
                                   trainLoss: Float(lossSum / Double(max(seen, 1))),
                                   trainAccuracy: Float(correct) / Float(max(seen, 1)), testLoss: evaluation.loss,
                                   testAccuracy: evaluation.accuracy, firingRate: evaluation.firingRate,
                                   seconds: Date().timeIntervalSince(epochStart))
        let improved = evaluation.accuracy > best.accuracy
        if improved { best = (evaluation.accuracy, epoch + 1) }
        let state = CheckpointState(epoch: epoch + 1, bestAccuracy: best.accuracy, bestEpoch: best.epoch,
                                    randomState: GlobalRandom.state, temporalWeights: temporalWeighting?.weights)
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
