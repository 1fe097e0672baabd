import Foundation
import SNN
import SNNTestSupport
import Testing

/// PSN, masked PSN, sliding PSN and the PSU family: METHODS.md test vectors, closed forms and
/// finite-difference gradients.
@Suite struct ParallelNeuronTests {
    @Test func bandMaskTestVector() {
        // METHODS.md §1: T = 4, k = 2.
        #expect(bandMask(timeSteps: 4, order: 2).scalars == [1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 1])
    }

    @Test func slidingMatrixTestVector() {
        // METHODS.md §1: T = 5, k = 3, w = (.25, .5, 1).
        let s = SlidingPSN(order: 3, surrogate: .arctangent())
        #expect(s.weight.scalars == [0.25, 0.5, 1])
        #expect(
            s.matrix(timeSteps: 5).scalars == [
                1, 0, 0, 0, 0, 0.5, 1, 0, 0, 0, 0.25, 0.5, 1, 0, 0, 0, 0.25, 0.5, 1, 0, 0, 0, 0.25, 0.5, 1,
            ])
    }

    @Test func psuTestVector() {
        // METHODS.md §2: T = 4, τ = 2, V_th = 0.5, I = 1 → H, V and spikes [0, 1, 1, 1].
        let psu = ParallelSpikingUnit(.psu, timeSteps: 4, tau: 2, threshold: 0.5)
        let input = Tensor(ones: [4, 1])
        let h = Tensor.matmul(psu.inputMatrix, input)
        #expect(h.isClose(to: Tensor(shape: [4, 1], scalars: [0.5, 0.75, 0.875, 0.9375])))
        #expect(
            psu.membrane(input).isClose(
                to: Tensor(shape: [4, 1], scalars: [0.5, 0.594385, 0.627398, 0.637253]),
                relativeTolerance: 2e-6))
        #expect(psu(input).scalars == [0, 1, 1, 1])
    }

    @Test func matricesForOtherTau() {
        // A and R follow the general form for any τ (not the released code's τ = 2 special case).
        let (a, r) = parallelUnitMatrices(timeSteps: 3, tau: 4)
        let b: Float = 0.75
        #expect(
            a.isClose(
                to: Tensor(shape: [3, 3], scalars: [0.25, 0, 0, 0.25 * b, 0.25, 0, 0.25 * b * b, 0.25 * b, 0.25])))
        #expect(r.isClose(to: Tensor(shape: [3, 3], scalars: [0, 0, 0, b, 0, 0, b * b, b, 0])))
    }

    @Test func psuWithoutResetIsResetFreeLIF() {
        // Drop the reset term: H = A·I is exactly LIF (decayed input, v_r = 0) with no reset.
        let x = randomTensor([6, 2, 5], seed: 1)
        let psu = ParallelSpikingUnit(.psu, timeSteps: 6, tau: 3, threshold: 0.5)
        let h = Tensor.matmul(psu.inputMatrix, x.reshaped(to: [6, -1])).reshaped(to: [6, 2, 5])
        let lif = LIF(tau: 3, threshold: 0.5, reset: .none, surrogate: .arctangent())
        #expect(h.isClose(to: lif.spikesAndMembrane(x).membrane, relativeTolerance: 1e-5, absoluteTolerance: 1e-6))
    }

    @Test func slidingPSNAtShorterTEqualsThePrefix() {
        let s = SlidingPSN(order: 3, surrogate: .arctangent())
        s.weight = randomTensor([3], seed: 2)
        let x = randomTensor([8, 3, 4], seed: 3, scale: 2)
        let long = s(x), short = s(x.slice(0..<5))
        #expect(short.scalars == long.slice(0..<5).scalars)
    }

    @Test func maskedPSNWithFullMaskIsCausal() {
        GlobalRandom.withSeed(4) {
            let m = MaskedPSN(timeSteps: 6, order: 2, lambda: 1, surrogate: .arctangent())
            let x = randomTensor([6, 3], seed: 5, scale: 2)
            var y = x
            y.withUnsafeMutableBufferPointer { p in for i in 12..<18 { p[i] += 5 } }  // change step 4 only
            let a = m(x), b = m(y)
            // Steps before 4 cannot see the change; steps beyond 4 + k − 1 = 5 would not either.
            #expect(a.slice(0..<4).scalars == b.slice(0..<4).scalars)
            #expect(MaskedPSN<Arctangent>.lambda(epoch: 0, epochs: 17) == 0)
            #expect(MaskedPSN<Arctangent>.lambda(epoch: 1, epochs: 17) == 0.5)
            #expect(MaskedPSN<Arctangent>.lambda(epoch: 2, epochs: 17) == 1)
        }
    }

    /// Finite differences through the membrane (the spikes are a step function; their surrogate
    /// gradient is checked against SpikingJelly separately).
    @Test(arguments: ParallelSpikingUnit.Variant.allCases)
    func psuMembraneGradients(_ variant: ParallelSpikingUnit.Variant) {
        GlobalRandom.withSeed(6) {
            let unit = ParallelSpikingUnit(variant, timeSteps: 5, tau: 2, threshold: 0.5)
            let x = randomTensor([5, 4], seed: 7)
            let w0 = unit.weight, b0 = unit.bias
            let sources = variant == .psu ? [x] : [x, w0, b0]
            let error = gradientError(at: sources) { t in
                if t.count > 1 {
                    unit.weight = t[1]
                    unit.bias = t[2]
                }
                return unit.membrane(t[0])
            }
            unit.weight = w0
            unit.bias = b0
            #expect(error < 1e-2)
        }
    }

    @Test(arguments: [(3, 5), (8, 9_001), (16, 20_000)])
    func fusedKernelEqualsComposedOperations(_ dims: (Int, Int)) {
        let (t, n) = dims
        let x = randomTensor([t, n], seed: 10, scale: 1.5), w = randomTensor([t, t], seed: 11, scale: 0.5)
        let b = randomTensor([t], seed: 12), r = randomTensor([t, n], seed: 13)
        let surrogate = Arctangent(alpha: 2)
        let (_, fused) = valueWithGradient(at: [x, w, b]) { v in
            (Tensor.parallelSpikes(v[0], weight: v[1], bias: v[2], surrogate: surrogate) * r).sum()
        }
        let (_, composed) = valueWithGradient(at: [x, w, b]) { v in
            ((Tensor.matmul(v[1], v[0]) + v[2].reshaped(to: [t, 1])).heaviside(surrogate: surrogate) * r).sum()
        }
        #expect(
            Tensor.parallelSpikes(x, weight: w, bias: b, surrogate: surrogate).scalars
                == (Tensor.matmul(w, x) + b.reshaped(to: [t, 1])).heaviside(surrogate: surrogate).scalars)
        for k in 0..<3 { #expect(relativeError(fused[k], composed[k]) < 1e-4, "gradient \(k)") }
    }

    @Test(arguments: [(4, 3), (8, 9_001), (12, 5_000)])
    func fusedPSUEqualsComposedOperations(_ dims: (Int, Int)) {
        let (t, n) = dims
        let psu = ParallelSpikingUnit(.psu, timeSteps: t, tau: 3, threshold: 0.5, surrogate: .arctangent(alpha: 2.5))
        let x = randomTensor([t, n], seed: 14, scale: 1.5), r = randomTensor([t, n], seed: 15)
        let alpha0 = psu.alpha
        func run(_ f: @escaping (Tensor) -> Tensor) -> (Tensor, [Tensor]) {
            var out = Tensor(0)
            let (_, g) = valueWithGradient(at: [x, alpha0]) { v in
                psu.alpha = v[1]
                let s = f(v[0])
                out = s.detached
                return (s * r).sum()
            }
            psu.alpha = alpha0
            return (out, g)
        }
        let fused = run { psu($0) }
        let composed = run { (psu.membrane($0) - 0.5).heaviside(arctangentAlpha: psu.alpha, strict: true) }
        #expect(fused.0.scalars == composed.0.scalars)
        #expect(relativeError(fused.1[0], composed.1[0]) < 1e-4)
        #expect(relativeError(fused.1[1], composed.1[1]) < 1e-4)
    }

    /// The IPSU (the PSN kernel with W′ = W ⊙ M − R and b′ = b − V_th) and the RPSU (its own kernel):
    /// spikes equal to their composed membranes', and the gradients of x, W, b and the learned α.
    @Test(arguments: [ParallelSpikingUnit.Variant.ipsu, .rpsu], [(4, 3), (8, 9_001), (12, 5_000)])
    func fusedIPSUAndRPSUEqualComposedOperations(_ variant: ParallelSpikingUnit.Variant, _ dims: (Int, Int)) {
        let (t, n) = dims
        let unit = GlobalRandom.withSeed(21) {
            ParallelSpikingUnit(variant, timeSteps: t, tau: 3, threshold: 0.5, surrogate: .arctangent(alpha: 2.5))
        }
        let x = randomTensor([t, n], seed: 22, scale: 1.5), r = randomTensor([t, n], seed: 23)
        let (w0, b0, a0) = (unit.weight, randomTensor([t], seed: 24, scale: 0.2), unit.alpha)
        func run(_ f: @escaping (Tensor) -> Tensor) -> (Tensor, [Tensor]) {
            var out = Tensor(0)
            let (_, g) = valueWithGradient(at: [x, w0, b0, a0]) { v in
                (unit.weight, unit.bias, unit.alpha) = (v[1], v[2], v[3])
                let s = f(v[0])
                out = s.detached
                return (s * r).sum()
            }
            (unit.weight, unit.bias, unit.alpha) = (w0, b0, a0)
            return (out, g)
        }
        let fused = run { unit($0) }
        let composed = run { (unit.membrane($0) - 0.5).heaviside(arctangentAlpha: unit.alpha, strict: true) }
        #expect(fused.0.scalars == composed.0.scalars)
        for k in 0..<4 { #expect(relativeError(fused.1[k], composed.1[k]) < 1e-4, "gradient \(k)") }
    }

    /// The PSU family with a fixed surrogate (QGate, the DVS runs' choice, and others): the spikes, and
    /// the gradients of x, W and b against the composed membrane with the surrogate's derivative
    /// applied by hand: ∂L/∂θ = ∂/∂θ Σ c·V with c = r ⊙ g(V − V_th) held constant.
    @Test(
        arguments: ParallelSpikingUnit.Variant.allCases,
        [SurrogateChoice.qgate(alpha: 2), .sigmoid(alpha: 4), .superSpike(alpha: 10), .rectangular(alpha: 1)])
    func psuFamilyWithAFixedSurrogate(_ variant: ParallelSpikingUnit.Variant, _ surrogate: SurrogateChoice) throws {
        let t = 6, n = 700, threshold: Float = 0.5
        let kind = try #require(NeuronKind(rawValue: variant.rawValue))
        let layer = GlobalRandom.withSeed(16) {
            NeuronConfiguration(kind: kind, surrogate: surrogate, tau: 2, threshold: threshold, timeSteps: t).make()
        }
        let unit = try #require(layer as? ParallelSpikingUnit)
        #expect(unit.surrogate == surrogate && !unit.learnsAlpha)
        #expect(unit.namedParameters().first { $0.path == "alpha" }?.parameter.requiresGradient == false)
        let x = randomTensor([t, n], seed: 17, scale: 1.5), r = randomTensor([t, n], seed: 18)
        let w0 = unit.weight, b0 = unit.bias
        let sources = variant == .psu ? [x] : [x, w0, b0]
        func gradients(_ f: @escaping (Tensor) -> Tensor) -> [Tensor] {
            let (_, g) = valueWithGradient(at: sources) { v in
                if v.count > 1 {
                    unit.weight = v[1]
                    unit.bias = v[2]
                }
                return f(v[0])
            }
            unit.weight = w0
            unit.bias = b0
            return g
        }
        let v = unit.membrane(x)
        let c = Tensor(
            shape: [t, n], scalars: zip(v.scalars, r.scalars).map { $1 * surrogate.derivative($0 - threshold) })
        #expect(unit(x).scalars == v.scalars.map { $0 - threshold > 0 ? 1 : 0 })
        let fused = gradients { (unit($0) * r).sum() }, composed = gradients { (unit.membrane($0) * c).sum() }
        for k in composed.indices { #expect(relativeError(fused[k], composed[k]) < 1e-5, "gradient \(k)") }
    }

    @Test func fusedPSUWithQGateEqualsComposedOperations() {
        let psu = ParallelSpikingUnit(.psu, timeSteps: 8, tau: 3, threshold: 0.5, surrogate: .qgate(alpha: 2))
        let x = randomTensor([8, 9_001], seed: 19, scale: 1.5), r = randomTensor([8, 9_001], seed: 20)
        let (_, fused) = valueWithGradient(at: [x]) { v in (psu(v[0]) * r).sum() }
        let (_, composed) = valueWithGradient(at: [x]) { v in
            ((psu.membrane(v[0]) - 0.5).heaviside(surrogate: QGate(alpha: 2), strict: true) * r).sum()
        }
        #expect(psu(x).scalars == (psu.membrane(x) - 0.5).heaviside(surrogate: QGate(alpha: 2), strict: true).scalars)
        #expect(relativeError(fused[0], composed[0]) < 1e-4)
    }

    @Test func learnableAlphaGradient() {
        // ∂/∂α of Σ r·Θ(x) with the arctangent surrogate: Σ r·∂g_α(x)/∂α.
        let x = randomTensor([20], seed: 8), r = randomTensor([20], seed: 9)
        let alpha = Tensor([2.5])
        let (_, grads) = valueWithGradient(at: [x, alpha]) { t in (t[0].heaviside(arctangentAlpha: t[1]) * r).sum() }
        let s = Arctangent(alpha: 2.5)
        let expectedAlpha = zip(x.scalars, r.scalars).reduce(Float(0)) {
            $0 + $1.1 * s.derivativeWithRespectToAlpha($1.0)
        }
        #expect(abs(grads[1].item - expectedAlpha) < 1e-4 * max(1, abs(expectedAlpha)))
        #expect(
            grads[0].isClose(to: Tensor(shape: [20], scalars: zip(x.scalars, r.scalars).map { $1 * s.derivative($0) })))
    }
}

