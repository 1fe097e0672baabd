import CSNNKernels
import Foundation
import SNNTensor

/// A whole HDF5 file as a flat list of its groups and datasets, keyed by path (`node/nodes/lif/tau`):
/// what a small structured file such as a NIR graph needs, read and written through the HDF5
/// library the SHD / SSC readers load.
///
/// Reading runs the library in a child process (damaged metadata can crash it or make it loop) that
/// sends every object as a record; ``parse(records:file:)`` checks those records as any input.
/// Writing runs in this process: the file is our own.
public enum HDF5Tree {
    /// One object read from a file.
    public enum Object: Sendable, Equatable {
        case group
        /// An integer or floating-point dataset, converted to Double (exact for Float32 and for
        /// integers below 2⁵³), in C order; a scalar has the shape `[]`.
        case numbers(shape: [Int], values: [Double])
        /// A string dataset (fixed or variable length), in C order.
        case strings(shape: [Int], values: [String])
        /// A dataset of another type (compound, enum, reference, …), with its HDF5 type class.
        case unsupported(typeClass: Int)
    }

    /// One object to write.
    public enum Dataset: Sendable, Equatable {
        case group
        case float32(shape: [Int], values: [Float])
        case float64(shape: [Int], values: [Double])
        case int64(shape: [Int], values: [Int64])
        /// Variable-length UTF-8 strings (as h5py writes Python strings).
        case strings(shape: [Int], values: [String])
    }

    /// The values read at most (8 bytes per number): far above any model, and a bound on what a
    /// small compressed file can make the reader allocate.
    public static let maximumBytes: UInt64 = 4 << 30

