import CSNNKernels
import Foundation
import SNNTensor

/// How the membrane charges from input x (k = 1/τ, the decay; v_r = the leak target: the hard-reset value, or 0).
public enum Charge: Sendable, Equatable, Hashable {
    /// IF: h = v + x.
    case integrate
    /// LIF with decayed input (SpikingJelly's default, BrainCog's form): h = v + k·(x − (v − v_r)).
    case leakyDecayedInput
    /// LIF with undecayed input ("β·v + x"): h = v − k·(v − v_r) + x, β = 1 − k.
    case leakyUndecayedInput
}

/// What happens to the membrane after a spike.
public enum Reset: Sendable, Equatable, Hashable {
    /// v ← v_reset where a spike fired.
    case hard(to: Float)
    /// v ← v − V_th where a spike fired.
    case soft
    /// No reset.
    case none

    /// The leak target and initial membrane potential.
    public var restingPotential: Float {
        if case .hard(let value) = self { return value }
        return 0
    }
}

/// Constants of one fused neuron kernel call.
struct NeuronKernelConfiguration {
    var charge: Charge
    var decay: Float  // k = 1/τ (unused for IF)
    var threshold: Float
    var reset: Reset
    var detachReset: Bool

    var restingPotential: Float { reset.restingPotential }
}

/// The fused multi-step kernels: a whole `[T, N]` sequence per call, the membrane kept in a small
/// per-block buffer, vectorised over neurons, parallel over neuron chunks, no per-step allocation.
enum NeuronKernels {
    /// Neurons per block: each time step touches one contiguous run of this many floats per array.
    static let block = 512
    static let lanes = NeuronVector.scalarCount

    @inline(__always)
    static func chargeStep(_ c: NeuronKernelConfiguration, _ v: NeuronVector, _ x: NeuronVector) -> NeuronVector {
        switch c.charge {
        case .integrate: return v + x
        case .leakyDecayedInput: return v + c.decay * (x - (v - c.restingPotential))
        case .leakyUndecayedInput: return v - c.decay * (v - c.restingPotential) + x
        }
    }

    @inline(__always)
    static func resetStep(
        _ c: NeuronKernelConfiguration, _ h: NeuronVector, _ fired: SIMDMask<NeuronVector.MaskStorage>
    ) -> NeuronVector {
        switch c.reset {
        case .hard(let value): return h.replacing(with: value, where: fired)
        case .soft: return h.replacing(with: h - c.threshold, where: fired)
        case .none: return h
        }
    }

    /// ∂V/∂H of the reset at pre-reset membrane `h` (spikes where `fired`, surrogate derivative `sg`),
    /// with the reset's own path when it is attached.
    @inline(__always)
    static func resetDerivative(
        _ c: NeuronKernelConfiguration, _ h: NeuronVector, fired: SIMDMask<NeuronVector.MaskStorage>,
        surrogate sg: NeuronVector
    ) -> NeuronVector {
        switch c.reset {
        case .hard(let value):
            let kept = NeuronVector(repeating: 1).replacing(with: 0, where: fired)
            return c.detachReset ? kept : kept + (value - h) * sg
        case .soft:
            return c.detachReset ? NeuronVector(repeating: 1) : 1 - c.threshold * sg
        case .none:
            return NeuronVector(repeating: 1)
        }
    }

    /// Forward: writes spikes S, pre-reset membrane H, and optionally the post-reset membrane V.
    static func forward(
        _ c: NeuronKernelConfiguration, x: UnsafePointer<Float>, steps: Int, neurons: Int,
        spikes: UnsafeMutablePointer<Float>, charged: UnsafeMutablePointer<Float>,
        membrane: UnsafeMutablePointer<Float>?
    ) {
        let n = neurons
        Parallelism.forEachChunk(n, grain: 8192) { range in
            withUnsafeTemporaryAllocation(of: NeuronVector.self, capacity: block / lanes) { v in
                var start = range.lowerBound
                while start < range.upperBound {
                    let end = Swift.min(start + block, range.upperBound)
                    let vectors = (end - start + lanes - 1) / lanes
                    for j in 0..<vectors { v[j] = NeuronVector(repeating: c.restingPotential) }
                    for t in 0..<steps {
                        let base = t * n + start
                        for j in 0..<vectors {
                            let i = base + j * lanes, count = Swift.min(lanes, end - start - j * lanes)
                            let h = chargeStep(c, v[j], loadLanes(x + i, count))
                            let fired = h .>= c.threshold
                            storeLanes(h, charged + i, count)
                            storeLanes(NeuronVector(repeating: 0).replacing(with: 1, where: fired), spikes + i, count)
                            let after = resetStep(c, h, fired)
                            if let membrane { storeLanes(after, membrane + i, count) }
                            v[j] = after
                        }
                    }
                    start = end
                }
            }
        }
    }

