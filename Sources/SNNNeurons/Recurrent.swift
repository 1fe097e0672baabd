import SNNLayers
import SNNTensor

/// Spiking neurons with all-to-all recurrent connections (SpikingJelly's `LinearRecurrentContainer`,
/// snnTorch's `RLeaky` with a full feedback matrix). Per step t, with S[−1] = 0:
///
///     H[t] = charge(V[t−1], X[t] + W·S[t−1]),   S[t] = fire(H[t]),   V[t] = reset(H[t], S[t])
///
/// X is the already-projected input `[T, N, F]` (a Linear layer, and BN, before this one); W is
/// `[F, F]`. The feedback makes the steps sequential: IF, LIF and PLIF run them in one fused primitive
/// (a GEMM and the neuron's step per step, no tape node per step; ``FusedRecurrence``), other neurons
/// step by step through their composed single-step operations. Spike statistics are counted on the
/// neuron, which is the layer's child (so a PLIF's τ is a parameter of the model).
public final class RecurrentSpiking: Module, Layer {
    public let neuron: any SpikingNeuron
    @Parameter public var weight: Tensor

    /// `features` neurons fed back to themselves; W ~ U(−1/√F, 1/√F), as a Linear of F inputs.
    public init(features: Int, neuron: any SpikingNeuron) {
        precondition(features > 0, "RecurrentSpiking: features must be positive, got \(features)")
        self.neuron = neuron
        weight = Initializer.uniform([features, features], bound: 1 / Float(features).squareRoot())
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        let features = weight.shape[0]
        precondition(
            input.rank == 3 && input.shape[0] >= 1 && input.shape[2] == features,
            "RecurrentSpiking: input must be [T, N, \(features)], got \(input.shape)")
        let steps = input.shape[0], batch = input.shape[1]
        let output = (neuron as? FusedRecurrence)?.recurrent(input, weight: weight) ?? stepByStep(input)
        neuron.statistics?.add(spikes: output, neuronsPerSample: features)
        if let counter = OperationCounter.current, steps > 1 {
            // The feedback of steps 0…T−2 drives steps 1…T−1: one accumulate per spike and target.
            counter.record(
                layer: self, macs: Double((steps - 1) * batch * weight.count),
                input: output.slice(0..<(steps - 1)), samples: batch)
        }
        return output
    }

    /// The layer through the neuron's composed single-step operations: how neurons without a fused
    /// recurrence run, and the reference of the fused one.
    public func stepByStep(_ input: Tensor) -> Tensor {
        var v = neuron.restingState(like: input.selecting(0))
        var previous: Tensor?
        var spikes: [Tensor] = []
        spikes.reserveCapacity(input.shape[0])
        for t in 0..<input.shape[0] {
            var x = input.selecting(t)
            if let previous { x = x + Tensor.matmul(previous, weight, transposeB: true) }
            let h = neuron.charge(membrane: v, input: x)
            let s = neuron.fire(h)
            v = neuron.reset(h, spikes: s)
            spikes.append(s)
            previous = s
        }
        return Tensor.stack(spikes)
    }
}

/// Neurons whose recurrent layer runs as one fused primitive (IF, LIF, PLIF).
protocol FusedRecurrence: AnyObject {
    /// The spikes `[T, N, F]` of ``RecurrentSpiking`` for `input` `[T, N, F]` and feedback `weight`
    /// `[F, F]`, as one node of the tape.
    func recurrent(_ input: Tensor, weight: Tensor) -> Tensor
}

