import Foundation
import SNNData
import SNNLayers
import SNNNeurons
import SNNSearch
import SNNTensor

/// An evolved architecture to train: a genome and the channels of its first module (the neuron and
/// everything else come from the run's configuration).
public struct EvolvedArchitecture: Sendable, Equatable {
    public var genome: ArchitectureGenome
    public var channels: Int

    public init(genome: ArchitectureGenome, channels: Int) {
        self.genome = genome
        self.channels = channels
    }

    public var dictionary: [String: Any] { ["genome": genome.jsonObject, "channels": channels] }

    public init(dictionary d: [String: Any], file: String?) throws(SNNError) {
        guard let g = d["genome"] as? [String: Any], let channels = d["channels"] as? Int else {
            throw SNNError(.corrupt, "an architecture needs \"genome\" and \"channels\"", file: file)
        }
        self.init(genome: try ArchitectureGenome(jsonObject: g, file: file), channels: channels)
    }
}

/// Low-fidelity ("few-shot") evaluation of candidates (METHODS.md §3): train for a fixed number of
/// steps on a subset of the training set, then measure the error and the spikes per sample on a
/// validation split carved from the training set (never the test set).
public struct FewShotEvaluation: Sendable, Equatable {
    /// Data set, time steps, neuron, batch size, learning rate, loss options and seed; its
    /// `trainSamples` is the size of the training subset (nil: all but the validation split).
    public var training: TrainingConfiguration
    /// Channels C of the first module.
    public var channels: Int
    /// Optimisation steps per candidate.
    public var steps: Int
    /// Size of the validation split.
    public var validationSamples: Int

    public init(training: TrainingConfiguration, channels: Int = 8, steps: Int = 200, validationSamples: Int = 300) {
        self.training = training
        self.channels = channels
        self.steps = steps
        self.validationSamples = validationSamples
    }

    public var dictionary: [String: Any] {
        [
            "training": training.dictionary, "channels": channels, "steps": steps,
            "validation_samples": validationSamples,
        ]
    }

    public init(dictionary d: [String: Any], file: String) throws(SNNError) {
        guard let t = d["training"] as? [String: Any], let channels = d["channels"] as? Int,
            let steps = d["steps"] as? Int,
            let validation = d["validation_samples"] as? Int
        else {
            throw SNNError(
                .corrupt, "the evaluation settings lack training, channels, steps or validation_samples", file: file)
        }
        self.init(
            training: try TrainingConfiguration(dictionary: t, file: file), channels: channels, steps: steps,
            validationSamples: validation)
    }

    /// The training subset and the validation split: the training set in an order drawn from the
    /// seed, its first `validationSamples` for validation, the next `trainSamples` (or the rest)
    /// for training. The same for every candidate of a search.
    public func split() throws(SNNError) -> (train: LabeledImages, validation: LabeledImages) {
        var c = training
        c.trainSamples = nil
        c.testSamples = 1
        try c.validate()
        let all = try c.loadData().train
        let subset = training.trainSamples ?? (all.count - validationSamples)
        guard validationSamples >= 1, subset >= 1, validationSamples + subset <= all.count else {
            throw SNNError(
                .invalidArgument,
                "the validation split (\(validationSamples)) and the training subset (\(subset)) need \(validationSamples + subset) training samples; \(training.dataset.rawValue) has \(all.count)"
            )
        }
        var generator = RandomGenerator(seed: training.seed ^ 0x5EA7_C4_5B11)
        let order = generator.permutation(all.count)
        return (
            all.subset(Array(order[validationSamples..<(validationSamples + subset)])),
            all.subset(Array(order[..<validationSamples]))
        )
    }

    /// Checks that the architectures fit the data: `modules` modules on its sample shape.
    public func validate(sampleShape: [Int], modules: Int) throws(SNNError) {
        guard steps >= 1 else { throw SNNError(.invalidArgument, "evaluation steps must be ≥ 1, got \(steps)") }
        let space = SearchSpace(channels: channels, neuron: training.neuron)
        try space.validate(inputShape: training.resolvedEncoding.stepShape(forSample: sampleShape), modules: modules)
    }

    /// Trains `genome`'s network for ``steps`` steps and evaluates it. Weights and batch order come
    /// from the seed and the genome alone, so the result does not depend on which worker runs it
    /// or when (same machine, same thread count).
    /// `shouldStop`, asked before every step, ends the evaluation early with nil.
    public func evaluate(
        _ genome: ArchitectureGenome, train: LabeledImages, validation: LabeledImages,
        shouldStop: (() -> Bool)? = nil
    ) -> CandidateEvaluation? {
        let start = Date()
        let seed = training.seed ^ genome.stableHash
        let space = SearchSpace(channels: channels, neuron: training.neuron)
        let stepShape = training.resolvedEncoding.stepShape(forSample: Array(train.images.shape.dropFirst()))
        let model = GlobalRandom.withSeed(seed) {
            EvolvedNetwork(genome: genome, space: space, inputShape: stepShape, classes: train.classCount)
        }
        var schedule = training
        schedule.epochs = 1
        schedule.warmupEpochs = 0
        let optimizer = schedule.makeOptimizer()
        var encoder = Encoder(training.resolvedEncoding, timeSteps: training.timeSteps)
        let loader = DataLoader(
            train, batchSize: min(training.batchSize, train.count), order: .shuffled(seed: seed), dropLast: true)
        model.train()
        var step = 0, epoch = 0
        while step < steps {
            for batch in loader.batches(forEpoch: epoch) where step < steps {
                if shouldStop?() == true { return nil }
                // Cosine from the base rate to the minimum over the steps (no warm-up).
                optimizer.learningRate = schedule.learningRate(atEpoch: Double(step) / Double(steps))
                let input = encoder.encode(batch.inputs)
                let (_, gradients) = valueWithGradient(at: model) { model in
                    crossEntropy(
                        logits: Readout.mean(model(input)), labels: batch.labels,
                        labelSmoothing: training.labelSmoothing)
                }
                optimizer.update(model, along: gradients)
                step += 1
            }
            epoch += 1
        }
        let result = Evaluator.evaluate(
            model, on: validation, timeSteps: training.timeSteps, encoding: training.resolvedEncoding,
            batchSize: training.batchSize)
        return CandidateEvaluation(
            genome: genome, error: Double(1 - result.accuracy),
            spikesPerSample: result.spikesPerSample, parameters: model.parameterCount,
            seconds: Date().timeIntervalSince(start))
    }
}
