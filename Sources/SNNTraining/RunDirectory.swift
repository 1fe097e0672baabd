import Foundation
import SNNLayers
import SNNOptimizers
import SNNTensor

/// What a checkpoint remembers besides tensors.
public struct CheckpointState: Sendable, Equatable {
    /// Epochs completed when it was taken.
    public var epoch: Int
    public var bestAccuracy: Float
    public var bestEpoch: Int
    /// ``GlobalRandom``'s state.
    public var randomState: [UInt64]
    /// TWO's per-step output weights, in runs that learn them.
    public var temporalWeights: [Float]?

    public init(epoch: Int, bestAccuracy: Float, bestEpoch: Int, randomState: [UInt64], temporalWeights: [Float]? = nil) {
        self.epoch = epoch
        self.bestAccuracy = bestAccuracy
        self.bestEpoch = bestEpoch
        self.randomState = randomState
        self.temporalWeights = temporalWeights
    }
}

/// A run directory: `config.json`, `metrics.jsonl`, and checkpoints `best` / `last`, each as
/// `NAME.safetensors` (the model, keyed by parameter path), `NAME.optimizer.safetensors` and
/// `NAME.json` (epoch, best accuracy, RNG state). The three files of a checkpoint carry one
/// generation id, so a checkpoint torn by a crash between two renames is detected.
public struct RunDirectory: Sendable {
    public enum Checkpoint: String, Sendable { case best, last }

    public let path: String
    public var configurationPath: String { path + "/config.json" }
    public var metricsPath: String { path + "/metrics.jsonl" }

