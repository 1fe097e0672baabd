import Foundation
import SNN
import SNNTestSupport
import Testing

/// A conv SNN (the peers' benchmark network, small) computes the same loss and parameter gradients
/// whether convolutions hand blocked activations to BN, the fused neurons and pooling, or plain ones.
@Suite struct BlockedLayoutNetworkTests {
    func network(_ neuron: @escaping () -> any Layer) -> Sequential {
        var layers: [any Layer] = []
        var channels = 3
        for (out, pool) in [(16, false), (24, true), (8, true)] {  // 24: channel padding with 16-blocks
            layers += [Conv2d(channels, out, kernelSize: 3, padding: 1, bias: false), BatchNorm2d(out), neuron()]
            if pool { layers.append(out == 24 ? MaxPool2d(2) as any Layer : AvgPool2d(2)) }  // both poolings
            channels = out
        }
        layers += [Flatten(lastAxes: 3), Linear(channels * 2 * 2, 5)]
        return Sequential(layers)
    }

    func lossAndGradients(_ model: Sequential, blocked: Bool) -> (Float, Gradients) {
        var g = RandomGenerator(seed: 3)
        let x = Tensor.randomNormal([4, 3, 8, 8], using: &g) * 2
        let labels = [0, 1, 2, 3]
        return Tensor.$propagatesBlockedLayouts.withValue(blocked) {
            let (loss, grads) = valueWithGradient(at: model) { m in
                crossEntropy(logits: Readout.mean(m(x.repeated(3))), labels: labels)
            }
            return (loss.item, grads)
        }
    }

    @Test(arguments: ["lif", "plif", "if"])
    func blockedAndPlainPathsAgree(_ kind: String) throws {
        try #require(ConvolutionBackend.oneDNNAvailable, "oneDNN is not installed")
        let model = GlobalRandom.withSeed(11) {
            network {
                switch kind {
                case "lif":
                    return LIF(
                        tau: 2, threshold: 0.5, reset: .hard(to: 0), detachReset: true, surrogate: .arctangent(alpha: 2)
                    )
                case "plif": return PLIF(initialTau: 2, threshold: 0.5, reset: .soft, surrogate: .sigmoid(alpha: 4))
                default: return IF(threshold: 0.5, reset: .hard(to: 0), surrogate: .arctangent(alpha: 2))
                }
            }
        }
        if BLAS.cpuHasAVX2 {  // the blocked path is really taken: conv → BN → neuron → pool stay blocked
            let x = Tensor(zeros: [3, 2, 3, 8, 8])
            var h = x
            for layer in model.layers.prefix(7) { h = layer(h) }
            #expect(h.blockedBuffer != nil)
        }
        let (plainLoss, plainGrads) = lossAndGradients(model, blocked: false)
        let (blockedLoss, blockedGrads) = lossAndGradients(model, blocked: true)
        #expect(abs(plainLoss - blockedLoss) <= 1e-5 * max(1, abs(plainLoss)))
        #expect(plainGrads.byPath.keys.sorted() == blockedGrads.byPath.keys.sorted())
        for (path, g) in plainGrads.byPath {
            #expect(relativeError(blockedGrads[path]!, g) < 1e-4, "\(path)")
        }
    }
}
