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
    /// For a checkpoint taken within epoch `epoch + 1` (an interrupted run): how far it got.
    public var progress: EpochProgress?

    public init(
        epoch: Int, bestAccuracy: Float, bestEpoch: Int, randomState: [UInt64], temporalWeights: [Float]? = nil,
        progress: EpochProgress? = nil
    ) {
        self.epoch = epoch
        self.bestAccuracy = bestAccuracy
        self.bestEpoch = bestEpoch
        self.randomState = randomState
        self.temporalWeights = temporalWeights
        self.progress = progress
    }
}

/// Where a checkpoint taken within an epoch stands: the steps done, the epoch's running sums and the
/// positions of the random streams that move within an epoch, so that training resumed from it
/// goes on exactly as the uninterrupted run would have.
public struct EpochProgress: Sendable, Equatable {
    /// Steps (batches) of the epoch already trained.
    public var steps: Int
    public var lossSum: Double
    public var correct: Int
    public var seen: Int
    public var skipped: Int
    /// TWO's per-step correct counts so far.
    public var perStepCorrect: [Int]
    /// Stream positions by owner: `dropout:PATH`, `mask:PATH`, `encoder`.
    public var randomStates: [String: [UInt64]]
    /// The transfer's running sums (empty without transfer).
    public var transferSums: [Double] = []

    public init(
        steps: Int, lossSum: Double, correct: Int, seen: Int, skipped: Int, perStepCorrect: [Int],
        randomStates: [String: [UInt64]]
    ) {
        self.steps = steps
        self.lossSum = lossSum
        self.correct = correct
        self.seen = seen
        self.skipped = skipped
        self.perStepCorrect = perStepCorrect
        self.randomStates = randomStates
    }

    /// The JSON form; the loss sum as its bit pattern, so it comes back exactly.
    var dictionary: [String: Any] {
        [
            "steps": steps, "loss_sum_bits": String(lossSum.bitPattern), "correct": correct, "seen": seen,
            "skipped": skipped,
            "per_step_correct": perStepCorrect, "random_states": randomStates.mapValues { $0.map { String($0) } },
            "transfer_sums_bits": transferSums.map { String($0.bitPattern) },
        ]
    }

    init(dictionary d: [String: Any], file: String) throws(SNNError) {
        func int(_ key: String) throws(SNNError) -> Int {
            guard let v = (d[key] as? NSNumber)?.intValue, v >= 0 else {
                throw SNNError(.corrupt, "\"progress.\(key)\" must be a count", file: file)
            }
            return v
        }
        guard let bits = (d["loss_sum_bits"] as? String).flatMap({ UInt64($0) }),
            let perStep = (d["per_step_correct"] as? [NSNumber])?.map(\.intValue),
            let states = d["random_states"] as? [String: [String]]
        else {
            throw SNNError(.corrupt, "\"progress\" is missing fields", file: file)
        }
        var randomStates: [String: [UInt64]] = [:]
        for (key, words) in states {
            let values = words.compactMap { UInt64($0) }
            guard values.count == words.count else {
                throw SNNError(.corrupt, "\"progress.random_states.\(key)\" is not a list of integers", file: file)
            }
            randomStates[key] = values
        }
        self.init(
            steps: try int("steps"), lossSum: Double(bitPattern: bits), correct: try int("correct"),
            seen: try int("seen"),
            skipped: try int("skipped"), perStepCorrect: perStep, randomStates: randomStates)
        let sums = (d["transfer_sums_bits"] as? [String]) ?? []  // absent in checkpoints from before transfer
        transferSums = sums.compactMap { UInt64($0).map(Double.init(bitPattern:)) }
        guard transferSums.count == sums.count else {
            throw SNNError(.corrupt, "\"progress.transfer_sums_bits\" is not a list of integers", file: file)
        }
    }
}

/// A run directory: `config.json`, `metrics.jsonl`, and checkpoints `best` / `last`, each as
/// `NAME.safetensors` (the model, keyed by parameter path), `NAME.optimizer.safetensors` and
/// `NAME.json` (epoch, best accuracy, RNG state). The three files of a checkpoint carry one
/// generation id and are written as one group (all staged on disk before any is renamed into place),
/// so a full disk leaves the previous checkpoint whole and a crash between two renames is detected.
///
/// A process that writes to a run directory holds an exclusive lock on its `.lock` file (released by
/// the system when the process ends, however it ends), so two runs never write into one directory.
public struct RunDirectory: Sendable {
    public enum Checkpoint: String, Sendable, CaseIterable { case best, last }

    public let path: String
    /// The lock held while this process writes here (nil for read-only use).
    let lock: RunLock?
    public var configurationPath: String { path + "/config.json" }
    public var metricsPath: String { path + "/metrics.jsonl" }

