import Foundation
import SNNLayers
import SNNNeurons
import SNNTensor

/// The spiking neuron models selectable by name.
public enum NeuronKind: String, Sendable, CaseIterable {
    case integrateAndFire = "if"
    case leakyIntegrateAndFire = "lif"
    case parametricLIF = "plif"
    case psn = "psn"
    case maskedPSN = "masked-psn"
    case slidingPSN = "sliding-psn"
    case psu = "psu"
    case ipsu = "ipsu"
    case rpsu = "rpsu"

    /// Whether a model built with this neuron runs at any number of time steps (stateful neurons
    /// and the sliding PSN), or only at the T it was built for (PSN, masked PSN, the PSU family).
    public var supportsAnyTimeSteps: Bool {
        switch self {
        case .integrateAndFire, .leakyIntegrateAndFire, .parametricLIF, .slidingPSN: true
        case .psn, .maskedPSN, .psu, .ipsu, .rpsu: false
        }
    }
}

/// A neuron layer whose masking follows the training progress (masked PSN).
public protocol ProgressivelyMasked: AnyObject {
    /// Sets λ for the given epoch (0-based) of `epochs`.
    func updateMask(epoch: Int, epochs: Int)
}

extension MaskedPSN: ProgressivelyMasked {
    public func updateMask(epoch: Int, epochs: Int) {
        lambda = Tensor([Self.lambda(epoch: epoch, epochs: epochs)])
    }
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
    /// T, for the neurons whose parameters are T×T matrices (PSN, masked PSN, the PSU family).
    public var timeSteps: Int
    /// The order k of the masked and sliding PSN.
    public var order: Int

    public init(
        kind: NeuronKind = .leakyIntegrateAndFire, surrogate: SurrogateChoice = .arctangent(alpha: 2),
        tau: Float = 2, threshold: Float = 1, reset: Reset = .hard(to: 0), detachReset: Bool = true,
        decayInput: Bool = true, timeSteps: Int = 4, order: Int = 2
    ) {
        self.timeSteps = timeSteps
        self.order = order
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

    /// Whether the neuron runs one step at a time from its own state (IF, LIF, PLIF), as recurrent
    /// layers need; the parallel neurons see all steps at once.
    public var isStepwise: Bool {
        switch kind {
        case .integrateAndFire, .leakyIntegrateAndFire, .parametricLIF: true
        case .psn, .maskedPSN, .slidingPSN, .psu, .ipsu, .rpsu: false
        }
    }

    /// A new stepwise neuron (IF, LIF or PLIF), for recurrent layers.
    public func makeStepwise() -> any SpikingNeuron {
        precondition(
            isStepwise, "\(kind.rawValue) computes all time steps at once; a recurrent layer needs if, lif or plif")
        return surrogate.withSurrogate { makeStepwise($0) }
    }

    private func makeStepwise<S: Surrogate>(_ s: S) -> any SpikingNeuron {
        switch kind {
        case .integrateAndFire: IF(threshold: threshold, reset: reset, detachReset: detachReset, surrogate: s)
        case .leakyIntegrateAndFire:
            LIF(
                tau: tau, threshold: threshold, reset: reset, detachReset: detachReset, decayInput: decayInput,
                surrogate: s)
        case .parametricLIF:
            PLIF(
                initialTau: tau, threshold: threshold, reset: reset, detachReset: detachReset, decayInput: decayInput,
                surrogate: s)
        case .psn, .maskedPSN, .slidingPSN, .psu, .ipsu, .rpsu:
            preconditionFailure(
                "\(kind.rawValue) computes all time steps at once; a recurrent layer needs if, lif or plif")
        }
    }

    private func makeNeuron<S: Surrogate>(_ s: S) -> any Layer {
        switch kind {
        case .integrateAndFire, .leakyIntegrateAndFire, .parametricLIF:
            makeStepwise(s)
        case .psn:
            PSN(timeSteps: timeSteps, surrogate: s)
        case .maskedPSN:
            MaskedPSN(timeSteps: timeSteps, order: min(order, timeSteps), surrogate: s)
        case .slidingPSN:
            SlidingPSN(order: order, surrogate: s)
        case .psu:
            ParallelSpikingUnit(.psu, timeSteps: timeSteps, tau: tau, threshold: threshold, surrogate: surrogate)
        case .ipsu:
            ParallelSpikingUnit(.ipsu, timeSteps: timeSteps, tau: tau, threshold: threshold, surrogate: surrogate)
        case .rpsu:
            ParallelSpikingUnit(.rpsu, timeSteps: timeSteps, tau: tau, threshold: threshold, surrogate: surrogate)
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
        return [
            "kind": kind.rawValue, "surrogate": surrogate.name, "alpha": Double(surrogate.alpha), "tau": Double(tau),
            "threshold": Double(threshold), "reset": reset, "detach_reset": detachReset, "decay_input": decayInput,
            "time_steps": timeSteps, "order": order,
        ]
    }

    /// Reads ``dictionary`` back; nil when something is missing or unknown.
    public init?(dictionary d: [String: Any]) {
        guard let kindName = d["kind"] as? String, let kind = NeuronKind(rawValue: kindName),
            let sName = d["surrogate"] as? String, let alpha = (d["alpha"] as? NSNumber)?.floatValue,
            let surrogate = SurrogateChoice(name: sName, alpha: alpha),
            let tau = (d["tau"] as? NSNumber)?.floatValue, let threshold = (d["threshold"] as? NSNumber)?.floatValue,
            let detach = d["detach_reset"] as? Bool, let decay = d["decay_input"] as? Bool
        else { return nil }
        let reset: Reset
        if let hard = (d["reset"] as? [String: Any])?["hard"] as? NSNumber {
            reset = .hard(to: hard.floatValue)
        } else if d["reset"] as? String == "soft" {
            reset = .soft
        } else if d["reset"] as? String == "none" {
            reset = .none
        } else {
            return nil
        }
        self.init(
            kind: kind, surrogate: surrogate, tau: tau, threshold: threshold, reset: reset, detachReset: detach,
            decayInput: decay,
            timeSteps: (d["time_steps"] as? NSNumber)?.intValue ?? 4, order: (d["order"] as? NSNumber)?.intValue ?? 2)
    }
}
