import ArgumentParser
import Foundation
import SNN

/// `snn import`.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make a run directory from a model of another framework: a NIR graph, or a PyTorch state_dict.",
        discussion: """
            --from nir (the default): a chain Input → … → Output of Affine, Linear, Conv2d, Flatten, AvgPool2d, \
            SumPool2d, IF and LIF nodes (one τ, threshold and reset per layer; time constants as SpikingJelly \
            and snnTorch export them, dt from the graph's metadata or 1e-4 s), kept as model "imported". \
            --from spikingjelly: a state_dict (safetensors) of the SpikingJelly twin of --model (spiking-cnn, \
            spiking-mlp; same layer order, see the README's table) with the neuron options the twin used. \
            --from snntorch: the same for an snnTorch twin with snn.Leaky(reset_mechanism="zero", \
            reset_delay=False) neurons, whose constants come from the file. \
            The run directory holds the weights as the best and last checkpoints (epoch 0), for snn evaluate, \
            snn export and snn report; --dataset (and its options) say what it is evaluated on.
            """)

    enum Source: String, ExpressibleByArgument, CaseIterable { case nir, spikingjelly, snntorch }

    @Argument(help: "The model file: a .nir graph, or a .safetensors state_dict.")
    var file: String
    @Option(name: .customLong("from"), help: "What the file holds: nir, spikingjelly or snntorch (default: nir).")
    var source: Source = .nir
    @Option(help: "spikingjelly, snntorch: the zoo model the state_dict is the twin of (spiking-cnn, spiking-mlp).")
    var model: ModelName?
    @Option(help: "spikingjelly, snntorch: the model's widths, comma-separated (default: the model's).")
    var widths: String?
    @OptionGroup var neuronOptions: NeuronOptions
    @Option(help: "The run directory to create.")
    var output: String
    @Option(help: "Data set to evaluate on, as snn train --dataset takes it (default: digits).")
    var dataset: DatasetName = .digits
    @Option(help: "Directory holding the data set's files (not needed for digits).")
    var dataDir: String?
    @Option(parsing: .unconditional, help: "Time steps T to run the network for (default: the graph's, else 4).")
    var timeSteps: Int?
    @Option(help: "Input encoding over time, as snn train --encoding takes it (default: direct).")
    var encoding: EncodingName = .direct

    func validate() throws {
        if let timeSteps, timeSteps < 1 { throw ValidationError("--time-steps must be ≥ 1, got \(timeSteps)") }
        switch source {
        case .nir:
            let given = (model != nil ? ["--model"] : []) + (widths != nil ? ["--widths"] : []) + neuronOptions.given
            if !given.isEmpty {
                throw ValidationError(
                    "\(given.joined(separator: ", ")): a NIR graph brings its own layers and neurons; "
                        + "these options are for --from spikingjelly or snntorch")
            }
        case .spikingjelly, .snntorch:
            guard model != nil else {
                throw ValidationError("--from \(source.rawValue) needs --model (the twin's zoo model)")
            }
            let constants = ["--neuron", "--tau", "--threshold", "--reset", "--reset-value"]
            let given = neuronOptions.given.filter(constants.contains)
            if source == .snntorch && !given.isEmpty {
                throw ValidationError(
                    "\(given.joined(separator: ", ")): an snnTorch state_dict holds its neurons' constants")
            }
            _ = try Train.parseWidths(widths)
            _ = try neuronOptions.configuration()
        }
    }

    func run() throws {
        do {
            var config = TrainingConfiguration()
            config.dataset = dataset
            config.dataDirectory = dataDir
            config.encoding = encoding
            var weights: [String: Tensor] = [:]
            switch source {
            case .nir:
                let graph = try NIRGraph.read(file)
                let network: ImportedNetwork
                (network, weights, _) = try NIRConversion.network(from: graph, file: file)
                config.importedNetwork = network
                if case .number(let t) = graph.metadata["time_steps"], t >= 1, t <= 1e6, t == t.rounded() {
                    config.timeSteps = Int(t)
                }
            case .spikingjelly, .snntorch:
                config.model = model ?? config.model
                config.widths = try Train.parseWidths(widths)
                weights = try SafeTensors.read(contentsOf: file).tensors
                var defaults = NeuronConfiguration()
                if source == .snntorch {
                    guard let neuron = try PyTorchWeights.snnTorchNeuron(weights, file: file) else {
                        throw SNNError(.mismatch, "no snn.Leaky entries (\"N.beta\") in the state_dict", file: file)
                    }
                    defaults = neuron
                }
                config.neuron = try neuronOptions.configuration(defaults: defaults)
            }
            if let timeSteps { config.timeSteps = timeSteps }
            try config.validate()
            let (train, test) = try config.loadData()
            let sampleShape = Array(train.images.shape.dropFirst())
            try config.validate(sampleShape: sampleShape, trainSamples: 0, testSamples: test.count, training: false)
            let model: any Layer
            do {
                model = try config.makeModel(sampleShape: sampleShape, classes: train.classCount)
            } catch {
                // A network that does not fit the data set: the message names both, the file goes first.
                throw SNNError(error.code, error.message, file: file)
            }
            if let framework = PyTorchWeights.Framework(rawValue: source.rawValue) {
                weights = try PyTorchWeights.stateDictionary(
                    weights, framework: framework, model: config.model, module: model, file: file)
            }
            try Self.load(weights, into: model, file: file)
            let run = try RunDirectory.create(at: output, configuration: config.dictionary)
            let state = CheckpointState(epoch: 0, bestAccuracy: 0, bestEpoch: 0, randomState: GlobalRandom.state)
            let optimizer = config.makeOptimizer()
            try run.saveCheckpoint(.best, model: model, optimizer: optimizer, state: state)
            try run.saveCheckpoint(.last, model: model, optimizer: optimizer, state: state)
            print("imported \(file) into \(run.path)")
        } catch {
            throw CommandFailure(error)
        }
    }

    /// Loads `weights` (keyed by parameter path) into `model`; the empty biases of layers without
    /// bias are the model's own. A key or shape that does not fit is an error naming it.
    static func load(_ weights: [String: Tensor], into model: Module, file: String) throws(SNNError) {
        var state = weights
        for (path, tensor) in model.stateDictionary() where tensor.count == 0 && state[path] == nil {
            state[path] = tensor
        }
        try model.load(stateDictionary: state, strict: true, file: file)
    }
}