    /// BPTT over the sequence: from H (pre-reset membrane), ∂L/∂S and optionally ∂L/∂V (post-reset),
    /// writes ∂L/∂X and returns ∂L/∂k, k the decay 1/τ (needed by PLIF; 0 unless `wantDecay`).
    /// `x` is read only when `wantDecay` (the k-derivative of the decayed-input charge uses it).
    /// `masking` applies MSG: the surrogate derivative of masked elements (index t·N + i) becomes 0 or
    /// the substitute's.
    static func backward<S: Surrogate, M: SurrogateMasking>(
        _ c: NeuronKernelConfiguration, surrogate: S, charged: UnsafePointer<Float>,
        x: UnsafePointer<Float>, gradSpikes: UnsafePointer<Float>,
        gradMembrane: UnsafePointer<Float>?, steps: Int, neurons: Int,
        gradInput: UnsafeMutablePointer<Float>, wantDecay: Bool, masking: M = NoMasking()
    ) -> Float {
        let n = neurons
        let threads = Swift.max(1, Parallelism.threadCount)
        var partials = [Double](repeating: 0, count: threads * 4)
        let decayV: Float = c.charge == .integrate ? 1 : 1 - c.decay
        let inputScale: Float = c.charge == .leakyDecayedInput ? c.decay : 1
        partials.withUnsafeMutableBufferPointer { partialSums in
            let chunkSize = (n + threads - 1) / threads
            Parallelism.forEachChunk(n, grain: 8192) { range in
                let slot = range.lowerBound / Swift.max(chunkSize, 1)
                var kSum = NeuronVector()
                withUnsafeTemporaryAllocation(of: NeuronVector.self, capacity: block / lanes) { carry in
                    var start = range.lowerBound
                    while start < range.upperBound {
                        let end = Swift.min(start + block, range.upperBound)
                        let vectors = (end - start + lanes - 1) / lanes
                        for j in 0..<vectors { carry[j] = NeuronVector() }
                        for t in stride(from: steps - 1, through: 0, by: -1) {
                            let base = t * n + start
                            for j in 0..<vectors {
                                let i = base + j * lanes, count = Swift.min(lanes, end - start - j * lanes)
                                let h = loadLanes(charged + i, count)
                                let fired = h .>= c.threshold
                                let sg = masking.apply(
                                    surrogate.derivative(h - c.threshold), at: h - c.threshold, index: i)
                                let dVdH = resetDerivative(c, h, fired: fired, surrogate: sg)
                                var gV = carry[j]
                                if let gradMembrane { gV += loadLanes(gradMembrane + i, count) }
                                let gH = loadLanes(gradSpikes + i, count) * sg + gV * dVdH
                                storeLanes(gH * inputScale, gradInput + i, count)
                                carry[j] = gH * decayV
                                if wantDecay {
                                    // v_prev = reset(H[t−1]) (resting potential at t = 0).
                                    var vPrev = NeuronVector(repeating: c.restingPotential)
                                    if t > 0 {
                                        let hp = loadLanes(charged + i - n, count)
                                        vPrev = resetStep(c, hp, hp .>= c.threshold)
                                    }
                                    let leak = vPrev - c.restingPotential
                                    let dHdk: NeuronVector
                                    switch c.charge {
                                    case .integrate: dHdk = NeuronVector()
                                    case .leakyDecayedInput: dHdk = loadLanes(x + i, count) - leak
                                    case .leakyUndecayedInput: dHdk = -leak
                                    }
                                    kSum += gH * dHdk
                                }
                            }
                        }
                        start = end
                    }
                }
                partialSums[slot] += Double(kSum.sum())
            }
        }
        return Float(partials.reduce(0, +))
    }
}

