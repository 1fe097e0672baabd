import CSNNKernels
import Foundation
import SNNTensor

/// The Spiking Heidelberg Digits (SHD) and Spiking Speech Commands (SSC): HDF5 files with
/// `spikes/times` (variable-length arrays of seconds, float16 in the released files),
/// `spikes/units` (variable-length channel ids 0…699) and `labels` (FORMATS.md). Read with the HDF5
/// C library, loaded at run time (Debian `libhdf5-dev`, macOS Homebrew `hdf5`).
public enum SpikingSpeech {
    public enum Corpus: String, Sendable, CaseIterable {
        case shd, ssc

        public var classCount: Int { self == .shd ? 20 : 35 }

        /// The file of a split: `shd_train.h5` / `shd_test.h5`, `ssc_train.h5` / `ssc_test.h5`.
        public func fileName(_ split: Split) -> String { "\(rawValue)_\(split == .train ? "train" : "test").h5" }
    }

    public static let channels = 700

    /// Whether the HDF5 library could be loaded (and which version).
    public static var hdf5Version: String? { snn_h5_available() != 0 ? String(cString: snn_h5_version()) : nil }

    /// Every sample of a file as an event stream (x = channel, y = 0, p = 1 on a 700 × 1 sensor; t in
    /// µs, truncated from the stored seconds as tonic does; sorted by time) with its label.
    public static func read(_ path: String, classCount: Int) throws(SNNError) -> (samples: [EventStream], labels: [Int])
    {
        guard hdf5Version != nil else {
            throw SNNError(
                .unsupported,
                "reading SHD / SSC needs the HDF5 library (1.10 or later): apt-get install libhdf5-dev, "
                    + "or brew install hdf5", file: path)
        }
        guard FileManager.default.fileExists(atPath: path) else {
            let hint =
                FileManager.default.fileExists(atPath: path + ".gz") ? " (found \(path).gz: gunzip it first)" : ""
            throw SNNError(.io, "no such file\(hint)", file: path)
        }
        try HDF5Superblock.check(path)
        let (labels64, times, units) = try readDatasets(path)
        let count = labels64.count
        guard times.offsets.count == count + 1, units.offsets.count == count + 1 else {
            throw SNNError(
                .corrupt,
                "\(count) labels but \(times.offsets.count - 1) spike-time and \(units.offsets.count - 1) unit "
                    + "sequences (expected one of each per label)", file: path)
        }
        var samples: [EventStream] = []
        samples.reserveCapacity(count)
        for i in 0..<count {
            guard labels64[i] >= 0 && labels64[i] < Int64(classCount) else {
                throw SNNError(.corrupt, "labels[\(i)] = \(labels64[i]) is outside 0…\(classCount - 1)", file: path)
            }
            let t = times.values[Int(times.offsets[i])..<Int(times.offsets[i + 1])]
            let u = units.values[Int(units.offsets[i])..<Int(units.offsets[i + 1])]
            guard t.count == u.count else {
                throw SNNError(.corrupt, "sample \(i) has \(t.count) spike times but \(u.count) units", file: path)
            }
            var events: [(t: Int64, x: UInt16)] = []
            events.reserveCapacity(t.count)
            for (time, unit) in zip(t, u) {
                guard time.isFinite && time >= 0 && time < 1e9 else {
                    throw SNNError(
                        .corrupt, "sample \(i) has the spike time \(time) s (expected finite, ≥ 0)", file: path)
                }
                guard unit >= 0 && unit < Double(channels) && unit == unit.rounded() else {
                    throw SNNError(
                        .corrupt, "sample \(i) has the unit \(unit) (expected 0…\(channels - 1))", file: path)
                }
                events.append((Int64(time * 1e6), UInt16(unit)))
            }
            if !zip(events, events.dropFirst()).allSatisfy({ $0.t <= $1.t }) {
                events = events.enumerated().sorted { ($0.element.t, $0.offset) < ($1.element.t, $1.offset) }.map(
                    \.element)
            }
            samples.append(
                EventStream(
                    t: events.map(\.t), x: events.map(\.x), y: Array(repeating: 0, count: events.count),
                    p: Array(repeating: 1, count: events.count), width: channels, height: 1))
        }
        return (samples, labels64.map { Int($0) })
    }

