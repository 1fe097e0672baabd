import Foundation
import SNN
import SNNTestSupport
import Testing

/// The fused neuron kernels against SpikingJelly (fixtures from make_spikingjelly_reference.py) and
/// against their own step-by-step composition.
@Suite struct NeuronReferenceTests {
    static let fixture: JSONFixture = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
            .appendingPathComponent("spikingjelly_reference.json")
        return try! JSONFixture(url: url)
    }()

    static var caseNames: [String] {
        (fixture.value("cases") as! [String: Any]).keys.sorted()
    }

    /// Everything a test needs from one neuron, with its surrogate type opened.
    struct Runner {
        var fused: (Tensor) -> (spikes: Tensor, membrane: Tensor)
        var stepByStep: (Tensor) -> (spikes: Tensor, membrane: Tensor)
        var parameter: () -> Tensor?
        var setParameter: (Tensor) -> Void
    }

    static func runner(_ name: String) -> Runner {
        let c = "cases/\(name)/"
        let kind = fixture.value(c + "kind") as! String
        let threshold = fixture.float(c + "threshold")
        let reset: Reset = (fixture.value(c + "v_reset") as? NSNumber).map { .hard(to: $0.floatValue) } ?? .soft
        let detach = fixture.value(c + "detach_reset") as! Bool
        let decay = fixture.value(c + "decay_input") as! Bool
        let choice = SurrogateChoice(
            name: fixture.value(c + "surrogate") as! String, alpha: fixture.float(c + "alpha"))!
        func make<S: Surrogate>(_ s: S) -> Runner {
            switch kind {
            case "if":
                let n = IF(threshold: threshold, reset: reset, detachReset: detach, surrogate: s)
                return Runner(
                    fused: n.spikesAndMembrane, stepByStep: n.stepByStep, parameter: { nil }, setParameter: { _ in })
            case "lif":
                let n = LIF(
                    tau: fixture.float(c + "tau"), threshold: threshold, reset: reset, detachReset: detach,
                    decayInput: decay, surrogate: s)
                return Runner(
                    fused: n.spikesAndMembrane, stepByStep: n.stepByStep, parameter: { nil }, setParameter: { _ in })
            default:
                let n = PLIF(
                    initialTau: fixture.float(c + "tau"), threshold: threshold, reset: reset, detachReset: detach,
                    decayInput: decay, surrogate: s)
                return Runner(
                    fused: n.spikesAndMembrane, stepByStep: n.stepByStep, parameter: { n.w }, setParameter: { n.w = $0 }
                )
            }
        }
        return choice.withSurrogate { make($0) }
    }

    /// Spikes, membrane, input gradient and parameter gradient of sum(S·r) + sum(V·q).
    static func evaluate(
        _ runner: Runner, _ forward: @escaping (Tensor) -> (spikes: Tensor, membrane: Tensor),
        x: Tensor, r: Tensor, q: Tensor
    ) -> (Tensor, Tensor, Tensor, Tensor?) {
        var spikes = Tensor(0), membrane = Tensor(0)
        let original = runner.parameter()
        let sources = original.map { [x, $0] } ?? [x]
        let (_, grads) = valueWithGradient(at: sources) { t in
            if t.count > 1 { runner.setParameter(t[1]) }
            let (s, v) = forward(t[0])
            spikes = s.detached
            membrane = v.detached
            return (s * r).sum() + (v * q).sum()
        }
        if let original { runner.setParameter(original) }
        return (spikes, membrane, grads[0], grads.count > 1 ? grads[1] : nil)
    }

    @Test(arguments: caseNames)
    func fusedKernelMatchesSpikingJelly(_ name: String) {
        let f = Self.fixture, c = "cases/\(name)/"
        let shape = f.ints("shape")
        let x = f.tensor(c + "x", shape: shape), r = f.tensor(c + "r", shape: shape),
            q = f.tensor(c + "q", shape: shape)
        let runner = Self.runner(name)
        let (spikes, membrane, gx, gw) = Self.evaluate(runner, runner.fused, x: x, r: r, q: q)
        #expect(spikes.scalars == f.floats(c + "spikes"), "spikes differ")
        #expect(relativeError(membrane, f.tensor(c + "v_seq", shape: shape)) < 1e-5)
        #expect(relativeError(gx, f.tensor(c + "x_grad", shape: shape)) < 1e-4)
        if let gw {
            let expected = f.float(c + "w_grad")
            #expect(abs(gw.item - expected) <= 1e-4 * max(1, abs(expected)), "w gradient \(gw.item) vs \(expected)")
        }
    }

    @Test(arguments: caseNames)
    func fusedKernelMatchesStepByStepComposition(_ name: String) {
        let f = Self.fixture, c = "cases/\(name)/"
        let shape = f.ints("shape")
        let x = f.tensor(c + "x", shape: shape), r = f.tensor(c + "r", shape: shape),
            q = f.tensor(c + "q", shape: shape)
        let runner = Self.runner(name)
        let fused = Self.evaluate(runner, runner.fused, x: x, r: r, q: q)
        let slow = Self.evaluate(runner, runner.stepByStep, x: x, r: r, q: q)
        #expect(fused.0.scalars == slow.0.scalars)
        #expect(relativeError(fused.1, slow.1) < 1e-6)
        #expect(relativeError(fused.2, slow.2) < 1e-5)
        if let a = fused.3, let b = slow.3 { #expect(relativeError(a, b) < 1e-5) }
    }

    @Test func largeShapesCoverVectorTailsAndChunks() {
        // 3 × 2 × 1,237 neurons: several blocks, two threads, a partial vector at the end.
        var g = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([5, 2, 1237], mean: 0.6, standardDeviation: 1.2, using: &g)
        let r = Tensor.randomNormal([5, 2, 1237], using: &g)
        let lif = PLIF(initialTau: 2, threshold: 1, reset: .hard(to: 0), surrogate: .arctangent())
        func run(_ f: @escaping (Tensor) -> Tensor) -> (Tensor, [Tensor]) {
            valueWithGradient(at: [x, lif.w]) { t in
                lif.w = t[1]
                return (f(t[0]) * r).sum()
            }
        }
        let w0 = lif.w
        let fused = run { lif($0) }
        lif.w = w0
        let slow = run { lif.stepByStep($0).spikes }
        lif.w = w0
        #expect(relativeError(fused.1[0], slow.1[0]) < 1e-5)
        #expect(relativeError(fused.1[1], slow.1[1]) < 1e-4)
        #expect(lif(x).scalars == lif.stepByStep(x).spikes.scalars)
    }
}