    /// Creates a new run directory holding `config.json`. Fails if `path` exists and is not empty
    /// or cannot be written; a directory it created is removed again on failure.
    public static func create(at path: String, configuration: [String: Any]) throws(SNNError) -> RunDirectory {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        var created = false
        if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw SNNError(.io, "exists and is not a directory", file: path) }
            let contents = (try? fm.contentsOfDirectory(atPath: path)) ?? []
            guard contents.isEmpty else {
                throw SNNError(.io, "run directory is not empty (use --resume to continue a run, or another --output)", file: path)
            }
        } else {
            do {
                try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
                created = true
            } catch {
                throw SNNError(.io, "cannot create the run directory", file: path, underlying: "\(error)")
            }
        }
        let run = RunDirectory(path: (path as NSString).standardizingPath)
        do {
            var config = configuration
            config["format_version"] = 1
            try AtomicFile.writeJSON(config, to: run.configurationPath)
            try AtomicFile.write(Data(), to: run.metricsPath)
        } catch {
            if created { try? fm.removeItem(atPath: path) }
            throw error
        }
        return run
    }

    /// Opens an existing run directory.
    public static func open(at path: String) throws(SNNError) -> RunDirectory {
        let run = RunDirectory(path: (path as NSString).standardizingPath)
        guard FileManager.default.fileExists(atPath: run.configurationPath) else {
            throw SNNError(.io, "not a run directory (no config.json)", file: path)
        }
        return run
    }

    public func readConfiguration() throws(SNNError) -> [String: Any] { try AtomicFile.readJSON(configurationPath) }

    /// The metrics lines so far.
    public func readMetrics() throws(SNNError) -> [[String: Any]] {
        guard let data = FileManager.default.contents(atPath: metricsPath) else {
            throw SNNError(.io, "cannot read metrics", file: metricsPath)
        }
        var lines: [[String: Any]] = []
        var offset = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            defer { offset += line.count + 1 }
            if line.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                throw SNNError(.corrupt, "invalid JSON line", file: metricsPath, offset: offset)
            }
            lines.append(object)
        }
        return lines
    }

    /// Appends one line (rewriting the file atomically).
    public func appendMetrics(_ line: [String: Any]) throws(SNNError) {
        var data = FileManager.default.contents(atPath: metricsPath) ?? Data()
        do {
            data.append(try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]))
        } catch {
            throw SNNError(.invalidArgument, "metrics are not JSON-serialisable", file: metricsPath)
        }
        data.append(UInt8(ascii: "\n"))
        try AtomicFile.write(data, to: metricsPath)
    }

    /// Drops metric lines of epochs after `epoch` (written before a crash that lost their checkpoint).
    public func truncateMetrics(afterEpoch epoch: Int) throws(SNNError) {
        let kept = try readMetrics().filter { (($0["epoch"] as? NSNumber)?.intValue ?? 0) <= epoch }
        var data = Data()
        for line in kept {
            data.append((try? JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])) ?? Data())
            data.append(UInt8(ascii: "\n"))
        }
        try AtomicFile.write(data, to: metricsPath)
    }

    func files(_ c: Checkpoint) -> (model: String, optimizer: String, state: String) {
        (path + "/\(c.rawValue).safetensors", path + "/\(c.rawValue).optimizer.safetensors", path + "/\(c.rawValue).json")
    }

    /// Writes a checkpoint: tensors first, the state file (which names the generation) last.
    public func saveCheckpoint(_ c: Checkpoint, model: Module, optimizer: any Optimizer, state: CheckpointState) throws(SNNError) {
        let generation = UUID().uuidString
        let f = files(c)
        try model.save(to: f.model, metadata: ["generation": generation, "epoch": String(state.epoch)])
        try SafeTensors(tensors: optimizer.stateDictionary(), metadata: ["generation": generation]).write(to: f.optimizer)
        var json: [String: Any] = [
            "generation": generation, "epoch": state.epoch, "best_test_accuracy": Double(state.bestAccuracy),
            "best_epoch": state.bestEpoch, "random_state": state.randomState.map { String($0) },
            "learning_rate": Double(optimizer.learningRate),
        ]
        if let w = state.temporalWeights { json["temporal_weights"] = w.map(Double.init) }
        try AtomicFile.writeJSON(json, to: f.state)
    }

    /// Loads a checkpoint into `model` (and `optimizer` when given); nil when there is none yet.
    public func loadCheckpoint(_ c: Checkpoint, model: Module, optimizer: (any Optimizer)?) throws(SNNError) -> CheckpointState? {
        let f = files(c)
        guard FileManager.default.fileExists(atPath: f.state) else { return nil }
        let state = try AtomicFile.readJSON(f.state)
        guard let generation = state["generation"] as? String, let epoch = (state["epoch"] as? NSNumber)?.intValue,
              let bestAccuracy = (state["best_test_accuracy"] as? NSNumber)?.floatValue,
              let bestEpoch = (state["best_epoch"] as? NSNumber)?.intValue,
              let random = (state["random_state"] as? [String])?.compactMap({ UInt64($0) }), random.count == 4 else {
            throw SNNError(.corrupt, "checkpoint state is missing fields", file: f.state)
        }
        let metadata = try model.load(from: f.model)
        guard metadata["generation"] == generation else {
            throw SNNError(.corrupt, "model file belongs to another checkpoint than \(f.state) (interrupted write?)", file: f.model)
        }
        if let optimizer {
            let file = try SafeTensors.read(contentsOf: f.optimizer)
            guard file.metadata["generation"] == generation else {
                throw SNNError(.corrupt, "optimizer file belongs to another checkpoint than \(f.state)", file: f.optimizer)
            }
            try optimizer.load(stateDictionary: file.tensors)
            if let lr = (state["learning_rate"] as? NSNumber)?.floatValue { optimizer.learningRate = lr }
        }
        var weights: [Float]?
        if let w = state["temporal_weights"] {
            guard let values = w as? [NSNumber], values.allSatisfy({ $0.floatValue.isFinite }) else {
                throw SNNError(.corrupt, "\"temporal_weights\" must be a list of numbers", file: f.state)
            }
            weights = values.map(\.floatValue)
        }
        return CheckpointState(epoch: epoch, bestAccuracy: bestAccuracy, bestEpoch: bestEpoch, randomState: random,
                               temporalWeights: weights)
    }
}
