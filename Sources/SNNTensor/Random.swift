import Foundation

/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64) whose streams are
/// identical on every platform and run. Its ``state`` can be saved and restored (checkpoints).
public struct RandomGenerator: RandomNumberGenerator, Sendable, Equatable {
    /// The four words of xoshiro256** state.
    public var state: [UInt64]

    /// A generator whose stream depends only on `seed`.
    public init(seed: UInt64) {
        state = (0..<4).map { RandomGenerator.splitMix(RandomGenerator.streamSeed(seed, $0)) }
    }

    /// One SplitMix64 output for the state `x` (the state advanced by φ, then mixed): a seed's
    /// bits spread over the whole word.
    public static func splitMix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The seed of stream `index` of a family seeded with `seed` (epochs of a shuffle, layers of a
    /// model): seed + index·φ, φ = 2⁶⁴/golden ratio (SplitMix64's increment), so that numbered
    /// streams never share a seed. Every per-epoch and per-layer stream of the library is derived
    /// here; emulated event recordings keep their own (XOR) derivation, which their files depend on.
    public static func streamSeed(_ seed: UInt64, _ index: UInt64) -> UInt64 { seed &+ index &* 0x9E37_79B9_7F4A_7C15 }

    /// Restores a saved state (four nonzero-in-total words).
    public init(state: [UInt64]) {
        precondition(
            state.count == 4 && state.contains { $0 != 0 }, "RandomGenerator(state:): need 4 words, not all zero")
        self.state = state
    }

    public mutating func next() -> UInt64 {
        let result = ((state[1] &* 5) << 7 | (state[1] &* 5) >> 57) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = state[3] << 45 | state[3] >> 19
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Standard normal (Box–Muller; one draw per call).
    public mutating func nextNormal() -> Float {
        let u1 = Double(next() >> 11) * 0x1p-53, u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * Foundation.log(1 - u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// A uniformly random permutation of `0..<n` (Fisher–Yates).
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) {
                let j = Int(next() % UInt64(i + 1))
                p.swapAt(i, j)
            }
        }
        return p
    }
}

extension Tensor {
    /// Normal samples with the given mean and standard deviation.
    public static func randomNormal(
        _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
        using generator: inout RandomGenerator
    ) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.storage.pointer[i] = mean + standardDeviation * generator.nextNormal() }
        return t
    }

    /// Uniform samples in `[lower, upper)`.
    public static func randomUniform(
        _ shape: [Int], lower: Float = 0, upper: Float = 1,
        using generator: inout RandomGenerator
    ) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.storage.pointer[i] = lower + (upper - lower) * generator.nextUniform() }
        return t
    }

    /// 1 with probability `probability`, else 0.
    public static func bernoulli(_ shape: [Int], probability: Float, using generator: inout RandomGenerator) -> Tensor {
        precondition(probability >= 0 && probability <= 1, "bernoulli: probability \(probability) not in [0, 1]")
        let t = Tensor(uninitializedShape: shape)
        for i in 0..<t.count { t.storage.pointer[i] = generator.nextUniform() < probability ? 1 : 0 }
        return t
    }
}
