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
    /// Speech on an event-frame grid (``SpeechGrid``): each step's F channels become `[2, 16, 16]`.
    /// Sequences `[N, T, F]` (framed spiking speech) are taken step by step as `frames` takes them
    /// (the first T of them); images `[N, C, H, W]` (FSDD's MFCC frames) one row per step as `rows`
    /// does (T = H), with F = C·W.
    case speechGrid(SpeechGrid.Placement)

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
        case .speechGrid:
            precondition(
                sample.count == 2 || sample.count == 3,
                "speech-grid encoding needs sequences [T, F] or images [C, H, W], got \(sample)")
            return SpeechGrid.shape
        }
    }

    /// The number of steps this encoding imposes (rows: H, columns: W), if any.
    public func requiredTimeSteps(forSample sample: [Int]) -> Int? {
        switch self {
        case .rows, .rateRows: sample.count == 3 ? sample[1] : nil
        case .columns: sample.count == 3 ? sample[2] : nil
        case .pixels: sample.count == 3 ? sample[1] * sample[2] : nil
        case .deltaRows, .speechGrid: sample.count == 3 ? sample[1] : nil
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

    /// Spikes with probabilities `p` from the encoder's stream (set for the random encodings).
    private static func draw(_ p: Tensor, _ generator: inout RandomGenerator?) -> Tensor {
        var g = generator ?? RandomGenerator(seed: 0)
        let u = Tensor.randomUniform(p.shape, using: &g)
        generator = g
        return (u .< p)
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
            return Self.draw(p, &generator)
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
            precondition(
                input.rank == 4 && input.shape[2] == timeSteps,
                "rows encoding: images \(input.shape) must have H = T = \(timeSteps)")
            let rows = input.permuted([2, 0, 1, 3])
            guard case .rateRows = encoding else { return rows }
            let p = rows.detached.clamped(min: 0, max: 1)
            return Self.draw(p, &generator)
        case .columns:
            precondition(
                input.rank == 4 && input.shape[3] == timeSteps,
                "columns encoding: images \(input.shape) must have W = T = \(timeSteps)")
            return input.permuted([3, 0, 1, 2])
        case .pixels(let seed):
            precondition(
                input.rank == 4 && input.shape[2] * input.shape[3] == timeSteps,
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
            precondition(
                input.rank == 4 && input.shape[2] == timeSteps,
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
            precondition(
                input.rank >= 3 && input.shape[1] >= timeSteps,
                "frames encoding: samples \(input.shape) have fewer than T = \(timeSteps) frames")
            let x = input.shape[1] == timeSteps ? input : input.slice(0..<timeSteps, alongAxis: 1)
            return x.permuted([1, 0] + Array(2..<input.rank))
        case .speechGrid(let placement):
            let steps: Tensor
            if input.rank == 3 {
                precondition(
                    input.shape[1] >= timeSteps,
                    "speech-grid encoding: sequences \(input.shape) have fewer than T = \(timeSteps) steps")
                let x = input.shape[1] == timeSteps ? input : input.slice(0..<timeSteps, alongAxis: 1)
                steps = x.permuted([1, 0, 2])
            } else {
                precondition(
                    input.rank == 4 && input.shape[2] == timeSteps,
                    "speech-grid encoding: images \(input.shape) must have H = T = \(timeSteps)")
                let (n, c, w) = (input.shape[0], input.shape[1], input.shape[3])
                steps = input.permuted([2, 0, 1, 3]).reshaped(to: [timeSteps, n, c * w])
            }
            return SpeechGrid(placement).map(steps)
        }
    }
}
