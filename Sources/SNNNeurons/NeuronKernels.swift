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
                                // ∂V/∂H of the reset, with the reset's own path when attached.
                                var dVdH: NeuronVector
                                switch c.reset {
                                case .hard(let value):
                                    dVdH = NeuronVector(repeating: 1).replacing(with: 0, where: fired)
                                    if !c.detachReset { dVdH += (value - h) * sg }
                                case .soft:
                                    dVdH = c.detachReset ? NeuronVector(repeating: 1) : 1 - c.threshold * sg
                                case .none:
                                    dVdH = NeuronVector(repeating: 1)
                                }
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
