import Foundation
import SNNLayers
import SNNTensor

/// Masked surrogate gradients (MSG, METHODS.md §6): at every backward pass each element (neuron and
/// step) draws m ~ Bernoulli(p), and the surrogate derivative g becomes (1 − m)·g — or
/// (1 − m)·g + m·g_sub with a substitute surrogate.
public struct SurrogateGradientMask: Sendable, Equatable {
    /// P(m = 1): the fraction of entries whose surrogate derivative is masked.
    public var probability: Float
    /// The surrogate masked entries use instead of zero (nil: zero).
    public var substitute: SurrogateChoice?

    public init(probability: Float, substitute: SurrogateChoice? = nil) {
        precondition(
            probability >= 0 && probability <= 1, "SurrogateGradientMask: probability \(probability) not in [0, 1]")
        self.probability = probability
        self.substitute = substitute
    }
}

/// The mask of one backward pass, as a counter-based stream: element `i` is masked when a hash of
/// (key, i) falls below p·2²⁴. Any element can be evaluated alone, so threads and blocks need no
/// shared generator state and the mask does not depend on how the work is split.
public struct MaskStream: Sendable, Equatable {
    public let key: UInt64
    let k1: UInt32, k2: UInt32
    /// p·2²⁴, rounded; masked when the hash's top 24 bits are below it.
    let threshold: UInt32

    public init(key: UInt64, probability: Float) {
        self.key = key
        let mixed = RandomGenerator.splitMix(key)
        k1 = UInt32(truncatingIfNeeded: mixed)
        k2 = UInt32(truncatingIfNeeded: mixed >> 32)
        threshold = UInt32((Double(probability) * 16_777_216).rounded())
    }

    /// The masks of elements index, index + 1, …, index + 7: a two-multiply integer hash of
    /// (element, key) per lane (cheap enough to keep MSG's cost on the fused kernels small).
    @inline(__always) func lanes(_ index: Int) -> SIMDMask<SIMD8<Int32>> {
        let i = SIMD8<UInt32>(repeating: UInt32(truncatingIfNeeded: index)) &+ SIMD8<UInt32>(0, 1, 2, 3, 4, 5, 6, 7)
        var h = (i ^ SIMD8(repeating: k1)) &* SIMD8(repeating: 0x9E37_79B1)
        h ^= h &>> 15
        h &*= SIMD8(repeating: k2 | 1)
        h ^= h &>> 13
        return (h &>> 8) .< SIMD8(repeating: threshold)
    }

    /// Whether element `index` is masked.
    public func isMasked(_ index: Int) -> Bool { lanes(index)[0] }
}

/// Layers whose surrogate gradients can be masked (every spiking neuron of the library).
public protocol SurrogateGradientMasking: AnyObject {
    /// The layer's MSG settings and stream of per-pass keys.
    var maskState: GradientMaskState { get }
    /// Changes the surrogate's sharpness α.
    func setSurrogateAlpha(_ alpha: Float)
}

extension SurrogateGradientMasking {
    /// The mask applied in training-mode backward passes; nil = plain surrogate gradients.
    public var gradientMask: SurrogateGradientMask? {
        get { maskState.mask }
        set { maskState.mask = newValue }
    }

    /// Restarts the layer's mask stream (trainers reseed per epoch so any epoch can be replayed
    /// exactly); each later training forward pass takes the next key.
    public func reseedGradientMask(_ seed: UInt64) { maskState.reseed(seed) }
}

/// Sets `mask` on every maskable neuron of `model`, each with its own stream derived from `seed`
/// and its position in the model (so two layers never share masks).
public func setSurrogateGradientMask(_ mask: SurrogateGradientMask?, on model: Module, seed: UInt64) {
    var k: UInt64 = 0
    for (_, module) in model.namedModules() {
        guard let neuron = module as? SurrogateGradientMasking else { continue }
        neuron.gradientMask = mask
        neuron.reseedGradientMask(RandomGenerator.splitMix(RandomGenerator.streamSeed(seed, k)))
        k += 1
    }
}

/// The MSG state of one neuron layer: the mask settings and the layer's stream of per-pass keys.
public final class GradientMaskState: @unchecked Sendable {
    public var mask: SurrogateGradientMask?
    private var seed: UInt64 = 0
    private var passes: UInt64 = 0

    public init() {}

    /// Restarts the stream.
    public func reseed(_ seed: UInt64) {
        self.seed = seed
        passes = 0
    }

    /// The stream's position (seed, passes so far), for checkpoints taken within an epoch.
    public var streamState: [UInt64] {
        get { [seed, passes] }
        set {
            precondition(newValue.count == 2, "GradientMaskState: a stream state is [seed, passes], got \(newValue)")
            (seed, passes) = (newValue[0], newValue[1])
        }
    }

    /// The mask of the coming backward pass: a fresh key per training forward pass; nil when off or
    /// in inference.
    public func next(training: Bool) -> MaskStream? {
        guard let mask, training else { return nil }
        passes += 1
        return MaskStream(
            key: RandomGenerator.splitMix(seed ^ (passes &* 0xD1B5_4A32_D192_ED03)), probability: mask.probability)
    }
}

/// How a fused kernel treats the surrogate derivative of each lane (specialised per kind, so the
/// unmasked kernel carries no test in its inner loop).
/// Every kernel with a surrogate gradient (the fused IF/LIF/PLIF, the parallel neurons, the PSU and
/// the composed Heaviside step) masks through this one mechanism.
protocol SurrogateMasking {
    /// `sg` (the derivative at x) for elements index…index + 7, masked as this policy says.
    func apply(_ sg: NeuronVector, at x: NeuronVector, index: Int) -> NeuronVector
    /// Which of elements index…index + 7 are masked (they add nothing to a learned α's gradient).
    func maskedLanes(_ index: Int) -> SIMDMask<NeuronVector.MaskStorage>
}

struct NoMasking: SurrogateMasking {
    @inline(__always) func apply(_ sg: NeuronVector, at x: NeuronVector, index: Int) -> NeuronVector { sg }
    @inline(__always) func maskedLanes(_ index: Int) -> SIMDMask<NeuronVector.MaskStorage> { .init(repeating: false) }
}

struct ZeroMasking: SurrogateMasking {
    let stream: MaskStream
    @inline(__always) func apply(_ sg: NeuronVector, at x: NeuronVector, index: Int) -> NeuronVector {
        sg.replacing(with: 0, where: stream.lanes(index))
    }
    @inline(__always) func maskedLanes(_ index: Int) -> SIMDMask<NeuronVector.MaskStorage> { stream.lanes(index) }
}

struct SubstituteMasking<Sub: Surrogate>: SurrogateMasking {
    let stream: MaskStream
    let substitute: Sub
    @inline(__always) func apply(_ sg: NeuronVector, at x: NeuronVector, index: Int) -> NeuronVector {
        sg.replacing(with: substitute.derivative(x), where: stream.lanes(index))
    }
    @inline(__always) func maskedLanes(_ index: Int) -> SIMDMask<NeuronVector.MaskStorage> { stream.lanes(index) }
}

/// Calls `body` with the masking policy for (`mask`, `substitute`), opened to its concrete type.
func withMasking<R>(_ mask: MaskStream?, _ substitute: SurrogateChoice?, _ body: (any SurrogateMasking) -> R) -> R {
    guard let mask else { return body(NoMasking()) }
    guard let substitute else { return body(ZeroMasking(stream: mask)) }
    func open<Sub: Surrogate>(_ sub: Sub) -> R { body(SubstituteMasking(stream: mask, substitute: sub)) }
    return substitute.withSurrogate { open($0) }
}
