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
    /// Steps left out because their loss or gradients were not finite (`--on-nonfinite skip`).
    public var skippedSteps = 0
    /// Test-set firing rates of named layers worth following (Spikformer: each block's Q, Q̃ and
    /// attention neuron), written as "firing_rates".
    public var firingRates: [String: Double] = [:]
    /// Test-set spikes per sample over all neuron layers and steps (see ``EvaluationResult``).
    public var spikesPerSample: Double = 0
    /// The transfer's alignment loss, CKA forms, step weights and replacement probability.
    public var transfer: TransferEpochMetrics?

    public var dictionary: [String: Any] {
        var d: [String: Any] = [
            "epoch": epoch, "learning_rate": Double(learningRate), "train_loss": Double(trainLoss),
            "train_accuracy": Double(trainAccuracy), "test_loss": Double(testLoss),
            "test_accuracy": Double(testAccuracy),
            "firing_rate": firingRate, "seconds": seconds, "spikes_per_sample": spikesPerSample,
        ]
        if skippedSteps > 0 { d["skipped_steps"] = skippedSteps }
        if !firingRates.isEmpty { d["firing_rates"] = firingRates }
        if let transfer { d.merge(transfer.dictionary) { a, _ in a } }
        return d
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
    /// Steps skipped in the epochs this call trained (`--on-nonfinite skip`).
    public var skippedSteps = 0
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
    /// Asked after every step: when it returns true, training stops there and ``run()`` throws an
    /// `.interrupted` error. The run stays resumable from its last checkpoint (taken at every
    /// epoch's end, so that a resumed run is bit-identical to an uninterrupted one).
    public var shouldStop: (() -> Bool)?
    private var skippedSteps = 0
    /// Where the resumed epoch stands when the run was interrupted within it.
    private var pendingProgress: EpochProgress?
    /// Static-to-event transfer, in runs with it.
    let transfer: TransferRun?
    /// The weight generator's state after the model was built (recorded in checkpoints).
    private var randomState: [UInt64]
    /// The ranks this run trains with, in data-parallel runs (then only rank 0 writes files).
    public let parallel: DataParallel?
    /// The configuration the learning rate follows: in data-parallel runs its batch size is the
    /// global batch (ranks × `batchSize`, the samples of one optimizer step), so that linear scaling
    /// and the optimizer see the step they take.
    let schedule: TrainingConfiguration
    /// Whether this process writes the run directory (rank 0, or the only process).
    var writes: Bool { parallel?.communicator.isRoot ?? true }

    /// Sets up a new run: loads the data, builds the model, creates `directory` and writes
    /// `config.json`. On any error nothing is left behind. With `uniqueDirectory`, an existing
    /// `directory` is not an error: `directory-2`, `-3`, … is used instead. With a `communicator`,
    /// the run is data-parallel over its ranks: every rank calls this and only rank 0 touches
    /// `directory`.
    public init(
        configuration: TrainingConfiguration, directory: String, uniqueDirectory: Bool = false,
        communicator: Communicator? = nil
    ) throws(SNNError) {
        let (train, test) = try Self.prepare(configuration)
        self.configuration = configuration
        let parallel = try Self.dataParallel(configuration, communicator: communicator)
        self.parallel = parallel
        schedule = Self.schedule(configuration, parallel: parallel)
        self.train = train
        self.test = test
        // The weights come from a generator of this trainer's own (task-local), so trainers running at
        // the same time in one process (tests, a library user's threads) cannot interleave draws.
        (model, randomState, transfer) = try Self.build(configuration, train: train)
        optimizer = schedule.makeOptimizer()
        if configuration.temporalWeighting { temporalWeighting = TemporalWeighting(timeSteps: configuration.timeSteps) }
        var record = configuration.dictionary
        if let names = train.classNames { record["class_names"] = names }
        // Event folders: the frame size the recordings gave (stated, since no option fixed it).
        if let sensor = train.sensorSize { record["resolved_sensor_size"] = [sensor.width, sensor.height] }
        if let parallel {
            record["world_size"] = parallel.communicator.size
            record["effective_learning_rate"] = Double(schedule.effectiveLearningRate)
        }
        if parallel?.communicator.isRoot ?? true {
            runDirectory = try RunDirectory.create(at: directory, configuration: record, unique: uniqueDirectory)
        } else {
            // The other ranks never write; the path only names the run in messages.
            runDirectory = RunDirectory(path: (directory as NSString).standardizingPath, lock: nil)
        }
        parallel?.attach(to: model)
    }

    /// The data parallelism of `configuration`'s run over `communicator`'s ranks (nil without one).
    static func dataParallel(
        _ configuration: TrainingConfiguration, communicator: Communicator?
    ) throws(SNNError) -> DataParallel? {
        guard let communicator else { return nil }
        try checkDataParallel(configuration)
        return DataParallel(communicator: communicator, synchronizesBatchNorm: configuration.synchronizedBatchNorm)
    }

    /// Refuses what does not run data-parallel yet: static-to-event transfer, whose per-epoch sums
    /// are not reduced over the ranks (a resumed transfer run would reach here past the command line).
    static func checkDataParallel(_ configuration: TrainingConfiguration) throws(SNNError) {
        if configuration.transfer != nil {
            throw SNNError(.unsupported, "static-to-event transfer (--transfer-from) does not run data-parallel yet")
        }
    }

    /// ``schedule``: `configuration` with the global batch size of a data-parallel run.
    static func schedule(_ configuration: TrainingConfiguration, parallel: DataParallel?) -> TrainingConfiguration {
        var schedule = configuration
        if let parallel { schedule.batchSize = configuration.batchSize * parallel.communicator.size }
        return schedule
    }

    /// Validates `configuration`, loads its data and checks that the run fits in memory, before
    /// anything large is allocated.
    static func prepare(_ configuration: TrainingConfiguration) throws(SNNError) -> (LabeledImages, LabeledImages) {
        try configuration.validate()
        try configuration.validateDataSize()
        let (train, test) = try configuration.loadData()
        let sample = Array(train.images.shape.dropFirst())
        if let required = configuration.resolvedEncoding.requiredTimeSteps(forSample: sample),
            required != configuration.timeSteps
        {
            throw SNNError(
                .invalidArgument,
                "--encoding \(configuration.encoding.rawValue) presents \(required) steps per image: use --time-steps \(required)"
            )
        }
        try configuration.validate(sampleShape: sample, trainSamples: train.count, testSamples: test.count)
        return (train, test)
    }

    /// Reopens the run in `directory` at its last checkpoint, taking the directory's lock.
    /// `epochs` extends (or ends earlier) a run whose `config.json` planned another number of epochs
    /// (the cosine schedule then spans the new number from here on); `onNonfinite` and
    /// `frameCache` (a folder, or nil for none) override the stored choices. Changes are written
    /// back to `config.json`.
    public init(
        resuming directory: String, epochs: Int? = nil, onNonfinite: NonFinitePolicy? = nil,
        frameCache: String?? = nil, communicator: Communicator? = nil
    ) throws(SNNError) {
        // In data-parallel runs every rank reads the run (a file system all ranks see); rank 0 writes.
        let writes = communicator?.isRoot ?? true
        runDirectory = try RunDirectory.open(at: directory, forWriting: writes)
        var dictionary = try runDirectory.readConfiguration()
        let configurationOnDisk = try TrainingConfiguration(
            dictionary: dictionary, file: runDirectory.configurationPath)
        var config = configurationOnDisk
        let stored = try runDirectory.checkpointEpoch(.last)
        if let epochs, epochs != config.epochs {
            let started = (stored?.completed ?? 0) + (stored?.withinEpoch == true ? 1 : 0)
            guard epochs >= max(started, 1) else {
                throw SNNError(
                    .invalidArgument,
                    "--epochs \(epochs): the run has already completed \(stored?.completed ?? 0) epochs"
                        + (stored?.withinEpoch == true ? " and started epoch \(started)" : ""), file: directory)
            }
            guard epochs >= config.resolvedWarmupEpochs else {
                throw SNNError(
                    .invalidArgument,
                    "--epochs \(epochs) is shorter than the run's \(config.resolvedWarmupEpochs) warm-up epochs",
                    file: directory)
            }
            config.epochs = epochs
            dictionary["epochs"] = epochs
        }
        if let onNonfinite, onNonfinite != config.onNonfinite {
            config.onNonfinite = onNonfinite
            dictionary["on_nonfinite"] = onNonfinite.rawValue
        }
        if let frameCache { config.frameCacheDirectory = frameCache }
        let parallel = try Self.dataParallel(config, communicator: communicator)
        self.parallel = parallel
        schedule = Self.schedule(config, parallel: parallel)
        // The rank count may differ from the previous session's: config.json states the current one.
        let worldSize = communicator?.size ?? 1
        let previousWorldSize = (dictionary["world_size"] as? NSNumber)?.intValue ?? 1
        let worldSizeChanged = previousWorldSize != worldSize
        if worldSizeChanged, let stored, stored.withinEpoch {
            // Its steps count global batches of the old rank count: another count would skip or
            // repeat samples. Epoch-end checkpoints resume with any count.
            throw SNNError(
                .invalidArgument,
                "the run stopped within epoch \(stored.completed + 1) on \(previousWorldSize) rank(s); resume it on "
                    + "\(previousWorldSize) rank(s) (its next epoch can run on another count)", file: directory)
        }
        if worldSizeChanged {
            dictionary["world_size"] = worldSize
            dictionary["effective_learning_rate"] = Double(schedule.effectiveLearningRate)
        }
        if writes,
            config.epochs != configurationOnDisk.epochs || config.onNonfinite != configurationOnDisk.onNonfinite
                || worldSizeChanged
        {
            try AtomicFile.writeJSON(dictionary, to: runDirectory.configurationPath)
        }
        let (train, test) = try Self.prepare(config)
        configuration = config
        self.train = train
        self.test = test
        (model, randomState, transfer) = try Self.build(config, train: train)
        optimizer = schedule.makeOptimizer()
        if config.temporalWeighting { temporalWeighting = TemporalWeighting(timeSteps: config.timeSteps) }
        if let stored = dictionary["class_names"] as? [String], stored != train.classNames {
            throw SNNError(
                .mismatch,
                "the run was trained on the classes \(stored.joined(separator: ", ")); the data "
                    + "now has \((train.classNames ?? []).joined(separator: ", "))",
                file: runDirectory.configurationPath)
        }
        if let state = try runDirectory.loadCheckpoint(.last, model: model, optimizer: optimizer) {
            completedEpochs = state.epoch
            best = (state.bestAccuracy, state.bestEpoch)
            if config.temporalWeighting {
                guard let w = state.temporalWeights, w.count == config.timeSteps else {
                    throw SNNError(
                        .corrupt, "checkpoint lacks the \(config.timeSteps) temporal weights of this TWO run",
                        file: runDirectory.path + "/last.json")
                }
                temporalWeighting = TemporalWeighting(weights: w)
            }
            randomState = state.randomState
            pendingProgress = state.progress
            if writes { try runDirectory.truncateMetrics(afterEpoch: state.epoch) }
        } else if writes {
            try runDirectory.truncateMetrics(afterEpoch: 0)
        }
        parallel?.attach(to: model)
    }

    var encoding: Encoding { configuration.resolvedEncoding }

    /// The transfer state of `configuration`'s run (its static images loaded and paired with the
    /// classes of `events`), or nil.
    /// The model (and the transfer run's parts) with weights from a generator seeded with the run's
    /// seed, task-local, and that generator's state afterwards.
    static func build(_ configuration: TrainingConfiguration, train: LabeledImages) throws(SNNError) -> (
        any Layer, [UInt64], TransferRun?
    ) {
        let built: Result<(any Layer, [UInt64], TransferRun?), SNNError> = GlobalRandom.withSeed(configuration.seed) {
            do throws(SNNError) {
                let model = try configuration.makeModel(
                    sampleShape: Array(train.images.shape.dropFirst()), classes: train.classCount)
                let transfer = try transferRun(configuration, events: train, model: model)
                return .success((model, GlobalRandom.state, transfer))
            } catch {
                return .failure(error)
            }
        }
        return try built.get()
    }

    static func transferRun(
        _ configuration: TrainingConfiguration, events: LabeledImages,
        model: Module
    ) throws(SNNError) -> TransferRun? {
        guard let options = configuration.transfer,
            let loaded = try configuration.loadStaticImages(events: events)
        else { return nil }
        return TransferRun(options: options, images: loaded.images, pairing: loaded.pairing, model: model)
    }

    /// Trains the remaining epochs and returns the summary.
    public func run() throws(SNNError) -> TrainingSummary {
        let start = Date()
        if completedEpochs > 0 { onEvent?(.resumed(completedEpochs: completedEpochs)) }
        let loader = DataLoader(
            train, batchSize: configuration.batchSize, order: .shuffled(seed: configuration.seed),
            dropLast: configuration.dropLast, augmentation: configuration.augmentation,
            shard: parallel?.shard ?? .whole)
        var last: EpochMetrics?
        for epoch in completedEpochs..<configuration.epochs {
            last = try trainEpoch(epoch, loader: loader)
        }
        if last == nil {  // already complete: report the stored final metrics
            let evaluation = Evaluator.evaluate(
                model, on: test, timeSteps: configuration.timeSteps, encoding: encoding,
                batchSize: configuration.batchSize, temporalWeights: temporalWeighting?.weights)
            last = EpochMetrics(
                epoch: configuration.epochs, learningRate: optimizer.learningRate, trainLoss: .nan,
                trainAccuracy: .nan, testLoss: evaluation.loss, testAccuracy: evaluation.accuracy,
                firingRate: evaluation.firingRate, seconds: 0)
        }
        guard let last else { preconditionFailure("unreachable: the final metrics were set above") }
        return TrainingSummary(
            testAccuracy: last.testAccuracy, bestTestAccuracy: best.accuracy, bestEpoch: best.epoch,
            epochs: configuration.epochs, seconds: Date().timeIntervalSince(start),
            firingRate: last.firingRate, runDirectory: runDirectory.path, skippedSteps: skippedSteps)
    }

    /// Seeds every per-epoch random stream from (seed, epoch).
    private func reseed(forEpoch epoch: Int) {
        let base = configuration.seed &* 0x2545_F491_4F6C_DD1D &+ UInt64(epoch)
        for (k, (_, module)) in model.namedModules().enumerated() {
            (module as? Dropout)?.reseed(RandomGenerator.streamSeed(base, UInt64(k)))
        }
        if let msg = configuration.msg {
            let e = epoch, epochs = configuration.epochs
            setSurrogateGradientMask(
                SurrogateGradientMask(
                    probability: msg.probability(atEpoch: e, epochs: epochs),
                    substitute: msg.substitute),
                on: model, seed: base ^ 0x4D53_4721_4D53_4721)
            if let alpha = msg.alpha(atEpoch: e, epochs: epochs, initial: configuration.neuron.surrogate.alpha) {
                for (_, module) in model.namedModules() {
                    (module as? SurrogateGradientMasking)?.setSurrogateAlpha(alpha)
                }
            }
        }
    }

    /// The training loss of one batch's per-step outputs `[T, N, C]` at `epoch` (0-based) and the
    /// prediction logits it trains (TWO's weighted readout in TWO runs, else the mean over t).
    public func loss(_ perStep: Tensor, labels: [Int], epoch: Int) -> (loss: Tensor, logits: Tensor) {
        let readout = temporalWeighting.map { Readout.weighted(perStep, weights: $0.weights) } ?? Readout.mean(perStep)
        let smoothing = configuration.labelSmoothing
        if let tks = configuration.tks {
            let loss = temporalKnowledgeSharingTrainingLoss(
                perStepLogits: perStep, labels: labels, prediction: readout, alpha: tks.alpha, epoch: epoch,
                epochs: configuration.epochs, temperature: tks.temperature, labelSmoothing: smoothing,
                detachTeacher: tks.detachTeacher)
            return (loss, readout)
        }
        switch configuration.loss {
        case .mean:
            return (crossEntropy(logits: readout, labels: labels, labelSmoothing: smoothing), readout)
        case .tet:
            return (
                temporalEfficientTrainingLoss(perStepLogits: perStep, labels: labels, labelSmoothing: smoothing),
                readout
            )
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
        var skipped = 0, first = 0
        transfer?.sums = TransferSums()
        if let progress = pendingProgress {  // resumed within this epoch: go on where it stopped
            pendingProgress = nil
            guard progress.steps <= batches, progress.perStepCorrect.count == configuration.timeSteps else {
                throw SNNError(
                    .corrupt, "the checkpoint's epoch progress does not fit this run",
                    file: runDirectory.path + "/last.json")
            }
            try restoreRandomStates(progress.randomStates, encoder: &encoder)
            (first, lossSum, correct, seen, skipped) = (
                progress.steps, progress.lossSum, progress.correct, progress.seen,
                progress.skipped
            )
            perStepCorrect = progress.perStepCorrect
            if let transfer {
                guard let sums = TransferSums(values: progress.transferSums) else {
                    throw SNNError(
                        .corrupt, "the checkpoint's epoch progress lacks the transfer sums",
                        file: runDirectory.path + "/last.json")
                }
                transfer.sums = sums
            }
        }
        for batch in loader.batches(forEpoch: epoch, startingAt: first) {
            // Every rank must stop at the same step: a signal may reach them at different times.
            let stopRequested = shouldStop?() == true
            if parallel?.communicator.anyRank(stopRequested) ?? stopRequested {
                // Checkpoint where the epoch stands, with the random streams' positions, then stop.
                var progress = EpochProgress(
                    steps: batch.index, lossSum: lossSum, correct: correct, seen: seen,
                    skipped: skipped, perStepCorrect: perStepCorrect,
                    randomStates: randomStates(encoder: encoder))
                progress.transferSums = transfer?.sums.values ?? []
                let state = CheckpointState(
                    epoch: epoch, bestAccuracy: best.accuracy, bestEpoch: best.epoch,
                    randomState: randomState, temporalWeights: temporalWeighting?.weights,
                    progress: progress)
                if writes { try runDirectory.saveCheckpoint(.last, model: model, optimizer: optimizer, state: state) }
                throw interruption(epoch: epoch, step: batch.index)
            }
            optimizer.learningRate = schedule.learningRate(
                atEpoch: Double(epoch) + Double(batch.index) / Double(batches))
            let input = encoder.encode(batch.inputs)
            var staticInput: Tensor?
            if let transfer {
                let (frames, probability) = transfer.staticFrames(
                    for: batch.inputs, labels: batch.labels, seed: configuration.seed, epoch: epoch, batch: batch.index,
                    globalBatch: epoch * batches + batch.index, totalBatches: configuration.epochs * batches)
                staticInput = encoder.encode(frames)
                transfer.sums.probability = probability
            }
            let sumsBefore = transfer?.sums
            var logits = Tensor(0)
            // With `skip`, a step that goes wrong is undone: the weights and batch-norm statistics (which
            // move in the forward pass) and the optimizer state are kept by reference, so copy-on-write
            // preserves them through the step at the cost of one copy of each.
            let before =
                configuration.onNonfinite == .skip ? (model.stateDictionary(), optimizer.stateDictionary()) : nil
            let stepCorrectBefore = perStepCorrect
            // Data-parallel: this rank's share of the global batch's mean loss (see DataParallel).
            let weight = parallel.map {
                $0.lossWeight(
                    localSamples: batch.labels.count, globalSamples: loader.globalSamples(inBatch: batch.index))
            }
            var (loss, gradients) = valueWithGradient(at: model) { model in
                if let transfer, let staticInput {
                    let (loss, readout) = transfer.loss(
                        model: model, staticInput: staticInput, eventInput: input,
                        labels: batch.labels,
                        labelSmoothing: configuration.labelSmoothing)
                    logits = readout.detached
                    return weight.map { loss * $0 } ?? loss
                }
                let perStep = model(input)
                if temporalWeighting != nil {  // TWO learns from each step's own accuracy
                    let outputs = perStep.detached
                    for t in 0..<outputs.shape[0] {
                        perStepCorrect[t] +=
                            zip(outputs.selecting(t).argmax(alongAxis: 1), batch.labels).filter { $0 == $1 }.count
                    }
                }
                let (loss, readout) = self.loss(perStep, labels: batch.labels, epoch: epoch)
                logits = readout.detached
                return weight.map { loss * $0 } ?? loss
            }
            var batchCorrect = zip(logits.argmax(alongAxis: 1), batch.labels).filter { $0 == $1 }.count
            var batchSamples = batch.labels.count
            if let parallel {
                // One allreduce for the gradients, one for the step's statistics: the sums over
                // the global batch, so that every rank sees the same loss and makes the same choices.
                var statistics = [Double(loss.item), Double(batchCorrect), Double(batchSamples)]
                statistics += zip(perStepCorrect, stepCorrectBefore).map { Double($0 - $1) }
                parallel.reduce(&gradients, statistics: &statistics)
                loss = Tensor(Float(statistics[0]))
                (batchCorrect, batchSamples) = (Int(statistics[1]), Int(statistics[2]))
                perStepCorrect = zip(stepCorrectBefore, statistics[3...]).map { $0 + Int($1) }
            }
            if let problem = Self.nonFinite(loss: loss.item, gradients: gradients) {
                switch configuration.onNonfinite {
                case .stop:
                    let kept =
                        completedEpochs > 0
                        ? "the checkpoint of epoch \(completedEpochs) is kept" : "no epoch was completed yet"
                    throw SNNError(
                        .invalidArgument,
                        "training diverged at epoch \(epoch + 1), step \(batch.index + 1) of \(batches): \(problem); \(kept) (resume with `snn train --resume \(runDirectory.path) --on-nonfinite skip` to step over such batches, or start again with a lower --learning-rate)"
                    )
                case .skip:
                    try restore(before)
                    perStepCorrect = stepCorrectBefore
                    if let sumsBefore { transfer?.sums = sumsBefore }
                    skipped += 1
                    continue
                }
            }
            optimizer.update(model, along: gradients)
            if before != nil, Self.nonFiniteParameter(in: model) != nil {
                // A finite gradient times a large learning rate can still overflow the weights.
                try restore(before)
                perStepCorrect = stepCorrectBefore
                if let sumsBefore { transfer?.sums = sumsBefore }
                skipped += 1
                continue
            }
            lossSum += Double(loss.item) * Double(batchSamples)
            correct += batchCorrect
            seen += batchSamples
            onEvent?(
                .batch(
                    epoch: epoch + 1, epochs: configuration.epochs, index: batch.index + 1, count: batches,
                    loss: Float(lossSum / Double(seen)), accuracy: Float(correct) / Float(seen),
                    samplesPerSecond: Double(seen) / Date().timeIntervalSince(epochStart)))
        }
        temporalWeighting?.update(
            afterEpoch: epoch + 1, perStepAccuracy: perStepCorrect.map { Double($0) / Double(max(seen, 1)) })
        parallel?.averageBatchNormStatistics(in: model)
        // Every rank now holds the same model: rank 0 alone evaluates it and writes (the others go on
        // to the next epoch's first collective and wait there).
        let evaluation =
            writes
            ? Evaluator.evaluate(
                model, on: test, timeSteps: configuration.timeSteps, encoding: encoding,
                batchSize: configuration.batchSize, temporalWeights: temporalWeighting?.weights)
            : EvaluationResult.notEvaluated
        var metrics = EpochMetrics(
            epoch: epoch + 1, learningRate: optimizer.learningRate,
            // NaN (null in metrics.jsonl) when every step was skipped.
            trainLoss: seen > 0 ? Float(lossSum / Double(seen)) : .nan,
            trainAccuracy: seen > 0 ? Float(correct) / Float(seen) : .nan, testLoss: evaluation.loss,
            testAccuracy: evaluation.accuracy, firingRate: evaluation.firingRate,
            seconds: Date().timeIntervalSince(epochStart), skippedSteps: skipped)
        metrics.spikesPerSample = evaluation.spikesPerSample
        metrics.transfer = transfer?.metrics(timeSteps: configuration.timeSteps)
        if let spikformer = model as? Spikformer {
            let rates = Dictionary(evaluation.firingRates.map { ($0.path, $0.rate) }, uniquingKeysWith: { a, _ in a })
            for (name, path) in spikformer.attentionNeuronPaths { metrics.firingRates[name] = rates[path] }
        }
        skippedSteps += skipped
        if let problem = Self.nonFiniteParameter(in: model) {
            let kept =
                completedEpochs > 0
                ? "the checkpoint of epoch \(completedEpochs) is kept" : "no epoch was completed yet"
            throw SNNError(
                .invalidArgument,
                "training diverged in epoch \(epoch + 1): \(problem); \(kept) (start again with a lower --learning-rate)"
            )
        }
        let improved = evaluation.accuracy > best.accuracy
        if improved { best = (evaluation.accuracy, epoch + 1) }
        let state = CheckpointState(
            epoch: epoch + 1, bestAccuracy: best.accuracy, bestEpoch: best.epoch,
            randomState: randomState, temporalWeights: temporalWeighting?.weights)
        if writes {
            try runDirectory.appendMetrics(metrics.dictionary)
            if improved { try runDirectory.saveCheckpoint(.best, model: model, optimizer: optimizer, state: state) }
            try runDirectory.saveCheckpoint(.last, model: model, optimizer: optimizer, state: state)
        }
        completedEpochs = epoch + 1
        onEvent?(.epoch(metrics))
        return metrics
    }

    /// What is not finite in a step, or nil when all is well. A tensor's sum is not finite exactly
    /// when one of its elements is not (or the sum overflows, which is divergence too).
    static func nonFinite(loss: Float, gradients: Gradients) -> String? {
        if !loss.isFinite { return "the loss is \(loss)" }
        for (path, g) in gradients.byPath.sorted(by: { $0.key < $1.key }) where !g.sum().item.isFinite {
            return "the gradient of \(path) is not finite"
        }
        return nil
    }

    /// The first parameter or buffer of `model` that holds a value that is not finite, described.
    static func nonFiniteParameter(in model: Module) -> String? {
        for (path, tensor) in model.stateDictionary().sorted(by: { $0.key < $1.key }) where !tensor.sum().item.isFinite
        {
            return "\(path) is not finite"
        }
        return nil
    }

    /// Puts back the model's and the optimizer's state taken before a step.
    private func restore(_ state: ([String: Tensor], [String: Tensor])?) throws(SNNError) {
        guard let (weights, optimizerState) = state else { return }
        try model.load(stateDictionary: weights)
        try optimizer.load(stateDictionary: optimizerState)
    }

    private func interruption(epoch: Int, step: Int) -> SNNError {
        SNNError(
            .interrupted, "interrupted in epoch \(epoch + 1) after \(step) steps; the checkpoint continues from there",
            file: runDirectory.path)
    }

    /// The positions of the random streams that move within an epoch, by owner.
    private func randomStates(encoder: Encoder) -> [String: [UInt64]] {
        var states: [String: [UInt64]] = [:]
        for (path, module) in model.namedModules() {
            if let dropout = module as? Dropout { states["dropout:" + path] = dropout.randomState }
            if let neuron = module as? SurrogateGradientMasking {
                states["mask:" + path] = neuron.maskState.streamState
            }
        }
        if let state = encoder.randomState { states["encoder"] = state }
        return states
    }

    /// Puts back the stream positions ``randomStates(encoder:)`` recorded.
    private func restoreRandomStates(_ states: [String: [UInt64]], encoder: inout Encoder) throws(SNNError) {
        func state(_ key: String, words: Int) throws(SNNError) -> [UInt64] {
            guard let s = states[key], s.count == words else {
                throw SNNError(
                    .corrupt, "the checkpoint lacks the random state \"\(key)\" of this model",
                    file: runDirectory.path + "/last.json")
            }
            return s
        }
        for (path, module) in model.namedModules() {
            if let dropout = module as? Dropout { dropout.randomState = try state("dropout:" + path, words: 4) }
            if let neuron = module as? SurrogateGradientMasking {
                neuron.maskState.streamState = try state("mask:" + path, words: 2)
            }
        }
        if encoder.randomState != nil { encoder.randomState = try state("encoder", words: 4) }
    }

    private func epochEncoding(_ epoch: Int) -> Encoding {
        if case .poisson(let seed) = encoding { return .poisson(seed: RandomGenerator.streamSeed(seed, UInt64(epoch))) }
        return encoding
    }
}

extension EvaluationResult {
    /// What ranks other than 0 of a data-parallel run hold in place of the test results that rank
    /// 0 alone computes.
    static let notEvaluated = EvaluationResult(
        accuracy: .nan, loss: .nan, firingRates: [], firingRate: .nan, samples: 0)
}
