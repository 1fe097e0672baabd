import Foundation
import SNNLayers
import SNNNeurons
import SNNTensor

/// The spiking neuron models selectable by name.
public enum NeuronKind: String, Sendable, CaseIterable {
    case integrateAndFire = "if"
    case leakyIntegrateAndFire = "lif"
    case parametricLIF = "plif"
}

/// Everything needed to build the neuron layers of a model.
public struct NeuronConfiguration: Sendable, Equatable {
    public var kind: NeuronKind
    public var surrogate: SurrogateChoice
    public var tau: Float
    public var threshold: Float
    public var reset: Reset
    public var detachReset: Bool
    public var decayInput: Bool

    public init(kind: NeuronKind = .leakyIntegrateAndFire, surrogate: SurrogateChoice = .arctangent(alpha: 2),
                tau: Float = 2, threshold: Float = 1, reset: Reset = .hard(to: 0), detachReset: Bool = true,
                decayInput: Bool = true) {
        self.kind = kind
        self.surrogate = surrogate
        self.tau = tau
        self.threshold = threshold
        self.reset = reset
        self.detachReset = detachReset
        self.decayInput = decayInput
    }

    /// A new neuron layer.
    public func make() -> any Layer {
        surrogate.withSurrogate { makeNeuron($0) }
    }

    private func makeNeuron<S: Surrogate>(_ s: S) -> any Layer {
        switch kind {
        case .integrateAndFire:
            IF(threshold: threshold, reset: reset, detachReset: detachReset, surrogate: s)
        case .leakyIntegrateAndFire:
            LIF(tau: tau, threshold: threshold, reset: reset, detachReset: detachReset, decayInput: decayInput, surrogate: s)
        case .parametricLIF:
            PLIF(initialTau: tau, threshold: threshold, reset: reset, detachReset: detachReset, decayInput: decayInput, surrogate: s)
        }
    }

    /// A JSON-compatible description (run configurations).
    public var dictionary: [String: Any] {
        var reset: Any
        switch self.reset {
        case .hard(let v): reset = ["hard": Double(v)]
        case .soft: reset = "soft"
        case .none: reset = "none"
        }
        return ["kind": kind.rawValue, "surrogate": surrogate.name, "alpha": Double(surrogate.alpha), "tau": Double(tau),
                "threshold": Double(threshold), "reset": reset, "detach_reset": detachReset, "decay_input": decayInput]
    }

    /// Reads ``dictionary`` back; nil when something is missing or unknown.
    public init?(dictionary d: [String: Any]) {
        guard let kindName = d["kind"] as? String, let kind = NeuronKind(rawValue: kindName),
              let sName = d["surrogate"] as? String, let alpha = (d["alpha"] as? NSNumber)?.floatValue,
              let surrogate = SurrogateChoice(name: sName, alpha: alpha),
              let tau = (d["tau"] as? NSNumber)?.floatValue, let threshold = (d["threshold"] as? NSNumber)?.floatValue,
              let detach = d["detach_reset"] as? Bool, let decay = d["decay_input"] as? Bool else { return nil }
        let reset: Reset
        if let hard = (d["reset"] as? [String: Any])?["hard"] as? NSNumber { reset = .hard(to: hard.floatValue) }
        else if d["reset"] as? String == "soft" { reset = .soft }
        else if d["reset"] as? String == "none" { reset = .none }
        else { return nil }
        self.init(kind: kind, surrogate: surrogate, tau: tau, threshold: threshold, reset: reset, detachReset: detach, decayInput: decay)
    }
}
