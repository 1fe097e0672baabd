import Foundation
import SNNTensor

/// The generator layers draw their initial weights from (like `torch.manual_seed`): seed it once
/// with ``seed(_:)`` for reproducible models.
public enum GlobalRandom {
    nonisolated(unsafe) private static var generator = RandomGenerator(seed: 0)
    private static let lock = NSLock()

    /// Restarts the stream from `seed`.
    public static func seed(_ seed: UInt64) {
        lock.lock()
        generator = RandomGenerator(seed: seed)
        lock.unlock()
    }

    /// A generator private to one task (see ``withSeed(_:_:)``).
    final class Scoped: @unchecked Sendable {
        var generator: RandomGenerator
        init(_ seed: UInt64) { generator = RandomGenerator(seed: seed) }
    }

    @TaskLocal static var scoped: Scoped?

    /// Runs `body` with a generator seeded with `seed` that only this task sees, so concurrent work
    /// (parallel tests, several trainers) cannot interleave draws with it.
    public static func withSeed<R>(_ seed: UInt64, _ body: () throws -> R) rethrows -> R {
        try $scoped.withValue(Scoped(seed)) { try body() }
    }

    /// Runs `body` with exclusive access to the generator (the task's own inside ``withSeed(_:_:)``).
    public static func withGenerator<R>(_ body: (inout RandomGenerator) -> R) -> R {
        if let scoped { return body(&scoped.generator) }
        lock.lock()
        defer { lock.unlock() }
        return body(&generator)
    }

    /// The current state (saved in checkpoints).
    public static var state: [UInt64] {
        get { withGenerator { $0.state } }
        set { lock.lock(); generator = RandomGenerator(state: newValue); lock.unlock() }
    }
}

/// Which fan a Kaiming initialiser scales by.
public enum FanMode: Sendable { case fanIn, fanOut }

/// Weight initialisers (PyTorch's formulas). Fans follow PyTorch: for a weight `[O, I, k...]`,
/// fanIn = I·∏k and fanOut = O·∏k.
public enum Initializer {
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        precondition(shape.count >= 1, "Initializer.fans: shape \(shape) has no axes")
        if shape.count == 1 { return (shape[0], shape[0]) }
        let receptive = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// Normal with std = gain / √fan (`kaiming_normal_`, gain √2 for ReLU).
    public static func kaimingNormal(_ shape: [Int], mode: FanMode = .fanIn, gain: Float = Float(2).squareRoot())
        -> Tensor
    {
        let f = fans(shape), fan = mode == .fanIn ? f.fanIn : f.fanOut
        let std = gain / Float(max(fan, 1)).squareRoot()
        return GlobalRandom.withGenerator { Tensor.randomNormal(shape, standardDeviation: std, using: &$0) }
    }

    /// Uniform in ±gain·√(3 / fan) (`kaiming_uniform_`). PyTorch's Linear and Conv default is
    /// gain = √(2 / (1 + 5)) = √(1/3), i.e. bound 1/√fanIn.
    public static func kaimingUniform(_ shape: [Int], mode: FanMode = .fanIn, gain: Float = Float(2).squareRoot())
        -> Tensor
    {
        let f = fans(shape), fan = mode == .fanIn ? f.fanIn : f.fanOut
        let bound = gain * (3 / Float(max(fan, 1))).squareRoot()
        return uniform(shape, bound: bound)
    }

    /// Uniform in ±bound.
    public static func uniform(_ shape: [Int], bound: Float) -> Tensor {
        GlobalRandom.withGenerator { Tensor.randomUniform(shape, lower: -bound, upper: bound, using: &$0) }
    }

    /// Normal(mean, std) truncated to [lower, upper] by redrawing (`trunc_normal_`, used by
    /// transformers; the default bounds ±2 are absolute, as in PyTorch).
    public static func truncatedNormal(
        _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
        lower: Float = -2, upper: Float = 2
    ) -> Tensor {
        precondition(lower < upper, "truncatedNormal: lower \(lower) must be below upper \(upper)")
        return GlobalRandom.withGenerator { g in
            Tensor(shape: shape) { _ in
                for _ in 0..<1000 {
                    let v = mean + standardDeviation * g.nextNormal()
                    if v >= lower && v <= upper { return v }
                }
                return min(max(mean, lower), upper)
            }
        }
    }

    /// Glorot / Xavier uniform: ±gain·√(6 / (fanIn + fanOut)).
    public static func xavierUniform(_ shape: [Int], gain: Float = 1) -> Tensor {
        let f = fans(shape)
        return uniform(shape, bound: gain * (6 / Float(max(f.fanIn + f.fanOut, 1))).squareRoot())
    }
}
