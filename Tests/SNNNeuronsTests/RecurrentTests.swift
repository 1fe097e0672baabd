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