    /// Loads a split framed into `frames` steps: images `[N, frames, 1, 1, 700]` of spike counts per
    /// channel (the first `limit` samples when given). A sample without spikes gives empty frames.
    public static func load(
        _ corpus: Corpus, _ split: Split, directory: String, frames: Int, framing: Framing,
        limit: Int? = nil
    ) throws(SNNError) -> LabeledImages {
        precondition(frames >= 1, "SpikingSpeech.load: frames must be ≥ 1")
        guard framing.fixesFrameCount else {
            throw SNNError(.invalidArgument, "framing \(framing) does not give a fixed number of frames per sample")
        }
        let path = (directory as NSString).appendingPathComponent(corpus.fileName(split))
        var (samples, labels) = try read(path, classCount: corpus.classCount)
        if let limit, limit < samples.count {
            samples.removeLast(samples.count - limit)
            labels.removeLast(labels.count - limit)
        }
        let per = frames * channels
        let images = Tensor(zeros: [samples.count, frames, 1, 1, channels])
        let out = images.unsafeStoragePointer
        for (i, s) in samples.enumerated() where s.count > 0 {
            let segments: [Range<Int>]
            do { segments = try framing.segments(s, frames: frames) } catch {
                throw SNNError(error.code, "sample \(i): \(error.message)", file: path)
            }
            for (f, range) in segments.enumerated() {
                for e in range { out[i * per + f * channels + Int(s.x[e])] += 1 }
            }
        }
        return LabeledImages(images: images, labels: labels, classCount: corpus.classCount)
    }

    /// `labels`, `spikes/times` and `spikes/units`, read by the library in a child process.
    static func readDatasets(_ path: String) throws(SNNError)
        -> (labels: [Int64], times: (offsets: [UInt64], values: [Double]), units: (offsets: [UInt64], values: [Double]))
    {
        let names = ["labels", "spikes/times", "spikes/units"]
        let cNames = names.map { strdup($0)! }
        defer { cNames.forEach { free($0) } }
        var requests = cNames.enumerated().map { i, name in
            snn_h5_request(
                name: name, vlen: i == 0 ? 0 : 1, status: 0, length: 0, integers: nil, offsets: nil, values: nil)
        }
        // Damaged metadata can make the library loop; the limit allows 5 MB/s, far below its real speed.
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let timeout = 5 + Double(size) / 5e6
        var signal: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = Int(snn_h5_read(path, &requests, Int32(requests.count), timeout, &signal, &message, message.count))
        if status != Int(SNN_H5_OK) {
            let detail = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let failed = requests.firstIndex { $0.status != SNN_H5_OK }.map { names[$0] }
            try HDF5Tree.checkReaderProcess(status, signal: signal, timeout: timeout, path: path)
            try check(Int32(status), path, failed, detail: detail)
        }
        defer { snn_h5_free(&requests, Int32(requests.count)) }
        let labels = Array(UnsafeBufferPointer(start: requests[0].integers, count: Int(requests[0].length)))
        // The child's results are checked as any input: offsets start at 0 and never decrease.
        func sequences(_ i: Int) throws(SNNError) -> (offsets: [UInt64], values: [Double]) {
            let r = requests[i]
            let offsets = Array(UnsafeBufferPointer(start: r.offsets, count: Int(r.length) + 1))
            guard offsets.first == 0, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw SNNError(.corrupt, "the sequences of \"\(names[i])\" do not add up", file: path)
            }
            return (offsets, Array(UnsafeBufferPointer(start: r.values, count: Int(offsets.last!))))
        }
        return (labels, try sequences(1), try sequences(2))
    }

    static func check(_ status: Int32, _ path: String, _ dataset: String?, detail: String = "") throws(SNNError) {
        let what = dataset.map { "the dataset \"\($0)\"" } ?? "the file"
        let library = detail.isEmpty ? "" : ": the library says \"\(detail)\""
        switch Int(status) {
        case Int(SNN_H5_OK): return
        case Int(SNN_H5_OPEN_FAILED):
            throw SNNError(.corrupt, "not a readable HDF5 file (damaged metadata)\(library)", file: path)
        case Int(SNN_H5_NO_DATASET): throw SNNError(.corrupt, "missing \(what) of the SHD / SSC layout", file: path)
        case Int(SNN_H5_WRONG_TYPE):
            throw SNNError(.corrupt, "\(what) has the wrong type or length for the SHD / SSC layout", file: path)
        case Int(SNN_H5_NO_MEMORY): throw SNNError(.io, "out of memory reading \(what)", file: path)
        case Int(SNN_H5_UNAVAILABLE): throw SNNError(.unsupported, "the HDF5 library is not available", file: path)
        default:
            throw SNNError(.corrupt, "HDF5 could not read \(what) (damaged metadata or data)\(library)", file: path)
        }
    }
}

