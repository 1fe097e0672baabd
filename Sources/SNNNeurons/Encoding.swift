import Foundation
import SNNLayers
import SNNTensor

/// How static inputs become a time-major sequence `[T, N, ...]`.
public enum Encoding: Sendable, Equatable {
    /// The same analog input at every step (the papers' default for static images).
    case direct
    /// Bernoulli spikes with probability equal to the input clamped to [0, 1], drawn from a
    /// generator seeded with `seed` (one stream per call order).
    case poisson(seed: UInt64)
    /// Time-to-first-spike: one spike per element at step ⌊(1 − x)(T − 1)⌉, none where x ≤ `threshold`
    /// (brighter pixels fire earlier).
    case latency(threshold: Float)
    /// Sequential images: image `[N, C, H, W]` → `[H, N, C, W]`, one row per step (T = H).
    case rows
    /// Sequential images: `[N, C, H, W]` → `[W, N, C, H]`, one column per step (T = W).
    case columns
    /// Samples that already are sequences (event frames `[T, 2, H, W]`): `[N, T, ...]` → `[T, N, ...]`.
    case frames
    /// Pixel-wise sequential images: `[N, C, H, W]` → `[H·W, N, C, 1]`, one pixel per step in row-major
    /// order, or in a fixed random order drawn from `permutationSeed` (permuted sequential MNIST).
    case pixels(permutationSeed: UInt64?)
    /// Delta modulation of row sequences (`[N, C, H, W]`, one row per step): per feature, an UP spike when
    /// the value rose by `threshold` since the feature's reference level, a DOWN spike when it fell by
    /// as much, the reference moving by `threshold` per spike → `[H, N, 2C, W]` (UP channels first).
    case deltaRows(threshold: Float)
    /// Rate coding of row sequences: rows as `rows`, each value replaced by a Bernoulli spike of
    /// probability clamp(x, 0, 1) (inputs scaled to [0, 1]), drawn from a generator seeded with `seed`.
    case rateRows(seed: UInt64)

    /// The shape of one step's input for samples of shape `sample` (`[C, H, W]`).
    public func stepShape(forSample sample: [Int]) -> [Int] {
        switch self {
        case .direct, .poisson, .latency: return sample
        case .rows, .rateRows:
            precondition(sample.count == 3, "rows encoding needs images [C, H, W], got \(sample)")
            return [sample[0], sample[2]]
        case .columns:
            precondition(sample.count == 3, "columns encoding needs images [C, H, W], got \(sample)")
            return [sample[0], sample[1]]
        case .frames:
            precondition(sample.count >= 2, "frames encoding needs samples [T, ...], got \(sample)")
            return Array(sample.dropFirst())
        case .pixels:
            precondition(sample.count == 3, "pixels encoding needs images [C, H, W], got \(sample)")
            return [sample[0], 1]
        case .deltaRows:
            precondition(sample.count == 3, "delta-rows encoding needs sequences [C, H, W], got \(sample)")
            return [2 * sample[0], sample[2]]
        }
    }

    /// The number of steps this encoding imposes (rows: H, columns: W), if any.
    public func requiredTimeSteps(forSample sample: [Int]) -> Int? {
        switch self {
        case .rows, .rateRows: sample.count == 3 ? sample[1] : nil
        case .columns: sample.count == 3 ? sample[2] : nil
        case .pixels: sample.count == 3 ? sample[1] * sample[2] : nil
        case .deltaRows: sample.count == 3 ? sample[1] : nil
        default: nil
        }
    }
}

/// Turns static inputs into spike or analog sequences.
public struct Encoder: Sendable {
    public var encoding: Encoding
    public var timeSteps: Int
    private var generator: RandomGenerator?

    public init(_ encoding: Encoding, timeSteps: Int) {
        precondition(timeSteps >= 1, "Encoder: time steps must be ≥ 1, got \(timeSteps)")
        self.encoding = encoding
        self.timeSteps = timeSteps
        if case .poisson(let seed) = encoding { generator = RandomGenerator(seed: seed) }
        if case .rateRows(let seed) = encoding { generator = RandomGenerator(seed: seed) }
    }

