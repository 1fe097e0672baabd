import CSNNKernels
import Foundation
import SNNTensor
import Testing

@testable import SNNNeurons

/// The C neuron kernels (every ISA variant this CPU runs) against the Swift kernels they replace:
/// spikes, membrane and input gradients bit for bit, over every charge, reset and surrogate, with
/// and without MSG masks; the learned decay's gradient (a sum in another order) to float rounding.
struct NativeNeuronKernelTests {
    struct Case: CustomStringConvertible {
        var charge: Charge
        var reset: Reset
        var detach: Bool
        var surrogate: SurrogateChoice
        var steps: Int
        var neurons: Int
        var description: String { "\(charge) \(reset) detach \(detach) \(surrogate) [\(steps), \(neurons)]" }
    }

    /// Every charge × reset × detach with the arctangent, and every surrogate with LIF, on sizes that
    /// leave vector tails and (20 011 neurons) split into several chunks.
    static let cases: [Case] = {
        var cases: [Case] = []
        for charge in [Charge.integrate, .leakyDecayedInput, .leakyUndecayedInput] {
            for reset in [Reset.hard(to: 0), .hard(to: -0.25), .soft, .none] {
                for detach in [true, false] {
                    cases.append(
                        Case(
                            charge: charge, reset: reset, detach: detach, surrogate: .arctangent(alpha: 2), steps: 5,
                            neurons: 1003))
                }
            }
        }
        let surrogates: [SurrogateChoice] = [
            .qgate(alpha: 2), .sigmoid(alpha: 4), .rectangular(alpha: 1), .piecewiseLinear(alpha: 1),
            .superSpike(alpha: 10), .erf(alpha: 2),
        ]
        for surrogate in surrogates {
            cases.append(
                Case(
                    charge: .leakyDecayedInput, reset: .hard(to: 0), detach: false, surrogate: surrogate, steps: 3,
                    neurons: 517))
        }
        cases.append(
            Case(
                charge: .leakyUndecayedInput, reset: .soft, detach: false, surrogate: .arctangent(alpha: 2), steps: 1,
                neurons: 20_011))
        cases.append(
            Case(
                charge: .leakyDecayedInput, reset: .hard(to: 0), detach: true, surrogate: .arctangent(alpha: 2),
                steps: 40, neurons: 777))
        return cases
    }()

    /// nil when `a` and `b` are equal bit for bit, else where they first differ and how often.
    static func difference(_ a: Tensor, _ b: Tensor) -> String? {
        let (x, y) = (a.scalars, b.scalars)
        let differing = x.indices.filter { x[$0].bitPattern != y[$0].bitPattern }
        guard let first = differing.first else { return nil }
        return "\(differing.count) of \(x.count) differ, first at \(first): \(x[first]) vs \(y[first])"
    }

