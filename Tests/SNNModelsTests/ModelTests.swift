import Foundation
import SNN
import SNNTestSupport
import Testing

/// The model zoo: shapes, gradients reaching every parameter, parameter counts.
@Suite struct ModelTests {
    static let cases: [(ModelName, [Int])] = [
        (.spikingMLP, [1, 8, 8]), (.spikingCNN, [2, 8, 8]), (.vggSNN, [2, 16, 16]), (.sewResNet18, [3, 8, 8]),
        (.resnet19, [3, 8, 8]),
        (.sequentialConv, [1, 8]), (.sequentialCIFAR, [3, 8]), (.shdFC, [20]), (.recurrentMLP, [1, 8]),
        (.spikformer, [2, 8, 8]),
        (.transferSCNN, [2, 16, 16]),
    ]

    @Test(arguments: cases)
    func forwardAndBackward(_ c: (ModelName, [Int])) {
        GlobalRandom.withSeed(1) {
            // A recurrent layer needs a neuron that steps from its own state.
            for kind in NeuronKind.allCases where c.0 != .recurrentMLP || NeuronConfiguration(kind: kind).isStepwise {
                let config = ModelConfiguration(
                    name: c.0, inputShape: c.1, classes: 5,
                    neuron: NeuronConfiguration(kind: kind, threshold: 0.5, timeSteps: 3))
                let model = config.make()
                let x = randomTensor([3, 2] + c.1, seed: 2, scale: 2)
                let (loss, gradients) = valueWithGradient(at: model) { model in
                    let out = model(x)
                    #expect(out.shape == [3, 2, 5], "\(c.0) output \(out.shape)")
                    return crossEntropy(logits: Readout.mean(out), labels: [1, 3])
                }
                #expect(loss.item.isFinite)
                let parameters = model.namedParameters()
                #expect(gradients.byPath.count == parameters.filter { $0.parameter.requiresGradient }.count)
                // The classifier always receives gradient; so does at least one weight of the first layer.
                let nonzero = gradients.byPath.filter { $0.value.scalars.contains { $0 != 0 } }
                #expect(nonzero.count >= 2, "\(c.0)/\(kind): only \(nonzero.keys.sorted()) have gradient")
            }
        }
    }

    @Test func spikingCNNParameterCountClosedForm() {
        let model = ModelConfiguration(name: .spikingCNN, inputShape: [1, 28, 28], classes: 10, widths: [32, 64]).make()
        // conv 1→32 (288) + BN (64) + conv 32→64 (18432) + BN (128) + linear 64·7·7→10 (31360 + 10)
        #expect(model.parameterCount == 288 + 64 + 18432 + 128 + 31360 + 10)
        let paths = model.namedParameters().map(\.path)
        #expect(paths.first == "0.weight")
        #expect(paths.contains("1.runningMean") == false)
        #expect(model.namedBuffers().map(\.path).contains("1.runningMean"))
    }

