import ArgumentParser
import Foundation
import SNN

extension RunDirectory.Checkpoint: ExpressibleByArgument {}

/// `snn evaluate`.
struct Evaluate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a run's best checkpoint: accuracy, per-layer firing rates, synaptic operations, energy.")

    @Option(name: .customLong("run"), help: "Run directory written by snn train.")
    var runDirectory: String
    @Option(parsing: .unconditional, help: "Time steps to evaluate with (default: the training T).")
    var timeSteps: Int?
    @Option(help: "Which checkpoint: best or last.")
    var checkpoint: RunDirectory.Checkpoint = .best
    @Flag(help: "Evaluate with every T' from 1 to the training T (train long, test short) and print each accuracy.")
    var timeStepsSweep = false
    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        if let timeSteps, timeSteps < 1 { throw ValidationError("--time-steps must be ≥ 1, got \(timeSteps)") }
        if timeSteps != nil && timeStepsSweep {
            throw ValidationError("--time-steps and --time-steps-sweep exclude each other")
        }
    }

    func run() throws {
        do {
            let directory = try RunDirectory.open(at: runDirectory)
            let config = try TrainingConfiguration(
                dictionary: try directory.readConfiguration(), file: directory.configurationPath)
            let (train, test) = try config.loadData()
            var evaluated = config
            evaluated.timeSteps = timeSteps ?? config.timeSteps
            try evaluated.validate(
                sampleShape: Array(train.images.shape.dropFirst()), trainSamples: 0, testSamples: test.count,
                training: false)
            let model = try config.makeModel(
                sampleShape: Array(train.images.shape.dropFirst()), classes: train.classCount)
            guard let state = try directory.loadCheckpoint(checkpoint, model: model, optimizer: nil) else {
                throw SNNError(.io, "no \(checkpoint.rawValue) checkpoint yet", file: directory.path)
            }
            let encoding = config.resolvedEncoding
            let option = timeStepsSweep ? "--time-steps-sweep" : "--time-steps"
            func check(_ steps: Int) throws(SNNError) {
                if steps != config.timeSteps && !config.neuron.kind.supportsAnyTimeSteps {
                    throw SNNError(
                        .invalidArgument,
                        "\(option) \(steps): \(config.neuron.kind.rawValue) neurons have T × T parameters and run only at the trained T = \(config.timeSteps)"
                    )
                }
                if encoding.requiredTimeSteps(forSample: Array(test.images.shape.dropFirst())).map({ $0 != steps })
                    ?? false
                {
                    throw SNNError(
                        .invalidArgument,
                        "\(option) \(steps): the \(config.encoding.rawValue) encoding fixes T at \(config.timeSteps)")
                }
            }
            if timeStepsSweep {
                try check(1)
                var rows: [[String: Any]] = []
                for steps in 1...config.timeSteps {
                    let r = Evaluator.evaluate(
                        model, on: test, timeSteps: steps, encoding: encoding, batchSize: config.batchSize,
                        temporalWeights: state.temporalWeights)
                    rows.append(["time_steps": steps, "test_accuracy": Double(r.accuracy), "firing_rate": r.firingRate])
                    if !json {
                        print(
                            String(
                                format: "T' = %2d: test accuracy %.2f%%, firing rate %.4f", steps, r.accuracy * 100,
                                r.firingRate))
                    }
                }
                if json {
                    print(
                        try JSONLine.encode([
                            "sweep": rows, "trained_time_steps": config.timeSteps, "epoch": state.epoch,
                        ]))
                }
                return
            }
            let steps = timeSteps ?? config.timeSteps
            try check(steps)
            let r = Evaluator.evaluate(
                model, on: test, timeSteps: steps, encoding: encoding, batchSize: config.batchSize,
                countOperations: true, temporalWeights: state.temporalWeights)
            if json {
                var rates: [String: Double] = [:], layers: [String: String] = [:]
                for (path, layer, rate) in r.firingRates {
                    rates[path] = rate
                    layers[path] = layer
                }
                print(
                    try JSONLine.encode([
                        "test_accuracy": Double(r.accuracy), "test_loss": Double(r.loss), "firing_rates": rates,
                        "firing_rate_layers": layers,
                        "firing_rate": r.firingRate, "synaptic_operations": r.synapticOperations ?? 0,
                        "macs": r.macs ?? 0,
                        "energy_joules": r.energyJoules ?? 0, "time_steps": steps, "epoch": state.epoch,
                        "samples": r.samples,
                    ]))
            } else {
                print(
                    String(
                        format: "test accuracy %.2f%% (T = %d, checkpoint %@ of epoch %d, %d samples)",
                        r.accuracy * 100, steps, checkpoint.rawValue, state.epoch, r.samples))
                for (path, layer, rate) in r.firingRates {
                    print(String(format: "  firing rate %-28@ %.4f", "\(path) (\(layer))", rate))
                }
                print(
                    String(
                        format: "synaptic operations %.3g per sample, MACs %.3g, energy %.3g µJ per sample",
                        r.synapticOperations ?? 0, r.macs ?? 0, (r.energyJoules ?? 0) * 1e6))
            }
        } catch let error as SNNError {
            throw CommandFailure(error)
        }
    }
}
