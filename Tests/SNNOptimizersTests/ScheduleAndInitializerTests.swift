import Foundation
import SNN
import SNNTestSupport
import Testing

/// Learning-rate schedules, gradient clipping and initialisers against closed forms.
@Suite struct ScheduleTests {
    @Test func cosineWithWarmup() {
        let s = CosineWithWarmup(
            baseLearningRate: 0.1, totalEpochs: 20, warmupEpochs: 4, warmupStartLearningRate: 0.001,
            minimumLearningRate: 0.0001)
        let expected: [Float] = (0..<21).map { e in
            if e < 4 { return 0.001 + Float(e) * (0.1 - 0.001) / 4 }
            return 0.0001 + 0.5 * (0.1 - 0.0001) * (1 + cos(Float.pi * Float(e) / 20))
        }
        for e in 0...20 { #expect(abs(s.learningRate(epoch: e) - expected[e]) < 1e-7, "epoch \(e)") }
        #expect(abs(s.learningRate(epoch: 20) - 0.0001) < 1e-7)
    }

    @Test func stepAndLinearScaling() {
        let s = StepSchedule(baseLearningRate: 1, stepSize: 3, gamma: 0.5)
        #expect((0..<7).map { s.learningRate(epoch: $0) } == [1, 1, 1, 0.5, 0.5, 0.5, 0.25])
        #expect(linearScaledLearningRate(base: 5e-3, batchSize: 128) == 5e-3 * 128 / 1024)
        #expect(ConstantSchedule(0.3).learningRate(epoch: 99) == 0.3)
    }

    @Test func gradientClippingByGlobalNorm() {
        var g = Gradients(byPath: ["a": Tensor([3, 0]), "b": Tensor(shape: [1, 1], scalars: [4])])
        let norm = clipGradientNorm(&g, maxNorm: 1)
        #expect(abs(norm - 5) < 1e-6)
        let factor: Float = 1 / (5 + 1e-6)
        #expect(g["a"]!.isClose(to: Tensor([3 * factor, 0])))
        #expect(g["b"]!.isClose(to: Tensor(shape: [1, 1], scalars: [4 * factor])))
        var small = Gradients(byPath: ["a": Tensor([0.3, 0.4])])
        clipGradientNorm(&small, maxNorm: 1)
        #expect(small["a"]!.scalars == [0.3, 0.4])
    }
}

@Suite(.serialized) struct InitializerTests {
    @Test func kaimingAndXavierMoments() {
        GlobalRandom.withSeed(11) {
            let shape = [256, 64, 3, 3]  // fanIn 576, fanOut 2304
            let normal = Initializer.kaimingNormal(shape)
            let std = normal.variance(alongAxes: [0, 1, 2, 3]).item.squareRoot()
            #expect(abs(std - (2 / Float(576)).squareRoot()) < 0.01 * (2 / Float(576)).squareRoot() * 3)
            #expect(abs(normal.mean().item) < 0.002)
            let fanOut = Initializer.kaimingNormal(shape, mode: .fanOut)
            #expect(
                abs(fanOut.variance(alongAxes: [0, 1, 2, 3]).item.squareRoot() - (2 / Float(2304)).squareRoot()) < 0.001
            )
            let uniform = Initializer.kaimingUniform(shape)
            let bound = Float(2).squareRoot() * (3 / Float(576)).squareRoot()
            #expect(uniform.scalars.allSatisfy { abs($0) <= bound })
            #expect(uniform.scalars.max()! > 0.99 * bound && uniform.scalars.min()! < -0.99 * bound)
            let xavier = Initializer.xavierUniform([100, 50])
            let xb = (6 / Float(150)).squareRoot()
            #expect(xavier.scalars.allSatisfy { abs($0) <= xb })
        }
    }

    @Test func truncatedNormalStaysInBounds() {
        GlobalRandom.withSeed(12) {
            let t = Initializer.truncatedNormal([20000], mean: 0, standardDeviation: 1, lower: -1, upper: 1.5)
            #expect(t.scalars.allSatisfy { $0 >= -1 && $0 <= 1.5 })
            // Mean of N(0, 1) truncated to [−1, 1.5]: (φ(−1) − φ(1.5)) / (Φ(1.5) − Φ(−1)) ≈ 0.1356.
            #expect(abs(t.mean().item - 0.1356) < 0.02)
        }
    }

    @Test func layersUsePyTorchDefaultBounds() {
        let linear = GlobalRandom.withSeed(13) { Linear(300, 40) }
        let bound = 1 / Float(300).squareRoot()
        #expect(
            linear.weight.scalars.allSatisfy { abs($0) <= bound } && linear.bias.scalars.allSatisfy { abs($0) <= bound }
        )
        let conv = Conv2d(8, 4, kernelSize: 3)
        let cb = 1 / Float(72).squareRoot()
        #expect(conv.weight.scalars.allSatisfy { abs($0) <= cb })
        // One seed, one model.
        #expect(GlobalRandom.withSeed(13) { Linear(300, 40) }.weight.scalars == linear.weight.scalars)
    }
}

/// Misuse stops the program with a message that names the shapes (debug builds print it).
@Suite struct PreconditionTests {
    @Test func matmulShapeMismatchNamesTheShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.matmul(Tensor(zeros: [2, 3]), Tensor(zeros: [4, 5]))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("[2, 3]") && message.contains("[4, 5]"), "message: \(message)")
    }

    @Test func convChannelMismatchNamesTheShapes() async {
        let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.conv2d(Tensor(zeros: [1, 3, 5, 5]), weight: Tensor(zeros: [4, 2, 3, 3]))
        }
        let message = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
        #expect(message.contains("[4, 2, 3, 3]") && message.contains("[1, 3, 5, 5]"), "message: \(message)")
    }
}
