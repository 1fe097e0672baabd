import Foundation
import SNNLayers
import SNNTensor

extension Tensor {
    /// Θ(x) with a learnable-α arctangent surrogate: the pullback also returns ∂L/∂α =
    /// Σ g·∂g_α(x)/∂α. `strict` fires only where x > 0 (the PSU family's rule) instead of x ≥ 0.
    /// With `mask` (MSG), masked elements use 0 (or `substitute`'s derivative) and add nothing to ∂α.
    public func heaviside(
        arctangentAlpha alpha: Tensor, strict: Bool = false, mask: MaskStream? = nil,
        substitute: SurrogateChoice? = nil
    ) -> Tensor {
        precondition(alpha.count == 1, "heaviside(arctangentAlpha:): α must be a single value, got \(alpha.shape)")
        return heaviside(
            surrogate: Arctangent(alpha: alpha.scalars[0]), strict: strict, learnedAlpha: alpha, mask: mask,
            substitute: substitute)
    }

    /// Θ(x) (x > 0 when `strict`, else x ≥ 0) with a fixed surrogate. With `mask` (MSG), masked
    /// elements use 0 (or `substitute`'s derivative).
    public func heaviside<S: Surrogate>(
        surrogate: S, strict: Bool, mask: MaskStream? = nil,
        substitute: SurrogateChoice? = nil
    ) -> Tensor {
        if !strict && mask == nil { return heaviside(surrogate: surrogate) }
        return heaviside(surrogate: surrogate, strict: strict, learnedAlpha: nil, mask: mask, substitute: substitute)
    }

    /// The step of both: with `learnedAlpha` (the one-element tensor holding `surrogate`'s α) the
    /// pullback also returns ∂L/∂α = Σ g·∂g_α(x)/∂α over the unmasked elements.
    func heaviside<S: Surrogate>(
        surrogate s: S, strict: Bool, learnedAlpha: Tensor?, mask: MaskStream?,
        substitute: SurrogateChoice?
    ) -> Tensor {
        let x = self
        let forward = strict ? map { $0 > 0 ? 1 : 0 } : map { $0 >= 0 ? 1 : 0 }
        return Tensor(forward, inputs: [self] + (learnedAlpha.map { [$0] } ?? [])) { g, needs in
            withMasking(mask, substitute) { masking in
                x.heavisideBackward(g, surrogate: s, needs: needs, learnsAlpha: learnedAlpha != nil, masking: masking)
            }
        }
    }

    /// The pullback of the step at `self`: [∂x, ∂α (when `learnsAlpha`)], eight lanes at a time with
    /// the masking policy of every other kernel.
    private func heavisideBackward<S: Surrogate, M: SurrogateMasking>(
        _ g: Tensor, surrogate s: S, needs: [Bool],
        learnsAlpha: Bool, masking: M
    ) -> [Tensor?] {
        let n = count, lanes = NeuronVector.scalarCount
        let dx = needs[0] ? Tensor(uninitializedShape: shape) : nil
        let wantAlpha = learnsAlpha && needs.count > 1 && needs[1]
        var alphaSum = 0.0
        g.withUnsafeBufferPointer { gp in
            withUnsafeBufferPointer { xp in
                guard let gBase = gp.baseAddress, let xBase = xp.baseAddress else { return }
                for i in stride(from: 0, to: n, by: lanes) {
                    let width = Swift.min(lanes, n - i)
                    let xv = loadLanes(xBase + i, width), gv = loadLanes(gBase + i, width)
                    if let dx {
                        storeLanes(
                            gv * masking.apply(s.derivative(xv), at: xv, index: i), dx.unsafeStoragePointer + i, width)
                    }
                    if wantAlpha {
                        let masked = masking.maskedLanes(i)
                        for k in 0..<width where !masked[k] {
                            alphaSum += Double(gv[k] * s.derivativeWithRespectToAlpha(xv[k]))
                        }
                    }
                }
            }
        }
        guard learnsAlpha else { return [dx] }
        return [dx, wantAlpha ? Tensor(shape: [1], scalars: [Float(alphaSum)]) : nil]
    }
}

/// Shared shape handling of the parallel neurons: `[T, N, ...]` is viewed as a `[T, N·...]` matrix.
func timeMatrix(_ input: Tensor, timeSteps: Int?, name: String) -> Tensor {
    precondition(input.rank >= 2, "\(name): input must be time-major [T, N, ...], got \(input.shape)")
    if let timeSteps {
        precondition(
            input.shape[0] == timeSteps,
            "\(name): built for T = \(timeSteps), input has T = \(input.shape[0]) (\(input.shape))")
    }
    return input.reshaped(to: [input.shape[0], -1])
}

