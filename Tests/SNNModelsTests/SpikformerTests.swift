import Foundation
import SNN
import SNNTestSupport
import Testing

/// Spikformer's layers (METHODS.md §5): SSA against a step-by-step composition of plain tensor ops,
/// finite differences for every layer, parameter counts in closed form, the pooling-stage rule, and
/// TIM's firing at initialisation.
@Suite struct SpikformerTests {
    static func spikes(_ shape: [Int], probability: Float, seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return Tensor.bernoulli(shape, probability: probability, using: &rng)
    }

    // MARK: SSA

    /// conv1×1 → BN (batch statistics over T, N and L; scale and shift of `norm`) → LIF, from plain ops
    /// on `[T, N, C, L]`.
    static func branch(_ x: Tensor, _ layers: Sequential, neuron: some SpikingNeuron) -> Tensor {
        let conv = layers.layers[0] as! Conv1d, norm = layers.layers[1] as! BatchNorm
        let weight = conv.weight, bias: Tensor? = conv.hasBias ? conv.bias : nil
        let (t, n, c, l) = (x.shape[0], x.shape[1], weight.shape[0], x.shape[3])
        // W·x per sample, as one [C, C_in] × [C_in, L] product per (t, n).
        var projected: [Tensor] = []
        for i in 0..<(t * n) {
            var y = Tensor.matmul(weight.reshaped(to: [c, -1]), x.reshaped(to: [t * n, x.shape[2], l]).selecting(i))
            if let bias { y = y + bias.reshaped(to: [c, 1]) }
            projected.append(y)
        }
        let y = Tensor.stack(projected).reshaped(to: [t, n, c, l])
        let mean = y.mean(alongAxes: [0, 1, 3], keepingDimensions: true)
        let variance = (y - mean).squared().mean(alongAxes: [0, 1, 3], keepingDimensions: true)
        let normalized =
            (y - mean) / (variance + 1e-5).sqrt() * norm.weight.reshaped(to: [c, 1])
            + norm.bias.reshaped(to: [c, 1])
        return neuron.stepByStep(normalized).spikes
    }

    static func lif(_ threshold: Float = 0.5) -> LIF<SigmoidSurrogate> {
        LIF(tau: 2, threshold: threshold, reset: .hard(to: 0), detachReset: true, surrogate: SigmoidSurrogate(alpha: 4))
    }

    /// SSA's attention with a loop over time steps, samples and heads and 2-D products of slices.
    static func referenceAttention(_ ssa: SpikingSelfAttention, _ x: Tensor) -> Tensor {
        let (t, n, c) = (x.shape[0], x.shape[1], x.shape[2])
        let h = ssa.heads, d = c / h
        let q = branch(x, ssa.query, neuron: lif()), k = branch(x, ssa.key, neuron: lif())
        let v = branch(x, ssa.value, neuron: lif())
        var steps: [Tensor] = []
        for ti in 0..<t {
            var samples: [Tensor] = []
            for ni in 0..<n {
                var heads: [Tensor] = []
                for hi in 0..<h {
                    // Head hi holds channels hi·D ..< (hi + 1)·D; tokens are rows after the transpose.
                    func head(_ z: Tensor) -> Tensor {
                        z.selecting(ti).selecting(ni).slice((hi * d)..<((hi + 1) * d)).transposed()
                    }
                    let scores = Tensor.matmul(head(q), head(k).transposed())  // [L, L]
                    let mixed = Tensor.matmul(scores, head(v)) * ssa.scale  // [L, D]
                    heads.append(mixed.transposed())  // [D, L]
                }
                samples.append(Tensor.concatenate(heads, alongAxis: 0))
            }
            steps.append(Tensor.stack(samples))
        }
        let attended = lif().stepByStep(Tensor.stack(steps)).spikes
        return branch(attended, ssa.projection, neuron: lif())
    }