    /// The position of the random stream of the Poisson and rate-rows encodings (nil for the others),
    /// for checkpoints taken within an epoch.
    public var randomState: [UInt64]? {
        get { generator?.state }
        set { if let newValue { generator?.state = newValue } }
    }

    /// `[N, ...]` → `[T, N, ...]`.
    public mutating func encode(_ input: Tensor) -> Tensor {
        switch encoding {
        case .direct:
            return input.repeated(timeSteps)
        case .poisson:
            let p = input.detached.clamped(min: 0, max: 1).repeated(timeSteps)
            var g = generator!
            let u = Tensor.randomUniform(p.shape, using: &g)
            generator = g
            return (u .< p)
        case .latency(let threshold):
            let t = timeSteps
            let x = input.detached.scalars
            var out = [Float](repeating: 0, count: t * x.count)
            for (i, v) in x.enumerated() where v > threshold {
                let c = min(max(v, 0), 1)
                let step = Int(((1 - c) * Float(t - 1)).rounded())
                out[step * x.count + i] = 1
            }
            return Tensor(shape: [t] + input.shape, scalars: out)
        case .rows, .rateRows:
            precondition(input.rank == 4 && input.shape[2] == timeSteps,
                         "rows encoding: images \(input.shape) must have H = T = \(timeSteps)")
            let rows = input.permuted([2, 0, 1, 3])
            guard case .rateRows = encoding else { return rows }
            let p = rows.detached.clamped(min: 0, max: 1)
            var g = generator!
            let u = Tensor.randomUniform(p.shape, using: &g)
            generator = g
            return (u .< p)
        case .columns:
            precondition(input.rank == 4 && input.shape[3] == timeSteps,
                         "columns encoding: images \(input.shape) must have W = T = \(timeSteps)")
            return input.permuted([3, 0, 1, 2])
        case .pixels(let seed):
            precondition(input.rank == 4 && input.shape[2] * input.shape[3] == timeSteps,
                         "pixels encoding: images \(input.shape) must have H·W = T = \(timeSteps)")
            let (n, c) = (input.shape[0], input.shape[1])
            let sequence = input.reshaped(to: [n, c, timeSteps]).permuted([2, 0, 1])  // [T, N, C]
            guard let seed else { return sequence.reshaped(to: [timeSteps, n, c, 1]) }
            // A fixed order of the pixels (the data carries no gradient, so a plain reindexing).
            var g = RandomGenerator(seed: seed)
            let order = g.permutation(timeSteps), x = sequence.detached.scalars, per = n * c
            var out = [Float](repeating: 0, count: x.count)
            for (step, source) in order.enumerated() {
                for k in 0..<per { out[step * per + k] = x[source * per + k] }
            }
            return Tensor(shape: [timeSteps, n, c, 1], scalars: out)
        case .deltaRows(let threshold):
            precondition(input.rank == 4 && input.shape[2] == timeSteps,
                         "delta-rows encoding: sequences \(input.shape) must have H = T = \(timeSteps)")
            let rows = input.detached.permuted([2, 0, 1, 3])  // [T, N, C, W]
            let t = timeSteps, per = rows.count / t, (n, c, w) = (input.shape[0], input.shape[1], input.shape[3])
            let x = rows.scalars
            var out = [Float](repeating: 0, count: t * n * 2 * c * w)
            var reference = Array(x[0..<per])  // the first row sets each feature's level
            for step in 1..<max(t, 1) {
                for k in 0..<per {
                    let v = x[step * per + k]
                    let sample = k / (c * w), feature = k % (c * w)
                    let base = ((step * n + sample) * 2) * c * w
                    if v - reference[k] >= threshold {
                        out[base + feature] = 1
                        reference[k] += threshold
                    } else if reference[k] - v >= threshold {
                        out[base + c * w + feature] = 1
                        reference[k] -= threshold
                    }
                }
            }
            return Tensor(shape: [t, n, 2 * c, w], scalars: out)
        case .frames:
            // Fewer steps than frames (a model trained at T evaluated at T' < T) use the first T'.
            precondition(input.rank >= 3 && input.shape[1] >= timeSteps,
                         "frames encoding: samples \(input.shape) have fewer than T = \(timeSteps) frames")
            let x = input.shape[1] == timeSteps ? input : input.slice(0..<timeSteps, alongAxis: 1)
            return x.permuted([1, 0] + Array(2..<input.rank))
        }
    }
}