/// The C twins of ``NeuronKernels`` (CSNNKernels/neurons.c): the same arithmetic, compiled for the
/// baseline ISA, AVX2 and AVX-512 and chosen at run time, with a backward pass that recomputes the
/// membrane from x instead of reading a saved one (docs/performance.md counts the traffic). Neurons
/// use them for every surrogate of the library; the Swift kernels above stay as their reference and
/// serve surrogates defined elsewhere.
enum NativeNeuronKernels {
    /// The C kernels' code for surrogate type `S`, or nil when `S` is not one of the library's.
    static func surrogateKind<S: Surrogate>(_: S.Type) -> Int32? {
        switch S.self {
        case is QGate.Type: Int32(SNN_SURROGATE_QGATE.rawValue)
        case is Arctangent.Type: Int32(SNN_SURROGATE_ARCTANGENT.rawValue)
        case is SigmoidSurrogate.Type: Int32(SNN_SURROGATE_SIGMOID.rawValue)
        case is Rectangular.Type: Int32(SNN_SURROGATE_RECTANGULAR.rawValue)
        case is PiecewiseLinear.Type: Int32(SNN_SURROGATE_PIECEWISE_LINEAR.rawValue)
        case is SuperSpike.Type: Int32(SNN_SURROGATE_SUPERSPIKE.rawValue)
        case is ErfSurrogate.Type: Int32(SNN_SURROGATE_ERF.rawValue)
        default: nil
        }
    }

    static func surrogateKind(_ choice: SurrogateChoice) -> Int32 {
        choice.withSurrogate { surrogate in
            func kind<S: Surrogate>(_ s: S) -> Int32 { surrogateKind(S.self) ?? 0 }
            return kind(surrogate)
        }
    }

    /// The kernels' parameters; nil when `S` has no C twin.
    static func parameters<S: Surrogate>(
        _ c: NeuronKernelConfiguration, surrogate: S, mask: MaskStream? = nil, substitute: SurrogateChoice? = nil
    ) -> snn_neuron_params? {
        guard let kind = surrogateKind(S.self) else { return nil }
        var p = snn_neuron_params()
        switch c.charge {
        case .integrate: p.charge = Int32(SNN_CHARGE_INTEGRATE.rawValue)
        case .leakyDecayedInput: p.charge = Int32(SNN_CHARGE_DECAYED_INPUT.rawValue)
        case .leakyUndecayedInput: p.charge = Int32(SNN_CHARGE_UNDECAYED_INPUT.rawValue)
        }
        switch c.reset {
        case .hard: p.reset = Int32(SNN_RESET_HARD.rawValue)
        case .soft: p.reset = Int32(SNN_RESET_SOFT.rawValue)
        case .none: p.reset = Int32(SNN_RESET_NONE.rawValue)
        }
        p.detach_reset = c.detachReset ? 1 : 0
        p.decay = c.decay
        p.threshold = c.threshold
        p.resting = c.restingPotential
        p.surrogate = kind
        p.alpha = surrogate.alpha
        p.substitute = -1
        if let mask {
            p.masked = 1
            (p.mask_k1, p.mask_k2, p.mask_threshold) = (mask.k1, mask.k2, mask.threshold)
            if let substitute {
                p.substitute = surrogateKind(substitute)
                p.substitute_alpha = substitute.alpha
            }
        }
        return p
    }

    /// Forward over the whole `[steps, neurons]` sequence with the kernels of `isa` (default: the
    /// best this CPU runs); returns the spike count.
    static func forward(
        _ p: snn_neuron_params, x: UnsafePointer<Float>, steps: Int, neurons: Int,
        spikes: UnsafeMutablePointer<Float>, membrane: UnsafeMutablePointer<Float>?,
        isa: Int32 = snn_neuron_best_isa()
    ) -> Double {
        withUnsafePointer(to: p) { params in
            Parallelism.sumOverChunks(neurons, grain: 8192) { range in
                Double(
                    snn_neuron_forward(
                        isa, params, x, steps, neurons, range.lowerBound, range.upperBound, spikes, membrane))
            }
        }
    }

    /// BPTT over the whole sequence; returns ∂L/∂k when `wantDecay`, else 0.
    static func backward(
        _ p: snn_neuron_params, x: UnsafePointer<Float>, gradSpikes: UnsafePointer<Float>,
        gradMembrane: UnsafePointer<Float>?, steps: Int, neurons: Int, gradInput: UnsafeMutablePointer<Float>,
        wantDecay: Bool, isa: Int32 = snn_neuron_best_isa()
    ) -> Float {
        let sum = withUnsafePointer(to: p) { params in
            Parallelism.sumOverChunks(neurons, grain: 8192) { range in
                snn_neuron_backward(
                    isa, params, x, gradSpikes, gradMembrane, steps, neurons, range.lowerBound, range.upperBound,
                    gradInput, wantDecay ? 1 : 0)
            }
        }
        return Float(sum)
    }
}
