import Foundation
import SNNData
import SNNLayers
import SNNNeurons
import SNNTensor

/// Everything `snn report` shows about a run directory: its configuration, the per-epoch curves of
/// `metrics.jsonl`, and, from its checkpoint, a test-set evaluation (confusion matrix, operations
/// and energy per layer) and the activity of one test sample in every spiking layer.
///
/// A run that stopped early, or a directory that lost files, still gives a report: what could not
/// be read is listed in ``missing`` and the parts that need it are absent.
public struct RunReport: Sendable {
    /// One epoch's line of `metrics.jsonl`; a value the line lacks (or holds as `null`) is nil.
    public struct EpochPoint: Sendable {
        public var epoch: Int
        public var trainLoss: Double?
        public var testLoss: Double?
        public var trainAccuracy: Double?
        public var testAccuracy: Double?
        public var learningRate: Double?
        public var firingRate: Double?
        /// Per-layer test-set firing rates, when the trainer wrote them ("firing_rates").
        public var firingRates: [String: Double]
    }

    /// One spiking layer's activity for the shown test sample.
    public struct LayerActivity: Sendable {
        public var path: String
        public var layer: String
        /// Neurons in the layer (per sample).
        public var neurons: Int
        /// The shown neurons' indices, the most active first.
        public var shownNeurons: [Int]
        /// `spikes[t][k]`: whether shown neuron k fired at step t.
        public var spikes: [[Bool]]
        /// The traced neurons' indices: those whose membrane potential varies most over the steps
        /// (the most active ones often sit at the reset value after every step).
        public var tracedNeurons: [Int]
        /// `membrane[k][t]`: the post-reset membrane potential of traced neuron k at step t.
        public var membrane: [[Double]]
        /// `tracedSpikes[k][t]`: whether traced neuron k fired at step t.
        public var tracedSpikes: [[Bool]]
        public var threshold: Double
        /// Spikes of the whole layer over all steps.
        public var totalSpikes: Int
    }

    /// The checkpoint's test-set results.
    public struct Evaluation: Sendable {
        public var checkpoint: RunDirectory.Checkpoint
        public var epoch: Int
        public var result: EvaluationResult
        /// `confusion[label][prediction]`: test samples of each true class by predicted class.
        public var confusion: [[Int]]
        /// The neuron layers that cannot record their activity (parallel neurons), by path and type.
        public var unrecordedLayers: [(path: String, layer: String)]
        /// Activity of test sample 0 in each recordable spiking layer, in the model's order.
        public var activity: [LayerActivity]
        /// Test sample 0's label and predicted class.
        public var sampleLabel: Int
        public var samplePrediction: Int
    }

    /// Neurons shown in a raster, and neurons whose membrane is traced.
    public static let rasterNeurons = 48, tracedNeurons = 3

    public var runPath: String
    /// `config.json` flattened to dotted keys, sorted.
    public var configuration: [(key: String, value: String)]
    /// The epochs the configuration asked for, when it names them.
    public var plannedEpochs: Int?
    public var epochs: [EpochPoint]
    public var evaluation: Evaluation?
    /// What the report could not show and why, one sentence each.
    public var missing: [String]

    /// Whether some epoch carries per-layer firing rates.
    public var hasLayerFiringRates: Bool { epochs.contains { !$0.firingRates.isEmpty } }

    /// Reads `directory` and evaluates its best checkpoint (the last one when there is no best).
    ///
    /// - Throws: `SNNError` only when `directory` is not a run directory or its `config.json` cannot
    ///   be read; everything after that is reported in ``missing``.
    public static func collect(from directory: RunDirectory) throws(SNNError) -> RunReport {
        let dictionary = try directory.readConfiguration()
        var report = RunReport(
            runPath: directory.path, configuration: flatten(dictionary), plannedEpochs: nil,
            epochs: [], evaluation: nil, missing: [])
        report.plannedEpochs = (dictionary["epochs"] as? NSNumber)?.intValue
        report.readEpochs(directory)
        do {
            let config = try TrainingConfiguration(dictionary: dictionary, file: directory.configurationPath)
            report.evaluation = try evaluate(directory, config, missing: &report.missing)
        } catch {
            report.missing.append("No evaluation, confusion matrix, spike raster or operation counts: \(error)")
        }
        return report
    }

    /// Fills ``epochs`` from `metrics.jsonl`, noting a missing, damaged or short file.
    private mutating func readEpochs(_ directory: RunDirectory) {
        let read: (lines: [[String: Any]], damagedOffset: Int?)
        do {
            read = try directory.readMetricsPrefix()
        } catch {
            missing.append("No training curves: \(error)")
            return
        }
        if let offset = read.damagedOffset {
            missing.append(
                "metrics.jsonl is damaged at byte \(offset) (a half-written line?): the curves stop "
                    + "at the \(read.lines.count) whole line(s) before it.")
        }
        func number(_ line: [String: Any], _ key: String) -> Double? { (line[key] as? NSNumber)?.doubleValue }
        epochs = read.lines.enumerated().map { index, line in
            let rates = (line["firing_rates"] as? [String: Any] ?? [:])
                .compactMapValues { ($0 as? NSNumber)?.doubleValue }
            return EpochPoint(
                epoch: (line["epoch"] as? NSNumber)?.intValue ?? index + 1,
                trainLoss: number(line, "train_loss"),
                testLoss: number(line, "test_loss"), trainAccuracy: number(line, "train_accuracy"),
                testAccuracy: number(line, "test_accuracy"), learningRate: number(line, "learning_rate"),
                firingRate: number(line, "firing_rate"), firingRates: rates)
        }
        if epochs.isEmpty {
            missing.append("metrics.jsonl holds no epoch yet: the run stopped before its first epoch ended.")
        } else if let planned = plannedEpochs, epochs.count < planned {
            missing.append(
                "The run is incomplete: \(epochs.count) of \(planned) epochs in metrics.jsonl "
                    + "(interrupted, or still running); the curves are partial.")
        }
    }

