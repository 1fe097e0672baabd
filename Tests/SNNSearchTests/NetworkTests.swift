import Foundation
import SNNLayers
import SNNModels
import SNNNeurons
@testable import SNNSearch
import SNNTensor
import SNNTestSupport
import Testing

/// The motif cells and the network of a genome against hand-written compositions.
@Suite struct NetworkTests {
    /// LIF as in METHODS.md §0 (τ = 2, threshold 1, hard reset to 0), written out.
    static func lif(_ x: Tensor, _ v: Tensor?) -> (spikes: Tensor, membrane: Tensor) {
        let v = v ?? Tensor(zeros: x.shape)
        let h = v + (x - v) * 0.5
        let s = h.map { $0 >= 1 ? 1 : 0 }
        return (s, h * (1 - s))
    }

    static let neuron = NeuronConfiguration(kind: .leakyIntegrateAndFire, tau: 2, threshold: 1, reset: .hard(to: 0))

    /// A cell with random batch-norm affine parameters and statistics (so no edge is trivial), in
    /// inference mode.
    static func cell(_ motif: Motif, channels: Int = 2, seed: UInt64) -> MotifCell {
        GlobalRandom.withSeed(seed) {
            let kernels = motif.edges.indices.map { $0 % 2 == 0 ? 3 : 5 }
            let cell = MotifCell(
                motif: motif, channels: channels, inChannels0: channels, inChannels1: channels,
                reduceInput0: false, kernelSizes: kernels, makeNeuron: { neuron.makeStepwise() })
            var g = RandomGenerator(seed: seed ^ 0xBEEF)
            for edge in cell.edges {
                // Weights large enough that the spikes of one node make the next one fire.
                edge.conv.weight = Tensor.randomNormal(edge.conv.weight.shape, standardDeviation: 0.6, using: &g)
                edge.norm.weight = Tensor.randomUniform([channels], lower: 0.5, upper: 2, using: &g)
                edge.norm.bias = Tensor.randomNormal([channels], standardDeviation: 0.3, using: &g)
                edge.norm.runningMean = Tensor.randomNormal([channels], standardDeviation: 0.2, using: &g)
            }
            cell.eval()
            return cell
        }
    }

    /// Node currents, step by step, by the equations of METHODS.md §3 written out per motif.
    static func handWritten(_ cell: MotifCell, n0: [Tensor], n1: [Tensor]) -> [[Tensor]] {
        let e = cell.edges
        func P(_ k: Int, _ s: Tensor) -> Tensor { e[k].norm(e[k].conv(s)).relu() }
        func N(_ k: Int, _ s: Tensor) -> Tensor { -((-e[k].norm(e[k].conv(s))).relu()) }
        func I(_ k: Int, _ s: Tensor) -> Tensor { e[k].norm(e[k].conv(s)) }
        var v = [Tensor?](repeating: nil, count: 5), previous = [Tensor?](repeating: nil, count: 5)
        var result: [[Tensor]] = []
        for t in n0.indices {
            var s = [Tensor?](repeating: nil, count: 5), x = [Tensor?](repeating: nil, count: 5)
            func spike(_ k: Int, _ current: Tensor) {
                x[k] = current
                (s[k], v[k]) = lif(current, v[k])
            }
            spike(0, n0[t])
            spike(1, n1[t])
            switch cell.motif {
            case .feedforwardExcitation:
                spike(2, P(0, s[0]!) + P(1, s[1]!))
                spike(3, P(2, s[2]!) + I(3, s[0]!))
            case .feedforwardInhibition:
                spike(2, P(0, s[0]!) + P(1, s[1]!))
                spike(3, P(2, s[1]!) + N(3, s[2]!))
            case .feedbackInhibition:
                var n2 = P(0, s[0]!) + P(1, s[1]!)
                if let p3 = previous[3] { n2 = n2 + N(2, p3) }
                spike(2, n2)
                spike(3, P(3, s[2]!))
            case .lateralInhibition:
                spike(4, P(0, s[0]!) + P(1, s[1]!))
                spike(2, P(2, s[0]!) + N(3, s[4]!))
                spike(3, P(4, s[1]!) + N(5, s[4]!))
            case .mutualInhibition:
                var n2 = P(0, s[0]!), n3 = P(2, s[1]!)
                if let p3 = previous[3] { n2 = n2 + N(1, p3) }
                if let p2 = previous[2] { n3 = n3 + N(3, p2) }
                spike(2, n2)
                spike(3, n3)
            }
            previous = s
            result.append(x.compactMap { $0 })
        }
        return result
    }