    /// Reads every group and dataset of the file at `path`.
    public static func read(_ path: String) throws(SNNError) -> [String: Object] {
        try HDF5Superblock.check(path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        // Damaged metadata can make the library loop; the limit allows 5 MB/s, far below its real speed.
        let timeout = 5 + Double(size) / 5e6
        var records: UnsafeMutablePointer<UInt8>?
        var length: UInt64 = 0
        var signal: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = snn_h5_read_tree(
            path, timeout, maximumBytes, &records, &length, &signal, &message, message.count)
        defer { free(records) }
        if status != SNN_H5_OK {
            let detail = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            try failure(Int(status), signal: signal, timeout: timeout, path: path, object: nil, detail: detail)
        }
        let bytes = UnsafeBufferPointer(start: records, count: Int(length))
        return try parse(records: bytes, file: path)
    }

    /// The objects of a record stream (the layout is in `snn_hdf5.h`). Every count and length is
    /// checked against the bytes that are there: a stream that ends early or holds a failure record
    /// is an error naming the object.
    public static func parse(records: UnsafeBufferPointer<UInt8>, file: String) throws(SNNError) -> [String: Object] {
        var reader = RecordReader(bytes: records, file: file)
        var objects: [String: Object] = [:]
        while true {
            guard let tag = try reader.byteOrEnd() else {
                throw SNNError(
                    .corrupt, "the HDF5 reader stopped before the end of the file (its metadata is damaged)",
                    file: file)
            }
            if tag == UInt8(ascii: "E") {
                guard reader.offset == records.count else {
                    throw SNNError(.corrupt, "HDF5 reader records go on after their end", file: file)
                }
                return objects
            }
            let path = try reader.string(limit: 4096, what: "object path")
            guard objects[path] == nil else {
                throw SNNError(.corrupt, "the HDF5 reader listed \"\(path)\" twice", file: file)
            }
            switch tag {
            case UInt8(ascii: "G"): objects[path] = .group
            case UInt8(ascii: "N"):
                let shape = try reader.shape(path)
                let count = shape.reduce(1, *)
                objects[path] = .numbers(shape: shape, values: try reader.doubles(count, path))
            case UInt8(ascii: "S"):
                let shape = try reader.shape(path)
                let count = shape.reduce(1, *)
                var values: [String] = []
                for _ in 0..<count { values.append(try reader.string(limit: Int.max, what: "string of \(path)")) }
                objects[path] = .strings(shape: shape, values: values)
            case UInt8(ascii: "U"): objects[path] = .unsupported(typeClass: Int(try reader.int32(path)))
            case UInt8(ascii: "F"):
                let status = try reader.int32(path)
                let detail = try reader.string(limit: 4096, what: "message")
                try failure(Int(status), signal: 0, timeout: 0, path: file, object: path, detail: detail)
            default:
                throw SNNError(.corrupt, "unknown HDF5 reader record \(tag)", file: file, offset: reader.offset - 1)
            }
        }
    }

    /// Writes `objects` (parents before children) to `path`, atomically: the library writes a
    /// temporary file, whose bytes then replace `path` in one rename.
    public static func write(_ objects: [(path: String, dataset: Dataset)], to path: String) throws(SNNError) {
        let temporary = NSTemporaryDirectory() + "/snn-\(UInt64.random(in: 0...UInt64.max)).h5"
        defer { unlink(temporary) }
        // The C entries point into copies that live until the library has written the file.
        var keep: [UnsafeMutableRawPointer] = []
        defer { keep.forEach { $0.deallocate() } }
        func copy<T>(_ values: [T]) -> UnsafePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: max(1, values.count))
            p.initialize(from: values, count: values.count)
            keep.append(UnsafeMutableRawPointer(p))
            return UnsafePointer(p)
        }
        func cString(_ text: String) -> UnsafePointer<CChar> { copy(Array(text.utf8CString)) }
        var entries: [snn_h5_entry] = []
        for (name, dataset) in objects {
            var entry = snn_h5_entry()
            entry.path = cString(name)
            func shaped(_ shape: [Int], _ kind: Int32, count: Int) {
                precondition(count == shape.reduce(1, *), "HDF5Tree: \(name) has \(count) values for \(shape)")
                entry.kind = kind
                entry.rank = Int32(shape.count)
                entry.dims = copy(shape.map { UInt64($0) })
            }
            switch dataset {
            case .group: entry.kind = Int32(SNN_H5_GROUP)
            case .float32(let shape, let values):
                shaped(shape, Int32(SNN_H5_FLOAT32), count: values.count)
                entry.floats = copy(values)
            case .float64(let shape, let values):
                shaped(shape, Int32(SNN_H5_FLOAT64), count: values.count)
                entry.doubles = copy(values)
            case .int64(let shape, let values):
                shaped(shape, Int32(SNN_H5_INT64), count: values.count)
                entry.integers = copy(values)
            case .strings(let shape, let values):
                shaped(shape, Int32(SNN_H5_STRING), count: values.count)
                entry.strings = copy(values.map { Optional(cString($0)) })
            }
            entries.append(entry)
        }
        var message = [CChar](repeating: 0, count: 256)
        let status = snn_h5_write(temporary, entries, Int32(entries.count), &message, message.count)
        if status != SNN_H5_OK {
            let detail = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let library = detail.isEmpty ? "" : ": the library says \"\(detail)\""
            if status == SNN_H5_UNAVAILABLE {
                throw SNNError(.unsupported, "the HDF5 library is not available", file: path)
            }
            throw SNNError(.io, "HDF5 could not write the file\(library)", file: path)
        }
        guard let data = FileManager.default.contents(atPath: temporary) else {
            throw SNNError(.io, "cannot read back the HDF5 file written at \(temporary)", file: path)
        }
        try AtomicFile.write(data, to: path)
    }

    /// The errors of the reader's child process itself (it crashed, did not start, ran past
    /// `timeout`), common to every HDF5 reader; other statuses return.
    static func checkReaderProcess(_ status: Int, signal: Int32, timeout: Double, path: String) throws(SNNError) {
        switch status {
        case Int(SNN_H5_CRASHED):
            let how = signal != 0 ? "crashed reading it (signal \(signal))" : "stopped before it had read everything"
            throw SNNError(.corrupt, "the HDF5 library \(how): its metadata is damaged", file: path)
        case Int(SNN_H5_SYSTEM):
            throw SNNError(
                .io, "could not start the HDF5 reader process: \(String(cString: strerror(signal)))", file: path)
        case Int(SNN_H5_TIMEOUT):
            throw SNNError(
                .corrupt,
                "the HDF5 library did not finish reading it within \(Int(timeout)) s: its metadata is damaged",
                file: path)
        default: return
        }
    }

    /// The error of a failed read: of the file, or of the object at `object`.
    static func failure(
        _ status: Int, signal: Int32, timeout: Double, path: String, object: String?, detail: String
    ) throws(SNNError) -> Never {
        let what = object.map { "\"\($0)\"" } ?? "the file"
        let library = detail.isEmpty ? "" : ": the library says \"\(detail)\""
        try checkReaderProcess(status, signal: signal, timeout: timeout, path: path)
        switch status {
        case Int(SNN_H5_OPEN_FAILED):
            throw SNNError(.corrupt, "not a readable HDF5 file (damaged metadata)\(library)", file: path)
        case Int(SNN_H5_NO_MEMORY):
            throw SNNError(
                .io, "\(what) holds more than \(maximumBytes >> 30) GiB of values, or memory ran out", file: path)
        case Int(SNN_H5_UNAVAILABLE): throw SNNError(.unsupported, "the HDF5 library is not available", file: path)
        case Int(SNN_H5_WRONG_TYPE):
            throw SNNError(.corrupt, "\(what) is nested too deep or its path is too long", file: path)
        default:
            throw SNNError(.corrupt, "HDF5 could not read \(what) (damaged metadata or data)\(library)", file: path)
        }
    }
}

