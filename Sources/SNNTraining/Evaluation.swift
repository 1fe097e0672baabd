import Foundation
import SNNData
import SNNLayers
import SNNNeurons
import SNNTensor

/// Results of evaluating a model on a data set.
public struct EvaluationResult: Sendable {
    public var accuracy: Float
    public var loss: Float
    /// Spikes per neuron-step of each neuron layer, by module path, with the layer's type name
    /// (`LIF`, `PSN`, …).
    public var firingRates: [(path: String, layer: String, rate: Double)]
    /// Spikes per neuron-step over all neuron layers.
    public var firingRate: Double
    /// Spikes per sample over all neuron layers and time steps (each spiking neuron counted once
    /// per step; the input encoding is not a neuron layer and is not counted).
    public var spikesPerSample: Double = 0
    /// Synaptic operations per sample (spike-driven accumulates), when operations were counted.
    public var synapticOperations: Double?
    /// Multiply-accumulates per sample of layers with analog input, when counted.
    public var macs: Double?
    /// Energy per sample in joules (4.6 pJ/MAC, 0.9 pJ/SOP), when counted.
    public var energyJoules: Double?
    /// Samples evaluated.
    public var samples: Int
    /// The predicted class of each sample, in the data's order.
    public var predictions: [Int] = []
    /// What each synaptic layer did, by module path in the order the layers ran, when operations
    /// were counted.
    public var layerOperations: [(path: String, record: OperationCounter.Record)] = []
}

/// Feeds data through a model, batch by batch, in inference mode.
public enum Evaluator {
    /// The neuron layers of `model` with their paths.
    public static func neurons(of model: Module) -> [(path: String, neuron: any SpikeEmitting)] {
        model.namedModules().compactMap { path, module in
            (module as? any SpikeEmitting).map { (String(path.dropLast()), $0) }
        }
    }

    /// A layer's type name without its generic arguments: `LIF` for `LIF<Arctangent>`.
    public static func layerName(_ layer: Any) -> String {
        String(String(describing: type(of: layer)).prefix { $0 != "<" })
    }

    /// Accuracy, mean loss and spike statistics of `model` on `data`.
    /// With `temporalWeights` (TWO) the prediction is the weighted mean of the per-step outputs.
    public static func evaluate(
        _ model: some Layer, on data: LabeledImages, timeSteps: Int, encoding: Encoding,
        batchSize: Int, countOperations: Bool = false, temporalWeights: [Float]? = nil
    ) -> EvaluationResult {
        let wasTraining = model.isTraining
        model.eval()
        defer { model.train(wasTraining) }
        let layers = neurons(of: model)
        // Neurons are classes: setting through the existential updates the layer itself.
        for (_, neuron) in layers { neuron.statistics = SpikeStatistics() }
        defer { for (_, neuron) in layers { neuron.statistics = nil } }
        let counter = countOperations ? OperationCounter() : nil
        var encoder = Encoder(encoding, timeSteps: timeSteps)
        var correct = 0, lossSum: Double = 0, predictions: [Int] = []
        predictions.reserveCapacity(data.count)
        let loader = DataLoader(data, batchSize: batchSize)
        for batch in loader.batches(forEpoch: 0) {
            let input = encoder.encode(batch.inputs)
            let run = { model(input) }
            let perStep = counter.map { $0.measure(run) } ?? run()
            let logits = temporalWeights.map { Readout.weighted(perStep, weights: $0) } ?? Readout.mean(perStep)
            lossSum += Double(crossEntropy(logits: logits, labels: batch.labels).item) * Double(batch.labels.count)
            let predicted = logits.argmax(alongAxis: 1)
            predictions += predicted
            correct += zip(predicted, batch.labels).filter { $0 == $1 }.count
        }
        let rates = layers.map { ($0.path, layerName($0.neuron), $0.neuron.statistics?.firingRate ?? 0) }
        let spikes = layers.reduce(0.0) { $0 + ($1.neuron.statistics?.spikes ?? 0) }
        let steps = layers.reduce(0.0) { $0 + ($1.neuron.statistics?.neuronSteps ?? 0) }
        var result = EvaluationResult(
            accuracy: Float(correct) / Float(max(data.count, 1)),
            loss: Float(lossSum / Double(max(data.count, 1))), firingRates: rates,
            firingRate: steps > 0 ? spikes / steps : 0, samples: data.count)
        result.spikesPerSample = spikes / Double(max(data.count, 1))
        result.predictions = predictions
        if let counter {
            result.layerOperations = counter.records(in: model)
            let energy = EnergyEstimate(records: result.layerOperations.map(\.record), samples: data.count)
            result.synapticOperations = energy.synapticOperations
            result.macs = energy.macs
            result.energyJoules = energy.joules
        }
        return result
    }
}
