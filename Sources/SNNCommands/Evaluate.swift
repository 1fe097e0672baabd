import ArgumentParser
import Foundation
import SNN

/// `snn evaluate`.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a run's best checkpoint: accuracy, per-layer firing rates, synaptic operations, energy.")

    @Option(name: .customLong("run"), help: "Run directory written by snn train.")
    var runDirectory: String
    @Option(help: "Time steps to evaluate with (default: the training T).")
    var timeSteps: Int?
    @Option(help: "Which checkpoint: best or last.")
    var checkpoint: String = "best"
    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        if let timeSteps, timeSteps < 1 { throw ValidationError("--time-steps must be ≥ 1, got \(timeSteps)") }
        guard checkpoint == "best" || checkpoint == "last" else { throw ValidationError("--checkpoint must be best or last") }
    }

    func run() throws {
        do {
            let directory = try RunDirectory.open(at: runDirectory)
            let config = try TrainingConfiguration(dictionary: try directory.readConfiguration(), file: directory.configurationPath)
            let (train, test) = try config.dataset.load(directory: config.dataDirectory)
            let model = config.modelConfiguration(inputShape: Array(train.images.shape.dropFirst()), classes: train.classCount).make()
            guard let state = try directory.loadCheckpoint(checkpoint == "best" ? .best : .last, model: model, optimizer: nil) else {
                throw SNNError(.io, "no \(checkpoint) checkpoint yet", file: directory.path)
            }
            let steps = timeSteps ?? config.timeSteps
            if steps != config.timeSteps && !config.neuron.kind.supportsAnyTimeSteps {
                throw SNNError(.invalidArgument, "--time-steps \(steps): \(config.neuron.kind.rawValue) neurons have T × T parameters and run only at the trained T = \(config.timeSteps)")
            }
            let encoding = config.resolvedEncoding
            if encoding.requiredTimeSteps(forSample: Array(test.images.shape.dropFirst())).map({ $0 != steps }) ?? false {
                throw SNNError(.invalidArgument, "--time-steps \(steps): the \(config.encoding.rawValue) encoding fixes T at \(config.timeSteps)")
            }
            let r = Evaluator.evaluate(model, on: test, timeSteps: steps, encoding: encoding, batchSize: config.batchSize,
                                       countOperations: true)
            if json {
                var rates: [String: Double] = [:]
                for (path, rate) in r.firingRates { rates[path] = rate }
                print(try JSONLine.encode([
                    "test_accuracy": Double(r.accuracy), "test_loss": Double(r.loss), "firing_rates": rates,
                    "firing_rate": r.firingRate, "synaptic_operations": r.synapticOperations ?? 0, "macs": r.macs ?? 0,
                    "energy_joules": r.energyJoules ?? 0, "time_steps": steps, "epoch": state.epoch, "samples": r.samples,
                ]))
            } else {
                print(String(format: "test accuracy %.2f%% (T = %d, checkpoint %@ of epoch %d, %d samples)",
                             r.accuracy * 100, steps, checkpoint, state.epoch, r.samples))
                for (path, rate) in r.firingRates { print(String(format: "  firing rate %-28@ %.4f", path, rate)) }
                print(String(format: "synaptic operations %.3g per sample, MACs %.3g, energy %.3g µJ per sample",
                             r.synapticOperations ?? 0, r.macs ?? 0, (r.energyJoules ?? 0) * 1e6))
            }
        } catch let error as SNNError {
            throw CommandFailure(error)
        }
    }
}