    @Test func sequentialAndSHDParameterCountsClosedForm() {
        // METHODS.md: 2 × (3 × [Conv1d k3 128, no bias → BN → neuron] → AvgPool1d 2), Linear(128·L/4 → 256) → neuron → Linear.
        let seq = ModelConfiguration(name: .sequentialCIFAR, inputShape: [1, 28], classes: 10).make()
        #expect(
            seq.parameterCount == 128 * 1 * 3 + 5 * 128 * 128 * 3 + 6 * 2 * 128 + (128 * 7 * 256 + 256)
                + (256 * 10 + 10))
        // Linear(700 → 1024) → Dropout → BN → neuron, twice, Linear(1024 → 20).
        let shd = ModelConfiguration(name: .shdFC, inputShape: [700], classes: 20).make()
        #expect(shd.parameterCount == (700 * 1024 + 1024) + 2048 + (1024 * 1024 + 1024) + 2048 + (1024 * 20 + 20))
    }

    @Test func recurrentMLPParameterCountAndPaths() {
        // Linear(28 → 256, no bias) → BN → recurrent PLIF (256 × 256 feedback, w) → Linear(256 → 10).
        let config = ModelConfiguration(
            name: .recurrentMLP, inputShape: [1, 28], classes: 10, neuron: NeuronConfiguration(kind: .parametricLIF))
        let model = config.make()
        #expect(model.parameterCount == 28 * 256 + 2 * 256 + (256 * 256 + 1) + (256 * 10 + 10))
        // Flatten (0), Linear (1), BatchNorm1d (2), RecurrentSpiking (3), Linear (4).
        #expect(Set(model.namedParameters().map(\.path)).isSuperset(of: ["3.weight", "3.neuron.w"]))
    }

    @Test func dropoutSharedAcrossTimeDropsTheSameNeuronsAtEveryStep() {
        let dropout = Dropout(probability: 0.5, sharedAcrossTime: true, seed: 3)
        let y = dropout(Tensor(ones: [4, 6, 50]))
        let steps = (0..<4).map { y.selecting($0).scalars }
        #expect(steps.allSatisfy { $0 == steps[0] })
        #expect(Set(steps[0]) == [0, 2])  // kept entries scaled by 1/(1 − p)
        let zeros = steps[0].filter { $0 == 0 }.count
        #expect(zeros > 100 && zeros < 200)  // 300 draws at p = 0.5: ±5.8σ
        let independent = Dropout(probability: 0.5, seed: 3)(Tensor(ones: [4, 6, 50]))
        #expect(independent.selecting(0).scalars != independent.selecting(1).scalars)
    }

    @Test func plifParameterIsDiscoveredAndTrained() {
        let config = ModelConfiguration(
            name: .spikingMLP, inputShape: [4], classes: 2, neuron: NeuronConfiguration(kind: .parametricLIF),
            widths: [3])
        let model = config.make()
        // Flatten (0), Linear (1), BatchNorm1d (2), PLIF (3), Linear (4).
        #expect(model.namedParameters().map(\.path).contains("3.w"))
    }

    @Test func checkpointRoundTripRestoresOutputs() throws {
        try GlobalRandom.withSeed(3) {
            let config = ModelConfiguration(name: .sewResNet18, inputShape: [2, 8, 8], classes: 4)
            let a = config.make(), b = config.make()
            let x = randomTensor([2, 2, 2, 8, 8], seed: 4, scale: 2)
            _ = a(x)  // moves running statistics away from their initial values
            a.eval()
            b.eval()
            let path = FileManager.default.temporaryDirectory.appendingPathComponent(
                "snn-\(UUID().uuidString).safetensors"
            ).path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try a.save(to: path)
            try b.load(from: path)
            #expect(a(x).scalars == b(x).scalars)
            // A checkpoint of another architecture is refused, naming the problem.
            let other = ModelConfiguration(name: .spikingCNN, inputShape: [2, 8, 8], classes: 4).make()
            #expect(throws: SNNError.self) { try other.load(from: path) }
        }
    }
}

/// Encoders, the TET loss, spike statistics and the energy estimate.
@Suite struct SpikingUtilityTests {
    @Test func encoders() {
        let x = Tensor(shape: [1, 4], scalars: [0, 0.25, 0.5, 1])
        var direct = Encoder(.direct, timeSteps: 3)
        #expect(direct.encode(x).shape == [3, 1, 4])
        var latency = Encoder(.latency(threshold: 0), timeSteps: 5)
        // Spike at round((1 − x)·4): x = 1 → t 0, 0.5 → t 2, 0.25 → t 3, 0 → never.
        let l = latency.encode(x).scalars
        #expect(l == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
        var poisson = Encoder(.poisson(seed: 1), timeSteps: 2000)
        let p = poisson.encode(x).mean(alongAxis: 0).scalars
        for (rate, expected) in zip(p, [Float(0), 0.25, 0.5, 1]) { #expect(abs(rate - expected) < 0.04) }
        var again = Encoder(.poisson(seed: 1), timeSteps: 2000)
        #expect(again.encode(x).scalars == Encoder(.poisson(seed: 1), timeSteps: 2000).encodeOnce(x).scalars)
    }

    @Test func spikeStatisticsAndEnergyClosedForm() {
        // Linear(4→3) on analog input, LIF, Linear(3→2) on its spikes.
        GlobalRandom.withSeed(6) {
            let lif = LIF(tau: 2, threshold: 0.5, surrogate: .arctangent())
            let model = Sequential {
                Linear(4, 3); lif; Linear(3, 2)
            }
            let x = randomTensor([5, 7, 4], seed: 7, scale: 2)
            lif.statistics = SpikeStatistics()
            let counter = OperationCounter()
            let spikes = lif((model.layers[0])(x))
            _ = counter.measure { model(x) }
            let rate = Double(spikes.mean().item)
            #expect(abs(lif.statistics!.firingRate - rate) < 1e-6)
            let records = counter.records(in: model)
            #expect(records.map(\.path) == ["0", "2"])
            #expect(records[0].record.macs == Double(5 * 7 * 4 * 3) && !records[0].record.binaryInput)
            #expect(records[1].record.binaryInput)
            #expect(
                abs(records[1].record.activeMACs - Double(5 * 7 * 3 * 2) * rate) < 1e-5 * records[1].record.activeMACs)
            let energy = EnergyEstimate(records: records.map(\.record), samples: 7)
            let expected = (4.6e-12 * Double(5 * 4 * 3) + 0.9e-12 * Double(5 * 3 * 2) * rate)
            #expect(abs(energy.joules - expected) < 1e-6 * expected)
        }
    }
}