    /// Creates a new run directory holding `config.json`. Fails if `path` exists and is not empty,
    /// is in use by another process, or cannot be written; a directory it created is removed again
    /// on failure. With `unique`, an existing `path` is not an error: the first free `path-2`,
    /// `path-3`, … is created instead (default names made within the same second stay apart).
    public static func create(at path: String, configuration: [String: Any], unique: Bool = false) throws(SNNError)
        -> RunDirectory
    {
        let parent = AtomicFile.directoryOf(path)
        try AtomicFile.createDirectory(parent)
        var chosen = path
        var created = false
        for attempt in 1...10_000 {
            chosen = attempt == 1 ? path : "\(path)-\(attempt)"
            if mkdir(chosen, 0o777) == 0 {
                created = true
                break
            }
            guard errno == EEXIST else {
                throw SNNError(
                    .io, "cannot create the run directory", file: chosen, underlying: AtomicFile.systemError())
            }
            if !unique { break }
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: chosen, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SNNError(.io, "exists and is not a directory", file: chosen)
        }
        let lock: RunLock
        do {
            lock = try RunLock(directory: chosen)
        } catch {
            if created { try? FileManager.default.removeItem(atPath: chosen) }
            throw error
        }
        let contents = ((try? FileManager.default.contentsOfDirectory(atPath: chosen)) ?? []).filter {
            $0 != RunLock.name
        }
        guard contents.isEmpty else { throw notEmptyError(chosen, contents: contents) }
        let run = RunDirectory(path: (chosen as NSString).standardizingPath, lock: lock)
        do {
            var config = configuration
            config["format_version"] = 1
            try AtomicFile.writeJSON(config, to: run.configurationPath)
            try AtomicFile.write(Data(), to: run.metricsPath)
        } catch {
            if created { try? FileManager.default.removeItem(atPath: chosen) }
            throw error
        }
        return run
    }

    /// Why a non-empty directory cannot take a new run, with what to do instead.
    private static func notEmptyError(_ path: String, contents: [String]) -> SNNError {
        guard contents.contains("config.json") else {
            return SNNError(.io, "the directory is not empty and holds no run; choose another --output", file: path)
        }
        let state = try? AtomicFile.readJSON(path + "/last.json")
        let progress =
            (state?["epoch"] as? NSNumber).map { "has completed \($0) epoch(s)" }
            ?? "stopped before its first checkpoint"
        return SNNError(
            .io,
            "holds a run that \(progress); continue it with `snn train --resume \(path)`, "
                + "or choose another --output", file: path)
    }

    /// Opens an existing run directory; with `forWriting`, takes its lock (failing when another
    /// process holds it).
    public static func open(at path: String, forWriting: Bool = false) throws(SNNError) -> RunDirectory {
        let standardized = (path as NSString).standardizingPath
        guard FileManager.default.fileExists(atPath: standardized + "/config.json") else {
            throw SNNError(.io, "not a run directory (no config.json)", file: path)
        }
        return RunDirectory(path: standardized, lock: forWriting ? try RunLock(directory: standardized) : nil)
    }

    public func readConfiguration() throws(SNNError) -> [String: Any] { try AtomicFile.readJSON(configurationPath) }

    /// The metrics lines so far.
    public func readMetrics() throws(SNNError) -> [[String: Any]] {
        let read = try readMetricsPrefix()
        if let offset = read.damagedOffset {
            throw SNNError(.corrupt, "invalid JSON line", file: metricsPath, offset: offset)
        }
        return read.lines
    }