/// The band mask of order k: M[i][j] = 1 for j ≤ i ≤ j + k − 1 (causal, the last k steps).
public func bandMask(timeSteps t: Int, order k: Int) -> Tensor {
    precondition(t >= 1 && k >= 1, "bandMask: T = \(t) and k = \(k) must be ≥ 1")
    return Tensor(shape: [t, t]) { idx in
        let i = idx / t, j = idx % t
        return (j <= i && i <= j + k - 1) ? 1 : 0
    }
}

/// Parallel spiking neuron (Fang et al., NeurIPS 2023): H = W·X + b with X viewed as `[T, N]`,
/// S = Θ(H). W ∈ ℝ^{T×T} (uniform ±1/√T), b ∈ ℝ^T (−1, i.e. threshold 1). Not causal.
public final class PSN<S: Surrogate>: Module, SpikeEmitting, SurrogateGradientMasking {
    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor
    public let timeSteps: Int
    public private(set) var surrogate: S
    public var statistics: SpikeStatistics?
    public let maskState = GradientMaskState()
    public func setSurrogateAlpha(_ alpha: Float) { surrogate = S(alpha: alpha) }

    public init(timeSteps: Int, surrogate: S) {
        precondition(timeSteps >= 1, "PSN: T must be ≥ 1")
        self.timeSteps = timeSteps
        self.surrogate = surrogate
        weight = Initializer.uniform([timeSteps, timeSteps], bound: 1 / Float(timeSteps).squareRoot())
        bias = Tensor(repeating: -1, shape: [timeSteps])
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let x = timeMatrix(input, timeSteps: timeSteps, name: "PSN")
        let s = Tensor.parallelSpikes(
            x, weight: weight, bias: bias, surrogate: surrogate,
            mask: maskState.next(training: isTraining), substitute: gradientMask?.substitute)
        return recordSpikes(s.reshaped(to: input.shape), statistics)
    }
}

/// Masked PSN of order k: H = (W ⊙ M(λ))·X + b with M(λ) = λ·M_k + (1 − λ)·1 (progressive masking:
/// λ rises from 0 to 1 during training; with λ = 1 the neuron is causal).
public final class MaskedPSN<S: Surrogate>: Module, SpikeEmitting, SurrogateGradientMasking {
    public let maskState = GradientMaskState()
    public func setSurrogateAlpha(_ alpha: Float) { surrogate = S(alpha: alpha) }

    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor
    @Buffer public var lambda: Tensor
    public let timeSteps: Int, order: Int
    public private(set) var surrogate: S
    let mask: Tensor
    public var statistics: SpikeStatistics?

    public init(timeSteps: Int, order: Int, lambda: Float = 0, surrogate: S) {
        precondition(
            order >= 1 && order <= timeSteps, "MaskedPSN: order k = \(order) must be in 1…T (T = \(timeSteps))")
        self.timeSteps = timeSteps
        self.order = order
        self.surrogate = surrogate
        mask = bandMask(timeSteps: timeSteps, order: order)
        weight = Initializer.uniform([timeSteps, timeSteps], bound: 1 / Float(timeSteps).squareRoot())
        bias = Tensor(repeating: -1, shape: [timeSteps])
        self.lambda = Tensor([lambda])
        super.init()
    }

    /// The schedule of the paper: λ = min(8·epoch/(epochs − 1), 1) for epoch 0…epochs−1.
    public static func lambda(epoch: Int, epochs: Int) -> Float {
        epochs <= 1 ? 1 : min(8 * Float(epoch) / Float(epochs - 1), 1)
    }

    /// W ⊙ M(λ).
    public var maskedWeight: Tensor {
        let l = lambda.scalars[0]
        let m = l >= 1 ? mask : mask * l + (1 - l)
        return weight * m
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let x = timeMatrix(input, timeSteps: timeSteps, name: "MaskedPSN")
        let s = Tensor.parallelSpikes(
            x, weight: maskedWeight, bias: bias, surrogate: surrogate,
            mask: maskState.next(training: isTraining), substitute: gradientMask?.substitute)
        return recordSpikes(s.reshaped(to: input.shape), statistics)
    }
}

/// Sliding PSN of order k: one weight vector w ∈ ℝ^k shared by all steps,
/// H[t] = Σ_{i<k} w_i·X[t − k + 1 + i] (zero before t = 0), S = Θ(H + b), scalar b = −1,
/// w = (…, 1/8, 1/4, 1/2, 1). Runs at any T (a T×T Toeplitz matrix built from w).
public final class SlidingPSN<S: Surrogate>: Module, SpikeEmitting, SurrogateGradientMasking {
    public let maskState = GradientMaskState()
    public func setSurrogateAlpha(_ alpha: Float) { surrogate = S(alpha: alpha) }

    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor
    public let order: Int
    public private(set) var surrogate: S
    public var statistics: SpikeStatistics?

