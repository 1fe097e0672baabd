import Foundation
import SNN
import SNNTestSupport
import Testing

/// ``RecurrentSpiking`` against SpikingJelly's `LinearRecurrentContainer` with its connection fixed to
/// [I, W] (fixtures from make_recurrent_reference.py).
@Suite struct RecurrentTests {
    static let fixture: JSONFixture = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
            .appendingPathComponent("recurrent_reference.json")
        return try! JSONFixture(url: url)
    }()

    static var caseNames: [String] { (fixture.value("cases") as! [String: Any]).keys.sorted() }

    /// The layer of one case, and access to the PLIF's parameter when the neuron is one.
    static func layer(_ name: String) -> (RecurrentSpiking, plif: (get: () -> Tensor, set: (Tensor) -> Void)?) {
        let f = fixture, c = "cases/\(name)/"
        let features = f.ints("shape")[2]
        let threshold = f.float(c + "threshold")
        let reset: Reset = (f.value(c + "v_reset") as? NSNumber).map { .hard(to: $0.floatValue) } ?? .soft
        let detach = f.value(c + "detach_reset") as! Bool, decay = f.value(c + "decay_input") as! Bool
        let choice = SurrogateChoice(name: f.value(c + "surrogate") as! String, alpha: f.float(c + "alpha"))!
        func make<S: Surrogate>(_ s: S) -> (RecurrentSpiking, plif: (get: () -> Tensor, set: (Tensor) -> Void)?) {
            switch f.value(c + "kind") as! String {
            case "if":
                return (
                    RecurrentSpiking(
                        features: features,
                        neuron: IF(threshold: threshold, reset: reset, detachReset: detach, surrogate: s)), nil
                )
            case "lif":
                let n = LIF(
                    tau: f.float(c + "tau"), threshold: threshold, reset: reset, detachReset: detach, decayInput: decay,
                    surrogate: s)
                return (RecurrentSpiking(features: features, neuron: n), nil)
            default:
                let n = PLIF(
                    initialTau: f.float(c + "tau"), threshold: threshold, reset: reset, detachReset: detach,
                    decayInput: decay, surrogate: s)
                return (RecurrentSpiking(features: features, neuron: n), ({ n.w }, { n.w = $0 }))
            }
        }
        let (layer, plif) = choice.withSurrogate { make($0) }
        layer.weight = f.tensor(c + "w", shape: [features, features])
        return (layer, plif)
    }

    @Test(arguments: caseNames)
    func matchesSpikingJellyLinearRecurrentContainer(_ name: String) {
        let f = Self.fixture, c = "cases/\(name)/"
        let shape = f.ints("shape"), features = shape[2]
        let x = f.tensor(c + "x", shape: shape), r = f.tensor(c + "r", shape: shape)
        let (layer, plif) = Self.layer(name)
        var spikes = Tensor(0)
        let sources = [x, layer.weight] + (plif.map { [$0.get()] } ?? [])
        let (_, grads) = valueWithGradient(at: sources) { t in
            layer.weight = t[1]
            if t.count > 2 { plif?.set(t[2]) }
            let s = layer(t[0])
            spikes = s.detached
            return (s * r).sum()
        }
        #expect(spikes.scalars == f.floats(c + "spikes"), "spikes differ")
        #expect(relativeError(grads[0], f.tensor(c + "x_grad", shape: shape)) < 1e-4)
        #expect(relativeError(grads[1], f.tensor(c + "w_grad", shape: [features, features])) < 1e-4)
        if grads.count > 2 {
            #expect(abs(plif!.get().item - f.float(c + "plif_w")) < 1e-6)
            let expected = f.float(c + "plif_w_grad")
            #expect(
                abs(grads[2].item - expected) <= 1e-4 * max(1, abs(expected)),
                "PLIF w gradient \(grads[2].item) vs \(expected)")
        }
    }

    /// With W = 0 the layer is its neuron: the fused kernel's spikes and input gradient.
    @Test func zeroFeedbackIsThePlainNeuron() {
        let x = Tensor(shape: [9, 4, 6], scalars: (0..<216).map { Float(sin(Double($0) * 0.37)) * 1.6 + 0.4 })
        let r = Tensor(shape: [9, 4, 6], scalars: (0..<216).map { Float(cos(Double($0) * 0.91)) })
        let neuron = LIF(tau: 2, surrogate: Arctangent(alpha: 2))
        let layer = RecurrentSpiking(features: 6, neuron: neuron)
        layer.weight = Tensor(zeros: [6, 6])
        let (_, recurrent) = valueWithGradient(at: [x]) { t in (layer(t[0]) * r).sum() }
        let (_, plain) = valueWithGradient(at: [x]) { t in (neuron(t[0]) * r).sum() }
        #expect(layer(x).scalars == neuron(x).scalars)
        #expect(relativeError(recurrent[0], plain[0]) < 1e-5)
    }

    /// The fused recurrence against the layer's step-by-step composition, for IF, LIF (both charges,
    /// both resets, reset attached) and PLIF: spikes exactly, ∂x, ∂W and PLIF's ∂w to float rounding.
    @Test(arguments: ["if", "lif", "lif-undecayed", "plif"])
    func fusedRecurrenceEqualsStepByStep(_ kind: String) {
        let shape = [7, 5, 19]
        let x = Tensor(shape: shape, scalars: (0..<665).map { Float(sin(Double($0) * 0.37)) * 1.4 + 0.5 })
        let r = Tensor(shape: shape, scalars: (0..<665).map { Float(cos(Double($0) * 0.91)) })
        let surrogate = Arctangent(alpha: 2)
        let neuron: any SpikingNeuron & Module
        var plif: PLIF<Arctangent>?
        switch kind {
        case "if": neuron = IF(threshold: 0.8, reset: .soft, detachReset: false, surrogate: surrogate)
        case "lif": neuron = LIF(tau: 2, threshold: 1, reset: .hard(to: 0), detachReset: false, surrogate: surrogate)
        case "lif-undecayed":
            neuron = LIF(tau: 3, threshold: 1, reset: .soft, detachReset: true, decayInput: false, surrogate: surrogate)
        default:
            let p = PLIF(initialTau: 2.5, threshold: 1, reset: .hard(to: 0), detachReset: false, surrogate: surrogate)
            plif = p
            neuron = p
        }
        let layer = RecurrentSpiking(features: 19, neuron: neuron)
        layer.weight = layer.weight * 1.5
        let w0 = layer.weight
        let sources = [x, w0] + (plif.map { [$0.w] } ?? [])
        func run(_ f: @escaping (Tensor) -> Tensor) -> (Tensor, [Tensor]) {
            var out = Tensor(0)
            let (_, g) = valueWithGradient(at: sources) { t in
                layer.weight = t[1]
                if let plif { plif.w = t[2] }
                let s = f(t[0])
                out = s.detached
                return (s * r).sum()
            }
            layer.weight = w0
            if let plif { plif.w = sources[2] }
            return (out, g)
        }
        let fused = run { layer($0) }, reference = run { layer.stepByStep($0) }
        #expect(fused.0.scalars == reference.0.scalars)
        for k in fused.1.indices {
            #expect(relativeError(fused.1[k], reference.1[k]) < 1e-5, "\(kind): gradient \(k)")
        }
    }

    /// MSG masks the fused recurrence as it masks the neuron's own kernel (same stream, element
    /// t·N·F + i): with W = 0 the masked layer's input gradient is the masked neuron's. (The
    /// step-by-step composition applies no mask, so it cannot be the reference here.)
    @Test func maskedZeroFeedbackIsTheMaskedNeuron() {
        let x = Tensor(shape: [9, 4, 6], scalars: (0..<216).map { Float(sin(Double($0) * 0.37)) * 1.6 + 0.4 })
        let r = Tensor(shape: [9, 4, 6], scalars: (0..<216).map { Float(cos(Double($0) * 0.91)) })
        let neuron = LIF(tau: 2, surrogate: Arctangent(alpha: 2))
        let layer = RecurrentSpiking(features: 6, neuron: neuron)
        layer.weight = Tensor(zeros: [6, 6])
        let mask = SurrogateGradientMask(probability: 0.4)
        setSurrogateGradientMask(mask, on: layer, seed: 5)
        let (_, recurrent) = valueWithGradient(at: [x]) { t in (layer(t[0]) * r).sum() }
        setSurrogateGradientMask(mask, on: neuron, seed: 5)
        let (_, plain) = valueWithGradient(at: [x]) { t in (neuron(t[0]) * r).sum() }
        setSurrogateGradientMask(nil, on: neuron, seed: 5)
        let (_, unmasked) = valueWithGradient(at: [x]) { t in (neuron(t[0]) * r).sum() }
        #expect(recurrent[0].scalars == plain[0].scalars)
        #expect(relativeError(plain[0], unmasked[0]) > 0.05, "the mask changed nothing")
    }

    /// Spike statistics land on the neuron, where the evaluator finds them.
    @Test func countsSpikesOnItsNeuron() {
        let neuron = IF(threshold: 1, surrogate: Arctangent(alpha: 2))
        let layer = RecurrentSpiking(features: 3, neuron: neuron)
        layer.weight = Tensor(zeros: [3, 3])
        neuron.statistics = SpikeStatistics()
        let x = Tensor(shape: [4, 1, 3], scalars: [1.5, 0, 0.6, 0, 0, 0.6, 1.5, 0, 0, 0, 0, 0])
        let s = layer(x)
        #expect(s.scalars == [1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0])
        #expect(neuron.statistics!.spikes == 3 && neuron.statistics!.neuronSteps == 12)
    }
}