extension Encoder {
    /// A fresh encoder's first output (for comparing streams).
    func encodeOnce(_ x: Tensor) -> Tensor {
        var copy = self
        return copy.encode(x)
    }
}

/// The sequence encodings: pixel-wise (plain and permuted) and delta modulation, in closed form.
@Suite struct SequenceEncodingTests {
    @Test func pixelsAreStepsInRowMajorOrderOrAFixedPermutation() {
        let x = Tensor(shape: [2, 1, 2, 3], scalars: (0..<12).map(Float.init))
        var plain = Encoder(.pixels(permutationSeed: nil), timeSteps: 6)
        let p = plain.encode(x)
        #expect(p.shape == [6, 2, 1, 1])
        #expect(p.scalars == [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11])
        var permuted = Encoder(.pixels(permutationSeed: 3), timeSteps: 6)
        let q = permuted.encode(x).scalars, again = permuted.encode(x).scalars
        #expect(q == again)  // the same order every call
        #expect(q != p.scalars && q.sorted() == p.scalars.sorted())
        // Sample 2's pixel at step s is sample 1's pixel at step s plus 6 (the same order for both).
        #expect((0..<6).allSatisfy { q[2 * $0 + 1] == q[2 * $0] + 6 })
    }

    @Test func deltaRowsSpikeAtEveryThresholdCrossing() {
        // One feature over 5 steps: 0, 0.6, 1.3, 1.0, 0.2 with θ = 0.5 → UP at 1 and 2, DOWN at 4.
        let x = Tensor(shape: [1, 1, 5, 1], scalars: [0, 0.6, 1.3, 1.0, 0.2])
        var e = Encoder(.deltaRows(threshold: 0.5), timeSteps: 5)
        let s = e.encode(x)
        #expect(s.shape == [5, 1, 2, 1])
        #expect(s.scalars == [0, 0, 1, 0, 1, 0, 0, 0, 0, 1])
        #expect(Encoding.deltaRows(threshold: 0.5).stepShape(forSample: [3, 5, 7]) == [6, 7])
    }

    @Test func rateRowsFireWithTheRowValueAsProbability() {
        // Rows of 0, 1 and 0.3: never, always, and 30 % of the time (±5σ over 40 000 draws).
        let n = 4000
        var values = [Float](repeating: 0, count: n * 3 * 10)
        for i in 0..<n {
            for t in 0..<3 { for w in 0..<10 { values[(i * 3 + t) * 10 + w] = [0, 1, 0.3][t] } }
        }
        let x = Tensor(shape: [n, 1, 3, 10], scalars: values)
        var e = Encoder(.rateRows(seed: 5), timeSteps: 3)
        let s = e.encode(x)
        #expect(s.shape == [3, n, 1, 10])
        #expect(Encoding.rateRows(seed: 5).stepShape(forSample: [1, 3, 10]) == [1, 10])
        let v = s.scalars, per = n * 10
        #expect(v[0..<per].allSatisfy { $0 == 0 } && v[per..<(2 * per)].allSatisfy { $0 == 1 })
        let rate = Double(v[(2 * per)...].reduce(0, +)) / Double(per)
        #expect(abs(rate - 0.3) < 5 * (0.3 * 0.7 / Double(per)).squareRoot())
        // Same seed, same spikes; the next call draws new ones.
        var again = Encoder(.rateRows(seed: 5), timeSteps: 3)
        #expect(again.encode(x).scalars == v)
        #expect(e.encode(x).scalars != v)
    }
}
