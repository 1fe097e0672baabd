import Foundation
import SNNTensor

/// A safetensors file (Hugging Face's format): an 8-byte little-endian header length N, N bytes of
/// UTF-8 JSON mapping each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets
/// into the byte buffer that follows) plus an optional `"__metadata__"` object of strings, then the
/// buffer. Every dtype is read into `Float` values; files are written as F32.
public struct SafeTensors: Sendable, Equatable {
    /// One tensor of the file.
    public struct Entry: Sendable, Equatable {
        public var shape: [Int]
        public var values: [Float]
        /// The dtype it was stored with.
        public var dtype: DType

        public init(shape: [Int], values: [Float], dtype: DType = .f32) {
            precondition(shape.reduce(1, *) == values.count, "SafeTensors.Entry: \(values.count) values for shape \(shape)")
            self.shape = shape
            self.values = values
            self.dtype = dtype
        }
    }

    /// The element types of the format.
    public enum DType: String, Sendable {
        case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
        case u8 = "U8", bool = "BOOL"

        public var size: Int {
            switch self {
            case .f64, .i64: 8
            case .f32, .i32: 4
            case .f16, .bf16, .i16: 2
            case .i8, .u8, .bool: 1
            }
        }
    }

    public var entries: [String: Entry]
    public var metadata: [String: String]

    public init(entries: [String: Entry] = [:], metadata: [String: String] = [:]) {
        self.entries = entries
        self.metadata = metadata
    }

