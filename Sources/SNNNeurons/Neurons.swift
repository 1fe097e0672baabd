import Foundation
import SNNLayers
import SNNTensor

extension Surrogate where Self == QGate {
    /// Piecewise quadratic surrogate.
    public static func qgate(alpha: Float = 2) -> QGate { QGate(alpha: alpha) }
}
extension Surrogate where Self == Arctangent {
    /// Arctangent surrogate.
    public static func arctangent(alpha: Float = 2) -> Arctangent { Arctangent(alpha: alpha) }
}
extension Surrogate where Self == SigmoidSurrogate {
    /// Sigmoid surrogate.
    public static func sigmoid(alpha: Float = 4) -> SigmoidSurrogate { SigmoidSurrogate(alpha: alpha) }
}

extension Tensor {
    /// Θ(x) (1 where x ≥ 0) with the surrogate's derivative in the backward pass.
    public func heaviside<S: Surrogate>(surrogate: S) -> Tensor {
        let x = self
        return Tensor(map { $0 >= 0 ? 1 : 0 }, input: self) { g in
            g.zipMap(x) { g, x in g * surrogate.derivative(x) }
        }
    }
}

/// Running totals of a neuron layer's spikes (enabled per layer; free when disabled).
public final class SpikeStatistics: @unchecked Sendable {
    /// Spikes emitted since the last ``clear()``.
    public private(set) var spikes: Double = 0
    /// Neuron-steps evaluated since the last ``clear()`` (T × neurons per call, summed).
    public private(set) var neuronSteps: Double = 0
    /// Neurons per sample of the last call (the layer's width, without T and batch).
    public private(set) var neuronsPerSample = 0

    public init() {}

    /// Spikes per neuron-step.
    public var firingRate: Double { neuronSteps > 0 ? spikes / neuronSteps : 0 }

    func add(spikes count: Double, neuronSteps steps: Double, neuronsPerSample: Int) {
        spikes += count
        neuronSteps += steps
        self.neuronsPerSample = neuronsPerSample
    }

    /// Adds the spikes of a `[T, ...]` tensor of zeros and ones (every element is one neuron-step).
    func add(spikes: Tensor, neuronsPerSample: Int) {
        let count = spikes.withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + Double($1) } }
        add(spikes: count, neuronSteps: Double(spikes.count), neuronsPerSample: neuronsPerSample)
    }

    public func clear() {
        spikes = 0
        neuronSteps = 0
    }
}

/// A spiking neuron layer on time-major input `[T, ...]`: charge, fire and reset, starting from
/// rest at every call (no hidden state survives between calls).
///
/// Conforming types provide the single-step operations; ``stepByStep(_:)`` composes them with
/// ordinary differentiable tensor operations (the slow, obviously-correct twin), and
/// `callAsFunction` runs the fused kernel.
/// Any layer that emits spikes and can count them.
public protocol SpikeEmitting: Layer {
    /// Spike totals, when enabled.
    var statistics: SpikeStatistics? { get set }
}

public protocol SpikingNeuron: SpikeEmitting {
    /// The membrane potential at rest, shaped like one step of input.
    func restingState(like step: Tensor) -> Tensor
    /// H[t] from V[t−1] and X[t].
    func charge(_ membrane: Tensor, _ input: Tensor) -> Tensor
    /// S[t] = Θ(H[t] − V_th) with the surrogate gradient.
    func fire(_ charged: Tensor) -> Tensor
    /// V[t] from H[t] and S[t].
    func reset(_ charged: Tensor, _ spikes: Tensor) -> Tensor
    /// Spike totals, when enabled.
    var statistics: SpikeStatistics? { get set }
}