    @Test(arguments: [(8, 2, 5), (12, 3, 16), (6, 1, 4)])
    func attentionEqualsAStepByStepComposition(_ c: (Int, Int, Int)) throws {
        let (channels, heads, tokens) = c
        try GlobalRandom.withSeed(11) {
            let ssa = try SpikingSelfAttention(dimension: channels, heads: heads, tokens: tokens)
            // Batch-norm scales and shifts away from their initial 1 and 0, so the reference must use them.
            for (i, branch) in [ssa.query, ssa.key, ssa.value, ssa.projection].enumerated() {
                let norm = branch.layers[1] as! BatchNorm
                norm.weight = randomTensor([channels], seed: 40 + UInt64(i), scale: 0.3) + 1
                norm.bias = randomTensor([channels], seed: 50 + UInt64(i), scale: 0.3)
            }
            let x = Self.spikes([4, 3, channels, tokens], probability: 0.4, seed: 12) * 2 - 0.3
            let r = randomTensor([4, 3, channels, tokens], seed: 13)
            var output = Tensor(0), expected = Tensor(0)
            let (_, layerGradient) = valueWithGradient(at: [x]) { t in
                output = ssa(t[0])
                return (output * r).sum()
            }
            let (_, referenceGradient) = valueWithGradient(at: [x]) { t in
                expected = Self.referenceAttention(ssa, t[0])
                return (expected * r).sum()
            }
            #expect(output.shape == x.shape)
            #expect(output.scalars == expected.scalars)
            #expect(output.scalars.contains(1) && output.scalars.contains(0), "the test needs both spikes and silence")
            #expect(relativeError(layerGradient[0], referenceGradient[0]) < 1e-4)
        }
    }

    /// With a smooth stand-in for the neurons, every gradient of SSA (with and without TIM), the MLP,
    /// a block and SPS equals finite differences.
    @Test func gradientsMatchFiniteDifferences() throws {
        try GlobalRandom.withSeed(14) {
            let smooth: () -> any Layer = { SmoothNeuron() }
            let x = randomTensor([3, 2, 8, 4], seed: 15)
            let ssa = try SpikingSelfAttention(
                dimension: 8, heads: 2, tokens: 4, temporalInteraction: nil, neuron: smooth)
            #expect(layerGradientError(ssa, at: x) < 1e-2)
            let tim = try TemporalInteraction(
                headDimension: 4, tokens: 4, kernelSize: 3, axis: .features,
                inputNeuron: SmoothNeuron(threshold: 0.3), outputNeuron: SmoothNeuron(threshold: 0.25))
            let ssaTIM = try SpikingSelfAttention(
                dimension: 8, heads: 2, tokens: 4, temporalInteraction: tim, neuron: smooth)
            #expect(layerGradientError(ssaTIM, at: x) < 1e-2)
            let mlp = SpikingMLP(dimension: 8, hiddenDimension: 12, neuron: smooth)
            #expect(layerGradientError(mlp, at: x) < 1e-2)
            let block = SpikformerBlock(attention: ssa, mlp: mlp)
            #expect(layerGradientError(block, at: x) < 1e-2)
            let sps = try SpikingPatchSplitting(inputShape: [2, 5, 6], embedDimension: 8, neuron: smooth)
            #expect(sps.poolingStages == 0)
            #expect(layerGradientError(sps, at: randomTensor([2, 2, 2, 5, 6], seed: 16)) < 1e-2)
            // With pooling, finite differences cross the max-pool's switches of winner (every parameter moves
            // every pooled value), so the pooled SPS is checked against its parts instead: the stages above,
            // and MaxPool2d, whose pullback has its own finite-difference test.
            let pooling = try SpikingPatchSplitting(inputShape: [1, 8, 8], embedDimension: 8, neuron: smooth)
            #expect(pooling.poolingStages == 1 && pooling.stages[3].layers.last is MaxPool2d)
            let frames = randomTensor([2, 2, 1, 8, 8], seed: 17), r = randomTensor([2, 2, 8, 16], seed: 18)
            let (_, whole) = valueWithGradient(at: [frames]) { t in (pooling(t[0]) * r).sum() }
            let (_, parts) = valueWithGradient(at: [frames]) { t in
                var x = t[0]
                for stage in pooling.stages {
                    for layer in stage.layers where !(layer is MaxPool2d) { x = layer(x) }
                    if stage.layers.last is MaxPool2d {
                        x = x.reshaped(to: [-1] + Array(x.shape.suffix(3)))
                            .maxPool2d(kernelSize: (3, 3), stride: (2, 2), padding: (1, 1)).reshaped(to: [
                                2, 2, 8, 4, 4,
                            ])
                    }
                }
                return ((x + pooling.positionEmbedding(x)).reshaped(to: [2, 2, 8, 16]) * r).sum()
            }
            #expect(relativeError(whole[0], parts[0]) < 1e-6)
        }
    }