    @Test(arguments: Motif.allCases)
    func motifFollowsItsEquations(_ motif: Motif) {
        let cell = Self.cell(motif, seed: UInt64(motif.index + 1))
        let steps = 4
        let n0 = (0..<steps).map { randomTensor([2, 2, 5, 5], seed: 100 + UInt64($0), scale: 2) }
        let n1 = (0..<steps).map { randomTensor([2, 2, 5, 5], seed: 200 + UInt64($0), scale: 2) }
        let expected = Self.handWritten(cell, n0: n0, n1: n1)
        var state = CellState(nodes: motif.nodeCount)
        var spikeCount: Float = 0
        for t in 0..<steps {
            let step = cell.step(n0: n0[t], n1: n1[t], state: &state)
            #expect(step.currents.count == expected[t].count)
            for (node, (a, b)) in zip(step.currents, expected[t]).enumerated() {
                #expect(a.shape == b.shape && relativeError(a, b) < 1e-6, "\(motif.rawValue) t \(t) node \(node)")
            }
            let (s2, _) = (step.spikes[2], step.spikes[3])
            #expect(step.output.scalars == Tensor.concatenate([s2, step.spikes[3]], alongAxis: 1).scalars)
            spikeCount += step.output.sum().item
        }
        // The comparison means something only if the internal nodes fire, but not everywhere.
        #expect(spikeCount > 0 && spikeCount < Float(steps * 2 * 4 * 25))
    }

    @Test(arguments: [Motif.feedbackInhibition, .mutualInhibition])
    func feedbackIsCausal(_ motif: Motif) {
        // Training mode: batch statistics of each step; perturbing step 2 changes nothing before it.
        let cell = Self.cell(motif, seed: 9)
        cell.train()
        let n0 = (0..<4).map { randomTensor([3, 2, 4, 4], seed: 300 + UInt64($0), scale: 2) }
        let n1 = (0..<4).map { randomTensor([3, 2, 4, 4], seed: 400 + UInt64($0), scale: 2) }
        func run(_ n1: [Tensor]) -> [Tensor] {
            var state = CellState(nodes: motif.nodeCount)
            return (0..<4).map { cell.step(n0: n0[$0], n1: n1[$0], state: &state).output }
        }
        var perturbed = n1
        perturbed[2] = perturbed[2] + randomTensor([3, 2, 4, 4], seed: 5, scale: 3)
        let a = run(n1), b = run(perturbed)
        #expect(a[0].scalars == b[0].scalars && a[1].scalars == b[1].scalars)
        #expect(a[2].scalars != b[2].scalars)
    }

    /// A genome with FbI and MI in every module, and every global connection on.
    static func genome(modules: Int = 3, connections: Bool = true) -> ArchitectureGenome {
        var g = RandomGenerator(seed: 21)
        var genome = ArchitectureGenome.random(modules: modules, using: &g)
        genome.globalConnections = (0..<modules).map { _ in (0..<modules).map { _ in connections } }
        return genome
    }

    static func network(_ genome: ArchitectureGenome, seed: UInt64 = 4) -> EvolvedNetwork {
        GlobalRandom.withSeed(seed) {
            EvolvedNetwork(
                genome: genome, space: SearchSpace(channels: 4, neuron: neuron), inputShape: [1, 8, 8], classes: 10)
        }
    }

    @Test func networkIsCausalAndShapesFollowTheModules() {
        let net = Self.network(Self.genome())
        #expect(net.cells.map { $0.map(\.channels) } == [[4, 4, 4, 4, 4], [8, 8, 8, 8, 8], [16, 16, 16, 16, 16]])
        #expect(net.projections.count == 9)
        let input = randomTensor([4, 3, 1, 8, 8], seed: 1, scale: 2)
        var changed = input.scalars
        for i in (2 * 3 * 64)..<(3 * 3 * 64) { changed[i] += 1 }
        let trace = EvolvedNetwork.Trace()
        let a = net.forward(input, trace: trace), b = net(Tensor(shape: input.shape, scalars: changed))
        #expect(a.shape == [4, 3, 10])
        #expect(a.slice(0..<2).scalars == b.slice(0..<2).scalars)
        #expect(a.slice(2..<4).scalars != b.slice(2..<4).scalars)
        // Spatial sizes halve per module.
        #expect(trace.steps[0].map { $0[0].output.shape } == [[3, 8, 8, 8], [3, 16, 4, 4], [3, 32, 2, 2]])
    }