extension SpikingNeuron {
    /// Runs the sequence one step at a time with composed operations; returns spikes and the
    /// post-reset membrane potentials, both `[T, ...]`.
    public func stepByStep(_ input: Tensor) -> (spikes: Tensor, membrane: Tensor) {
        precondition(input.rank >= 1 && input.shape[0] >= 1, "\(Self.self): input must be [T, ...] with T ≥ 1, got \(input.shape)")
        var v = restingState(like: input.selecting(0))
        var spikes: [Tensor] = [], membrane: [Tensor] = []
        for t in 0..<input.shape[0] {
            let h = charge(v, input.selecting(t))
            let s = fire(h)
            v = reset(h, s)
            spikes.append(s)
            membrane.append(v)
        }
        return (Tensor.stack(spikes), Tensor.stack(membrane))
    }
}

/// Shared configuration and kernel plumbing of IF, LIF and PLIF.
public class FusedNeuron<S: Surrogate>: Module, SurrogateGradientMasking {
    public internal(set) var surrogate: S
    public let threshold: Float
    public let resetMode: Reset
    /// Whether the reset uses the spike without its gradient (SpikingJelly's `detach_reset`).
    public let detachReset: Bool
    let chargeRule: Charge
    public var statistics: SpikeStatistics?
    /// Masked surrogate gradients (MSG); see ``SurrogateGradientMasking``.
    public let maskState = GradientMaskState()

    /// Changes the surrogate's sharpness α (MSG's α schedule); the forward pass does not depend on it.
    public func setSurrogateAlpha(_ alpha: Float) { surrogate = S(alpha: alpha) }

    /// The mask of this forward pass's backward pass: a fresh key per training forward pass.
    func nextMaskStream() -> MaskStream? { maskState.next(training: isTraining) }

    init(charge: Charge, threshold: Float, reset: Reset, detachReset: Bool, surrogate: S) {
        self.chargeRule = charge
        self.threshold = threshold
        self.resetMode = reset
        self.detachReset = detachReset
        self.surrogate = surrogate
        super.init()
    }

    /// 1/τ as used by the kernel (IF: unused).
    var currentK: Float { 0 }

    public func restingState(like step: Tensor) -> Tensor { Tensor(repeating: resetMode.restingPotential, shape: step.shape) }

    public func fire(_ charged: Tensor) -> Tensor { (charged - threshold).heaviside(surrogate: surrogate) }

    public func reset(_ charged: Tensor, _ spikes: Tensor) -> Tensor {
        let s = detachReset ? spikes.detached : spikes
        switch resetMode {
        case .hard(let value): return charged * (1 - s) + s * value
        case .soft: return charged - s * threshold
        case .none: return charged
        }
    }

    var configuration: NeuronKernelConfiguration {
        NeuronKernelConfiguration(charge: chargeRule, k: currentK, threshold: threshold, reset: resetMode,
                                  detachReset: detachReset)
    }

