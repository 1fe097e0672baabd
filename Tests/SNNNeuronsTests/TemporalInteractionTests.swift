import Foundation
import SNN
import SNNTestSupport
import Testing

/// TIM (METHODS.md §5): the recurrence against an explicit loop, gradients against finite
/// differences, both convolution axes, and the released axis refused at a wrong size.
@Suite struct TemporalInteractionTests {
    static func lif(_ threshold: Float) -> LIF<SigmoidSurrogate> {
        LIF(tau: 2, threshold: threshold, reset: .hard(to: 0), detachReset: true, surrogate: SigmoidSurrogate(alpha: 4))
    }

    static func module(
        d: Int, l: Int, axis: TemporalInteraction.Axis, alpha: Float = 0.5, kernel: Int = 5,
        thresholds: TemporalInteraction.Thresholds = .standard
    ) throws -> TemporalInteraction {
        try TemporalInteraction(
            headDimension: d, tokens: l, alpha: alpha, kernelSize: kernel, axis: axis,
            inputNeuron: lif(thresholds.inner), outputNeuron: lif(thresholds.outer))
    }

    /// Q̃ by the METHODS.md recurrence, written out with scalar loops: the convolution in double
    /// precision, each LIF as v ← v + (x − v)/2, s = [v ≥ V_th], v ← v·(1 − s).
    static func reference(
        _ q: Tensor, weight: Tensor, bias: Tensor, axis: TemporalInteraction.Axis, alpha: Float,
        thresholds: TemporalInteraction.Thresholds
    ) -> [Float] {
        let (steps, batch, d, l) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let k = weight.shape[2], w = weight.scalars, b = bias.scalars, qs = q.scalars
        let step = batch * d * l
        var out = Array(qs[0..<step])
        var vIn = [Float](repeating: 0, count: step), vOut = vIn
        for t in 1..<steps {
            let previous = Array(out[((t - 1) * step)..<(t * step)])
            var next = [Float](repeating: 0, count: step)
            for n in 0..<batch {
                for f in 0..<d {
                    for p in 0..<l {
                        // Along the tokens: channel f, position p. Along the features the roles swap:
                        // the output channel is the token p, the position the feature f.
                        var s = Double(b[axis == .tokens ? f : p])
                        for j in 0..<k {
                            for c in 0..<(axis == .tokens ? d : l) {
                                if axis == .tokens {
                                    let pos = p + j - k / 2
                                    guard pos >= 0 && pos < l else { continue }
                                    s += Double(w[(f * d + c) * k + j]) * Double(previous[(n * d + c) * l + pos])
                                } else {
                                    let pos = f + j - k / 2
                                    guard pos >= 0 && pos < d else { continue }
                                    s += Double(w[(p * l + c) * k + j]) * Double(previous[(n * d + pos) * l + c])
                                }
                            }
                        }
                        let i = (n * d + f) * l + p
                        vIn[i] += (Float(s) - vIn[i]) / 2
                        let spikeIn: Float = vIn[i] >= thresholds.inner ? 1 : 0
                        vIn[i] *= 1 - spikeIn
                        let mixed = spikeIn * alpha + qs[t * step + i] * (1 - alpha)
                        vOut[i] += (mixed - vOut[i]) / 2
                        let spikeOut: Float = vOut[i] >= thresholds.outer ? 1 : 0
                        vOut[i] *= 1 - spikeOut
                        next[i] = spikeOut
                    }
                }
            }
            out += next
        }
        return out
    }

    static func spikes(_ shape: [Int], probability: Float, seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return Tensor.bernoulli(shape, probability: probability, using: &rng)
    }

    @Test(arguments: [(TemporalInteraction.Axis.tokens, 3, 7), (.tokens, 4, 4), (.features, 4, 4), (.features, 6, 6)])
    func recurrenceMatchesAnExplicitLoop(_ c: (TemporalInteraction.Axis, Int, Int)) throws {
        let (axis, d, l) = c
        try GlobalRandom.withSeed(3) {
            for thresholds in [TemporalInteraction.Thresholds.standard, .intended, .init(inner: 0.1, outer: 0.2)] {
                let tim = try Self.module(d: d, l: l, axis: axis, thresholds: thresholds)
                // Larger weights than at initialisation, so LIF_in fires and the history path is exercised.
                tim.convolution.weight = randomTensor(tim.convolution.weight.shape, seed: 4, scale: 0.8)
                let q = Self.spikes([6, 3, d, l], probability: 0.3, seed: 5)
                let expected = Self.reference(
                    q, weight: tim.convolution.weight, bias: tim.convolution.bias, axis: axis,
                    alpha: 0.5, thresholds: thresholds)
                let output = tim(q)
                #expect(output.shape == q.shape)
                #expect(output.scalars == expected, "\(axis) D = \(d), L = \(l), thresholds \(thresholds)")
                // The history matters: Q̃ is not Q at every step.
                #expect(output.scalars != q.scalars)
            }
        }
    }

    /// With smooth stand-in neurons, the tape's gradients with respect to Q, the convolution's weight
    /// and its bias equal finite differences (the recurrence passes gradient through every step).
    @Test(arguments: [(TemporalInteraction.Axis.tokens, 3, 5), (.features, 4, 4)])
    func gradientsMatchFiniteDifferences(_ c: (TemporalInteraction.Axis, Int, Int)) throws {
        let (axis, d, l) = c
        try GlobalRandom.withSeed(8) {
            let tim = try TemporalInteraction(
                headDimension: d, tokens: l, alpha: 0.4, kernelSize: 3, axis: axis,
                inputNeuron: SmoothNeuron(threshold: 0.3), outputNeuron: SmoothNeuron(threshold: 0.25))
            let q = randomTensor([4, 2, 2, d, l], seed: 9)
            #expect(layerGradientError(tim, at: q) < 1e-2)
        }
    }

    @Test func releasedAxisNeedsTokensEqualToTheHeadDimension() throws {
        let error = #expect(throws: SNNError.self) { try Self.module(d: 16, l: 25, axis: .features) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("tokens = D") == true)
        _ = try Self.module(d: 16, l: 25, axis: .tokens)
        _ = try Self.module(d: 16, l: 16, axis: .features)
        #expect(throws: SNNError.self) { try Self.module(d: 4, l: 4, axis: .tokens, kernel: 4) }
        #expect(throws: SNNError.self) { try Self.module(d: 4, l: 4, axis: .tokens, alpha: 1.5) }
    }

    @Test func thresholdPresetsAndParsing() {
        #expect(TemporalInteraction.Thresholds("released") == .init(inner: 1, outer: 1))
        #expect(TemporalInteraction.Thresholds("intended") == .init(inner: 0.3, outer: 0.5))
        #expect(TemporalInteraction.Thresholds("0.2, 0.4") == .init(inner: 0.2, outer: 0.4))
        #expect(TemporalInteraction.Thresholds.standard == .init(inner: 0.3, outer: 0.25))
        for bad in ["", "0.3", "a,b", "0.1,0.2,0.3"] { #expect(TemporalInteraction.Thresholds(bad) == nil) }
        #expect(TemporalInteraction.parameterCount(headDimension: 16, kernelSize: 5) == 1296)
    }

    /// TIM's only parameters are its convolution's: D·D·k + D.
    @Test func parameterCountClosedForm() throws {
        let tim = try Self.module(d: 16, l: 9, axis: .tokens)
        #expect(tim.parameterCount == 16 * 16 * 5 + 16)
        #expect(tim.namedParameters().map(\.path) == ["convolution.weight", "convolution.bias"])
    }
}
