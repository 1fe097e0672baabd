import CSNNKernels
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

    /// Adds the spikes of a `[T, ...]` tensor of zeros and ones (every element is one neuron-step);
    /// public for layers that run neurons step by step through charge, fire and reset.
    public func add(spikes: Tensor, neuronsPerSample: Int) {
        let count = spikes.withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + Double($1) } }
        add(spikes: count, neuronSteps: Double(spikes.count), neuronsPerSample: neuronsPerSample)
    }

    public func clear() {
        spikes = 0
        neuronSteps = 0
    }
}

/// Any layer that emits spikes and can count them.
public protocol SpikeEmitting: Layer {
    /// Spike totals, when enabled.
    var statistics: SpikeStatistics? { get set }
}

/// A spiking neuron layer on time-major input `[T, ...]`: charge, fire and reset, starting from
/// rest at every call (no hidden state survives between calls).
///
/// Conforming types provide the single-step operations; ``stepByStep(_:)`` composes them with
/// ordinary differentiable tensor operations (the slow, obviously-correct twin of the fused kernels,
/// and the stepwise neuron of layers that keep a state across their own loop over t, such as TIM).
public protocol SpikingNeuron: SpikeEmitting {
    /// The membrane potential at rest, shaped like one step of input.
    func restingState(like step: Tensor) -> Tensor
    /// The charged (pre-spike) potential H[t] from the membrane V[t−1] and the input X[t].
    func charge(membrane: Tensor, input: Tensor) -> Tensor
    /// The spikes S[t] = Θ(H[t] − V_th) of a charged potential, with the surrogate gradient.
    func fire(_ charged: Tensor) -> Tensor
    /// The membrane V[t] after the spikes S[t] of the charged potential H[t].
    func reset(_ charged: Tensor, spikes: Tensor) -> Tensor
}

extension SpikingNeuron {
    /// Runs the sequence one step at a time with composed operations; returns spikes and the
    /// post-reset membrane potentials, both `[T, ...]`.
    public func stepByStep(_ input: Tensor) -> (spikes: Tensor, membrane: Tensor) {
        precondition(
            input.rank >= 1 && input.shape[0] >= 1,
            "\(Self.self): input must be [T, ...] with T ≥ 1, got \(input.shape)")
        var v = restingState(like: input.selecting(0))
        var spikes: [Tensor] = [], membrane: [Tensor] = []
        for t in 0..<input.shape[0] {
            let h = charge(membrane: v, input: input.selecting(t))
            let s = fire(h)
            v = reset(h, spikes: s)
            spikes.append(s)
            membrane.append(v)
        }
        return (Tensor.stack(spikes), Tensor.stack(membrane))
    }
}

/// A spiking neuron whose whole sequence runs in one fused kernel call: from that one requirement
/// the layer call and the spikes-and-membrane call follow.
public protocol FusedSpikingNeuron: SpikingNeuron {
    /// Spikes `[T, ...]` of the whole sequence; with `membraneOutput`, spikes and post-reset
    /// membrane potentials stacked as `[2, T, ...]`.
    func fused(_ input: Tensor, membraneOutput: Bool) -> Tensor
}

extension FusedSpikingNeuron {
    public func callAsFunction(_ input: Tensor) -> Tensor { fused(input, membraneOutput: false) }

    /// Spikes and post-reset membrane potentials, both `[T, ...]`.
    public func spikesAndMembrane(_ input: Tensor) -> (spikes: Tensor, membrane: Tensor) {
        let both = fused(input, membraneOutput: true)
        return (both.selecting(0), both.selecting(1))
    }
}

/// A decay that is learned: the one-element parameter the decay 1/τ is computed from, and the
/// derivative of 1/τ with respect to it at its current value.
struct LearnedDecay {
    var parameter: Tensor
    var derivative: Float
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
    /// Whether calls keep their post-reset membrane potentials in ``recordedMembrane``.
    public var recordsMembrane = false {
        didSet {
            if !recordsMembrane {
                recordedMembrane = nil
                recordedSpikes = nil
            }
        }
    }
    /// The post-reset membrane potentials `[T, ...]` of the last call while ``recordsMembrane`` is on,
    /// recorded on the gradient tape (a loss on them trains the layers below).
    public internal(set) var recordedMembrane: Tensor?
    /// The spikes `[T, ...]` of the same call (for pictures of one sample's activity).
    public internal(set) var recordedSpikes: Tensor?

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

