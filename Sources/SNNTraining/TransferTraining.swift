import Foundation
import SNNData
import SNNLayers
import SNNModels
import SNNNeurons
import SNNTensor

/// What a transfer run adds to an epoch's metrics (`metrics.jsonl`).
public struct TransferEpochMetrics: Sendable, Equatable {
    /// The mean of L_DA over the epoch's batches and steps.
    public var alignmentLoss: Double
    /// The mean biased linear CKA and unbiased CKA of the static and event features, both logged
    /// whichever drives the loss (nil when no batch had the 4 samples the unbiased form needs).
    public var cka: Double
    public var unbiasedCKA: Double?
    /// w_t at the epoch's end.
    public var stepWeights: [Float]
    /// The sliding replacement probability of the epoch's last batch.
    public var replacementProbability: Double

    var dictionary: [String: Any] {
        var d: [String: Any] = [
            "alignment_loss": alignmentLoss, "cka": cka, "step_weights": stepWeights.map(Double.init),
            "mean_step_weight": Double(stepWeights.reduce(0, +)) / Double(max(stepWeights.count, 1)),
            "replacement_probability": replacementProbability,
        ]
        if let unbiasedCKA { d["cka_unbiased"] = unbiasedCKA }
        return d
    }
}

/// The running sums behind ``TransferEpochMetrics`` (kept in a mid-epoch checkpoint, so that a
/// resumed epoch reports what the uninterrupted one would).
struct TransferSums: Equatable {
    var alignment = 0.0, cka = 0.0, unbiasedCKA = 0.0
    var steps = 0, unbiasedSteps = 0
    var probability = 0.0

    var values: [Double] { [alignment, cka, unbiasedCKA, Double(steps), Double(unbiasedSteps), probability] }

    init() {}

    init?(values v: [Double]) {
        guard v.count == 6, let steps = Int(exactly: v[3]), let unbiased = Int(exactly: v[4]) else { return nil }
        (alignment, cka, unbiasedCKA) = (v[0], v[1], v[2])
        (self.steps, unbiasedSteps, probability) = (steps, unbiased, v[5])
    }
}

/// One transfer run's state: the static images and their pairing, the model's heads and alignment
/// neurons, and the epoch's sums.
final class TransferRun {
    let options: TransferOptions
    let images: LabeledImages
    let pairing: StaticPairing
    let heads: DomainHeads
    let neurons: any MembraneRecording
    var sums = TransferSums()

    init(options: TransferOptions, images: LabeledImages, pairing: StaticPairing, model: Module) {
        guard let heads = model.domainHeads, let neurons = model.alignmentNeurons?.neuron else {
            // TrainingConfiguration.validateTransfer admits only models that have both.
            preconditionFailure("transfer: the model lacks its two heads or alignment neurons")
        }
        self.options = options
        self.images = images
        self.pairing = pairing
        self.heads = heads
        self.neurons = neurons
    }

    /// The static inputs of a batch of event samples `events` `[B, T, 2, H, W]`: each sample's
    /// same-class partner as frames, replaced by the event sample itself with probability P.
    func staticFrames(
        for events: Tensor, labels: [Int], seed: UInt64, epoch: Int, batch: Int, globalBatch: Int,
        totalBatches: Int
    ) -> (frames: Tensor, probability: Double) {
        var generator = StaticPairing.generator(seed: seed, epoch: epoch, batch: batch)
        let partners = pairing.partners(for: labels, using: &generator)
        let frames = StaticFrames.frames(
            images.subset(partners).images, timeSteps: events.shape[1],
            height: events.shape[3], width: events.shape[4], invert: options.invertStatic)
        let probability = options.sliding ? SlidingReplacement.probability(batch: globalBatch, of: totalBatches) : 0
        let replace = SlidingReplacement.mask(count: labels.count, probability: probability, using: &generator)
        return (StaticFrames.replacing(frames, with: events, where: replace), probability)
    }

    /// w_t, `[T]`: σ(c_t) on the tape, or the fixed weight.
    func stepWeights(timeSteps: Int) -> Tensor {
        if let learned = heads.stepWeights { return learned.weights }
        if case .fixed(let w) = options.stepWeights { return Tensor(repeating: w, shape: [timeSteps]) }
        preconditionFailure("transfer: learned step weights without their parameters")
    }

    /// The transfer loss of one batch (inside the gradient scope) and the event head's mean logits;
    /// static and event sequences run separately, each from rest.
    func loss(model: any Layer, staticInput: Tensor, eventInput: Tensor, labels: [Int], labelSmoothing: Float)
        -> (loss: Tensor, readout: Tensor)
    {
        neurons.recordsMembrane = true
        defer {
            neurons.recordsMembrane = false
            heads.domain = .events
        }
        heads.domain = .staticImages
        let staticLogits = model(staticInput)
        let staticFeatures = neurons.recordedMembrane
        heads.domain = .events
        let eventLogits = model(eventInput)
        guard let staticFeatures, let eventFeatures = neurons.recordedMembrane else {
            preconditionFailure("transfer: the alignment neurons recorded no membrane potentials")
        }
        let steps = eventLogits.shape[0], b = labels.count
        var alignment: [Tensor] = []
        for t in 0..<steps {
            let xs = staticFeatures.selecting(t).reshaped(to: [b, -1])
            let xe = eventFeatures.selecting(t).reshaped(to: [b, -1])
            alignment.append(DomainAlignment.loss(options.alignment, xs, xe))
            // Both CKA forms are logged whichever drives the loss (METHODS.md §4's caution).
            sums.cka += Double(DomainAlignment.linearCKA(xs.detached, xe.detached).item)
            if b >= 4 {
                sums.unbiasedCKA += Double(DomainAlignment.unbiasedLinearCKA(xs.detached, xe.detached).item)
                sums.unbiasedSteps += 1
            }
        }
        let da = Tensor.stack(alignment)
        sums.alignment += Double(da.sum().item)
        sums.steps += steps
        let loss = staticToEventLoss(
            staticLogits: staticLogits, eventLogits: eventLogits, labels: labels,
            alignment: da, stepWeights: stepWeights(timeSteps: steps),
            alignmentWeight: options.alignmentWeight, labelSmoothing: labelSmoothing)
        return (loss, Readout.mean(eventLogits))
    }

    /// The epoch's metrics from its sums; `timeSteps` sizes the fixed weights.
    func metrics(timeSteps: Int) -> TransferEpochMetrics {
        let steps = Double(max(sums.steps, 1))
        let unbiased = sums.unbiasedSteps > 0 ? sums.unbiasedCKA / Double(sums.unbiasedSteps) : nil
        return TransferEpochMetrics(
            alignmentLoss: sums.alignment / steps, cka: sums.cka / steps, unbiasedCKA: unbiased,
            stepWeights: stepWeights(timeSteps: timeSteps).detached.scalars,
            replacementProbability: sums.probability)
    }
}