/// Readouts from per-step outputs `[T, N, C]`.
public enum Readout {
    /// The mean over T (the papers' prediction).
    public static func mean(_ perStep: Tensor) -> Tensor {
        precondition(perStep.rank >= 2, "Readout.mean: per-step output must be [T, ...], got \(perStep.shape)")
        return perStep.mean(alongAxis: 0)
    }
}

/// TET loss (Deng et al.): the mean over t of the per-step cross-entropy, plus optionally
/// λ·MSE(outputs, φ) pulling every step's outputs towards φ.
public func temporalEfficientTrainingLoss(perStepLogits: Tensor, labels: [Int], labelSmoothing: Float = 0,
                                          lambda: Float = 0, target: Float = 1) -> Tensor {
    precondition(perStepLogits.rank == 3 && perStepLogits.shape[1] == labels.count,
                 "TET loss: per-step logits must be [T, N, C] with N = \(labels.count), got \(perStepLogits.shape)")
    let t = perStepLogits.shape[0], n = labels.count, c = perStepLogits.shape[2]
    // One cross-entropy over T·N rows with the labels repeated equals the mean over t.
    let rows = perStepLogits.reshaped(to: [t * n, c])
    let repeatedLabels = (0..<t).flatMap { _ in labels }
    var loss = crossEntropy(logits: rows, labels: repeatedLabels, labelSmoothing: labelSmoothing)
    if lambda > 0 {
        loss = loss * (1 - lambda) + meanSquaredError(predictions: perStepLogits, targets: Tensor(repeating: target, shape: perStepLogits.shape)) * lambda
    }
    return loss
}

extension Readout {
    /// The temporally weighted output of TWO (METHODS.md §6): (1/T)·Σ_t w_t·o_t. With fewer steps than
    /// weights (a model trained at T evaluated at T' < T) the first T' weights are used.
    public static func weighted(_ perStep: Tensor, weights: [Float]) -> Tensor {
        precondition(perStep.rank >= 2, "Readout.weighted: per-step output must be [T, ...], got \(perStep.shape)")
        let t = perStep.shape[0]
        precondition(weights.count >= t, "Readout.weighted: \(weights.count) weights for \(t) steps")
        let w = Tensor(shape: [t] + Array(repeating: 1, count: perStep.rank - 1), scalars: Array(weights.prefix(t)))
        return (perStep * w).mean(alongAxis: 0)
    }
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
public func temporalKnowledgeSharingLoss(perStepLogits z: Tensor, labels: [Int], temperature tau: Float,
                                         detachTeacher: Bool = false) -> Tensor {
    precondition(z.rank == 3 && z.shape[1] == labels.count,
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
public func temporalKnowledgeSharingTrainingLoss(perStepLogits z: Tensor, labels: [Int], prediction: Tensor? = nil,
                                                 alpha: Float, epoch: Int, epochs: Int, temperature: Float,
                                                 labelSmoothing: Float = 0, detachTeacher: Bool = false) -> Tensor {
    let a = 1 - alpha * Float(epoch) / Float(max(epochs, 1))
    let ce = crossEntropy(logits: prediction ?? Readout.mean(z), labels: labels, labelSmoothing: labelSmoothing)
    let tks = temporalKnowledgeSharingLoss(perStepLogits: z, labels: labels, temperature: temperature, detachTeacher: detachTeacher)
    return ce * a + tks * (1 - a)
}