    /// The decay 1/τ of the leaky charges (IF: unused).
    var decay: Float { 0 }
    /// The parameter the decay is learned through, when it is (PLIF); nil when it is fixed.
    var learnedDecay: LearnedDecay? { nil }

    public func restingState(like step: Tensor) -> Tensor {
        Tensor(repeating: resetMode.restingPotential, shape: step.shape)
    }

    public func fire(_ charged: Tensor) -> Tensor { (charged - threshold).heaviside(surrogate: surrogate) }

    public func reset(_ charged: Tensor, spikes: Tensor) -> Tensor {
        let s = detachReset ? spikes.detached : spikes
        switch resetMode {
        case .hard(let value): return charged * (1 - s) + s * value
        case .soft: return charged - s * threshold
        case .none: return charged
        }
    }

    var configuration: NeuronKernelConfiguration {
        NeuronKernelConfiguration(
            charge: chargeRule, decay: decay, threshold: threshold, reset: resetMode,
            detachReset: detachReset)
    }

    /// The fused forward and BPTT (``FusedSpikingNeuron``'s requirement): the decay's gradient
    /// reaches ``learnedDecay``'s parameter when there is one.
    public func fused(_ input: Tensor, membraneOutput: Bool) -> Tensor {
        if recordsMembrane && !membraneOutput {
            // Keep the membrane potentials of this call (on the tape) for a loss on them.
            let both = fused(input, membraneOutput: true)
            recordedMembrane = both.selecting(1)
            recordedSpikes = both.selecting(0)
            return both.selecting(0)
        }
        precondition(
            input.rank >= 2 && input.shape[0] >= 1,
            "\(type(of: self)): input must be time-major [T, N, ...] with T ≥ 1, got \(input.shape)")
        let steps = input.shape[0], neurons = input.count / steps
        let c = configuration
        let learned = learnedDecay
        if !membraneOutput, let b = input.blockedBuffer, b.layout.batch % steps == 0 {
            return fusedBlocked(input, b, steps: steps, learned: learned)
        }
        let x = input
        if let p = NativeNeuronKernels.parameters(c, surrogate: surrogate) {
            return fusedNative(x, p, steps: steps, membraneOutput: membraneOutput, learned: learned)
        }
        let spikes = Tensor(uninitializedShape: input.shape)
        let charged = Tensor(uninitializedShape: input.shape)
        let membrane = membraneOutput ? Tensor(uninitializedShape: input.shape) : nil
        x.withUnsafeBufferPointer { xp in
            NeuronKernels.forward(
                c, x: xp.baseAddress!, steps: steps, neurons: neurons,
                spikes: spikes.unsafeStoragePointer, charged: charged.unsafeStoragePointer,
                membrane: membrane?.unsafeStoragePointer)
        }
        if let statistics {
            let count = spikes.withUnsafeBufferPointer { p in p.reduce(0.0) { $0 + Double($1) } }
            statistics.add(
                spikes: count, neuronSteps: Double(spikes.count),
                neuronsPerSample: input.rank > 2 ? input.shape[2...].reduce(1, *) : 1)
        }
        let output = membrane.map { Tensor.stack([spikes, $0]) } ?? spikes
        let surrogate = surrogate
        let inputs = learned.map { [x, $0.parameter] } ?? [x]
        let mask = nextMaskStream(), substitute = gradientMask?.substitute
        return Tensor(output, inputs: inputs) { g, needs in
            let gradSpikes = membraneOutput ? g.selecting(0) : g
            let gradMembrane = membraneOutput ? g.selecting(1) : nil
            let gx = Tensor(uninitializedShape: x.shape)
            let wantDecay = needs.count > 1 && needs[1]
            let gradDecay = withMasking(mask, substitute) { masking in
                NeuronKernels.backward(
                    c, surrogate: surrogate, charged: charged.unsafeStoragePointer, x: x.unsafeStoragePointer,
                    gradSpikes: gradSpikes.unsafeStoragePointer, gradMembrane: gradMembrane?.unsafeStoragePointer,
                    steps: steps, neurons: neurons, gradInput: gx.unsafeStoragePointer, wantDecay: wantDecay,
                    masking: masking)
            }
            return [gx] + (learned.map { [$0.gradient(gradDecay)] } ?? [])
        }
    }
}

