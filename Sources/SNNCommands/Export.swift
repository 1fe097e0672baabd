import ArgumentParser
import Foundation
import SNN

/// `snn export`.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a run's trained model in another format: NIR (the Neuromorphic Intermediate Representation).",
        discussion: """
            Sequential models (spiking-mlp, shd-fc, transfer-scnn, imported networks) with IF, LIF or PLIF \
            neurons and a hard reset; batch norm is folded into the Linear or Conv2d before it. Time constants \
            follow SpikingJelly's and snnTorch's exporters: dt = 1e-4 s (in the graph's metadata), LIF \
            tau = τ·dt, r = 1 with decayed input or τ without, IF r = 1/dt.
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case nir }

    @Option(name: .customLong("run"), help: "Run directory written by snn train or snn import.")
    var runDirectory: String
    @Option(help: "The file to write.")
    var output: String
    @Option(help: "nir.")
    var format: Format = .nir
    @Option(help: "Which checkpoint: best or last.")
    var checkpoint: RunDirectory.Checkpoint = .best

    func run() throws {
        do {
            let directory = try RunDirectory.open(at: runDirectory)
            let config = try TrainingConfiguration(
                dictionary: try directory.readConfiguration(), file: directory.configurationPath)
            let (train, _) = try config.loadData()
            let sampleShape = Array(train.images.shape.dropFirst())
            let model = try config.makeModel(sampleShape: sampleShape, classes: train.classCount)
            guard try directory.loadCheckpoint(checkpoint, model: model, optimizer: nil) != nil else {
                throw SNNError(.io, "no \(checkpoint.rawValue) checkpoint yet", file: directory.path)
            }
            let inputShape = config.modelConfiguration(inputShape: sampleShape, classes: train.classCount).inputShape
            let graph: NIRGraph
            do {
                graph = try NIRConversion.graph(of: model, inputShape: inputShape, timeSteps: config.timeSteps)
            } catch {
                // The library names the layer; the command adds which model it is in.
                throw SNNError(error.code, "\(config.model.rawValue): \(error.message)", file: directory.path)
            }
            try graph.write(to: output)
            print("wrote \(output): \(graph.nodes.count) NIR nodes, dt = \(NIRConversion.defaultTimeStep) s")
        } catch let error as SNNError {
            throw CommandFailure(error)
        }
    }
}
