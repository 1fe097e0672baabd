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
    public static func read(_ path: String, classCount: Int) throws(SNNError) -> (samples: [EventStream], labels: [Int]) {
        guard hdf5Version != nil else {
            throw SNNError(.unsupported, "reading SHD / SSC needs the HDF5 library (1.10 or later): apt-get install libhdf5-dev, "
                           + "or brew install hdf5", file: path)
        }
        guard FileManager.default.fileExists(atPath: path) else {
            let hint = FileManager.default.fileExists(atPath: path + ".gz") ? " (found \(path).gz: gunzip it first)" : ""
            throw SNNError(.io, "no such file\(hint)", file: path)
        }
        var file: Int64 = 0
        try check(snn_h5_open(path, &file), path, nil)
        defer { snn_h5_close(file) }
        var n: UInt64 = 0
        try check(snn_h5_read_int64(file, "labels", nil, 0, &n), path, "labels")
        let count = Int(n)
        var labels64 = [Int64](repeating: 0, count: count)
        try check(snn_h5_read_int64(file, "labels", &labels64, n, &n), path, "labels")
        let times = try vlen(file, "spikes/times", count, path)
        let units = try vlen(file, "spikes/units", count, path)
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
                    throw SNNError(.corrupt, "sample \(i) has the spike time \(time) s (expected finite, ≥ 0)", file: path)
                }
                guard unit >= 0 && unit < Double(channels) && unit == unit.rounded() else {
                    throw SNNError(.corrupt, "sample \(i) has the unit \(unit) (expected 0…\(channels - 1))", file: path)
                }
                events.append((Int64(time * 1e6), UInt16(unit)))
            }
            if !zip(events, events.dropFirst()).allSatisfy({ $0.t <= $1.t }) {
                events = events.enumerated().sorted { ($0.element.t, $0.offset) < ($1.element.t, $1.offset) }.map(\.element)
            }
            samples.append(EventStream(t: events.map(\.t), x: events.map(\.x), y: Array(repeating: 0, count: events.count),
                                       p: Array(repeating: 1, count: events.count), width: channels, height: 1))
        }
        return (samples, labels64.map { Int($0) })
    }

    /// Loads a split framed into `frames` steps: images `[N, frames, 1, 1, 700]` of spike counts per
    /// channel (the first `limit` samples when given). A sample without spikes gives empty frames.
    public static func load(_ corpus: Corpus, _ split: Split, directory: String, frames: Int, framing: Framing,
                            limit: Int? = nil) throws(SNNError) -> LabeledImages {
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

    static func vlen(_ file: Int64, _ name: String, _ count: Int, _ path: String) throws(SNNError)
        -> (offsets: [UInt64], values: [Double]) {
        var offsets = [UInt64](repeating: 0, count: count + 1)
        var values: UnsafeMutablePointer<Double>?
        try check(snn_h5_read_vlen(file, name, UInt64(count), &offsets, &values), path, name)
        defer { free(values) }
        return (offsets, Array(UnsafeBufferPointer(start: values, count: Int(offsets[count]))))
    }

    static func check(_ status: Int32, _ path: String, _ dataset: String?) throws(SNNError) {
        let what = dataset.map { "the dataset \"\($0)\"" } ?? "the file"
        switch Int(status) {
        case Int(SNN_H5_OK): return
        case Int(SNN_H5_OPEN_FAILED): throw SNNError(.corrupt, "not a readable HDF5 file (bad signature, truncated or damaged)", file: path)
        case Int(SNN_H5_NO_DATASET): throw SNNError(.corrupt, "missing \(what) of the SHD / SSC layout", file: path)
        case Int(SNN_H5_WRONG_TYPE): throw SNNError(.corrupt, "\(what) has the wrong type or length for the SHD / SSC layout", file: path)
        case Int(SNN_H5_NO_MEMORY): throw SNNError(.io, "out of memory reading \(what)", file: path)
        case Int(SNN_H5_UNAVAILABLE): throw SNNError(.unsupported, "the HDF5 library is not available", file: path)
        default: throw SNNError(.corrupt, "HDF5 could not read \(what) (damaged data)", file: path)
        }
    }
}