    /// The metrics lines before the first line that is not a JSON object, and that line's byte
    /// offset (nil when every line is whole), for readers that show what a damaged file still holds.
    public func readMetricsPrefix() throws(SNNError) -> (lines: [[String: Any]], damagedOffset: Int?) {
        guard let data = FileManager.default.contents(atPath: metricsPath) else {
            throw SNNError(.io, "cannot read metrics", file: metricsPath)
        }
        var lines: [[String: Any]] = []
        var offset = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            defer { offset += line.count + 1 }
            if line.isEmpty { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
                return (lines, offset)
            }
            lines.append(object)
        }
        return (lines, nil)
    }

    /// Appends one line (rewriting the file atomically). Numbers that are not finite (the test loss
    /// of a model that diverged) are written as `null`, since JSON has no NaN.
    public func appendMetrics(_ line: [String: Any]) throws(SNNError) {
        var data = FileManager.default.contents(atPath: metricsPath) ?? Data()
        let finite = line.mapValues { value -> Any in
            if let number = value as? Double, !number.isFinite { return NSNull() }
            if let number = value as? Float, !number.isFinite { return NSNull() }
            return value
        }
        do {
            data.append(try JSONSerialization.data(withJSONObject: finite, options: [.sortedKeys]))
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
        (
            path + "/\(c.rawValue).safetensors", path + "/\(c.rawValue).optimizer.safetensors",
            path + "/\(c.rawValue).json"
        )
    }

    /// Writes a checkpoint as one group: the model and optimizer tensors, then the state file that
    /// names the generation.
    public func saveCheckpoint(_ c: Checkpoint, model: Module, optimizer: any Optimizer, state: CheckpointState)
        throws(SNNError)
    {
        let generation = UUID().uuidString
        let f = files(c)
        let modelFile = SafeTensors(
            tensors: model.stateDictionary(),
            metadata: ["generation": generation, "epoch": String(state.epoch)])
        let optimizerFile = SafeTensors(tensors: optimizer.stateDictionary(), metadata: ["generation": generation])
        var json: [String: Any] = [
            "generation": generation, "epoch": state.epoch, "best_test_accuracy": Double(state.bestAccuracy),
            "best_epoch": state.bestEpoch, "random_state": state.randomState.map { String($0) },
            "learning_rate": Double(optimizer.learningRate),
        ]
        if let w = state.temporalWeights { json["temporal_weights"] = w.map(Double.init) }
        if let progress = state.progress { json["progress"] = progress.dictionary }
        try AtomicFile.writeAll([
            (f.model, Data(modelFile.encoded())), (f.optimizer, Data(optimizerFile.encoded())),
            (f.state, try AtomicFile.encodeJSON(json, for: f.state)),
        ])
    }

    /// The epochs a checkpoint has completed, and whether it was taken within the next one (an
    /// interrupted run); nil when there is no checkpoint yet.
    public func checkpointEpoch(_ c: Checkpoint) throws(SNNError) -> (completed: Int, withinEpoch: Bool)? {
        let file = files(c).state
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        let state = try AtomicFile.readJSON(file)
        guard let epoch = (state["epoch"] as? NSNumber)?.intValue else {
            throw SNNError(.corrupt, "checkpoint state is missing fields", file: file)
        }
        return (epoch, state["progress"] != nil)
    }

    /// Loads a checkpoint into `model` (and `optimizer` when given); nil when there is none yet.
    public func loadCheckpoint(_ c: Checkpoint, model: Module, optimizer: (any Optimizer)?) throws(SNNError)
        -> CheckpointState?
    {
        let f = files(c)
        guard FileManager.default.fileExists(atPath: f.state) else { return nil }
        let state = try AtomicFile.readJSON(f.state)
        guard let generation = state["generation"] as? String, let epoch = (state["epoch"] as? NSNumber)?.intValue,
            let bestAccuracy = (state["best_test_accuracy"] as? NSNumber)?.floatValue,
            let bestEpoch = (state["best_epoch"] as? NSNumber)?.intValue,
            let random = (state["random_state"] as? [String])?.compactMap({ UInt64($0) }), random.count == 4
        else {
            throw SNNError(.corrupt, "checkpoint state is missing fields", file: f.state)
        }
        let metadata = try model.load(from: f.model)
        guard metadata["generation"] == generation else {
            throw SNNError(
                .corrupt, "model file belongs to another checkpoint than \(f.state) (interrupted write?)", file: f.model
            )
        }
        if let optimizer {
            let file = try SafeTensors.read(contentsOf: f.optimizer)
            guard file.metadata["generation"] == generation else {
                throw SNNError(
                    .corrupt, "optimizer file belongs to another checkpoint than \(f.state)", file: f.optimizer)
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
        var progress: EpochProgress?
        if let p = state["progress"] {
            guard let p = p as? [String: Any] else {
                throw SNNError(.corrupt, "\"progress\" must be an object", file: f.state)
            }
            progress = try EpochProgress(dictionary: p, file: f.state)
        }
        return CheckpointState(
            epoch: epoch, bestAccuracy: bestAccuracy, bestEpoch: bestEpoch, randomState: random,
            temporalWeights: weights, progress: progress)
    }
}

/// An exclusive `flock` on a run directory's `.lock` file, held for the life of this object (and
/// dropped by the system when the process ends, however it ends).
final class RunLock: @unchecked Sendable {
    static let name = ".lock"
    private let descriptor: Int32

    init(directory: String) throws(SNNError) {
        let file = directory + "/" + Self.name
        descriptor = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else {
            throw SNNError(
                .io, "cannot create the run directory's lock file", file: file, underlying: AtomicFile.systemError())
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = AtomicFile.systemError()
            close(descriptor)
            throw busy
                ? SNNError(.io, "another snn process is writing to this run directory", file: directory)
                : SNNError(.io, "cannot lock the run directory", file: directory, underlying: reason)
        }
    }

    deinit { close(descriptor) }
}