/// The HDF5 superblock's own checks, made before the library sees a file, so that the common damage
/// (not HDF5 at all, a wrong version, truncation) is reported with its byte offset; the library's
/// errors name the dataset and quote the library's description, which has no offset.
enum HDF5Superblock {
    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    static func check(_ path: String) throws(SNNError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw SNNError(.io, "cannot open the file", file: path)
        }
        defer { try? handle.close() }
        let size = Int((try? handle.seekToEnd()) ?? 0)
        func bytes(at offset: Int, _ count: Int) -> [UInt8] {
            guard (try? handle.seek(toOffset: UInt64(offset))) != nil else { return [] }
            return [UInt8]((try? handle.read(upToCount: count)) ?? Data())
        }
        // The superblock sits at 0 or, after a user block, at 512, 1024, 2048, …
        var base = 0
        while base + 8 <= size && bytes(at: base, 8) != signature { base = base == 0 ? 512 : base * 2 }
        guard base + 8 <= size else {
            if size < 8 && signature.starts(with: bytes(at: 0, size)) {
                throw SNNError(.corrupt, "truncated inside the HDF5 signature", file: path, offset: size)
            }
            throw SNNError(
                .corrupt, "no HDF5 signature (\\x89HDF\\r\\n\\x1a\\n) at offset 0 or any 512·2ᵏ: not an HDF5 file",
                file: path, offset: 0)
        }
        let head = bytes(at: base, 64)
        func truncated(_ field: String) -> SNNError {
            SNNError(.corrupt, "truncated inside the superblock (its \(field))", file: path, offset: size)
        }
        guard head.count > 8 else { throw truncated("version") }
        let version = Int(head[8])
        let sizeField: Int, baseField: Int
        switch version {
        case 0, 1: sizeField = 13; baseField = version == 0 ? 24 : 28  // then base, free-space, end-of-file addresses
        case 2, 3: sizeField = 9; baseField = 12  // then base, extension, end-of-file addresses
        default: throw SNNError(.corrupt, "superblock version \(version) (expected 0…3)", file: path, offset: base + 8)
        }
        guard head.count > sizeField else { throw truncated("size of offsets") }
        let width = Int(head[sizeField])
        guard [2, 4, 8, 16, 32].contains(width) else {
            throw SNNError(
                .corrupt, "size of offsets \(width) (expected 2, 4, 8, 16 or 32)", file: path, offset: base + sizeField)
        }
        let at = baseField + 2 * width
        guard head.count >= at + width else { throw truncated("end-of-file address") }
        guard width <= 8 else { return }  // addresses wider than 64 bits: left to the library
        // The end-of-file address is absolute (the library compares it with the file's size).
        let eof = (0..<width).reduce(UInt64(0)) { $0 | UInt64(head[at + $1]) << (8 * UInt64($1)) }
        let undefined = width == 8 ? UInt64.max : (UInt64(1) << (8 * UInt64(width))) - 1
        if eof != undefined && eof > UInt64(size) {
            throw SNNError(
                .corrupt,
                "truncated: the superblock's end-of-file address (offset \(base + at)) is \(eof), "
                    + "the file has \(size) bytes", file: path, offset: size)
        }
    }
}
