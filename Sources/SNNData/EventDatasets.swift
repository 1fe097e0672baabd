import Foundation
import SNNTensor

/// One sample of an event data set: a recording file, the part of it that is the sample (a time
/// window `[start, end)` in µs, or the whole file) and its label.
public struct EventSample: Sendable, Equatable {
    public var path: String
    public var label: Int
    public var window: Range<Int64>?

    public init(path: String, label: Int, window: Range<Int64>? = nil) {
        self.path = path
        self.label = label
        self.window = window
    }
}

/// Framing of event data sets: decodes each recording once, cuts its samples, integrates each into
/// `frames` frames and (optionally) resizes them bilinearly, in parallel over recordings.
public enum EventFraming {
    /// Samples of several classes in one list whose every prefix is class-balanced: the first sample
    /// of each class in class order, then the second of each, and so on.
    public static func interleaved<S>(_ perClass: [[S]]) -> [S] {
        var result: [S] = []
        result.reserveCapacity(perClass.reduce(0) { $0 + $1.count })
        for rank in 0..<(perClass.map(\.count).max() ?? 0) {
            for samples in perClass where rank < samples.count { result.append(samples[rank]) }
        }
        return result
    }

    /// The events of `s` with `window.lowerBound ≤ t < window.upperBound`.
    public static func slice(_ s: EventStream, _ window: Range<Int64>) -> EventStream {
        let lo = s.t.lowerBound(of: window.lowerBound), hi = s.t.lowerBound(of: window.upperBound)
        return EventStream(
            t: Array(s.t[lo..<hi]), x: Array(s.x[lo..<hi]), y: Array(s.y[lo..<hi]), p: Array(s.p[lo..<hi]),
            width: s.width, height: s.height)
    }

    /// Frames `[N, frames, 2, H, W]` of `samples` (H × W: `size` × `size` when given, else the
    /// recordings' sensor size, which must then be the same for all). `decode` reads one recording;
    /// errors name the file.
    public static func load(
        _ samples: [EventSample], classCount: Int, frames: Int, framing: Framing, size: Int? = nil,
        sensor: (width: Int, height: Int),
        decode: @Sendable @escaping (String) throws(SNNError) -> EventStream
    ) throws(SNNError) -> LabeledImages {
        precondition(frames >= 1, "EventFraming.load: frames must be ≥ 1")
        guard framing.fixesFrameCount else {
            throw SNNError(.invalidArgument, "framing \(framing) does not give a fixed number of frames per sample")
        }
        let (h, w) = size.map { ($0, $0) } ?? (sensor.height, sensor.width)
        let per = frames * 2 * h * w
        let images = Tensor(uninitializedShape: [samples.count, frames, 2, h, w])
        let out = images.unsafeStoragePointer
        // Recordings in order of first appearance, each with the indices of its samples.
        var order: [String] = [], members: [String: [Int]] = [:]
        for (i, s) in samples.enumerated() {
            if members[s.path] == nil { order.append(s.path) }
            members[s.path, default: []].append(i)
        }
        let groups = order.map { members[$0, default: []] }
        let lock = NSLock()
        nonisolated(unsafe) var failure: SNNError?
        Parallelism.forEachChunk(groups.count, grain: 1) { range in
            for g in range {
                let path = samples[groups[g][0]].path
                do throws(SNNError) {
                    var recording = try decode(path)
                    recording.width = sensor.width
                    recording.height = sensor.height
                    for i in groups[g] {
                        let events = samples[i].window.map { slice(recording, $0) } ?? recording
                        guard events.count > 0 else {
                            let what =
                                samples[i].window.map { "the window [\($0.lowerBound), \($0.upperBound)) µs" }
                                ?? "the recording"
                            throw SNNError(.corrupt, "\(what) holds no events", file: path)
                        }
                        var f = try framing.frames(events, frames: frames)
                        if h != sensor.height || w != sensor.width {
                            f = f.reshaped(to: [frames * 2, 1, sensor.height, sensor.width])
                                .interpolated(size: (h, w), mode: .bilinear)
                        }
                        f.withUnsafeBufferPointer { (out + i * per).update(from: $0.baseAddress!, count: per) }
                    }
                } catch {
                    lock.lock()
                    if failure == nil {
                        failure = error.file == nil ? SNNError(error.code, error.message, file: path) : error
                    }
                    lock.unlock()
                    return
                }
            }
        }
        if let failure { throw failure }
        return LabeledImages(images: images, labels: samples.map(\.label), classCount: classCount)
    }