extension FusedNeuron: FusedRecurrence {
    /// Forward: per step, the drive X[t] + S[t−1]·Wᵀ (one GEMM) and the neuron's step, keeping the
    /// pre-reset membrane H. Backward, from the last step: ∂H[t] from the output's and the feedback's
    /// ∂S[t] and the carried ∂V[t], ∂X[t] = ∂drive[t], the feedback's ∂S[t−1] = ∂drive[t]·W (one GEMM
    /// per step), and at the end ∂W = Σₜ ∂drive[t]ᵀ·S[t−1] as one GEMM. The arithmetic of each step is
    /// the fused kernel's (``NeuronKernels``); MSG masks index elements as the kernel does (t·N·F + i).
    func recurrent(_ input: Tensor, weight: Tensor) -> Tensor {
        let steps = input.shape[0], batch = input.shape[1], features = input.shape[2]
        let m = batch * features, lanes = NeuronVector.scalarCount
        let c = configuration, surrogate = surrogate, learned = learnedDecay
        let x = input.detached, w = weight.detached
        let spikes = Tensor(uninitializedShape: input.shape), charged = Tensor(uninitializedShape: input.shape)
        let ps = spikes.unsafeStoragePointer, ph = charged.unsafeStoragePointer
        // A learned decay's gradient needs each step's drive (∂H/∂k of the decayed-input charge).
        let drives = learned != nil ? Tensor(uninitializedShape: input.shape) : nil
        var v = [Float](repeating: c.restingPotential, count: m)
        for t in 0..<steps {
            var drive = x.selecting(t)
            if t > 0 {
                drive = drive + Tensor.matmul(spikes.selecting(t - 1), w, transposeB: true)
            }
            let pd = drive.unsafeStoragePointer
            drives?.unsafeStoragePointer.advanced(by: t * m).update(from: pd, count: m)
            v.withUnsafeMutableBufferPointer { vb in
                guard let pv = vb.baseAddress else { return }
                for i in stride(from: 0, to: m, by: lanes) {
                    let count = Swift.min(lanes, m - i), o = t * m + i
                    let h = NeuronKernels.chargeStep(c, loadLanes(pv + i, count), loadLanes(pd + i, count))
                    let fired = h .>= c.threshold
                    storeLanes(h, ph + o, count)
                    storeLanes(NeuronVector(repeating: 0).replacing(with: 1, where: fired), ps + o, count)
                    storeLanes(NeuronKernels.resetStep(c, h, fired), pv + i, count)
                }
            }
        }
        let inputs = [input, weight] + (learned.map { [$0.parameter] } ?? [])
        let mask = nextMaskStream(), substitute = gradientMask?.substitute
        return Tensor(spikes, inputs: inputs) { g, needs in
            let (gx, gradDecay) = withMasking(mask, substitute) { masking in
                Self.recurrentBackward(
                    c, surrogate: surrogate, charged: charged, drives: drives, weight: w, gradSpikes: g,
                    masking: masking)
            }
            // ∂W = Σ_{t ≥ 1} ∂drive[t]ᵀ·S[t − 1], the steps stacked into one product.
            var gw: Tensor? = nil
            if needs[1] {
                gw =
                    steps > 1
                    ? Tensor.matmul(
                        gx.slice(1..<steps).reshaped(to: [(steps - 1) * batch, features]),
                        spikes.slice(0..<(steps - 1)).reshaped(to: [(steps - 1) * batch, features]),
                        transposeA: true)
                    : Tensor(zeros: [features, features])
            }
            return [needs[0] ? gx : nil, gw] + (learned.map { [$0.gradient(gradDecay)] } ?? [])
        }
    }

    /// BPTT through the recurrence: returns ∂drive `[T, N, F]` (which is ∂X) and ∂L/∂k, computed when
    /// the forward pass kept the `drives` (a learned decay).
    static func recurrentBackward<M: SurrogateMasking>(
        _ c: NeuronKernelConfiguration, surrogate: S, charged: Tensor, drives: Tensor?, weight: Tensor,
        gradSpikes: Tensor, masking: M
    ) -> (Tensor, Float) {
        let steps = charged.shape[0], batch = charged.shape[1], features = charged.shape[2]
        let m = batch * features, lanes = NeuronVector.scalarCount
        let gx = Tensor(uninitializedShape: charged.shape)
        let ph = charged.unsafeStoragePointer, pg = gradSpikes.unsafeStoragePointer, pgx = gx.unsafeStoragePointer
        let pdrive = drives?.unsafeStoragePointer
        let decayV: Float = c.charge == .integrate ? 1 : 1 - c.decay
        let inputScale: Float = c.charge == .leakyDecayedInput ? c.decay : 1
        var carry = [Float](repeating: 0, count: m)
        var feedback = Tensor(zeros: [batch, features])
        var kSum = 0.0
        for t in stride(from: steps - 1, through: 0, by: -1) {
            let pf = feedback.unsafeStoragePointer
            carry.withUnsafeMutableBufferPointer { cb in
                guard let pc = cb.baseAddress else { return }
                var kStep = NeuronVector()
                for i in stride(from: 0, to: m, by: lanes) {
                    let count = Swift.min(lanes, m - i), o = t * m + i
                    let h = loadLanes(ph + o, count)
                    let fired = h .>= c.threshold
                    let sg = masking.apply(surrogate.derivative(h - c.threshold), at: h - c.threshold, index: o)
                    let dVdH = NeuronKernels.resetDerivative(c, h, fired: fired, surrogate: sg)
                    let gS = loadLanes(pg + o, count) + loadLanes(pf + i, count)
                    let gH = gS * sg + loadLanes(pc + i, count) * dVdH
                    storeLanes(gH * inputScale, pgx + o, count)
                    storeLanes(gH * decayV, pc + i, count)
                    if let pdrive {
                        var vPrev = NeuronVector(repeating: c.restingPotential)
                        if t > 0 {
                            let hp = loadLanes(ph + o - m, count)
                            vPrev = NeuronKernels.resetStep(c, hp, hp .>= c.threshold)
                        }
                        let leak = vPrev - c.restingPotential
                        switch c.charge {
                        case .integrate: break
                        case .leakyDecayedInput: kStep += gH * (loadLanes(pdrive + o, count) - leak)
                        case .leakyUndecayedInput: kStep += gH * -leak
                        }
                    }
                }
                kSum += Double(kStep.sum())
            }
            if t > 0 { feedback = Tensor.matmul(gx.selecting(t), weight) }
        }
        return (gx, Float(kSum))
    }
}
