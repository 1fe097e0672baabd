import Foundation
import SNNTensor

/// The width and height of an event sensor, in pixels.
public struct SensorSize: Sendable, Equatable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// "W,H", as `--sensor-size` takes it; nil for anything else.
    public init?(_ text: String) {
        guard let sides = commaSeparatedIntegers(text), sides.count == 2 else { return nil }
        self.init(width: sides[0], height: sides[1])
    }

    /// "W,H".
    public var description: String { "\(width),\(height)" }
}

/// Your own event recordings (`--dataset event-folder`): class folders as for ``ImageFolder``
/// (see ``ClassFolders``) of event files in any format the project reads — N-MNIST `.bin`, AEDAT
/// 2.0 / 3.1 / 4.0 (`.aedat`, `.aedat4`, told apart by their headers) and `.npz` files with 1-D
/// arrays `x`, `y`, `t` (µs from the recording's start, non-decreasing, below 2²⁴) and `p` (> 0 is ON).
///
/// Frame size: each recording's sensor is the one its header gives (AEDAT 2.0 and 4.0, AEDAT 3.1
/// with a known camera, unless `--sensor-size` overrides it, as the AEDAT 3.1 reader lets it), else
/// `--sensor-size`, else its largest coordinate + 1; the set's frames take the largest width and
/// height over all its recordings (every recording is decoded once for this, before framing). The
/// recordings are then framed, resized and cached as the named event sets are.
public enum EventFolder {
    /// The file name endings read as recordings (compared in lower case).
    public static let suffixes = [".bin", ".aedat", ".aedat4", ".npz"]

    /// What is known before any framing: the classes, both splits' samples (class-interleaved) and
    /// the frame size.
    public struct Plan: Sendable {
        public var classNames: [String]
        public var train: [EventSample]
        public var test: [EventSample]
        /// The frame size (the largest recording).
        public var sensor: SensorSize
        /// `--sensor-size`, passed to the readers of formats without a size of their own.
        public var sensorOption: SensorSize?
    }

    /// Lists `directory`'s recordings, splits them and finds the frame size.
    public static func plan(directory: String, sensor option: SensorSize?, validation: ValidationSplit?)
        throws(SNNError) -> Plan
    {
        let folders = try ClassFolders(directory: directory, suffixes: suffixes, kind: "event recordings")
        let (train, test) = try folders.split(validation: validation)
        func samples(_ files: [[String]]) -> [EventSample] {
            EventFraming.interleaved(
                files.enumerated().map { label, paths in
                    paths.map { EventSample(path: $0, label: label) }
                })
        }
        return Plan(
            classNames: folders.classNames, train: samples(train), test: samples(test),
            sensor: try sensorSize(of: (train + test).flatMap { $0 }, option: option), sensorOption: option)
    }

    /// The frame size of `files`: the largest width and height over their recordings (each decoded
    /// once, in parallel, with `option` for the formats without a size).
    public static func sensorSize(of files: [String], option: SensorSize?) throws(SNNError) -> SensorSize {
        let sizes = try mapInParallel(files.count, grain: 4, placeholder: (0, 0)) { i throws(SNNError) in
            let events = try read(files[i], sensor: option)
            return (events.width, events.height)
        }
        return SensorSize(width: sizes.map(\.0).max() ?? 1, height: sizes.map(\.1).max() ?? 1)
    }

    /// Frames one split of `plan` (its first `limit` samples when given) into `[N, frames, 2, H, W]`.
    ///
    /// - Precondition: `plan` is not nil (it is optional for the caller's one code path of all event sets).
    public static func load(_ plan: Plan?, _ split: Split, frames: Int, framing: Framing, size: Int?, limit: Int?)
        throws(SNNError) -> LabeledImages
    {
        guard let plan else { preconditionFailure("EventFolder.load: an event folder is planned before it is framed") }
        var samples = split == .train ? plan.train : plan.test
        if let limit, limit < samples.count { samples.removeLast(samples.count - limit) }
        let option = plan.sensorOption
        var data = try EventFraming.load(
            samples, classCount: plan.classNames.count, frames: frames, framing: framing,
            size: size, sensor: (plan.sensor.width, plan.sensor.height)
        ) {
            (path) throws(SNNError) in try read(path, sensor: option)
        }
        data.classNames = plan.classNames
        data.sensorSize = plan.sensor
        return data
    }

    /// Reads one recording in the format its name and bytes say.
    public static func read(_ path: String, sensor: SensorSize?) throws(SNNError) -> EventStream {
        let events: EventStream
        if path.lowercased().hasSuffix(".npz") {
            events = try decodeNPZ(try NumPy.readStoredNPZ(path), file: path, sensor: sensor)
        } else {
            events = try EventFileFormat.read(path, width: sensor?.width, height: sensor?.height).events
        }
        guard events.count > 0 else { throw SNNError(.corrupt, "the recording holds no events", file: path) }
        return events
    }

    /// Events from npz arrays `x`, `y`, `t`, `p` (1-D, one length, integers; `t` may be float).
    static func decodeNPZ(_ arrays: [String: NumPy.StoredArray], file: String, sensor: SensorSize?)
        throws(SNNError) -> EventStream
    {
        func bad(_ message: String) -> SNNError { SNNError(.mismatch, message, file: file) }
        var columns: [String: [Float]] = [:]
        for name in ["x", "y", "t", "p"] {
            guard let a = arrays[name] else {
                throw bad("no array \(name): event npz files hold 1-D arrays x, y, t (µs) and p")
            }
            guard a.values.rank == 1, a.isInteger || a.kind == "b" || (name == "t" && a.kind == "f") else {
                throw bad("\(name) has dtype '\(a.dtype)' and shape \(a.values.shape): a 1-D integer array is expected")
            }
            columns[name] = a.values.scalars
        }
        let x = columns["x", default: []], y = columns["y", default: []], t = columns["t", default: []]
        let p = columns["p", default: []]
        guard y.count == x.count && t.count == x.count && p.count == x.count else {
            throw bad(
                "x, y, t and p hold \(x.count), \(y.count), \(t.count) and \(p.count) events: one length is "
                    + "expected")
        }
        // Values pass through float32 (NumPy's reader): exact integers only below 2²⁴.
        if let i = t.firstIndex(where: { !($0.magnitude < 0x1p24) }) {
            throw bad(
                "t[\(i)] = \(t[i]) µs: times are kept exactly only below 2²⁴ µs (16.8 s); store them relative "
                    + "to the recording's first event")
        }
        let limit = Float(1 << 16)
        guard (x.max() ?? 0) < limit && (y.max() ?? 0) < limit else {
            throw bad("coordinates reach \(Int(x.max() ?? 0)), \(Int(y.max() ?? 0)): at most 65535 are read")
        }
        let width = sensor?.width ?? Int(x.max() ?? 0) + 1, height = sensor?.height ?? Int(y.max() ?? 0) + 1
        for i in x.indices {
            guard x[i] >= 0 && Int(x[i]) < width && y[i] >= 0 && Int(y[i]) < height else {
                throw bad("event \(i) at (\(Int(x[i])), \(Int(y[i]))) lies outside the \(width)×\(height) sensor")
            }
            guard i == 0 || t[i] >= t[i - 1] else {
                throw bad("t decreases at event \(i): events must be in time order")
            }
        }
        return EventStream(
            t: t.map { Int64($0) }, x: x.map { UInt16($0) }, y: y.map { UInt16($0) },
            p: p.map { $0 > 0 ? 1 : 0 }, width: width, height: height)
    }
}
