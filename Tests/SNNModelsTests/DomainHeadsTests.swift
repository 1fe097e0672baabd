import Foundation
import SNN
import SNNTestSupport
import Testing

/// The two-head models of static-to-event transfer: each head's forward equals a single-head model
/// holding the same weights, the transfer SCNN's shape and size, and the alignment neurons.
@Suite struct DomainHeadsTests {
    static let neuron = NeuronConfiguration(kind: .leakyIntegrateAndFire, threshold: 0.5, timeSteps: 3)

    @Test(arguments: [(ModelName.transferSCNN, [2, 28, 28]), (.spikingCNN, [2, 8, 8]), (.resnet19, [2, 8, 8])])
    func eachHeadEqualsASingleHeadModel(_ c: (ModelName, [Int])) throws {
        GlobalRandom.seed(3)
        let two = ModelConfiguration(
            name: c.0, inputShape: c.1, classes: 4, neuron: Self.neuron,
            heads: .staticAndEvent(learnedStepWeights: true)
        ).make()
        let single = ModelConfiguration(name: c.0, inputShape: c.1, classes: 4, neuron: Self.neuron).make()
        let heads = try #require(two.domainHeads)
        let prefix = try #require(two.namedModules().first { $0.module === heads }).path
        #expect(heads.stepWeights?.logits.scalars == [1, 1, 1])
        let x = randomTensor([3, 2] + c.1, seed: 4, scale: 2)
        two.eval()
        single.eval()
        for (domain, head) in [(InputDomain.events, "eventHead."), (.staticImages, "staticHead.")] {
            // The single-head model gets the shared weights and this head's.
            var state: [String: Tensor] = [:]
            for (path, tensor) in two.stateDictionary() where !path.hasPrefix(prefix) { state[path] = tensor }
            for (path, tensor) in two.stateDictionary() where path.hasPrefix(prefix + head) {
                state[prefix + path.dropFirst(prefix.count + head.count)] = tensor
            }
            try single.load(stateDictionary: state)
            heads.domain = domain
            #expect(two(x).scalars == single(x).scalars, "\(c.0.rawValue), \(domain.rawValue) head")
        }
        // Inference uses the event head by default.
        let fresh = ModelConfiguration(
            name: c.0, inputShape: c.1, classes: 4, neuron: Self.neuron,
            heads: .staticAndEvent(learnedStepWeights: false)
        ).make()
        #expect(fresh.domainHeads?.domain == .events && fresh.domainHeads?.stepWeights == nil)
    }

    @Test func transferSCNNHasThePapersShapeAndSize() throws {
        let model = ModelConfiguration(
            name: .transferSCNN, inputShape: [2, 28, 28], classes: 10,
            neuron: Self.neuron
        ).make()
        // conv 2→15 (5·5·2·15 + 15), conv 15→40 (5·5·15·40 + 40), FC 640→300, FC 300→10.
        #expect(model.parameterCount == (750 + 15) + (15000 + 40) + (640 * 300 + 300) + (300 * 10 + 10))
        #expect(model(randomTensor([3, 2, 2, 28, 28], seed: 5)).shape == [3, 2, 10])
        // The alignment neurons are those of the last conv layer (before the FC), not the FC's.
        let (path, neurons) = try #require(model.alignmentNeurons)
        #expect(path == "4.")
        neurons.recordsMembrane = true
        let x = randomTensor([3, 2, 2, 28, 28], seed: 6, scale: 3)
        let recorded = model(x)
        let membrane = try #require(neurons.recordedMembrane)
        #expect(membrane.shape == [3, 2, 40, 8, 8])
        // Recording changes nothing, and the membrane is the neuron's own step-by-step one.
        neurons.recordsMembrane = false
        #expect(neurons.recordedMembrane == nil)
        #expect(model(x).scalars == recorded.scalars)
        try Self.expectStepByStepMembrane(model, x, neuronIndex: 4, recorded: membrane)
    }

    /// The membrane recorded at layer `neuronIndex` of a Sequential `model` on `x` equals the neuron's
    /// step-by-step composition on that layer's input.
    static func expectStepByStepMembrane(_ model: any Layer, _ x: Tensor, neuronIndex: Int, recorded: Tensor) throws {
        let layers = try #require(model as? Sequential)
        let input = layers.layers[0..<neuronIndex].reduce(x) { $1($0) }
        let neuron = try #require(layers.layers[neuronIndex] as? any SpikingNeuron)
        let reference = neuron.stepByStep(input).membrane
        #expect(reference.isClose(to: recorded, relativeTolerance: 1e-5, absoluteTolerance: 1e-5))
    }

    @Test func recordingBehindBatchNormMatchesTheStepByStepNeuron() throws {
        // Conv → BN → LIF: the neuron's input comes from a convolution's (possibly channel-blocked) output.
        GlobalRandom.seed(8)
        let model = ModelConfiguration(name: .spikingCNN, inputShape: [2, 8, 8], classes: 3, neuron: Self.neuron).make()
        let (path, neurons) = try #require(model.alignmentNeurons)
        #expect(path == "6.")
        let x = randomTensor([3, 2, 2, 8, 8], seed: 9, scale: 3)
        neurons.recordsMembrane = true
        _ = model(x)
        let membrane = try #require(neurons.recordedMembrane)
        neurons.recordsMembrane = false
        try Self.expectStepByStepMembrane(model, x, neuronIndex: 6, recorded: membrane)
    }

    @Test func alignmentNeuronsOfTheConvModels() throws {
        // spiking-cnn [32, 64]: conv, BN, LIF, pool, conv, BN, LIF (6); vgg-snn: 8 conv blocks and 4 pools, its
        // last LIF at 26; the residual nets: the last block's last neuron; an MLP has none before its Linear.
        let paths: [(ModelName, [Int], String?)] = [
            (.spikingCNN, [2, 8, 8], "6."), (.vggSNN, [2, 16, 16], "26."),
            (.sewResNet18, [2, 8, 8], "layers.7.body.5."),
            (.resnet19, [2, 8, 8], "layers.7.sn2."), (.spikingMLP, [2, 8, 8], nil),
        ]
        for (name, input, expected) in paths {
            let model = ModelConfiguration(name: name, inputShape: input, classes: 3, neuron: Self.neuron).make()
            #expect(model.alignmentNeurons?.path == expected, "\(name.rawValue)")
        }
    }
}
