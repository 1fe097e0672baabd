import Foundation
import SNN
import SNNTestSupport
import Testing

/// Layers, losses and kernels against values computed by PyTorch (Fixtures/torch/make_reference.py).
@Suite struct TorchReferenceTests {
    let fixture: JSONFixture

    init() throws {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
            .appendingPathComponent("torch/reference.json")
        fixture = try JSONFixture(url: url)
    }

    @Test func crossEntropyWithAndWithoutLabelSmoothing() {
        let logits = fixture.tensor("loss_inputs/logits", shape: [5, 7]), labels = fixture.ints("loss_inputs/labels")
        for smoothing in ["0.0", "0.1"] {
            let (loss, grad) = valueWithGradient(at: logits) {
                crossEntropy(logits: $0, labels: labels, labelSmoothing: Float(smoothing)!)
            }
            #expect(abs(loss.item - fixture.float("cross_entropy_\(smoothing)/loss")) < 1e-5)
            #expect(relativeError(grad, fixture.tensor("cross_entropy_\(smoothing)/grad", shape: [5, 7])) < 1e-5)
        }
    }

    @Test func klDivergenceBatchMean() {
        let logits = fixture.tensor("loss_inputs/logits", shape: [5, 7])
        let targets = fixture.tensor("kl_div/targets", shape: [5, 7])
        let (loss, grad) = valueWithGradient(at: logits) {
            klDivergence(logProbabilities: $0.logSoftmax(alongAxis: 1), targetProbabilities: targets)
        }
        #expect(abs(loss.item - fixture.float("kl_div/loss")) < 1e-5)
        #expect(relativeError(grad, fixture.tensor("kl_div/grad", shape: [5, 7])) < 1e-5)
    }

    @Test func batchNorm2dTrainingAndInference() {
        let bn = BatchNorm2d(3)
        bn.weight = Tensor([1.5, -0.5, 2.0])
        bn.bias = Tensor([0.1, 0.2, -0.3])
        let x = fixture.tensor("batchnorm2d/input", shape: [2, 3, 4, 5])
        let upstream = fixture.tensor("batchnorm2d/upstream", shape: [2, 3, 4, 5])
        let (_, grads) = valueWithGradient(at: [x, bn.weight, bn.bias]) { t in
            bn.weight = t[1]
            bn.bias = t[2]
            let y = bn(t[0])
            #expect(relativeError(y.detached, fixture.tensor("batchnorm2d/output", shape: [2, 3, 4, 5])) < 1e-5)
            return (y * upstream).sum()
        }
        bn.weight = bn.weight.detached
        bn.bias = bn.bias.detached
        #expect(relativeError(grads[0], fixture.tensor("batchnorm2d/input_grad", shape: [2, 3, 4, 5])) < 1e-4)
        #expect(relativeError(grads[1], fixture.tensor("batchnorm2d/weight_grad", shape: [3])) < 1e-5)
        #expect(relativeError(grads[2], fixture.tensor("batchnorm2d/bias_grad", shape: [3])) < 1e-5)
        #expect(relativeError(bn.runningMean, fixture.tensor("batchnorm2d/running_mean", shape: [3])) < 1e-6)
        #expect(relativeError(bn.runningVariance, fixture.tensor("batchnorm2d/running_var", shape: [3])) < 1e-6)
        bn.eval()
        #expect(relativeError(bn(x), fixture.tensor("batchnorm2d/eval_output", shape: [2, 3, 4, 5])) < 1e-5)
    }

    @Test func batchNormPoolsStatisticsOverLeadingAxes() {
        // [T, N, C, H, W] behaves like [T·N, C, H, W]: statistics over T·N·H·W, as the papers do.
        let bn1 = BatchNorm2d(3), bn2 = BatchNorm2d(3)
        let x = fixture.tensor("batchnorm2d/input", shape: [2, 3, 4, 5])
        let folded = bn1(x)
        let timeMajor = bn2(x.reshaped(to: [1, 2, 3, 4, 5]))
        #expect(timeMajor.reshaped(to: [2, 3, 4, 5]).isClose(to: folded))
        #expect(bn1.runningVariance.isClose(to: bn2.runningVariance))
    }

