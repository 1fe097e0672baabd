import Foundation
import SNN
import SNNTestSupport
import Testing

/// Masked surrogate gradients (MSG): p = 0 is the plain surrogate, p = 1 removes it (or swaps in the
/// substitute), masks follow p, and a seed fixes them.
@Suite struct MaskedGradientTests {
    func inputGradient(_ layer: any Layer, _ x: Tensor, seed upstream: Tensor) -> Tensor {
        GradientTape.record { tape in
            let xw = tape.watch(x)
            return tape.gradients(of: layer(xw), withRespectTo: [xw], seed: upstream)[0]
        }
    }

    func lif(_ surrogate: SurrogateChoice = .arctangent(alpha: 2), detach: Bool = true, reset: Reset = .hard(to: 0))
        -> any Layer
    {
        NeuronConfiguration(
            kind: .leakyIntegrateAndFire, surrogate: surrogate, tau: 2, threshold: 0.5, reset: reset,
            detachReset: detach
        ).make()
    }

    func mask(_ layer: any Layer, _ m: SurrogateGradientMask?, seed: UInt64 = 1) {
        let neuron = layer as! SurrogateGradientMasking
        neuron.gradientMask = m
        neuron.reseedGradientMask(seed)
    }

    let x = randomTensor([6, 4, 300], seed: 1, scale: 1.5)
    let g = randomTensor([6, 4, 300], seed: 2)

    @Test(arguments: [Reset.hard(to: 0), .soft], [true, false])
    func probabilityZeroIsThePlainSurrogateExactly(_ reset: Reset, _ detach: Bool) {
        let plain = lif(detach: detach, reset: reset), masked = lif(detach: detach, reset: reset)
        mask(masked, SurrogateGradientMask(probability: 0))
        #expect(inputGradient(masked, x, seed: g).scalars == inputGradient(plain, x, seed: g).scalars)
    }

    @Test(arguments: [Reset.hard(to: 0), .soft], [true, false])
    func probabilityOneRemovesTheInputGradient(_ reset: Reset, _ detach: Bool) {
        let masked = lif(detach: detach, reset: reset)
        mask(masked, SurrogateGradientMask(probability: 1))
        #expect(inputGradient(masked, x, seed: g).scalars.allSatisfy { $0 == 0 })
        // …and with a substitute every entry uses it: the same as training with that surrogate (detached reset).
        if detach {
            let substituted = lif(detach: true, reset: reset)
            mask(substituted, SurrogateGradientMask(probability: 1, substitute: .sigmoid(alpha: 4)))
            let reference = lif(.sigmoid(alpha: 4), detach: true, reset: reset)
            #expect(inputGradient(substituted, x, seed: g).scalars == inputGradient(reference, x, seed: g).scalars)
        }
    }

    @Test(arguments: [0.25, 0.5, 0.8])
    func maskedFractionMatchesTheProbability(_ p: Float) {
        // One step: ∂L/∂x = g·k·σ'(h − θ) with σ' > 0 everywhere, so the zeros are exactly the masked entries.
        let x = randomTensor([1, 50, 2000], seed: 3), g = Tensor(ones: [1, 50, 2000])
        let masked = lif()
        mask(masked, SurrogateGradientMask(probability: p))
        let first = inputGradient(masked, x, seed: g).scalars.map { $0 == 0 }
        let second = inputGradient(masked, x, seed: g).scalars.map { $0 == 0 }
        let n = Double(first.count), fraction = Double(first.filter { $0 }.count) / n
        let sigma = (Double(p) * Double(1 - p) / n).squareRoot()
        #expect(abs(fraction - Double(p)) < 6 * sigma, "masked \(fraction), expected \(p)")
        // A fresh mask each backward pass: the two passes overlap like independent draws (p²).
        let both = Double(zip(first, second).filter { $0 && $1 }.count) / n
        #expect(abs(both - Double(p * p)) < 6 * (Double(p * p) * Double(1 - p * p) / n).squareRoot())
    }

    @Test func theSeedFixesTheMasks() {
        func gradients(seed: UInt64) -> [[Float]] {
            let layer = lif()
            mask(layer, SurrogateGradientMask(probability: 0.5), seed: seed)
            return (0..<2).map { _ in inputGradient(layer, x, seed: g).scalars }
        }
        let a = gradients(seed: 7), b = gradients(seed: 7), c = gradients(seed: 8)
        #expect(a == b)
        #expect(a[0] != a[1])
        #expect(a[0] != c[0])
        // Inference passes draw nothing: evaluation between training steps leaves the stream alone.
        let layer = lif()
        mask(layer, SurrogateGradientMask(probability: 0.5), seed: 7)
        layer.eval()
        _ = layer(x)
        layer.train()
        #expect(inputGradient(layer, x, seed: g).scalars == a[0])
    }

