import ArgumentParser
import Foundation
import SNN

/// The reset options of the command line.
enum ResetName: String, ExpressibleByArgument, CaseIterable { case hard, soft, none }

/// Neuron options shared by the commands that build models. Every option is optional: one that is
/// not given keeps the configuration's default (stated in its help), so a resumed run can tell which
/// options were given.
struct NeuronOptions: ParsableArguments {
    @Option(help: "Spiking neuron: \(NeuronKind.allCases.map(\.rawValue).joined(separator: ", ")) (default: lif).")
    var neuron: NeuronKind?
    @Option(
        help:
            "Surrogate gradient: \(SurrogateChoice.names.joined(separator: ", ")) (default: arctangent; sigmoid for spikformer)."
    )
    var surrogate: String?
    @Option(
        parsing: .unconditional, help: "Surrogate sharpness α > 0 (default: the surrogate's own; 4 for spikformer).")
    var alpha: Float?
    @Option(parsing: .unconditional, help: "Membrane time constant τ > 1 (LIF; initial τ for PLIF; default: 2).")
    var tau: Float?
    @Option(
        parsing: .unconditional,
        help: "Firing threshold V_th > 0 (default: 1; 0.5 for spikformer and evolved architectures).")
    var threshold: Float?
    @Option(help: "Reset after a spike: hard (to --reset-value), soft (subtract V_th) or none (default: hard).")
    var reset: ResetName?
    @Option(parsing: .unconditional, help: "Membrane value of a hard reset (default: 0).")
    var resetValue: Float?
    @Flag(inversion: .prefixedNo, help: "Detach the reset from the graph (no gradient through it; default: on).")
    var detachReset: Bool?
    @Option(parsing: .unconditional, help: "Order k of the masked and sliding PSN (default: 2).")
    var psnOrder: Int?

    /// The flags given on the command line.
    var given: [String] {
        [
            ("--neuron", neuron != nil), ("--surrogate", surrogate != nil), ("--alpha", alpha != nil),
            ("--tau", tau != nil),
            ("--threshold", threshold != nil), ("--reset", reset != nil), ("--reset-value", resetValue != nil),
            ("--[no-]detach-reset", detachReset != nil), ("--psn-order", psnOrder != nil),
        ].filter(\.1).map(\.0)
    }

    /// The neuron: the given options over `defaults` (``NeuronConfiguration/spikformer`` for Spikformer).
    func configuration(defaults: NeuronConfiguration = NeuronConfiguration()) throws -> NeuronConfiguration {
        var n = defaults
        if let alpha, !(alpha > 0 && alpha.isFinite) {
            throw ValidationError("--alpha must be a finite number > 0, got \(alpha)")
        }
        if let surrogate {
            guard let s = SurrogateChoice(name: surrogate, alpha: alpha) else {
                throw ValidationError(
                    "unknown surrogate '\(surrogate)'; choose one of \(SurrogateChoice.names.joined(separator: ", "))")
            }
            n.surrogate = s
        } else if let alpha, let s = SurrogateChoice(name: n.surrogate.name, alpha: alpha) {
            n.surrogate = s
        }
        if let neuron { n.kind = neuron }
        if let tau { n.tau = tau }
        if let threshold { n.threshold = threshold }
        switch reset {
        case .hard?, nil: if reset != nil || resetValue != nil { n.reset = .hard(to: resetValue ?? 0) }
        case .soft?: n.reset = .soft
        case .none?: n.reset = .none
        }
        if let detachReset { n.detachReset = detachReset }
        if let psnOrder { n.order = psnOrder }
        return n
    }
}