    @Test func layerNorm() {
        let ln = LayerNorm([4, 5])
        ln.weight = fixture.tensor("layernorm/weight", shape: [4, 5])
        ln.bias = fixture.tensor("layernorm/bias", shape: [4, 5])
        let x = fixture.tensor("batchnorm2d/input", shape: [2, 3, 4, 5])
        let upstream = fixture.tensor("batchnorm2d/upstream", shape: [2, 3, 4, 5])
        let (_, g) = valueWithGradient(at: x) { x in
            let y = ln(x)
            #expect(relativeError(y.detached, fixture.tensor("layernorm/output", shape: [2, 3, 4, 5])) < 1e-5)
            return (y * upstream).sum()
        }
        #expect(relativeError(g, fixture.tensor("layernorm/input_grad", shape: [2, 3, 4, 5])) < 1e-4)
    }

    @Test func resizingAndPoolingMatchPyTorch() {
        let img = fixture.tensor("resize_input", shape: [2, 3, 7, 5])
        #expect(
            relativeError(
                img.interpolated(size: (11, 4), mode: .bilinear), fixture.tensor("bilinear_11x4", shape: [2, 3, 11, 4]))
                < 1e-6)
        #expect(
            relativeError(
                img.interpolated(size: (3, 3), mode: .bilinear), fixture.tensor("bilinear_3x3", shape: [2, 3, 3, 3]))
                < 1e-6)
        #expect(img.interpolated(size: (11, 4), mode: .nearest).scalars == fixture.floats("nearest_11x4"))
        #expect(img.interpolated(size: (3, 2), mode: .nearest).scalars == fixture.floats("nearest_3x2"))
        #expect(
            relativeError(
                img.avgPool2d(kernelSize: (3, 3), stride: (2, 2), padding: (1, 1)),
                fixture.tensor("avgpool_3_2_1", shape: [2, 3, 4, 3])) < 1e-6)
        #expect(
            img.maxPool2d(kernelSize: (3, 3), stride: (2, 2), padding: (1, 1)).scalars
                == fixture.floats("maxpool_3_2_1"))
        #expect(
            relativeError(
                img.adaptiveAvgPool2d(outputSize: (4, 3)), fixture.tensor("adaptive_4x3", shape: [2, 3, 4, 3])) < 1e-6)
    }

    final class TwoParameters: Module {
        @Parameter var weight: Tensor
        @Parameter var bias: Tensor
        init(weight: Tensor, bias: Tensor) {
            self.weight = weight
            self.bias = bias
        }
    }

    @Test(arguments: ["sgd", "sgd_momentum_wd", "sgd_nesterov", "adam", "adamw", "adamw_exclude_1d"])
    func optimizerTrajectory(_ name: String) {
        let model = TwoParameters(
            weight: fixture.tensor("optim_inputs/weight", shape: [3, 4]),
            bias: fixture.tensor("optim_inputs/bias", shape: [4]))
        let optimizer: any Optimizer =
            switch name {
            case "sgd": SGD(learningRate: 0.1)
            case "sgd_momentum_wd": SGD(learningRate: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01)
            case "sgd_nesterov": SGD(learningRate: 0.05, momentum: 0.8, nesterov: true)
            case "adam": Adam(learningRate: 0.01, weightDecay: 0.1)
            case "adamw": AdamW(learningRate: 0.01, weightDecay: 0.05)
            default: AdamW(learningRate: 0.01, weightDecay: 0.05, excludeOneDimensionalFromDecay: true)
            }
        for step in 0..<5 {
            let gradients = Gradients(byPath: [
                "weight": fixture.tensor("optim_inputs/grads/\(step)/weight", shape: [3, 4]),
                "bias": fixture.tensor("optim_inputs/grads/\(step)/bias", shape: [4]),
            ])
            optimizer.update(model, along: gradients)
        }
        #expect(relativeError(model.weight, fixture.tensor("optim_\(name)/weight", shape: [3, 4])) < 1e-5)
        #expect(relativeError(model.bias, fixture.tensor("optim_\(name)/bias", shape: [4])) < 1e-5)
    }
}