    @Test func setOnAModelGivesEachLayerItsOwnStream() {
        let model = GlobalRandom.withSeed(1) {
            ModelConfiguration(
                name: .spikingMLP, inputShape: [20], classes: 3,
                neuron: NeuronConfiguration(kind: .leakyIntegrateAndFire), widths: [16, 16]
            ).make()
        }
        setSurrogateGradientMask(SurrogateGradientMask(probability: 0.5), on: model, seed: 3)
        let neurons = model.namedModules().compactMap { $0.1 as? SurrogateGradientMasking }
        #expect(neurons.count == 2 && neurons.allSatisfy { $0.gradientMask?.probability == 0.5 })
        let probe = Tensor(ones: [1, 64, 16])
        let masks = neurons.map { n -> [Float] in
            inputGradient(n as! any Layer, probe, seed: Tensor(ones: [1, 64, 16])).scalars
        }
        #expect(masks[0] != masks[1])
    }
}

/// MSG in the PSN family's fused kernel and in the PSU family (fused PSU, composed IPSU/RPSU).
@Suite struct ParallelMaskedGradientTests {
    func make(_ kind: NeuronKind, _ surrogate: SurrogateChoice = .arctangent(alpha: 2)) -> any Layer {
        GlobalRandom.withSeed(5) {
            NeuronConfiguration(kind: kind, surrogate: surrogate, timeSteps: 6, order: 3).make()
        }
    }

    func gradients(_ layer: any Layer, _ x: Tensor, _ g: Tensor) -> [[Float]] {
        let parameters = layer.namedParameters().map(\.parameter)
        return GradientTape.record { tape in
            let xw = tape.watch(x)
            for p in parameters { p.wrappedValue = tape.watch(p.wrappedValue) }
            defer { for p in parameters { p.wrappedValue = p.wrappedValue.detached } }
            return tape.gradients(of: layer(xw), withRespectTo: [xw] + parameters.map(\.wrappedValue), seed: g).map(
                \.scalars)
        }
    }

    @Test(arguments: [NeuronKind.psn, .maskedPSN, .slidingPSN, .psu, .ipsu, .rpsu])
    func zeroOneAndSubstitute(_ kind: NeuronKind) {
        let x = randomTensor([6, 3, 200], seed: 1, scale: 2), g = randomTensor([6, 3, 200], seed: 2)
        let plain = make(kind), zero = make(kind), one = make(kind), substituted = make(kind)
        for (layer, p, sub) in [
            (zero, Float(0), SurrogateChoice?.none), (one, 1, nil), (substituted, 1, .sigmoid(alpha: 4)),
        ] {
            let m = layer as! SurrogateGradientMasking
            m.gradientMask = SurrogateGradientMask(probability: p, substitute: sub)
            m.reseedGradientMask(3)
        }
        #expect(gradients(zero, x, g) == gradients(plain, x, g))
        #expect(gradients(one, x, g).allSatisfy { $0.allSatisfy { $0 == 0 } })
        if [.psu, .ipsu, .rpsu].contains(kind) {
            // The PSU family's surrogate is its own learnable arctangent: a substitute for every entry
            // changes the input gradient and leaves ∂α at zero (masked entries add nothing to it).
            let s = gradients(substituted, x, g), p = gradients(plain, x, g)
            #expect(s[0] != p[0] && s[0].contains { $0 != 0 })
            let alphaIndex = substituted.namedParameters().firstIndex { $0.path == "alpha" }! + 1
            #expect(s[alphaIndex] == [0])
        } else {
            #expect(gradients(substituted, x, g) == gradients(make(kind, .sigmoid(alpha: 4)), x, g))
        }
    }

    /// The PSU family with a fixed surrogate (QGate) masks like the PSN family: p = 0 is the plain
    /// surrogate, p = 1 removes it, and p = 1 with a substitute equals training with the substitute.
    @Test(arguments: [NeuronKind.psu, .ipsu, .rpsu])
    func psuFamilyWithQGate(_ kind: NeuronKind) {
        let x = randomTensor([6, 3, 200], seed: 4, scale: 2), g = randomTensor([6, 3, 200], seed: 5)
        let plain = make(kind, .qgate(alpha: 2)), zero = make(kind, .qgate(alpha: 2)),
            one = make(kind, .qgate(alpha: 2))
        let half = make(kind, .qgate(alpha: 2)), substituted = make(kind, .qgate(alpha: 2))
        let settings: [(any Layer, Float, SurrogateChoice?)] = [
            (zero, 0, nil), (one, 1, nil), (half, 0.5, nil),
            (substituted, 1, .sigmoid(alpha: 4)),
        ]
        for (layer, p, sub) in settings {
            let m = layer as! SurrogateGradientMasking
            m.gradientMask = SurrogateGradientMask(probability: p, substitute: sub)
            m.reseedGradientMask(3)
        }
        let reference = gradients(plain, x, g)
        #expect(reference[0].contains { $0 != 0 })
        #expect(gradients(zero, x, g) == reference)
        #expect(gradients(one, x, g).allSatisfy { $0.allSatisfy { $0 == 0 } })
        #expect(gradients(substituted, x, g) == gradients(make(kind, .sigmoid(alpha: 4)), x, g))
        // p = 1/2: an input gradient that is neither the plain one nor zero.
        let masked = gradients(half, x, g)[0]
        #expect(masked != reference[0] && masked.contains { $0 != 0 })
    }
}