    public init(order: Int, surrogate: S) {
        precondition(order >= 1, "SlidingPSN: order k must be ≥ 1, got \(order)")
        self.order = order
        self.surrogate = surrogate
        weight = Tensor((0..<order).map { Foundation.pow(0.5, Float(order - 1 - $0)) })
        bias = Tensor([-1])
        super.init()
    }

    /// The `[T, T]` matrix with rows (…, w_{k−2}, w_{k−1}) ending on the diagonal, as a differentiable
    /// function of w: Σ_i w_i·D_i with constant 0/1 matrices D_i.
    public func matrix(timeSteps t: Int) -> Tensor {
        let k = order
        // D as [T·T, k]: entry (r·T + c, i) = 1 when c = r − (k − 1 − i) ≥ 0.
        let d = Tensor(shape: [t * t, k]) { idx in
            let row = idx / k, i = idx % k
            let r = row / t, c = row % t
            return c == r - (k - 1 - i) ? 1 : 0
        }
        return Tensor.matmul(d, weight.reshaped(to: [k, 1])).reshaped(to: [t, t])
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let x = timeMatrix(input, timeSteps: nil, name: "SlidingPSN")
        let t = x.shape[0]
        let s = Tensor.parallelSpikes(
            x, weight: matrix(timeSteps: t), bias: bias.broadcast(to: [t]), surrogate: surrogate,
            mask: maskState.next(training: isTraining), substitute: gradientMask?.substitute)
        return recordSpikes(s.reshaped(to: input.shape), statistics)
    }
}

func recordSpikes(_ spikes: Tensor, _ statistics: SpikeStatistics?) -> Tensor {
    if let statistics {
        let count = spikes.withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + Double($1) } }
        statistics.add(
            spikes: count, neuronSteps: Double(spikes.count),
            neuronsPerSample: spikes.rank > 2 ? spikes.shape[2...].reduce(1, *) : 1)
    }
    return spikes
}

/// The fixed matrices of the PSU family for decay β = 1 − 1/τ:
/// A[t][i] = (1/τ)·β^{t−i} for i ≤ t, R[t][i] = β^{t−i} for i < t (zero elsewhere).
public func parallelUnitMatrices(timeSteps t: Int, tau: Float) -> (a: Tensor, r: Tensor) {
    precondition(tau > 1, "PSU: τ must be > 1, got \(tau)")
    let beta = 1 - 1 / tau
    let a = Tensor(shape: [t, t]) { idx in
        let r = idx / t, c = idx % t
        return c <= r ? Foundation.pow(beta, Float(r - c)) / tau : 0
    }
    let reset = Tensor(shape: [t, t]) { idx in
        let r = idx / t, c = idx % t
        return c < r ? Foundation.pow(beta, Float(r - c)) : 0
    }
    return (a, reset)
}

/// The Parallel Spiking Unit family (Li et al., IJCNN 2024): LIF's leak and a probabilistic reset,
/// all T steps at once. With A, R from ``parallelUnitMatrices(timeSteps:tau:)``, M the causal mask:
/// - PSU: H = A·I, V = H − V_th·R·σ(H)
/// - IPSU (input-aware): H = (W ⊙ M)·I + b, V = H − R·I
/// - RPSU (reset-aware): V = A·I − R·σ((W ⊙ M)·I + b)
/// and S = Θ(V − V_th) (firing when V − V_th > 0). The surrogate is the arctangent with α learned per
/// layer (the papers' default), or any other surrogate with a fixed α (QGate for DVS runs).
public final class ParallelSpikingUnit: Module, SpikeEmitting, SurrogateGradientMasking {
    public enum Variant: String, Sendable, CaseIterable { case psu, ipsu, rpsu }

    public let maskState = GradientMaskState()
    /// Sets the surrogate's α to `alpha` (MSG's α schedule); a learned α then goes on from there.
    public func setSurrogateAlpha(_ alpha: Float) { self.alpha = Tensor(shape: self.alpha.shape, scalars: [alpha]) }

    public let variant: Variant
    public let timeSteps: Int
    public let tau: Float, threshold: Float
    /// The surrogate's α: a parameter trained with the rest for the arctangent, frozen for the others.
    @Parameter public var alpha: Tensor
    @Parameter public var weight: Tensor
    @Parameter public var bias: Tensor
    @Buffer public var inputMatrix: Tensor
    @Buffer public var resetMatrix: Tensor
    let causalMask: Tensor
    /// The kind of surrogate (its α is ``alpha``).
    let surrogateKind: SurrogateChoice
    public var statistics: SpikeStatistics?