/// PSN, masked PSN and sliding PSN against SpikingJelly (Fixtures/make_psn_reference.py).
@Suite struct PSNReferenceTests {
    static let fixture: JSONFixture = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(
            "psn_reference.json")
        return try! JSONFixture(url: url)
    }()

    func check(
        _ name: String, layer: some Layer, weight: (Tensor) -> Void, bias: (Tensor) -> Void,
        weightShape: [Int], biasShape: [Int], parameters: () -> (Tensor, Tensor)
    ) {
        let f = Self.fixture, shape = f.ints("shape")
        let x = f.tensor("\(name)/x", shape: shape), r = f.tensor("\(name)/r", shape: shape)
        weight(f.tensor("\(name)/weight", shape: weightShape))
        bias(f.tensor("\(name)/bias", shape: biasShape))
        let (w0, b0) = parameters()
        var spikes = Tensor(0)
        let (_, grads) = valueWithGradient(at: [x, w0, b0]) { t in
            weight(t[1])
            bias(t[2])
            let s = layer(t[0])
            spikes = s.detached
            return (s * r).sum()
        }
        weight(w0)
        bias(b0)
        #expect(spikes.scalars == f.floats("\(name)/spikes"), "\(name) spikes")
        #expect(relativeError(grads[0], f.tensor("\(name)/x_grad", shape: shape)) < 1e-5, "\(name) input gradient")
        #expect(
            relativeError(grads[1], f.tensor("\(name)/weight_grad", shape: weightShape)) < 1e-5,
            "\(name) weight gradient")
        #expect(
            relativeError(grads[2], f.tensor("\(name)/bias_grad", shape: biasShape)) < 1e-5, "\(name) bias gradient")
    }

    @Test func psn() {
        let t = Self.fixture.ints("shape")[0]
        let layer = PSN(timeSteps: t, surrogate: .arctangent(alpha: 2))
        check(
            "psn", layer: layer, weight: { layer.weight = $0 }, bias: { layer.bias = $0 },
            weightShape: [t, t], biasShape: [t]
        ) { (layer.weight, layer.bias) }
    }

    @Test func maskedPSN() {
        let t = Self.fixture.ints("shape")[0]
        let layer = MaskedPSN(
            timeSteps: t, order: 3, lambda: Self.fixture.float("masked_psn/lambda"), surrogate: .arctangent(alpha: 2))
        check(
            "masked_psn", layer: layer, weight: { layer.weight = $0 }, bias: { layer.bias = $0 },
            weightShape: [t, t], biasShape: [t]
        ) { (layer.weight, layer.bias) }
    }

    @Test func slidingPSN() {
        let layer = SlidingPSN(order: 3, surrogate: .arctangent(alpha: 2))
        #expect(layer.weight.scalars == Self.fixture.floats("sliding_psn_initial_weight"))
        check(
            "sliding_psn", layer: layer, weight: { layer.weight = $0 }, bias: { layer.bias = $0 },
            weightShape: [3], biasShape: [1]
        ) { (layer.weight, layer.bias) }
    }
}