extension FusedNeuron {
    /// ``fused(_:membraneOutput:)`` through the C kernels: nothing saved between the passes but the
    /// input, which the backward pass reads again to recompute the membrane.
    func fusedNative(
        _ x: Tensor, _ p: snn_neuron_params, steps: Int, membraneOutput: Bool, learned: LearnedDecay?
    ) -> Tensor {
        let neurons = x.count / steps, c = configuration, surrogate = surrogate
        let spikes = Tensor(uninitializedShape: x.shape)
        let membrane = membraneOutput ? Tensor(uninitializedShape: x.shape) : nil
        let count = NativeNeuronKernels.forward(
            p, x: x.unsafeStoragePointer, steps: steps, neurons: neurons, spikes: spikes.unsafeStoragePointer,
            membrane: membrane?.unsafeStoragePointer)
        statistics?.add(
            spikes: count, neuronSteps: Double(spikes.count),
            neuronsPerSample: x.rank > 2 ? x.shape[2...].reduce(1, *) : 1)
        let output = membrane.map { Tensor.stack([spikes, $0]) } ?? spikes
        let inputs = learned.map { [x, $0.parameter] } ?? [x]
        let mask = nextMaskStream(), substitute = gradientMask?.substitute
        return Tensor(output, inputs: inputs) { g, needs in
            let gradSpikes = membraneOutput ? g.selecting(0) : g
            let gradMembrane = membraneOutput ? g.selecting(1) : nil
            let gx = Tensor(uninitializedShape: x.shape)
            let masked = NativeNeuronKernels.parameters(c, surrogate: surrogate, mask: mask, substitute: substitute)
            let gradDecay = NativeNeuronKernels.backward(
                masked ?? p, x: x.unsafeStoragePointer, gradSpikes: gradSpikes.unsafeStoragePointer,
                gradMembrane: gradMembrane?.unsafeStoragePointer, steps: steps, neurons: neurons,
                gradInput: gx.unsafeStoragePointer, wantDecay: needs.count > 1 && needs[1])
            return [gx] + (learned.map { [$0.gradient(gradDecay)] } ?? [])
        }
    }
}

extension FusedNeuron: MembraneRecording {}

/// A neuron layer that can hand out the post-reset membrane potentials of its last call, for losses
/// on them (the static-to-event alignment of METHODS.md §4 compares the last conv layer's).
public protocol MembraneRecording: AnyObject {
    /// Whether calls keep their membrane potentials; turning it off drops the last record.
    var recordsMembrane: Bool { get set }
    /// The post-reset membrane potentials `[T, ...]` of the last call while recording, on the tape.
    var recordedMembrane: Tensor? { get }
    /// The spikes `[T, ...]` of that call.
    var recordedSpikes: Tensor? { get }
    /// The firing threshold the membrane is compared with.
    var threshold: Float { get }
}