    /// The surrogate in use, with the current α.
    public var surrogate: SurrogateChoice { surrogateKind.with(alpha: alpha.scalars[0]) }
    /// Whether α is learned (the arctangent).
    public var learnsAlpha: Bool { if case .arctangent = surrogateKind { true } else { false } }

    public init(
        _ variant: Variant, timeSteps: Int, tau: Float = 2, threshold: Float = 0.5,
        surrogate: SurrogateChoice = .arctangent(alpha: 2)
    ) {
        precondition(timeSteps >= 1, "ParallelSpikingUnit: T must be ≥ 1")
        self.variant = variant
        self.timeSteps = timeSteps
        self.tau = tau
        self.threshold = threshold
        surrogateKind = surrogate
        self.alpha = Tensor([surrogate.alpha])
        let (a, r) = parallelUnitMatrices(timeSteps: timeSteps, tau: tau)
        inputMatrix = a
        resetMatrix = r
        causalMask = bandMask(timeSteps: timeSteps, order: timeSteps)
        // W: normal with std √(2/T) (Kaiming, fan-out), b = 0; PSU has none.
        weight =
            variant == .psu ? Tensor(zeros: [0]) : Initializer.kaimingNormal([timeSteps, timeSteps], mode: .fanOut)
        bias = variant == .psu ? Tensor(zeros: [0]) : Tensor(zeros: [timeSteps])
        super.init()
        if variant == .psu {
            $weight.requiresGradient = false
            $bias.requiresGradient = false
        }
        // Only the arctangent's ∂g/∂α is implemented: the other surrogates keep their α.
        $alpha.requiresGradient = learnsAlpha
    }

    /// The membrane potentials V `[T, N]` for input I `[T, N]`, as composed operations (every variant
    /// runs a fused kernel; this is their reference).
    public func membrane(_ i: Tensor) -> Tensor {
        switch variant {
        case .psu:
            let h = Tensor.matmul(inputMatrix, i)
            return h - Tensor.matmul(resetMatrix, h.sigmoid()) * threshold
        case .ipsu:
            let h = Tensor.matmul(weight * causalMask, i) + bias.reshaped(to: [timeSteps, 1])
            return h - Tensor.matmul(resetMatrix, i)
        case .rpsu:
            let gate = (Tensor.matmul(weight * causalMask, i) + bias.reshaped(to: [timeSteps, 1])).sigmoid()
            return Tensor.matmul(inputMatrix, i) - Tensor.matmul(resetMatrix, gate)
        }
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let i = timeMatrix(input, timeSteps: timeSteps, name: variant.rawValue.uppercased())
        let mask = maskState.next(training: isTraining), substitute = gradientMask?.substitute
        let s: Tensor
        if learnsAlpha {
            // The default: a concrete call, so the fused kernel is specialised for the arctangent.
            s = fire(
                i, surrogate: Arctangent(alpha: alpha.scalars[0]), learnedAlpha: alpha, mask: mask,
                substitute: substitute)
        } else {
            s = surrogate.withSurrogate {
                fire(i, surrogate: $0, learnedAlpha: nil, mask: mask, substitute: substitute)
            }
        }
        return recordSpikes(s.reshaped(to: input.shape), statistics)
    }

    /// S = Θ(V − V_th) for I `[T, N]` through a fused kernel: the PSU's own; the IPSU's membrane
    /// (W ⊙ M)·I + b − R·I is the PSN's W′·I + b′ with W′ = W ⊙ M − R and b′ = b − V_th, so it runs the
    /// PSN kernel (the gradients reach W and b through those two small operations); the RPSU its own
    /// (with W ⊙ M on the tape for the same reason).
    private func fire<S: Surrogate>(
        _ i: Tensor, surrogate: S, learnedAlpha: Tensor?, mask: MaskStream?,
        substitute: SurrogateChoice?
    ) -> Tensor {
        switch variant {
        case .psu:
            return PSUKernel.spikes(
                i, a: inputMatrix, r: resetMatrix, threshold: threshold, surrogate: surrogate,
                learnedAlpha: learnedAlpha, mask: mask, substitute: substitute)
        case .ipsu:
            return ParallelNeuronKernel.forward(
                x: i, weight: weight * causalMask - resetMatrix, bias: bias - threshold, surrogate: surrogate,
                strict: true, mask: mask, substitute: substitute, learnedAlpha: learnedAlpha)
        case .rpsu:
            return RPSUKernel.spikes(
                i, a: inputMatrix, r: resetMatrix, weight: weight * causalMask, bias: bias, threshold: threshold,
                surrogate: surrogate, learnedAlpha: learnedAlpha, mask: mask, substitute: substitute)
        }
    }
}
