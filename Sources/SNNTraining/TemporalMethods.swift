import SNNLayers
import SNNNeurons
import SNNTensor

/// The temporal training methods' losses and weights: TET, TWO's weights, TKS.

/// TET loss (Deng et al.): the mean over t of the per-step cross-entropy, plus optionally
/// λ·MSE(outputs, φ) pulling every step's outputs towards φ.
public func temporalEfficientTrainingLoss(
    perStepLogits: Tensor, labels: [Int], labelSmoothing: Float = 0,
    lambda: Float = 0, target: Float = 1
) -> Tensor {
    precondition(
        perStepLogits.rank == 3 && perStepLogits.shape[1] == labels.count,
        "TET loss: per-step logits must be [T, N, C] with N = \(labels.count), got \(perStepLogits.shape)")
    let t = perStepLogits.shape[0], n = labels.count, c = perStepLogits.shape[2]
    // One cross-entropy over T·N rows with the labels repeated equals the mean over t.
    let rows = perStepLogits.reshaped(to: [t * n, c])
    let repeatedLabels = (0..<t).flatMap { _ in labels }
    var loss = crossEntropy(logits: rows, labels: repeatedLabels, labelSmoothing: labelSmoothing)
    if lambda > 0 {
        loss =
            loss * (1 - lambda) + meanSquaredError(
                predictions: perStepLogits, targets: Tensor(repeating: target, shape: perStepLogits.shape)) * lambda
    }
    return loss
}

/// TWO's weights w ∈ R^T (METHODS.md §6): 1 until `startEpoch` epochs are done; after each later epoch
/// w ← (1 − m)·w + m·a / mean(a), a_t being that epoch's training accuracy of step t alone, m = 0.3.
public struct TemporalWeighting: Sendable, Equatable {
    public private(set) var weights: [Float]
    public let startEpoch: Int
    public let momentum: Float

    public init(timeSteps: Int, startEpoch: Int = 5, momentum: Float = 0.3) {
        weights = Array(repeating: 1, count: timeSteps)
        self.startEpoch = startEpoch
        self.momentum = momentum
    }

    public init(weights: [Float], startEpoch: Int = 5, momentum: Float = 0.3) {
        self.weights = weights
        self.startEpoch = startEpoch
        self.momentum = momentum
    }

    /// Folds in epoch `epoch`'s (1-based) per-step training accuracies; no change before `startEpoch`
    /// or when every step was always wrong.
    public mutating func update(afterEpoch epoch: Int, perStepAccuracy a: [Double]) {
        precondition(a.count == weights.count, "TemporalWeighting: \(a.count) accuracies for \(weights.count) steps")
        guard epoch >= startEpoch else { return }
        let mean = a.reduce(0, +) / Double(a.count)
        guard mean > 0 else { return }
        for t in weights.indices {
            weights[t] = (1 - momentum) * weights[t] + momentum * Float(a[t] / mean)
        }
    }
}

/// Temporal knowledge sharing (TKS, METHODS.md §7) on per-step logits z `[T, N, C]`: the teacher of
/// a sample is the sum of the logits of the steps that classify it correctly (all wrong: zeros, a
/// uniform target), q = softmax(teacher/τ), and the loss is (1/T)·Σ_t τ²·CE(q, softmax(z_t))
/// averaged over the batch. Only the teacher is softened by τ: the student's logits are not divided
/// by it (the released code; dividing them too is the common distillation form, not TKS). The
/// teacher keeps its gradient unless `detachTeacher`, as in the released code.
public func temporalKnowledgeSharingLoss(
    perStepLogits z: Tensor, labels: [Int], temperature tau: Float,
    detachTeacher: Bool = false
) -> Tensor {
    precondition(
        z.rank == 3 && z.shape[1] == labels.count,
        "TKS loss: per-step logits must be [T, N, C] with N = \(labels.count), got \(z.shape)")
    let t = z.shape[0], n = labels.count, c = z.shape[2]
    precondition(tau > 0, "TKS loss: temperature must be > 0")
    // 1[argmax z_t = y] per (t, n), as a constant [T, N, 1] mask.
    let predictions = z.reshaped(to: [t * n, c]).detached.argmax(alongAxis: 1)
    let correct = Tensor(shape: [t, n, 1], scalars: (0..<(t * n)).map { predictions[$0] == labels[$0 % n] ? 1 : 0 })
    var teacher = (z * correct).sum(alongAxis: 0)  // [N, C]
    if detachTeacher { teacher = teacher.detached }
    let q = (teacher / tau).softmax(alongAxis: -1)
    let logP = z.logSoftmax(alongAxis: -1)  // [T, N, C]; the student is not softened
    // −Σ_c q·log p, summed over t and n, then divided by T·N.
    return -(logP * q).sum() * (tau * tau / Float(t * n))
}

/// The TKS training loss: a·CE(prediction, y) + (1 − a)·L_TKS with a = 1 − α·epoch/epochs, so the
/// weight of the shared knowledge ramps from 0 to α over training (`epoch` counts from 0).
///
/// `prediction` is the readout `[N, C]` the cross-entropy term trains: by default the mean over t of
/// z (METHODS.md §7); a TWO run passes its weighted readout. `labelSmoothing` applies to that term
/// only (the shared-knowledge term has its own soft target).
public func temporalKnowledgeSharingTrainingLoss(
    perStepLogits z: Tensor, labels: [Int], prediction: Tensor? = nil,
    alpha: Float, epoch: Int, epochs: Int, temperature: Float,
    labelSmoothing: Float = 0, detachTeacher: Bool = false
) -> Tensor {
    let a = 1 - alpha * Float(epoch) / Float(max(epochs, 1))
    let ce = crossEntropy(logits: prediction ?? Readout.mean(z), labels: labels, labelSmoothing: labelSmoothing)
    let tks = temporalKnowledgeSharingLoss(
        perStepLogits: z, labels: labels, temperature: temperature, detachTeacher: detachTeacher)
    return ce * a + tks * (1 - a)
}