    /// The fused forward and BPTT. `kInput` is the differentiable tensor k depends on (PLIF's w),
    /// with `dkdInput` the derivative of k with respect to it.
    func fused(_ input: Tensor, membraneOutput: Bool, kInput: Tensor?, dkdInput: Float) -> Tensor {
        precondition(input.rank >= 2 && input.shape[0] >= 1,
                     "\(type(of: self)): input must be time-major [T, N, ...] with T ≥ 1, got \(input.shape)")
        let steps = input.shape[0], neurons = input.count / steps
        let c = configuration
        if !membraneOutput, let b = input.blockedBuffer, b.layout.batch % steps == 0 {
            return fusedBlocked(input, b, steps: steps, kInput: kInput, dkdInput: dkdInput)
        }
        let x = input
        let spikes = Tensor(uninitializedShape: input.shape)
        let charged = Tensor(uninitializedShape: input.shape)
        let membrane = membraneOutput ? Tensor(uninitializedShape: input.shape) : nil
        x.withUnsafeBufferPointer { xp in
            NeuronKernels.forward(c, x: xp.baseAddress!, steps: steps, neurons: neurons,
                                  spikes: spikes.unsafeStoragePointer, charged: charged.unsafeStoragePointer,
                                  membrane: membrane?.unsafeStoragePointer)
        }
        if let statistics {
            let count = spikes.withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + Double($1) } }
            statistics.add(spikes: count, neuronSteps: Double(spikes.count),
                           neuronsPerSample: input.rank > 2 ? input.shape[2...].reduce(1, *) : 1)
        }
        let output = membrane.map { Tensor.stack([spikes, $0]) } ?? spikes
        let surrogate = surrogate
        let inputs = kInput.map { [x, $0] } ?? [x]
        let mask = nextMaskStream(), substitute = gradientMask?.substitute
        return Tensor(output, inputs: inputs) { g, needs in
            let gradSpikes = membraneOutput ? g.selecting(0) : g
            let gradMembrane = membraneOutput ? g.selecting(1) : nil
            let gx = Tensor(uninitializedShape: x.shape)
            let wantK = needs.count > 1 && needs[1]
            let gk = withMasking(mask, substitute) { masking in
                NeuronKernels.backward(
                    c, surrogate: surrogate, charged: charged.unsafeStoragePointer, x: x.unsafeStoragePointer,
                    gradSpikes: gradSpikes.unsafeStoragePointer, gradMembrane: gradMembrane?.unsafeStoragePointer,
                    steps: steps, neurons: neurons, gradInput: gx.unsafeStoragePointer, wantK: wantK, masking: masking)
            }
            return kInput == nil ? [gx] : [gx, Tensor(shape: kInput!.shape, scalars: [gk * dkdInput])]
        }
    }
}

extension FusedNeuron {
    /// ``fused(_:membraneOutput:kInput:dkdInput:)`` on an input held in a channel-blocked layout (a
    /// convolution's output): time step t is the contiguous run of samples t·N/T… of the blocked
    /// buffer, so the same kernels run on it, padding included (zero input, no spikes); spikes and
    /// the input gradient stay blocked.
    func fusedBlocked(_ input: Tensor, _ buffer: BlockedBuffer, steps: Int, kInput: Tensor?, dkdInput: Float) -> Tensor {
        let layout = buffer.layout, c = configuration
        let neurons = layout.storageCount / steps
        let spikes = BlockedBuffer(layout: layout), charged = BlockedBuffer(layout: layout)
        NeuronKernels.forward(c, x: buffer.pointer, steps: steps, neurons: neurons, spikes: spikes.pointer,
                              charged: charged.pointer, membrane: nil)
        if let statistics {
            statistics.add(spikes: spikes.logicalSum(), neuronSteps: Double(input.count),
                           neuronsPerSample: input.rank > 2 ? input.shape[2...].reduce(1, *) : 1)
        }
        let surrogate = surrogate
        let inputs = kInput.map { [input, $0] } ?? [input]
        let output = Tensor(blocked: spikes, shape: input.shape)
        let mask = nextMaskStream(), substitute = gradientMask?.substitute
        return Tensor(output, inputs: inputs) { g, needs in
            let gradSpikes = g.blocked(as: layout)
            let gx = BlockedBuffer(layout: layout)
            let wantK = needs.count > 1 && needs[1]
            let gk = withMasking(mask, substitute) { masking in
                NeuronKernels.backward(
                    c, surrogate: surrogate, charged: charged.pointer, x: buffer.pointer, gradSpikes: gradSpikes.pointer,
                    gradMembrane: nil, steps: steps, neurons: neurons, gradInput: gx.pointer, wantK: wantK, masking: masking)
            }
            let dx = Tensor(blocked: gx, shape: input.shape)
            return kInput == nil ? [dx] : [dx, Tensor(shape: kInput!.shape, scalars: [gk * dkdInput])]
        }
    }
}

/// Integrate-and-fire: h = v + x.
public final class IF<S: Surrogate>: FusedNeuron<S>, SpikingNeuron {
    public init(threshold: Float = 1, reset: Reset = .hard(to: 0), detachReset: Bool = false, surrogate: S) {
        super.init(charge: .integrate, threshold: threshold, reset: reset, detachReset: detachReset, surrogate: surrogate)
    }

