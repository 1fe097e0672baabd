import SNNLayers
import SNNNeurons
import SNNTensor

/// The classifier a model ends in.
public enum ClassifierHeads: Sendable, Equatable {
    /// One Linear layer.
    case single
    /// Two Linear heads on the shared features, h_s for static images and h_e for event frames
    /// (static-to-event transfer, METHODS.md §4); with `learnedStepWeights`, the heads also hold the
    /// T learnable step-weight logits c_t of the transfer loss (so that checkpoints carry them).
    case staticAndEvent(learnedStepWeights: Bool)
}

/// Which kind of input a two-head model is looking at.
public enum InputDomain: String, Sendable, CaseIterable {
    case staticImages = "static"
    case events = "event"
}

/// The learnable per-step logits c_t of the transfer loss; w_t = σ(c_t), initialised at c_t = 1.
public final class StepWeights: Module {
    @Parameter public var logits: Tensor

    public init(timeSteps: Int) {
        precondition(timeSteps >= 1, "StepWeights: need at least one time step, got \(timeSteps)")
        logits = Tensor(repeating: 1, shape: [timeSteps])
        super.init()
    }

    /// w_t = σ(c_t), `[T]`, differentiable.
    public var weights: Tensor { logits.sigmoid() }
}

/// The two classifier heads of a transfer model: the shared feature extractor g ends here, and
/// ``domain`` says which head the next call uses. It is ``InputDomain/events`` unless training
/// switches it, so inference (and `snn evaluate`) runs g and h_e only.
public final class DomainHeads: Module, Layer {
    public let staticHead: Linear
    public let eventHead: Linear
    /// c_t, when learned (absent with fixed step weights).
    public let stepWeights: StepWeights?
    /// The head of the next call.
    public var domain: InputDomain = .events

    public init(_ inFeatures: Int, _ classes: Int, learnedStepWeights timeSteps: Int?) {
        staticHead = Linear(inFeatures, classes)
        eventHead = Linear(inFeatures, classes)
        stepWeights = timeSteps.map(StepWeights.init(timeSteps:))
        super.init()
    }

    public func callAsFunction(_ input: Tensor) -> Tensor {
        switch domain {
        case .staticImages: staticHead(input)
        case .events: eventHead(input)
        }
    }
}

extension Module {
    /// The model's two classifier heads, when it has them.
    public var domainHeads: DomainHeads? {
        namedModules().lazy.compactMap { $0.module as? DomainHeads }.first
    }

    /// The neurons whose post-reset membrane potentials the transfer alignment compares: the last
    /// membrane-recording neuron layer before the model's first Linear layer, i.e. the neurons of the
    /// last conv layer in every conv model of the zoo (the transfer SCNN's FC neurons come after
    /// its first Linear). Nil when the model has none (an MLP, or parallel neurons).
    public var alignmentNeurons: (path: String, neuron: any MembraneRecording)? {
        var found: (String, any MembraneRecording)?
        for (path, module) in namedModules() {
            if module is Linear { break }
            if let neuron = module as? any MembraneRecording { found = (path, neuron) }
        }
        return found
    }
}
