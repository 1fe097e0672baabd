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

    /// The shape of one step's input for samples of shape `sample` (`[C, H, W]`).
    public func stepShape(forSample sample: [Int]) -> [Int] {
        switch self {
        case .direct, .poisson, .latency: return sample
        case .rows:
            precondition(sample.count == 3, "rows encoding needs images [C, H, W], got \(sample)")
            return [sample[0], sample[2]]
        case .columns:
            precondition(sample.count == 3, "columns encoding needs images [C, H, W], got \(sample)")
            return [sample[0], sample[1]]
        }
    }

    /// The number of steps this encoding imposes (rows: H, columns: W), if any.
    public func requiredTimeSteps(forSample sample: [Int]) -> Int? {
        switch self {
        case .rows: sample.count == 3 ? sample[1] : nil
        case .columns: sample.count == 3 ? sample[2] : nil
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
        case .rows:
            precondition(input.rank == 4 && input.shape[2] == timeSteps,
                         "rows encoding: images \(input.shape) must have H = T = \(timeSteps)")
            return input.permuted([2, 0, 1, 3])
        case .columns:
            precondition(input.rank == 4 && input.shape[3] == timeSteps,
                         "columns encoding: images \(input.shape) must have W = T = \(timeSteps)")
            return input.permuted([3, 0, 1, 2])
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