    public func charge(_ membrane: Tensor, _ input: Tensor) -> Tensor { membrane + input }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        fused(input, membraneOutput: false, kInput: nil, dkdInput: 0)
    }

    /// Spikes and post-reset membrane potentials (`[2, T, ...]` split in two).
    public func spikesAndMembrane(_ input: Tensor) -> (spikes: Tensor, membrane: Tensor) {
        let both = fused(input, membraneOutput: true, kInput: nil, dkdInput: 0)
        return (both.selecting(0), both.selecting(1))
    }
}

/// Leaky integrate-and-fire with time constant τ.
/// Decayed input (default): h = v + (x − (v − v_r))/τ; undecayed: h = v − (v − v_r)/τ + x.
public final class LIF<S: Surrogate>: FusedNeuron<S>, SpikingNeuron {
    public let tau: Float
    public let decayInput: Bool

    public init(tau: Float = 2, threshold: Float = 1, reset: Reset = .hard(to: 0), detachReset: Bool = false,
                decayInput: Bool = true, surrogate: S) {
        precondition(tau > 1, "LIF: τ must be > 1 (got \(tau))")
        self.tau = tau
        self.decayInput = decayInput
        super.init(charge: decayInput ? .leakyDecayedInput : .leakyUndecayedInput, threshold: threshold, reset: reset,
                   detachReset: detachReset, surrogate: surrogate)
    }

    override var currentK: Float { 1 / tau }

    public func charge(_ membrane: Tensor, _ input: Tensor) -> Tensor {
        let vr = resetMode.restingPotential
        return decayInput ? membrane + (input - (membrane - vr)) / tau : membrane - (membrane - vr) / tau + input
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        fused(input, membraneOutput: false, kInput: nil, dkdInput: 0)
    }

    public func spikesAndMembrane(_ input: Tensor) -> (spikes: Tensor, membrane: Tensor) {
        let both = fused(input, membraneOutput: true, kInput: nil, dkdInput: 0)
        return (both.selecting(0), both.selecting(1))
    }
}

/// Parametric LIF (Fang et al.): LIF whose 1/τ = σ(w) is learned, w initialised to −log(τ₀ − 1).
public final class PLIF<S: Surrogate>: FusedNeuron<S>, SpikingNeuron {
    @Parameter public var w: Tensor
    public let decayInput: Bool

    public init(initialTau: Float = 2, threshold: Float = 1, reset: Reset = .hard(to: 0), detachReset: Bool = false,
                decayInput: Bool = true, surrogate: S) {
        precondition(initialTau > 1, "PLIF: initial τ must be > 1 (got \(initialTau))")
        w = Tensor([-Foundation.log(initialTau - 1)])
        self.decayInput = decayInput
        super.init(charge: decayInput ? .leakyDecayedInput : .leakyUndecayedInput, threshold: threshold, reset: reset,
                   detachReset: detachReset, surrogate: surrogate)
    }

    /// The current τ = 1/σ(w).
    public var tau: Float { 1 / currentK }

    override var currentK: Float { 1 / (1 + Foundation.exp(-w.scalars[0])) }

    public func charge(_ membrane: Tensor, _ input: Tensor) -> Tensor {
        let vr = resetMode.restingPotential
        let k = w.sigmoid()
        return decayInput ? membrane + (input - (membrane - vr)) * k : membrane - (membrane - vr) * k + input
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let k = currentK
        return fused(input, membraneOutput: false, kInput: w, dkdInput: k * (1 - k))
    }

    public func spikesAndMembrane(_ input: Tensor) -> (spikes: Tensor, membrane: Tensor) {
        let k = currentK
        let both = fused(input, membraneOutput: true, kInput: w, dkdInput: k * (1 - k))
        return (both.selecting(0), both.selecting(1))
    }
}