/// Bounds-checked reading of the record stream.
private struct RecordReader {
    let bytes: UnsafeBufferPointer<UInt8>
    let file: String
    var offset = 0

    func truncated(_ what: String) -> SNNError {
        SNNError(.corrupt, "HDF5 reader records end inside \(what)", file: file, offset: bytes.count)
    }

    mutating func byteOrEnd() throws(SNNError) -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func raw<T: FixedWidthInteger>(_ type: T.Type, _ what: String) throws(SNNError) -> T {
        let size = MemoryLayout<T>.size
        guard bytes.count - offset >= size else { throw truncated(what) }
        var value: T = 0
        let source = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[offset..<offset + size]))
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: source) }
        offset += size
        return value
    }

    mutating func int32(_ what: String) throws(SNNError) -> Int32 { try raw(Int32.self, what) }

    mutating func string(limit: Int, what: String) throws(SNNError) -> String {
        let n = Int(try raw(UInt32.self, what))
        guard n <= limit else { throw SNNError(.corrupt, "\(what) is \(n) bytes long", file: file, offset: offset - 4) }
        guard bytes.count - offset >= n else { throw truncated(what) }
        defer { offset += n }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[offset..<offset + n]), as: UTF8.self)
    }

    /// A rank and its dimensions, whose product must fit in the bytes that are left (a string takes
    /// at least its 4-byte length, a number 8 bytes).
    mutating func shape(_ path: String) throws(SNNError) -> [Int] {
        let rank = Int(try raw(UInt32.self, "rank of \(path)"))
        guard rank <= 32 else {
            throw SNNError(.corrupt, "\"\(path)\" has rank \(rank) (HDF5 allows 32)", file: file, offset: offset - 4)
        }
        var shape: [Int] = []
        var count: UInt64 = 1
        for _ in 0..<rank {
            let d = try raw(UInt64.self, "shape of \(path)")
            guard d <= UInt64(Int32.max) else {
                throw SNNError(.corrupt, "\"\(path)\" has a dimension of \(d)", file: file, offset: offset - 8)
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= UInt64(bytes.count - offset) / 4 || product == 0 else {
                throw truncated("the values of \(path)")
            }
            count = product
            shape.append(Int(d))
        }
        return shape
    }

    mutating func doubles(_ count: Int, _ path: String) throws(SNNError) -> [Double] {
        guard (bytes.count - offset) / 8 >= count else { throw truncated("the values of \(path)") }
        let values = [Double](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(
                from: UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[offset..<offset + count * 8])))
            initialized = count
        }
        offset += count * 8
        return values
    }
}