    /// Reads and decodes `path`.
    public static func read(contentsOf path: String) throws(SNNError) -> SafeTensors {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SNNError(.io, FileManager.default.fileExists(atPath: path) ? "cannot read file" : "no such file", file: path)
        }
        return try decode([UInt8](data), file: path)
    }

    /// Decodes the bytes of a safetensors file; `file` names it in errors.
    public static func decode(_ bytes: [UInt8], file: String) throws(SNNError) -> SafeTensors {
        func corrupt(_ message: String, _ offset: Int) -> SNNError { SNNError(.corrupt, message, file: file, offset: offset) }
        guard bytes.count >= 8 else { throw corrupt("file of \(bytes.count) bytes is shorter than the 8-byte header length", 0) }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw corrupt("header length \(headerLength) exceeds the \(bytes.count - 8) bytes after it", 0)
        }
        let n = Int(headerLength), dataStart = 8 + n
        guard n >= 2 else { throw corrupt("header of \(n) bytes cannot hold a JSON object", 8) }
        let headerBytes = Data(bytes[8..<dataStart])
        guard String(data: headerBytes, encoding: .utf8) != nil else { throw corrupt("header is not valid UTF-8", 8) }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: headerBytes)
        } catch {
            throw corrupt("header is not valid JSON", 8)
        }
        guard let header = object as? [String: Any] else { throw corrupt("header is not a JSON object", 8) }
        var metadata: [String: String] = [:]
        if let m = header["__metadata__"] {
            guard let dict = m as? [String: Any] else { throw corrupt("__metadata__ is not an object", 8) }
            for (k, v) in dict {
                guard let s = v as? String else { throw corrupt("__metadata__ value of \"\(k)\" is not a string", 8) }
                metadata[k] = s
            }
        }
        let bufferSize = bytes.count - dataStart
        var spans: [(begin: Int, end: Int, name: String)] = []
        var entries: [String: Entry] = [:]
        func integer(_ v: Any, _ what: String) throws(SNNError) -> Int {
            guard let number = v as? NSNumber, number.doubleValue == number.doubleValue.rounded(), number.doubleValue >= 0,
                  number.doubleValue < 9.0e15 else {
                throw corrupt("\(what) is not a non-negative integer", 8)
            }
            return number.intValue
        }
        for (name, value) in header where name != "__metadata__" {
            guard let info = value as? [String: Any] else { throw corrupt("entry \"\(name)\" is not an object", 8) }
            guard let dtypeName = info["dtype"] as? String else { throw corrupt("entry \"\(name)\" has no dtype", 8) }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw SNNError(.unsupported, "entry \"\(name)\" has unsupported dtype \(dtypeName)", file: file, offset: 8)
            }
            guard let shapeValues = info["shape"] as? [Any] else { throw corrupt("entry \"\(name)\" has no shape list", 8) }
            var shape: [Int] = [], count = 1
            for v in shapeValues {
                let d = try integer(v, "a dimension of \"\(name)\"")
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, product <= bufferSize else {
                    throw corrupt("shape \(shapeValues) of \"\(name)\" is larger than the file", 8)
                }
                count = product
                shape.append(d)
            }
            guard let offsets = info["data_offsets"] as? [Any], offsets.count == 2 else {
                throw corrupt("entry \"\(name)\" needs data_offsets [begin, end]", 8)
            }
            let begin = try integer(offsets[0], "data_offsets of \"\(name)\""), end = try integer(offsets[1], "data_offsets of \"\(name)\"")
            guard begin <= end, end <= bufferSize else {
                throw corrupt("data_offsets [\(begin), \(end)] of \"\(name)\" fall outside the \(bufferSize)-byte buffer", dataStart + min(begin, bufferSize))
            }
            guard end - begin == count * dtype.size else {
                throw corrupt("\"\(name)\" spans \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(count * dtype.size)", dataStart + begin)
            }
            spans.append((begin, end, name))
            entries[name] = Entry(shape: shape, values: convert(bytes, from: dataStart + begin, count: count, dtype: dtype), dtype: dtype)
        }
        // The buffer must be covered exactly, without gaps or overlaps.
        var position = 0
        for span in spans.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard span.begin == position else {
                throw corrupt(span.begin < position ? "\"\(span.name)\" overlaps the previous tensor" : "gap before \"\(span.name)\"",
                              dataStart + min(span.begin, position))
            }
            position = span.end
        }
        guard position == bufferSize else { throw corrupt("\(bufferSize - position) bytes after the last tensor", dataStart + position) }
        return SafeTensors(entries: entries, metadata: metadata)
    }

    private static func convert(_ bytes: [UInt8], from start: Int, count: Int, dtype: DType) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let p = raw.baseAddress! + start
            out.withUnsafeMutableBufferPointer { o in
                switch dtype {
                case .f32:
                    memcpy(o.baseAddress!, p, count * 4)
                    for i in 0..<count { o[i] = Float(bitPattern: UInt32(littleEndian: o[i].bitPattern)) }
                case .f64: for i in 0..<count { o[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
                case .f16:
                    for i in 0..<count {
                        o[i] = Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))))
                    }
                case .bf16:
                    for i in 0..<count {
                        o[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16)
                    }
                case .i64: for i in 0..<count { o[i] = Float(Int64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
                case .i32: for i in 0..<count { o[i] = Float(Int32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
                case .i16: for i in 0..<count { o[i] = Float(Int16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
                case .i8: for i in 0..<count { o[i] = Float(p.load(fromByteOffset: i, as: Int8.self)) }
                case .u8: for i in 0..<count { o[i] = Float(p.load(fromByteOffset: i, as: UInt8.self)) }
                case .bool: for i in 0..<count { o[i] = p.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
                }
            }
        }
        return out
    }

    /// The file's bytes: every entry as little-endian F32 in sorted key order, the header padded
    /// with spaces to a multiple of 8 bytes (as the Python library writes it).
    public func encoded() -> [UInt8] {
        let names = entries.keys.sorted()
        var header: [String: Any] = [:]
        var offset = 0
        for name in names {
            let e = entries[name]!
            header[name] = ["dtype": "F32", "shape": e.shape, "data_offsets": [offset, offset + 4 * e.values.count]]
            offset += 4 * e.values.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = [UInt8]((try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8))
        while (8 + json.count) % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var out = [UInt8]()
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: json)
        for name in names {
            entries[name]!.values.withUnsafeBufferPointer { v in
                for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            }
        }
        return out
    }

    /// Writes the file atomically (temporary file in the same directory, flushed, then renamed).
    public func write(to path: String) throws(SNNError) {
        try AtomicFile.write(Data(encoded()), to: path)
    }
}