extension FusedNeuron {
    /// ``fused(_:membraneOutput:)`` on an input held in a channel-blocked layout (a
    /// convolution's output): time step t is the contiguous run of samples t·N/T… of the blocked
    /// buffer, so the same kernels run on it, padding included (zero input, no spikes); spikes and
    /// the input gradient stay blocked.
    func fusedBlocked(_ input: Tensor, _ buffer: BlockedBuffer, steps: Int, learned: LearnedDecay?) -> Tensor {
        let layout = buffer.layout, c = configuration
        let neurons = layout.storageCount / steps
        if let p = NativeNeuronKernels.parameters(c, surrogate: surrogate) {
            return fusedBlockedNative(input, buffer, p, steps: steps, learned: learned)
        }
        let spikes = BlockedBuffer(layout: layout), charged = BlockedBuffer(layout: layout)
        NeuronKernels.forward(
            c, x: buffer.pointer, steps: steps, neurons: neurons, spikes: spikes.pointer,
            charged: charged.pointer, membrane: nil)
        if let statistics {
            statistics.add(
                spikes: spikes.logicalSum(), neuronSteps: Double(input.count),
                neuronsPerSample: input.rank > 2 ? input.shape[2...].reduce(1, *) : 1)
        }
        let surrogate = surrogate
        let inputs = learned.map { [input, $0.parameter] } ?? [input]
        let output = Tensor(blocked: spikes, shape: input.shape)
        let mask = nextMaskStream(), substitute = gradientMask?.substitute
        return Tensor(output, inputs: inputs) { g, needs in
            let gradSpikes = g.blocked(as: layout)
            let gx = BlockedBuffer(layout: layout)
            let wantDecay = needs.count > 1 && needs[1]
            let gradDecay = withMasking(mask, substitute) { masking in
                NeuronKernels.backward(
                    c, surrogate: surrogate, charged: charged.pointer, x: buffer.pointer,
                    gradSpikes: gradSpikes.pointer,
                    gradMembrane: nil, steps: steps, neurons: neurons, gradInput: gx.pointer, wantDecay: wantDecay,
                    masking: masking)
            }
            return [Tensor(blocked: gx, shape: input.shape)] + (learned.map { [$0.gradient(gradDecay)] } ?? [])
        }
    }
}

extension FusedNeuron {
    /// ``fusedBlocked(_:_:steps:learned:)`` through the C kernels (as ``fusedNative(_:_:steps:membraneOutput:learned:)``).
    func fusedBlockedNative(
        _ input: Tensor, _ buffer: BlockedBuffer, _ p: snn_neuron_params, steps: Int, learned: LearnedDecay?
    ) -> Tensor {
        let layout = buffer.layout, c = configuration, surrogate = surrogate
        let neurons = layout.storageCount / steps
        let spikes = BlockedBuffer(layout: layout)
        _ = NativeNeuronKernels.forward(
            p, x: buffer.pointer, steps: steps, neurons: neurons, spikes: spikes.pointer, membrane: nil)
        if let statistics {
            // The padding channels never fire, but the logical count is the one statistics report.
            statistics.add(
                spikes: spikes.logicalSum(), neuronSteps: Double(input.count),
                neuronsPerSample: input.rank > 2 ? input.shape[2...].reduce(1, *) : 1)
        }
        let inputs = learned.map { [input, $0.parameter] } ?? [input]
        let output = Tensor(blocked: spikes, shape: input.shape)
        let mask = nextMaskStream(), substitute = gradientMask?.substitute
        return Tensor(output, inputs: inputs) { g, needs in
            let gradSpikes = g.blocked(as: layout)
            let gx = BlockedBuffer(layout: layout)
            let masked = NativeNeuronKernels.parameters(c, surrogate: surrogate, mask: mask, substitute: substitute)
            let gradDecay = NativeNeuronKernels.backward(
                masked ?? p, x: buffer.pointer, gradSpikes: gradSpikes.pointer, gradMembrane: nil, steps: steps,
                neurons: neurons, gradInput: gx.pointer, wantDecay: needs.count > 1 && needs[1])
            return [Tensor(blocked: gx, shape: input.shape)] + (learned.map { [$0.gradient(gradDecay)] } ?? [])
        }
    }
}

/// Integrate-and-fire: h = v + x.
public final class IF<S: Surrogate>: FusedNeuron<S>, FusedSpikingNeuron {
    public init(threshold: Float = 1, reset: Reset = .hard(to: 0), detachReset: Bool = false, surrogate: S) {
        super.init(
            charge: .integrate, threshold: threshold, reset: reset, detachReset: detachReset, surrogate: surrogate)
    }

    public func charge(membrane: Tensor, input: Tensor) -> Tensor { membrane + input }
}

/// Leaky integrate-and-fire with time constant τ.
/// Decayed input (default): h = v + (x − (v − v_r))/τ; undecayed: h = v − (v − v_r)/τ + x.
public final class LIF<S: Surrogate>: FusedNeuron<S>, FusedSpikingNeuron {
    public let tau: Float
    public let decayInput: Bool