    // MARK: Sizes

    @Test func poolingStagesLeaveAtLeastSixteenTokens() throws {
        // side → (stages, token side), MaxPool(3, 2, 1) giving ⌈side/2⌉.
        let table: [(Int, Int, Int)] = [
            (4, 0, 4), (7, 1, 4), (8, 1, 4), (16, 2, 4), (28, 3, 4), (34, 3, 5),
            (48, 3, 6), (64, 4, 4), (128, 4, 8),
        ]
        for (side, stages, tokenSide) in table {
            let plan = try SpikingPatchSplitting.plan(inputShape: [2, side, side], embedDimension: 16)
            #expect(
                plan.poolingStages == stages && plan.height == tokenSide && plan.width == tokenSide, "\(side)×\(side)")
        }
        let wide = try SpikingPatchSplitting.plan(inputShape: [1, 4, 40], embedDimension: 16)
        #expect(wide.poolingStages == 1 && wide.height == 2 && wide.width == 20)  // a second pool leaves 1×10
        for bad in [[1, 3, 3], [1, 3, 40], [1, 40, 2], [8, 8], [1, 8, 8, 8]] {
            #expect(throws: SNNError.self, "\(bad)") {
                try SpikingPatchSplitting.plan(inputShape: bad, embedDimension: 16)
            }
        }
        #expect(throws: SNNError.self) { try SpikingPatchSplitting.plan(inputShape: [1, 8, 8], embedDimension: 4) }
    }

    /// C, H, depth, classes → parameters, written out from METHODS.md §5's layer list.
    static func closedFormParameters(inputChannels cin: Int, c: Int, depth: Int, classes: Int, timHeadDimension: Int?)
        -> Int
    {
        let stages = [cin, c / 8, c / 4, c / 2, c]
        var total = 0
        for i in 0..<4 { total += 9 * stages[i] * stages[i + 1] + 2 * stages[i + 1] }  // conv (no bias) + BN
        total += 9 * c * c + 2 * c  // position embedding
        let ssa = 3 * (c * c + 2 * c) + (c * c + c + 2 * c)
        let mlp = (c * 4 * c + 4 * c + 2 * 4 * c) + (4 * c * c + c + 2 * c)
        let tim = timHeadDimension.map { $0 * $0 * 5 + $0 } ?? 0
        total += depth * (ssa + mlp + tim)
        return total + c * classes + classes
    }

    @Test(arguments: [false, true])
    func parameterCountsClosedForm(_ withTIM: Bool) throws {
        let tim = withTIM ? TemporalInteractionConfiguration() : nil
        for (input, c, heads, depth) in [([1, 8, 8], 64, 4, 1), ([2, 64, 64], 256, 16, 2), ([2, 34, 34], 32, 2, 3)] {
            let configuration = ModelConfiguration(
                name: .spikformer, inputShape: input, classes: 10, neuron: .spikformer,
                spikformer: SpikformerConfiguration(
                    embedDimension: c, heads: heads, depth: depth,
                    temporalInteraction: tim))
            let model = configuration.make()
            let expected = Self.closedFormParameters(
                inputChannels: input[0], c: c, depth: depth, classes: 10,
                timHeadDimension: withTIM ? c / heads : nil)
            #expect(model.parameterCount == expected, "\(input) C = \(c)")
            #expect(try configuration.footprint().parameters == expected)
        }
        // The DVS configuration: TIM adds D·D·5 + D = 1296 parameters per block (METHODS.md: ~1.3k).
        let dvs = { (tim: TemporalInteractionConfiguration?) in
            ModelConfiguration(
                name: .spikformer, inputShape: [2, 64, 64], classes: 10,
                spikformer: SpikformerConfiguration(temporalInteraction: tim)
            ).make().parameterCount
        }
        #expect(dvs(TemporalInteractionConfiguration()) - dvs(nil) == 2 * 1296)
    }

    @Test func modelErrorsAreThrownNotTrapped() {
        func footprint(_ input: [Int], _ s: SpikformerConfiguration) throws {
            _ = try ModelConfiguration(name: .spikformer, inputShape: input, classes: 3, spikformer: s).footprint()
        }
        #expect(throws: SNNError.self) {
            try footprint([1, 3, 3], SpikformerConfiguration(embedDimension: 16, heads: 2))
        }
        #expect(throws: SNNError.self) {
            try footprint([1, 8, 8], SpikformerConfiguration(embedDimension: 64, heads: 5))
        }
        #expect(throws: SNNError.self) {
            try footprint([1, 8, 8], SpikformerConfiguration(embedDimension: 64, depth: 0))
        }
        // The released TIM axis: 34×34 gives 25 tokens, D = 16.
        let released = TemporalInteractionConfiguration(axis: .features)
        let error = #expect(throws: SNNError.self) {
            try footprint([2, 34, 34], SpikformerConfiguration(temporalInteraction: released))
        }
        #expect(error?.message.contains("tokens = D") == true)
        #expect(throws: SNNError.self) {
            _ = try Spikformer(
                inputShape: [2, 34, 34], classes: 3,
                configuration: SpikformerConfiguration(embedDimension: 32, heads: 2, temporalInteraction: released))
        }
        // 64×64 (16 tokens) with D = 16 is the size the released variant was written for.
        #expect(throws: Never.self) {
            try footprint([2, 64, 64], SpikformerConfiguration(temporalInteraction: released))
        }
    }

    @Test(arguments: TemporalInteraction.Axis.allCases)
    func spikformerTrainsEndToEnd(_ axis: TemporalInteraction.Axis) throws {
        try GlobalRandom.withSeed(21) {
            // 8×8 → 16 tokens; D = 16 so the feature axis exists too.
            let model = try Spikformer(
                inputShape: [1, 8, 8], classes: 4,
                configuration: SpikformerConfiguration(
                    embedDimension: 32, heads: 2, depth: 1,
                    temporalInteraction: .init(axis: axis)))
            let x = randomTensor([3, 2, 1, 8, 8], seed: 22, scale: 2)
            let (loss, gradients) = valueWithGradient(at: model) { m in
                let out = m(x)
                #expect(out.shape == [3, 2, 4])
                return crossEntropy(logits: Readout.mean(out), labels: [0, 3])
            }
            #expect(loss.item.isFinite)
            #expect(gradients.byPath.count == model.namedParameters().filter(\.parameter.requiresGradient).count)
            // TIM's convolution is reached through the recurrence and the attention.
            let tim = gradients["blocks.0.attention.temporalInteraction.convolution.weight"]
            #expect(tim?.scalars.contains { $0 != 0 } == true)
        }
    }

    // MARK: TIM at initialisation

    /// Per-step firing rates of Q and Q̃ = TIM(Q) in a freshly initialised DVS-sized SSA.
    static func queryRates(_ thresholds: TemporalInteraction.Thresholds) throws -> (q: [Double], tim: [Double]) {
        try GlobalRandom.withSeed(31) {
            let ssa = try SpikingSelfAttention(
                dimension: 256, heads: 16, tokens: 16,
                temporalInteraction: TemporalInteractionConfiguration(thresholds: thresholds))
            let x = spikes([10, 4, 256, 16], probability: 0.2, seed: 32)
            let q = ssa.query(x).reshaped(to: [10, 4, 16, 16, 16])
            let tim = try #require(ssa.temporalInteraction)
            let qTilde = tim(q)
            func rates(_ s: Tensor) -> [Double] { (0..<10).map { Double(s.selecting($0).mean().item) } }
            return (rates(q), rates(qTilde))
        }
    }

    @Test func defaultThresholdsKeepQueriesFiring() throws {
        let (q, tim) = try Self.queryRates(.standard)
        for t in 0..<10 { #expect(tim[t] >= 0.9 * q[t] && q[t] > 0.05, "step \(t): Q \(q[t]), Q̃ \(tim[t])") }
        // The released thresholds silence Q̃ after step 0; the intended ones fall short of the criterion.
        let released = try Self.queryRates(.released)
        #expect(released.tim[0] == released.q[0])
        #expect(released.tim[1...].allSatisfy { $0 == 0 })
        let intended = try Self.queryRates(.intended)
        #expect((1..<10).contains { intended.tim[$0] < 0.9 * intended.q[$0] })
    }
}