    @Test func oddSizesBeforeAReductionAreRefused() {
        let space = SearchSpace(channels: 4, neuron: Self.neuron)
        #expect(throws: SNNError.self) { try space.validate(inputShape: [1, 6, 6], modules: 3) }
        #expect(throws: SNNError.self) { try SearchSpace(channels: 3).validate(inputShape: [1, 8, 8], modules: 2) }
        #expect(throws: SNNError.self) {
            try SearchSpace(neuron: NeuronConfiguration(kind: .psn)).validate(inputShape: [1, 8, 8], modules: 2)
        }
        #expect((try? space.validate(inputShape: [1, 6, 6], modules: 2)) != nil)
    }

    @Test func globalProjectionsLearn() {
        // Through a classification loss every projection parameter gets a finite, non-zero gradient.
        let net = Self.network(Self.genome())
        let input = randomTensor([3, 4, 1, 8, 8], seed: 2, scale: 2)
        let (_, gradients) = valueWithGradient(at: net) { net in
            crossEntropy(logits: Readout.mean(net(input)), labels: [0, 3, 5, 7])
        }
        let paths = net.namedParameters().filter {
            $0.path.hasPrefix("projections.") && $0.parameter.wrappedValue.count > 0
        }
        .map(\.path)
        #expect(paths.count == 9 * 3)  // conv weight, BN weight and bias per projection (the conv has no bias)
        for path in paths {
            let g = gradients[path]
            #expect(g != nil && g!.scalars.allSatisfy(\.isFinite) && g!.scalars.contains { $0 != 0 }, "\(path)")
        }
    }

    /// The gradient of a fixed random weighting of the n1 current of module `target`'s last cell at
    /// the last step, with respect to the weight of the projection from `source`, against central
    /// finite differences.
    static func projectionGradientError(source: Int, target: Int, steps: Int) -> Float {
        var genome = genome(connections: false)
        genome.globalConnections[source][target] = true
        let net = network(genome)
        let projection = net.projections[0]
        let input = randomTensor([steps, 2, 1, 8, 8], seed: 3, scale: 2)
        func n1(_ net: EvolvedNetwork) -> Tensor {
            let trace = EvolvedNetwork.Trace()
            _ = net.forward(input, trace: trace)
            return trace.steps[steps - 1][target][4].currents[1]
        }
        let probe = n1(net)
        let weights = randomTensor(probe.shape, seed: 8)
        let (_, gradients) = valueWithGradient(at: net) { (n1($0) * weights).sum() }
        // The projection's convolution weight, checked on 16 random elements (a full check would
        // take thousands of forward passes).
        let conv = projection.layers.layers.compactMap { $0 as? Conv2d }[0]
        let path = net.namedParameters().first { $0.parameter === conv.$weight }?.path ?? "?"
        let analytic = gradients[path]?.scalars ?? []
        let original = conv.weight
        var g = RandomGenerator(seed: 17)
        var worst: Float = 0, scale: Float = 1e-3
        var checked: [(Float, Float)] = []
        for _ in 0..<16 {
            let i = Int(g.next() % UInt64(original.count))
            var values = original.scalars
            func loss(_ delta: Float) -> Double {
                values[i] = original.scalars[i] + delta
                conv.weight = Tensor(shape: original.shape, scalars: values)
                defer { conv.weight = original }
                return Double((n1(net) * weights).sum().item)
            }
            let h: Float = 1e-2
            let numeric = Float((loss(h) - loss(-h)) / Double(2 * h))
            checked.append((analytic[i], numeric))
            scale = max(scale, abs(numeric))
        }
        for (a, n) in checked { worst = max(worst, abs(a - n)) }
        #expect(checked.contains { $0.1 != 0 }, "the sampled elements have no effect")
        return worst / scale
    }

    @Test func projectionGradientsMatchFiniteDifferences() {
        // Forward (module 0 into module 2, this step) and feedback (2 into 1, previous step).
        #expect(Self.projectionGradientError(source: 0, target: 2, steps: 1) < 1e-2)
        #expect(Self.projectionGradientError(source: 2, target: 1, steps: 2) < 1e-2)
    }
}