    public init(
        tau: Float = 2, threshold: Float = 1, reset: Reset = .hard(to: 0), detachReset: Bool = false,
        decayInput: Bool = true, surrogate: S
    ) {
        precondition(tau > 1, "LIF: τ must be > 1 (got \(tau))")
        self.tau = tau
        self.decayInput = decayInput
        super.init(
            charge: decayInput ? .leakyDecayedInput : .leakyUndecayedInput, threshold: threshold, reset: reset,
            detachReset: detachReset, surrogate: surrogate)
    }

    override var decay: Float { 1 / tau }

    public func charge(membrane: Tensor, input: Tensor) -> Tensor {
        let vr = resetMode.restingPotential
        return decayInput ? membrane + (input - (membrane - vr)) / tau : membrane - (membrane - vr) / tau + input
    }
}

/// Parametric LIF (Fang et al.): LIF whose 1/τ = σ(w) is learned, w initialised to −log(τ₀ − 1).
public final class PLIF<S: Surrogate>: FusedNeuron<S>, FusedSpikingNeuron {
    @Parameter public var w: Tensor
    public let decayInput: Bool

    public init(
        initialTau: Float = 2, threshold: Float = 1, reset: Reset = .hard(to: 0), detachReset: Bool = false,
        decayInput: Bool = true, surrogate: S
    ) {
        precondition(initialTau > 1, "PLIF: initial τ must be > 1 (got \(initialTau))")
        w = Tensor([-Foundation.log(initialTau - 1)])
        self.decayInput = decayInput
        super.init(
            charge: decayInput ? .leakyDecayedInput : .leakyUndecayedInput, threshold: threshold, reset: reset,
            detachReset: detachReset, surrogate: surrogate)
    }

    /// The current τ = 1/σ(w).
    public var tau: Float { 1 / decay }

    override var decay: Float { 1 / (1 + Foundation.exp(-w.scalars[0])) }

    /// 1/τ = σ(w), so ∂(1/τ)/∂w = σ(w)(1 − σ(w)).
    override var learnedDecay: LearnedDecay? {
        let k = decay
        return LearnedDecay(parameter: w, derivative: k * (1 - k))
    }

    public func charge(membrane: Tensor, input: Tensor) -> Tensor {
        let vr = resetMode.restingPotential
        let k = w.sigmoid()
        return decayInput ? membrane + (input - (membrane - vr)) * k : membrane - (membrane - vr) * k + input
    }
}

extension LearnedDecay {
    /// ∂L/∂parameter from ∂L/∂(1/τ).
    func gradient(_ gradDecay: Float) -> Tensor { Tensor(shape: parameter.shape, scalars: [gradDecay * derivative]) }
}

/// The constants of a stateful neuron layer (IF, LIF, PLIF at its current τ), as exporters to other
/// frameworks need them: h = v + x for IF; h = v + (x − (v − v_r))/τ for LIF with decayed input,
/// h = v − (v − v_r)/τ + x without.
public struct StatefulNeuronDescription: Sendable, Equatable {
    /// τ in time steps; nil for IF (no leak).
    public var tau: Float?
    public var threshold: Float
    public var reset: Reset
    public var decayInput: Bool
}

extension FusedNeuron {
    /// This layer's constants (PLIF: its τ as learned so far).
    public var neuronDescription: StatefulNeuronDescription {
        switch chargeRule {
        case .integrate: StatefulNeuronDescription(tau: nil, threshold: threshold, reset: resetMode, decayInput: true)
        case .leakyDecayedInput:
            StatefulNeuronDescription(tau: 1 / decay, threshold: threshold, reset: resetMode, decayInput: true)
        case .leakyUndecayedInput:
            StatefulNeuronDescription(tau: 1 / decay, threshold: threshold, reset: resetMode, decayInput: false)
        }
    }
}

/// A layer that can describe itself as a stateful neuron (IF, LIF, PLIF), whatever its surrogate.
public protocol StatefulNeuronDescribing {
    var neuronDescription: StatefulNeuronDescription { get }
}

extension IF: StatefulNeuronDescribing {}
extension LIF: StatefulNeuronDescribing {}
extension PLIF: StatefulNeuronDescribing {}