    /// The entries of `folder` (hidden ones left out) ending in one of `suffixes`, sorted by name.
    static func listing(_ folder: String, suffixes: [String]) throws(SNNError) -> [String] {
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw SNNError(.io, "cannot list the folder", file: folder, underlying: error.localizedDescription)
        }
        return entries.filter { name in !name.hasPrefix(".") && suffixes.contains { name.hasSuffix($0) } }.sorted()
    }

    /// The sub-folders of `folder` (hidden ones left out), sorted by name.
    static func subfolders(_ folder: String) throws(SNNError) -> [String] {
        let entries: [String]
        do { entries = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw SNNError(.io, "cannot list the folder", file: folder, underlying: error.localizedDescription)
        }
        return entries.filter { name in
            var isDirectory: ObjCBool = false
            return !name.hasPrefix(".")
                && FileManager.default.fileExists(
                    atPath: (folder as NSString).appendingPathComponent(name), isDirectory: &isDirectory)
                && isDirectory.boolValue
        }.sorted()
    }

    /// SpikingJelly's `split_to_train_test_set(ratio, …, random_split=False)`: the first
    /// ⌈ratio · n⌉ samples of each class are for training, the rest for testing.
    static func split<S>(_ perClass: [[S]], _ split: Split, trainRatio: Double = 0.9) -> [[S]] {
        perClass.map { samples in
            let cut = Int((Double(samples.count) * trainRatio).rounded(.up))
            return split == .train ? Array(samples[..<cut]) : Array(samples[cut...])
        }
    }
}

/// DVS128 Gesture (original release): a folder with `userXX_<lighting>.aedat` (AEDAT 3.1,
/// 128×128), `userXX_<lighting>_labels.csv` and the trial lists `trials_to_train.txt` /
/// `trials_to_test.txt`. Each CSV row `class,startTime_usec,endTime_usec` (class 1…11) is one
/// sample: the events with start ≤ t < end, as SpikingJelly cuts them (1176 train / 288 test).
public enum DVSGesture {
    public static let classCount = 11
    public static let size = 128

    /// The rows of a label CSV: labels 0…10 (the file's class − 1) and time windows.
    public static func labels(_ bytes: [UInt8], file: String) throws(SNNError) -> [(label: Int, window: Range<Int64>)] {
        var rows: [(Int, Range<Int64>)] = []
        var offset = 0, sawHeader = false
        for raw in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            defer { offset += raw.count + 1 }
            guard let line = String(bytes: raw, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines) else {
                throw SNNError(.corrupt, "label line is not UTF-8 text", file: file, offset: offset)
            }
            if line.isEmpty { continue }
            if !sawHeader {
                sawHeader = true
                if line.lowercased().hasPrefix("class") { continue }
            }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard fields.count == 3, let c = Int(fields[0]), let start = Int64(fields[1]), let end = Int64(fields[2])
            else {
                throw SNNError(
                    .corrupt, "expected \"class,startTime_usec,endTime_usec\" (three integers), found \"\(line)\"",
                    file: file, offset: offset)
            }
            guard (1...classCount).contains(c) else {
                throw SNNError(.corrupt, "class \(c) outside 1…\(classCount)", file: file, offset: offset)
            }
            guard start < end else {
                throw SNNError(.corrupt, "window [\(start), \(end)) µs is empty", file: file, offset: offset)
            }
            rows.append((c - 1, start..<end))
        }
        guard !rows.isEmpty else { throw SNNError(.corrupt, "no label rows", file: file, offset: bytes.count) }
        return rows
    }

    /// The recordings named in `trials_to_train.txt` or `trials_to_test.txt`.
    public static func trials(_ split: Split, directory: String) throws(SNNError) -> [String] {
        let path = (directory as NSString).appendingPathComponent(
            split == .train ? "trials_to_train.txt" : "trials_to_test.txt")
        guard FileManager.default.fileExists(atPath: path) else {
            throw SNNError(.io, "missing the DVS128 Gesture trial list", file: path)
        }
        let bytes = try FileBytes.read(path)
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw SNNError(.corrupt, "not UTF-8 text", file: path)
        }
        let names = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty
        }
        for name in names where !name.hasSuffix(".aedat") || name.contains("/") {
            throw SNNError(
                .corrupt, "expected a recording name like user01_fluorescent.aedat, found \"\(name)\"", file: path)
        }
        guard !names.isEmpty else { throw SNNError(.corrupt, "the trial list is empty", file: path) }
        return names
    }

    /// Every sample of a split, class-interleaved (see ``EventFraming/interleaved(_:)``).
    public static func samples(_ split: Split, directory: String) throws(SNNError) -> [EventSample] {
        var perClass = [[EventSample]](repeating: [], count: classCount)
        for name in try trials(split, directory: directory) {
            let path = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else {
                throw SNNError(.io, "missing a recording of the trial list", file: path)
            }
            let csv = String(path.dropLast(".aedat".count)) + "_labels.csv"
            for row in try labels(try FileBytes.read(csv), file: csv) {
                perClass[row.label].append(EventSample(path: path, label: row.label, window: row.window))
            }
        }
        return EventFraming.interleaved(perClass)
    }

    /// Loads and frames a split (its first `limit` samples when given). `sensor` is the recordings'
    /// size (128 × 128 for the real set).
    public static func load(
        _ split: Split, directory: String, frames: Int, framing: Framing, size: Int? = nil, limit: Int? = nil,
        sensor: (width: Int, height: Int) = (DVSGesture.size, DVSGesture.size)
    ) throws(SNNError) -> LabeledImages {
        var list = try samples(split, directory: directory)
        if let limit, limit < list.count { list.removeLast(list.count - limit) }
        return try EventFraming.load(
            list, classCount: classCount, frames: frames, framing: framing, size: size, sensor: sensor
        ) {
            (path) throws(SNNError) in try AEDAT31.read(path, width: sensor.width, height: sensor.height)
        }
    }
}