    /// Runs one case through the Swift reference and the C kernels of `isa`, with the given mask.
    static func check(_ k: Case, isa: Int32, mask: MaskStream?, substitute: SurrogateChoice?) {
        let c = NeuronKernelConfiguration(
            charge: k.charge, decay: 0.4, threshold: 0.6, reset: k.reset, detachReset: k.detach)
        var g = RandomGenerator(seed: UInt64(k.steps * 31 + k.neurons))
        let shape = [k.steps, k.neurons]
        let x = Tensor.randomNormal(shape, mean: 0.3, standardDeviation: 1, using: &g)
        let gradSpikes = Tensor.randomNormal(shape, using: &g)
        let gradMembrane = Tensor.randomNormal(shape, using: &g)
        k.surrogate.withSurrogate { surrogate in
            func run<S: Surrogate>(_ s: S) {
                let spikes = Tensor(zeros: shape), charged = Tensor(zeros: shape), membrane = Tensor(zeros: shape)
                NeuronKernels.forward(
                    c, x: x.unsafeStoragePointer, steps: k.steps, neurons: k.neurons,
                    spikes: spikes.unsafeStoragePointer, charged: charged.unsafeStoragePointer,
                    membrane: membrane.unsafeStoragePointer)
                guard let p = NativeNeuronKernels.parameters(c, surrogate: s, mask: mask, substitute: substitute)
                else {
                    Issue.record("\(S.self) has no C kernel")
                    return
                }
                let nativeSpikes = Tensor(zeros: shape), nativeMembrane = Tensor(zeros: shape)
                let count = NativeNeuronKernels.forward(
                    p, x: x.unsafeStoragePointer, steps: k.steps, neurons: k.neurons,
                    spikes: nativeSpikes.unsafeStoragePointer, membrane: nativeMembrane.unsafeStoragePointer, isa: isa)
                #expect(difference(nativeSpikes, spikes) == nil, "spikes: \(k)")
                #expect(difference(nativeMembrane, membrane) == nil, "membrane: \(k)")
                #expect(count == spikes.scalars.reduce(0) { $0 + Double($1) }, "spike count: \(k)")
                for withMembraneGradient in [false, true] {
                    let reference = Tensor(zeros: shape), native = Tensor(zeros: shape)
                    let membraneGradient = withMembraneGradient ? gradMembrane.unsafeStoragePointer : nil
                    let referenceDecay = withMasking(mask, substitute) { masking in
                        NeuronKernels.backward(
                            c, surrogate: s, charged: charged.unsafeStoragePointer, x: x.unsafeStoragePointer,
                            gradSpikes: gradSpikes.unsafeStoragePointer, gradMembrane: membraneGradient,
                            steps: k.steps, neurons: k.neurons, gradInput: reference.unsafeStoragePointer,
                            wantDecay: true, masking: masking)
                    }
                    let nativeDecay = NativeNeuronKernels.backward(
                        p, x: x.unsafeStoragePointer, gradSpikes: gradSpikes.unsafeStoragePointer,
                        gradMembrane: membraneGradient, steps: k.steps, neurons: k.neurons,
                        gradInput: native.unsafeStoragePointer, wantDecay: true, isa: isa)
                    #expect(
                        difference(native, reference) == nil,
                        "∂L/∂X (∂L/∂V given: \(withMembraneGradient), mask \(mask != nil)): \(k)")
                    // Both sum float products over [T, N] in different orders (lanes vs rows).
                    let scale = max(1, abs(referenceDecay))
                    #expect(abs(nativeDecay - referenceDecay) <= 1e-4 * scale, "∂L/∂k: \(k)")
                    let skipped = NativeNeuronKernels.backward(
                        p, x: x.unsafeStoragePointer, gradSpikes: gradSpikes.unsafeStoragePointer,
                        gradMembrane: membraneGradient, steps: k.steps, neurons: k.neurons,
                        gradInput: native.unsafeStoragePointer, wantDecay: false, isa: isa)
                    #expect(skipped == 0 && difference(native, reference) == nil)
                }
            }
            run(surrogate)
        }
    }

    static func checkAll(isa: Int32) {
        let zeroMask = MaskStream(key: 7, probability: 0.3)
        for k in cases {
            check(k, isa: isa, mask: nil, substitute: nil)
            check(k, isa: isa, mask: zeroMask, substitute: nil)
            check(k, isa: isa, mask: MaskStream(key: 9, probability: 0.5), substitute: .superSpike(alpha: 5))
        }
    }

    @Test func baselineKernelsEqualTheSwiftReference() {
        Self.checkAll(isa: Int32(SNN_ISA_BASELINE.rawValue))
    }

    @Test(.enabled(if: snn_neuron_isa_supported(Int32(SNN_ISA_AVX2.rawValue)) != 0, "this CPU has no AVX2"))
    func avx2KernelsEqualTheSwiftReference() {
        Self.checkAll(isa: Int32(SNN_ISA_AVX2.rawValue))
    }

    @Test(.enabled(if: snn_neuron_isa_supported(Int32(SNN_ISA_AVX512.rawValue)) != 0, "this CPU has no AVX-512"))
    func avx512KernelsEqualTheSwiftReference() {
        Self.checkAll(isa: Int32(SNN_ISA_AVX512.rawValue))
    }

    @Test func triadMatchesItsDefinitionOnEveryVariant() {
        var g = RandomGenerator(seed: 3)
        let b = Tensor.randomNormal([1001], using: &g), c = Tensor.randomNormal([1001], using: &g)
        let expected = zip(b.scalars, c.scalars).map { $0 + 1.5 * $1 }
        for isa in [SNN_ISA_BASELINE, SNN_ISA_AVX2, SNN_ISA_AVX512].map({ Int32($0.rawValue) })
        where snn_neuron_isa_supported(isa) != 0 {
            let a = Tensor(zeros: [1001])
            snn_triad(isa, a.unsafeStoragePointer, b.unsafeStoragePointer, c.unsafeStoragePointer, 1.5, 0, 1001)
            #expect(a.scalars == expected, "isa \(isa)")
        }
    }
}
