import Foundation
import SNN
import SNNTestSupport
import Testing

/// SSA, with and without TIM on either axis, against the original Spikformer attention written in
/// PyTorch with SpikingJelly neurons (fixtures from Fixtures/make_ssa_reference.py).
@Suite struct SpikingSelfAttentionReferenceTests {
    static let fixture: JSONFixture = {
        let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(
            "ssa_reference.json")
        return try! JSONFixture(url: url)
    }()

    @Test(arguments: ["plain", "tim_tokens", "tim_features"])
    func matchesSpikingJelly(_ name: String) throws {
        let f = Self.fixture, c = "cases/\(name)/"
        let shape = f.ints("shape"), heads = (f.value("heads") as! NSNumber).intValue
        let (channels, tokens) = (shape[2], shape[3]), d = channels / heads
        let axis = (f.value(c + "axis") as? String).flatMap(TemporalInteraction.Axis.init(rawValue:))
        let ssa = try SpikingSelfAttention(
            dimension: channels, heads: heads, tokens: tokens,
            temporalInteraction: axis.map { TemporalInteractionConfiguration(axis: $0) })
        for (part, branch) in [("q", ssa.query), ("k", ssa.key), ("v", ssa.value), ("proj", ssa.projection)] {
            let conv = branch.layers[0] as! Conv1d, norm = branch.layers[1] as! BatchNorm
            conv.weight = f.tensor("weights/\(part)_weight", shape: [channels, channels, 1])
            norm.weight = f.tensor("weights/\(part)_bn_weight", shape: [channels])
            norm.bias = f.tensor("weights/\(part)_bn_bias", shape: [channels])
        }
        (ssa.projection.layers[0] as! Conv1d).bias = f.tensor("weights/proj_bias", shape: [channels])
        let queryConv = ssa.query.layers[0] as! Conv1d
        var sources = [f.tensor(c + "x", shape: shape), queryConv.weight]
        if let tim = ssa.temporalInteraction {
            tim.convolution.weight = f.tensor("weights/tim_weight", shape: [d, d, 5])
            tim.convolution.bias = f.tensor("weights/tim_bias", shape: [d])
            sources.append(tim.convolution.weight)
        }
        let r = f.tensor(c + "r", shape: shape)
        var output = Tensor(0)
        let (_, gradients) = valueWithGradient(at: sources) { t in
            queryConv.weight = t[1]
            if t.count > 2 { ssa.temporalInteraction?.convolution.weight = t[2] }
            output = ssa(t[0])
            return (output * r).sum()
        }
        #expect(output.scalars == f.floats(c + "y"), "\(name): spikes differ")
        #expect(relativeError(gradients[0], f.tensor(c + "x_grad", shape: shape)) < 1e-4)
        #expect(relativeError(gradients[1], f.tensor(c + "q_weight_grad", shape: [channels, channels, 1])) < 1e-4)
        if gradients.count > 2 {
            #expect(relativeError(gradients[2], f.tensor(c + "tim_weight_grad", shape: [d, d, 5])) < 1e-4)
        }
    }
}