/// CIFAR10-DVS (original release): `<class>/*.aedat` (AEDAT 2.0, 128×128) for the ten CIFAR-10
/// class names, decoded with SpikingJelly's orientation fix. No official split: as SpikingJelly's
/// `split_to_train_test_set(0.9, …)`, the first 90 % of each class (files sorted by name) train,
/// the rest test (9000 / 1000).
public enum CIFAR10DVS {
    public static let classNames = [
        "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
    ]
    public static let size = 128

    public static func samples(_ split: Split, directory: String) throws(SNNError) -> [EventSample] {
        var perClass: [[EventSample]] = []
        for (label, name) in classNames.enumerated() {
            let folder = (directory as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue
            else {
                throw SNNError(.io, "missing the CIFAR10-DVS class folder \(name)", file: directory)
            }
            let files = try EventFraming.listing(folder, suffixes: [".aedat"])
            guard !files.isEmpty else { throw SNNError(.io, "no .aedat recordings", file: folder) }
            perClass.append(
                files.map { EventSample(path: (folder as NSString).appendingPathComponent($0), label: label) })
        }
        return EventFraming.interleaved(EventFraming.split(perClass, split))
    }

    public static func load(
        _ split: Split, directory: String, frames: Int, framing: Framing, size: Int? = nil,
        limit: Int? = nil
    ) throws(SNNError) -> LabeledImages {
        var list = try samples(split, directory: directory)
        if let limit, limit < list.count { list.removeLast(list.count - limit) }
        return try EventFraming.load(
            list, classCount: classNames.count, frames: frames, framing: framing, size: size,
            sensor: (Self.size, Self.size)
        ) { (path) throws(SNNError) in
            try AEDAT20.read(path, orientation: .cifar10DVS)
        }
    }
}

/// N-Caltech101: `<class>/*.bin` (ATIS events, N-MNIST encoding), in `Caltech101/` or the directory
/// itself; classes are the folders sorted by name. Each recording is moved to its own origin
/// (minimum x and y subtracted) on a 240 × 180 sensor. No official split: the first 90 % of each
/// class (files sorted by name) train, the rest test, as SpikingJelly's `split_to_train_test_set`.
public enum NCaltech101 {
    public static let sensor = (width: 240, height: 180)

    /// The class folder names, in label order.
    public static func classes(directory: String) throws(SNNError) -> [String] {
        let root = self.root(directory)
        let names = try EventFraming.subfolders(root)
        guard !names.isEmpty else { throw SNNError(.io, "no class folders", file: root) }
        return names
    }

    static func root(_ directory: String) -> String {
        let nested = (directory as NSString).appendingPathComponent("Caltech101")
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: nested, isDirectory: &isDirectory) && isDirectory.boolValue
            ? nested : directory
    }

    public static func samples(_ split: Split, directory: String) throws(SNNError) -> [EventSample] {
        let root = self.root(directory)
        var perClass: [[EventSample]] = []
        for (label, name) in try classes(directory: directory).enumerated() {
            let folder = (root as NSString).appendingPathComponent(name)
            let files = try EventFraming.listing(folder, suffixes: [".bin"])
            guard !files.isEmpty else { throw SNNError(.io, "no .bin recordings", file: folder) }
            perClass.append(
                files.map { EventSample(path: (folder as NSString).appendingPathComponent($0), label: label) })
        }
        return EventFraming.interleaved(EventFraming.split(perClass, split))
    }

    /// One recording moved to its own origin.
    public static func read(_ path: String) throws(SNNError) -> EventStream {
        var s = try NMNISTBinary.read(path)
        guard s.count > 0 else { throw SNNError(.corrupt, "the recording holds no events", file: path) }
        let mx = s.x.min()!, my = s.y.min()!
        for i in 0..<s.count {
            s.x[i] -= mx
            s.y[i] -= my
        }
        s.width = sensor.width
        s.height = sensor.height
        return s
    }

    public static func load(
        _ split: Split, directory: String, frames: Int, framing: Framing, size: Int? = nil,
        limit: Int? = nil
    ) throws(SNNError) -> LabeledImages {
        let classCount = try classes(directory: directory).count
        var list = try samples(split, directory: directory)
        if let limit, limit < list.count { list.removeLast(list.count - limit) }
        return try EventFraming.load(
            list, classCount: classCount, frames: frames, framing: framing, size: size,
            sensor: sensor
        ) { (path) throws(SNNError) in try read(path) }
    }
}