/// Each surrogate's derivative against the finite-difference slope of its function, and the
/// vectorised derivative against the scalar one.
@Suite struct SurrogateTests {
    static let choices: [SurrogateChoice] = [
        .qgate(), .arctangent(), .sigmoid(), .rectangular(), .piecewiseLinear(), .superSpike(), .erf(),
        .arctangent(alpha: 3.5),
    ]

    @Test(arguments: choices)
    func derivativeIsTheSlopeOfTheFunction(_ choice: SurrogateChoice) {
        choice.withSurrogate { s in
            let h: Double = 1e-3
            for i in -200...200 {
                let x = Float(i) * 0.0123 + 0.0031  // avoid the kinks of the piecewise surrogates
                let slope = (Double(s.function(x + Float(h))) - Double(s.function(x - Float(h)))) / (2 * h)
                let kinkNear = [1 / s.alpha, -1 / s.alpha, 1 / (2 * s.alpha), -1 / (2 * s.alpha), 0].contains {
                    abs($0 - x) < 2e-3
                }
                if kinkNear { continue }
                #expect(abs(slope - Double(s.derivative(x))) < 2e-3 * max(1, Double(s.alpha)), "\(choice) at \(x)")
            }
        }
    }

    @Test(arguments: choices)
    func vectorDerivativeEqualsScalar(_ choice: SurrogateChoice) {
        choice.withSurrogate { s in
            for i in 0..<64 {
                var v = NeuronVector()
                for k in 0..<NeuronVector.scalarCount { v[k] = Float(i * NeuronVector.scalarCount + k - 256) * 0.01 }
                let d = s.derivative(v)
                for k in 0..<NeuronVector.scalarCount {
                    #expect(abs(d[k] - s.derivative(v[k])) <= 1e-6 * max(1, abs(d[k])))
                }
            }
        }
    }

    @Test func learnableAlphaDerivative() {
        let s = Arctangent(alpha: 2)
        for x in stride(from: Float(-1), through: 1, by: 0.1) {
            let h: Float = 1e-3
            let numeric = (Arctangent(alpha: 2 + h).derivative(x) - Arctangent(alpha: 2 - h).derivative(x)) / (2 * h)
            #expect(abs(numeric - s.derivativeWithRespectToAlpha(x)) < 1e-3)
        }
    }
}