    /// The checkpoint's evaluation, or nil (with the reason in `missing`) when there is no checkpoint.
    private static func evaluate(
        _ directory: RunDirectory, _ config: TrainingConfiguration,
        missing: inout [String]
    ) throws -> Evaluation? {
        guard
            let checkpoint = try [RunDirectory.Checkpoint.best, .last].first(where: {
                try directory.checkpointEpoch($0) != nil
            })
        else {
            missing.append(
                "No checkpoint (best or last): no evaluation, confusion matrix, spike raster or operation "
                    + "counts.")
            return nil
        }
        let (train, test) = try config.loadData()
        let sampleShape = Array(train.images.shape.dropFirst())
        // The checkpoint replaces the initial weights: drawing them from a private generator leaves the
        // process's stream (a trainer running beside this report) untouched.
        let model = try GlobalRandom.withSeed(0) {
            try config.makeModel(sampleShape: sampleShape, classes: train.classCount)
        }
        guard let state = try directory.loadCheckpoint(checkpoint, model: model, optimizer: nil) else { return nil }
        guard test.count > 0 else {
            missing.append("The test set is empty: no evaluation.")
            return nil
        }
        let encoding = config.resolvedEncoding
        let result = Evaluator.evaluate(
            model, on: test, timeSteps: config.timeSteps, encoding: encoding,
            batchSize: config.batchSize, countOperations: true,
            temporalWeights: state.temporalWeights)
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: test.classCount), count: test.classCount)
        for (label, predicted) in zip(test.labels, result.predictions) { confusion[label][predicted] += 1 }
        let activity = record(model, sample: test.subset([0]), timeSteps: config.timeSteps, encoding: encoding)
        let unrecorded = Evaluator.neurons(of: model).filter { !($0.neuron is any MembraneRecording) }
            .map { ($0.path, Evaluator.layerName($0.neuron)) }
        return Evaluation(
            checkpoint: checkpoint, epoch: state.epoch, result: result, confusion: confusion,
            unrecordedLayers: unrecorded, activity: activity, sampleLabel: test.labels[0],
            samplePrediction: result.predictions[0])
    }

    /// Runs one sample with every recordable neuron layer keeping its spikes and membrane.
    private static func record(
        _ model: any Layer, sample: LabeledImages, timeSteps: Int,
        encoding: Encoding
    ) -> [LayerActivity] {
        let layers = model.namedModules().compactMap { path, module in
            (module as? any MembraneRecording).map { (String(path.dropLast()), Evaluator.layerName(module), $0) }
        }
        let wasTraining = model.isTraining
        model.eval()
        for (_, _, neuron) in layers { neuron.recordsMembrane = true }
        defer {
            for (_, _, neuron) in layers { neuron.recordsMembrane = false }
            model.train(wasTraining)
        }
        var encoder = Encoder(encoding, timeSteps: timeSteps)
        _ = model(encoder.encode(sample.images))
        return layers.compactMap { path, name, neuron in
            guard let spikes = neuron.recordedSpikes, let membrane = neuron.recordedMembrane else { return nil }
            let steps = spikes.shape[0], neurons = spikes.count / max(steps, 1)
            let s = spikes.scalars, v = membrane.scalars
            // The most active neurons first (stable by index), so a raster of a sparse layer is not empty.
            let counts = (0..<neurons).map { k in (0..<steps).reduce(0) { $0 + (s[$1 * neurons + k] > 0 ? 1 : 0) } }
            let shown = (0..<neurons).sorted { counts[$0] != counts[$1] ? counts[$0] > counts[$1] : $0 < $1 }
                .prefix(rasterNeurons)
            let variance = (0..<neurons).map { k in
                let trace = (0..<steps).map { Double(v[$0 * neurons + k]) }
                let mean = trace.reduce(0, +) / Double(max(steps, 1))
                return trace.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
            }
            let traced = (0..<neurons).sorted { variance[$0] != variance[$1] ? variance[$0] > variance[$1] : $0 < $1 }
                .prefix(tracedNeurons)
            return LayerActivity(
                path: path, layer: name, neurons: neurons, shownNeurons: Array(shown),
                spikes: (0..<steps).map { t in shown.map { s[t * neurons + $0] > 0 } }, tracedNeurons: Array(traced),
                membrane: traced.map { k in (0..<steps).map { Double(v[$0 * neurons + k]) } },
                tracedSpikes: traced.map { k in (0..<steps).map { s[$0 * neurons + k] > 0 } },
                threshold: Double(neuron.threshold), totalSpikes: counts.reduce(0, +))
        }
    }

    /// `config.json` as sorted dotted keys with JSON-like values.
    static func flatten(_ dictionary: [String: Any], prefix: String = "") -> [(key: String, value: String)] {
        dictionary.keys.sorted().flatMap { key -> [(key: String, value: String)] in
            let name = prefix + key
            switch dictionary[key] {
            case let nested as [String: Any]: return flatten(nested, prefix: name + ".")
            case let array as [Any]: return [(name, "[" + array.map { "\($0)" }.joined(separator: ", ") + "]")]
            case is NSNull: return [(name, "null")]
            // Floats were stored as doubles: 0.1 reads back as 0.10000000149011612 unless rounded.
            case let number as NSNumber where number.doubleValue != number.doubleValue.rounded():
                return [(name, String(format: "%.7g", number.doubleValue))]
            case let value?: return [(name, "\(value)")]
            case nil: return []
            }
        }
    }
}
