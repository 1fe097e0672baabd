import Foundation
import SNNTensor

/// The contents of a safetensors file, the checkpoint format of Hugging Face's `safetensors` library.
///
/// A file is an 8-byte little-endian length `N`, then `N` bytes of UTF-8 JSON (possibly padded with
/// trailing spaces) that map each tensor's name to `{"dtype": …, "shape": […], "data_offsets":
/// [begin, end]}` plus an optional `"__metadata__"` object of strings, then the byte buffer that the
/// offsets point into. The tensors' byte ranges must tile the buffer exactly.
///
/// Decoding converts every supported dtype to `Float`; ``encoded()`` and ``write(to:)`` store every
/// entry as little-endian F32 in the layout `safetensors.numpy.save` writes. Every problem with a
/// file is thrown as an `SNNError` that names the file and the byte offset where it was found.
///
/// **Checksums.** The format has none, so a damaged weight would load silently. Files this library
/// writes carry the CRC-32 (``CRC32``, as Python's `zlib.crc32`) of each tensor's data bytes in the
/// metadata, under the key `"crc32:<tensor name>"` with 8 lowercase hexadecimal digits as the value
/// (`"crc32:features.0.weight": "1c291ca3"`); any safetensors reader still loads such a file. Reading
/// verifies every checksum present and throws `.corrupt` naming the file and the tensor on a
/// mismatch; tensors without one (files written before, or by other libraries) load unchecked. The
/// checksum pairs are not part of ``metadata``.
///
/// ```swift
/// var file = SafeTensors(metadata: ["format": "pt"])
/// file.entries["weight"] = .init(shape: [2, 2], values: [1, 2, 3, 4])
/// try file.write(to: "model.safetensors")
/// let weight = try SafeTensors.read(contentsOf: "model.safetensors").entries["weight"]
/// ```
public struct SafeTensors: Sendable, Equatable {
    /// One tensor of a file.
    public struct Entry: Sendable, Equatable {
        /// The extent of each dimension; empty for a scalar.
        public var shape: [Int]
        /// The elements in row-major order, converted to `Float`; as many as the product of `shape`.
        public var values: [Float]
        /// The element type the tensor was stored with. ``SafeTensors/encoded()`` writes F32 whatever
        /// this says.
        public var dtype: DType

        /// Creates an entry; `values.count` must equal the product of `shape`, whose extents must not
        /// be negative.
        public init(shape: [Int], values: [Float], dtype: DType = .f32) {
            precondition(shape.allSatisfy { $0 >= 0 }, "SafeTensors.Entry: negative extent in shape \(shape)")
            precondition(
                shape.reduce(1, *) == values.count, "SafeTensors.Entry: \(values.count) values for shape \(shape)")
            self.shape = shape
            self.values = values
            self.dtype = dtype
        }
    }

    /// The element types this library reads, spelled as in the file's header.
    public enum DType: String, Sendable {
        /// IEEE 754 double precision, rounded to the nearest `Float` when read.
        case f64 = "F64"
        /// IEEE 754 single precision, the type every entry is written as.
        case f32 = "F32"
        /// IEEE 754 half precision.
        case f16 = "F16"
        /// bfloat16: the upper half of a single-precision number.
        case bf16 = "BF16"
        /// Signed 64-bit integers, rounded to the nearest `Float` when read.
        case i64 = "I64"
        /// Signed 32-bit integers, rounded to the nearest `Float` when read.
        case i32 = "I32"
        /// Signed 16-bit integers.
        case i16 = "I16"
        /// Signed 8-bit integers.
        case i8 = "I8"
        /// Unsigned 8-bit integers.
        case u8 = "U8"
        /// Booleans, one byte each; any non-zero byte reads as 1.
        case bool = "BOOL"

        /// The number of bytes one element occupies in the file.
        public var byteCount: Int {
            switch self {
            case .f64, .i64: 8
            case .f32, .i32: 4
            case .f16, .bf16, .i16: 2
            case .i8, .u8, .bool: 1
            }
        }
    }

    /// The tensors, by name.
    public var entries: [String: Entry]
    /// The string pairs of the header's `"__metadata__"` object, without the checksum pairs (keys
    /// that start with ``checksumKeyPrefix``), which ``encoded()`` writes and decoding verifies.
    public var metadata: [String: String]

    /// The prefix of the metadata keys that hold a tensor's CRC-32: `"crc32:"` + the tensor's name.
    public static let checksumKeyPrefix = "crc32:"

    /// Creates a file's contents from tensors and metadata.
    public init(entries: [String: Entry] = [:], metadata: [String: String] = [:]) {
        self.entries = entries
        self.metadata = metadata
    }

    /// The largest header accepted, the limit of the reference implementation (100 MB).
    static let maximumHeaderLength = 100_000_000

    // MARK: - Reading

    /// Reads and decodes the safetensors file at `path`.
    ///
    /// - Throws: `SNNError` with code `.io` when the file cannot be read, or any error of
    ///   ``decode(_:file:)``.
    public static func read(contentsOf path: String) throws(SNNError) -> SafeTensors {
        try decode(SafeTensorsIO.readFile(path), file: path)
    }

    /// Decodes the bytes of a safetensors file, converting every tensor to `Float` values.
    ///
    /// F32 data is copied in bulk; the byte buffer need not be aligned.
    ///
    /// - Parameters:
    ///   - bytes: The whole file.
    ///   - file: The name of the file, used in errors.
    /// - Throws: `SNNError` naming `file` and the byte offset of the problem: `.corrupt` for a
    ///   malformed file (truncated, a header that is not a UTF-8 JSON object of well-typed entries
    ///   with unique names, sizes that disagree or overflow, byte ranges that overlap, leave gaps or
    ///   do not cover the buffer, a tensor's data that does not match its recorded CRC-32, a checksum
    ///   that is not 8 hexadecimal digits or names no tensor); `.unsupported` for a dtype this library
    ///   does not read (such as
    ///   F8_E4M3 or U32) or a header over 100 MB.
    public static func decode(_ bytes: [UInt8], file: String) throws(SNNError) -> SafeTensors {
        try bytes.withUnsafeBufferPointer { buffer throws(SNNError) in try decode(buffer, file: file) }
    }

    /// A tensor's header entry, validated against the buffer but not yet converted.
    private struct Layout {
        var name: String
        var dtype: DType
        var shape: [Int]
        var count: Int
        var begin: Int
        var end: Int
    }

    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws(SNNError) -> SafeTensors {
        func corrupt(_ message: String, at offset: Int) -> SNNError {
            SNNError(.corrupt, message, file: file, offset: offset)
        }
        guard bytes.count >= 8 else {
            throw corrupt("file of \(bytes.count) bytes is shorter than the 8-byte header length", at: 0)
        }
        var declaredLength: UInt64 = 0
        for i in 0..<8 { declaredLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard declaredLength <= UInt64(bytes.count - 8) else {
            throw corrupt(
                "header length \(declaredLength) exceeds the \(bytes.count - 8) bytes after the length field", at: 0)
        }
        let headerLength = Int(declaredLength)
        guard headerLength <= maximumHeaderLength else {
            throw SNNError(
                .unsupported, "header of \(headerLength) bytes exceeds the format's limit of \(maximumHeaderLength)",
                file: file, offset: 0)
        }
        let dataStart = 8 + headerLength, bufferSize = bytes.count - dataStart
        let header = UnsafeBufferPointer(rebasing: bytes[8..<dataStart])
        if let bad = firstInvalidUTF8(header) {
            throw corrupt("header is not valid UTF-8", at: 8 + bad)
        }
        var parser = HeaderParser(bytes: header, base: 8, file: file)
        let root = try parser.parseDocument()
        guard case .object(let members) = root.value else {
            throw corrupt("header is \(root.value.kindName), not a JSON object", at: root.offset)
        }

        var metadata: [String: String] = [:]
        var layouts: [Layout] = []
        layouts.reserveCapacity(members.count)
        for (name, node) in members {
            if name == "__metadata__" {
                metadata = try decodeMetadata(node, file: file)
            } else {
                layouts.append(try decodeLayout(name: name, node: node, bufferSize: bufferSize, file: file))
            }
        }

        // The byte ranges must tile the buffer: no overlaps, no gaps, nothing left over.
        let ordered = layouts.indices.sorted {
            (layouts[$0].begin, layouts[$0].end) < (layouts[$1].begin, layouts[$1].end)
        }
        var position = 0, previous: String?
        for index in ordered {
            let layout = layouts[index]
            if layout.begin > position {
                throw corrupt(
                    "data bytes \(position)..<\(layout.begin) before \"\(layout.name)\" belong to no tensor",
                    at: dataStart + position)
            }
            if layout.begin < position, let previous {
                throw corrupt(
                    "\"\(layout.name)\" (data bytes \(layout.begin)..<\(layout.end)) overlaps \"\(previous)\"",
                    at: dataStart + layout.begin)
            }
            position = layout.end
            previous = layout.name
        }
        guard position == bufferSize else {
            throw corrupt(
                "the last \(bufferSize - position) bytes of the data buffer belong to no tensor",
                at: dataStart + position)
        }

        let data = UnsafeRawPointer(bytes.baseAddress!) + dataStart
        metadata = try verifyChecksums(
            metadata, layouts: layouts, data: data, dataStart: dataStart, file: file,
            metadataOffset: members.first { $0.key == "__metadata__" }?.node.offset ?? 8)

        var entries: [String: Entry] = [:]
        entries.reserveCapacity(layouts.count)
        for layout in layouts {
            let values = convert(data + layout.begin, count: layout.count, dtype: layout.dtype)
            entries[layout.name] = Entry(shape: layout.shape, values: values, dtype: layout.dtype)
        }
        return SafeTensors(entries: entries, metadata: metadata)
    }

    /// Checks every tensor that `metadata` holds a CRC-32 for; returns the metadata without those pairs.
    private static func verifyChecksums(
        _ metadata: [String: String], layouts: [Layout], data: UnsafeRawPointer,
        dataStart: Int, file: String, metadataOffset: Int
    )
        throws(SNNError) -> [String: String]
    {
        var rest = metadata
        let byName = Dictionary(layouts.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for (key, value) in metadata where key.hasPrefix(checksumKeyPrefix) {
            rest[key] = nil
            let name = String(key.dropFirst(checksumKeyPrefix.count))
            let isHexDigit = { (c: UInt8) in (0x30...0x39).contains(c) || (0x61...0x66).contains(c | 0x20) }
            guard value.utf8.count == 8, value.utf8.allSatisfy(isHexDigit),
                let recorded = UInt32(value, radix: 16)
            else {
                throw SNNError(
                    .corrupt, "checksum \"\(key)\" is \"\(value)\", not 8 hexadecimal digits", file: file,
                    offset: metadataOffset)
            }
            guard let layout = byName[name] else {
                throw SNNError(
                    .corrupt, "checksum \"\(key)\" names no tensor of the file", file: file,
                    offset: metadataOffset)
            }
            let bytes = UnsafeRawBufferPointer(start: data + layout.begin, count: layout.end - layout.begin)
            let computed = CRC32.checksum(bytes)
            guard computed == recorded else {
                throw SNNError(
                    .corrupt,
                    "tensor \"\(name)\" is damaged: its data has CRC-32 \(hex8(computed)), "
                        + "the header records \(value)", file: file, offset: dataStart + layout.begin)
            }
        }
        return rest
    }

    /// `value` as 8 lowercase hexadecimal digits.
    private static func hex8(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    private static func decodeMetadata(_ node: JSONNode, file: String) throws(SNNError) -> [String: String] {
        switch node.value {
        case .null:
            return [:]
        case .object(let members):
            var metadata: [String: String] = [:]
            for (key, value) in members {
                guard case .string(let text) = value.value else {
                    throw SNNError(
                        .corrupt, "__metadata__ value of \"\(key)\" is \(value.value.kindName), not a string",
                        file: file, offset: value.offset)
                }
                metadata[key] = text
            }
            return metadata
        default:
            throw SNNError(
                .corrupt, "__metadata__ is \(node.value.kindName), not an object", file: file, offset: node.offset)
        }
    }

    private static func decodeLayout(name: String, node: JSONNode, bufferSize: Int, file: String) throws(SNNError)
        -> Layout
    {
        func corrupt(_ message: String, at offset: Int) -> SNNError {
            SNNError(.corrupt, "\"\(name)\": " + message, file: file, offset: offset)
        }
        guard case .object(let members) = node.value else {
            throw corrupt("entry is \(node.value.kindName), not an object", at: node.offset)
        }
        func field(_ key: String) throws(SNNError) -> JSONNode {
            guard let member = members.first(where: { $0.key == key }) else {
                throw corrupt("entry has no \"\(key)\"", at: node.offset)
            }
            return member.node
        }
        func integer(_ element: JSONNode, _ what: String) throws(SNNError) -> Int {
            switch element.value {
            case .integer(let value) where value >= 0:
                return value
            case .integer:
                throw corrupt("\(what) is negative", at: element.offset)
            case .largeInteger(let text):
                throw corrupt("\(what) \(text) is too large", at: element.offset)
            case .fraction(let text):
                throw corrupt("\(what) \(text) is not an integer", at: element.offset)
            default:
                throw corrupt("\(what) is \(element.value.kindName), not an integer", at: element.offset)
            }
        }

        let dtypeNode = try field("dtype")
        guard case .string(let dtypeName) = dtypeNode.value else {
            throw corrupt("dtype is \(dtypeNode.value.kindName), not a string", at: dtypeNode.offset)
        }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw SNNError(
                .unsupported, "\"\(name)\": unsupported dtype \"\(dtypeName)\"", file: file, offset: dtypeNode.offset)
        }

        let shapeNode = try field("shape")
        guard case .array(let extents) = shapeNode.value else {
            throw corrupt("shape is \(shapeNode.value.kindName), not an array", at: shapeNode.offset)
        }
        var shape: [Int] = [], count = 1, overflow = false
        shape.reserveCapacity(extents.count)
        for extent in extents {
            let value = try integer(extent, "extent")
            shape.append(value)
            let product = count.multipliedReportingOverflow(by: value)
            overflow = overflow || product.overflow
            count = product.partialValue
        }
        let byteCount = count.multipliedReportingOverflow(by: dtype.byteCount)
        guard !overflow, !byteCount.overflow else {
            throw corrupt("shape \(shape) has more elements than can be addressed", at: shapeNode.offset)
        }

        let offsetsNode = try field("data_offsets")
        guard case .array(let offsets) = offsetsNode.value, offsets.count == 2 else {
            throw corrupt("data_offsets must be an array [begin, end]", at: offsetsNode.offset)
        }
        let begin = try integer(offsets[0], "data offset"), end = try integer(offsets[1], "data offset")
        guard begin <= end else {
            throw corrupt("data_offsets [\(begin), \(end)] end before they begin", at: offsetsNode.offset)
        }
        guard end <= bufferSize else {
            throw corrupt(
                "data_offsets [\(begin), \(end)] extend past the \(bufferSize)-byte data buffer", at: offsetsNode.offset
            )
        }
        guard end - begin == byteCount.partialValue else {
            throw corrupt(
                "data_offsets [\(begin), \(end)] span \(end - begin) bytes, but shape \(shape) of \(dtypeName) "
                    + "needs \(byteCount.partialValue)", at: offsetsNode.offset)
        }
        return Layout(name: name, dtype: dtype, shape: shape, count: count, begin: begin, end: end)
    }

    /// Converts `count` little-endian elements of `dtype` at `source` (any alignment) to `Float`.
    private static func convert(_ source: UnsafeRawPointer, count: Int, dtype: DType) -> [Float] {
        guard count > 0 else { return [] }
        return [Float](unsafeUninitializedCapacity: count) { output, initialized in
            let out = output.baseAddress!
            switch dtype {
            case .f32:
                memcpy(out, source, count * 4)
                #if _endian(big)
                for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: out[i].bitPattern)) }
                #endif
            case .f64:
                for i in 0..<count {
                    let bits = UInt64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                    out[i] = Float(Double(bitPattern: bits))
                }
            case .f16:
                for i in 0..<count {
                    out[i] = Float(
                        halfPrecisionBits: UInt16(
                            littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                }
            case .bf16:
                for i in 0..<count {
                    let bits = UInt16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    out[i] = Float(bitPattern: UInt32(bits) << 16)
                }
            case .i64:
                for i in 0..<count {
                    out[i] = Float(Int64(littleEndian: source.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)))
                }
            case .i32:
                for i in 0..<count {
                    out[i] = Float(Int32(littleEndian: source.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                }
            case .i16:
                for i in 0..<count {
                    out[i] = Float(Int16(littleEndian: source.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)))
                }
            case .i8:
                for i in 0..<count { out[i] = Float(source.load(fromByteOffset: i, as: Int8.self)) }
            case .u8:
                for i in 0..<count { out[i] = Float(source.load(fromByteOffset: i, as: UInt8.self)) }
            case .bool:
                for i in 0..<count { out[i] = source.load(fromByteOffset: i, as: UInt8.self) != 0 ? 1 : 0 }
            }
            initialized = count
        }
    }

    /// The offset of the first byte of `bytes` that does not start or continue a valid UTF-8
    /// sequence (overlong forms, surrogates and code points above U+10FFFF are invalid), or `nil`.
    private static func firstInvalidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var i = 0
        let n = bytes.count
        while i < n {
            let lead = bytes[i]
            if lead < 0x80 {
                i += 1
                continue
            }
            let length: Int, second: ClosedRange<UInt8>
            switch lead {
            case 0xC2...0xDF: (length, second) = (2, 0x80...0xBF)
            case 0xE0: (length, second) = (3, 0xA0...0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (length, second) = (3, 0x80...0xBF)
            case 0xED: (length, second) = (3, 0x80...0x9F)
            case 0xF0: (length, second) = (4, 0x90...0xBF)
            case 0xF1...0xF3: (length, second) = (4, 0x80...0xBF)
            case 0xF4: (length, second) = (4, 0x80...0x8F)
            default: return i
            }
            guard i + 1 < n, second.contains(bytes[i + 1]) else { return i }
            for k in 2..<length {
                guard i + k < n, bytes[i + k] & 0xC0 == 0x80 else { return i }
            }
            i += length
        }
        return nil
    }

    // MARK: - Writing

    /// The bytes of the file: every entry as little-endian F32, ordered by the UTF-8 bytes of the
    /// names, after a compact JSON header that lists `"__metadata__"` first (``metadata`` and one
    /// `"crc32:<name>"` checksum per tensor, keys sorted) and then the tensors in the same order,
    /// padded with spaces to a multiple of 8 bytes. This is the layout `safetensors.numpy.save` writes
    /// for float32 tensors and that metadata, but for the order of the metadata pairs (Python's is
    /// arbitrary).
    ///
    /// - Precondition: Every entry's `values.count` equals the product of its `shape`, no extent is
    ///   negative, no entry is named `"__metadata__"` and no key of ``metadata`` starts with
    ///   ``checksumKeyPrefix``.
    public func encoded() -> [UInt8] {
        let sorted = entries.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        precondition(
            !metadata.keys.contains { $0.hasPrefix(Self.checksumKeyPrefix) },
            "SafeTensors: metadata keys starting with \(Self.checksumKeyPrefix) are reserved for checksums")
        var pairs = metadata
        for (name, entry) in sorted {
            pairs[Self.checksumKeyPrefix + name] = Self.hex8(
                entry.values.withUnsafeBufferPointer { values in
                    #if _endian(big)
                    values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { CRC32.checksum($0) }
                    #else
                    CRC32.checksum(UnsafeRawBufferPointer(values))
                    #endif
                })
        }
        var header: [UInt8] = [UInt8(ascii: "{")]
        var dataSize = 0
        if !pairs.isEmpty {
            header.appendJSONString("__metadata__")
            header.append(contentsOf: Array(":{".utf8))
            let sortedPairs = pairs.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            for (i, (key, value)) in sortedPairs.enumerated() {
                if i > 0 { header.append(UInt8(ascii: ",")) }
                header.appendJSONString(key)
                header.append(UInt8(ascii: ":"))
                header.appendJSONString(value)
            }
            header.append(UInt8(ascii: "}"))
        }
        for (name, entry) in sorted {
            precondition(name != "__metadata__", "SafeTensors: a tensor cannot be named __metadata__")
            precondition(
                entry.shape.allSatisfy { $0 >= 0 } && entry.shape.reduce(1, *) == entry.values.count,
                "SafeTensors: \"\(name)\" has \(entry.values.count) values for shape \(entry.shape)")
            if header.count > 1 { header.append(UInt8(ascii: ",")) }
            header.appendJSONString(name)
            header.append(contentsOf: Array(":{\"dtype\":\"F32\",\"shape\":[".utf8))
            header.append(contentsOf: Array(entry.shape.map(String.init).joined(separator: ",").utf8))
            let size = 4 * entry.values.count
            header.append(contentsOf: Array("],\"data_offsets\":[\(dataSize),\(dataSize + size)]}".utf8))
            dataSize += size
        }
        header.append(UInt8(ascii: "}"))
        while header.count % 8 != 0 { header.append(UInt8(ascii: " ")) }

        var out: [UInt8] = []
        out.reserveCapacity(8 + header.count + dataSize)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for (_, entry) in sorted {
            entry.values.withUnsafeBufferPointer { values in
                #if _endian(big)
                for value in values {
                    withUnsafeBytes(of: value.bitPattern.littleEndian) { out.append(contentsOf: $0) }
                }
                #else
                out.append(contentsOf: UnsafeRawBufferPointer(values))
                #endif
            }
        }
        return out
    }

    /// Writes ``encoded()`` to `path` atomically: the bytes go to a temporary file in the same
    /// directory, which is flushed to disk and then renamed over `path`. Readers see the old file or
    /// the new one, never a partial one, and no temporary file is left behind on failure.
    ///
    /// - Throws: `SNNError` with code `.io` naming `path` when the directory does not exist or the
    ///   file cannot be created, written, flushed or renamed.
    public func write(to path: String) throws(SNNError) {
        try AtomicFile.write(Data(encoded()), to: path)
    }
}

// MARK: - JSON

extension [UInt8] {
    /// Appends `text` as a JSON string, escaped as serde_json (the Python library's writer) does.
    fileprivate mutating func appendJSONString(_ text: String) {
        let hex = Array("0123456789abcdef".utf8)
        append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20: append(contentsOf: Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            default: append(byte)
            }
        }
        append(UInt8(ascii: "\""))
    }
}

/// A parsed JSON value and the file offset of its first byte.
private struct JSONNode {
    enum Value {
        /// Members in file order; keys are unique.
        case object([(key: String, node: JSONNode)])
        case array([JSONNode])
        case string(String)
        /// An integer literal (no fraction, no exponent) that fits in `Int`.
        case integer(Int)
        /// An integer literal too large for `Int`.
        case largeInteger(String)
        /// A number with a fraction or an exponent.
        case fraction(String)
        case bool(Bool)
        case null

        var kindName: String {
            switch self {
            case .object: "an object"
            case .array: "an array"
            case .string: "a string"
            case .integer, .largeInteger, .fraction: "a number"
            case .bool: "a boolean"
            case .null: "null"
            }
        }
    }

    var value: Value
    var offset: Int
}

/// A strict RFC 8259 parser for the header, with a nesting limit, that reports file offsets.
/// The bytes must already be valid UTF-8.
private struct HeaderParser {
    let bytes: UnsafeBufferPointer<UInt8>
    /// The file offset of `bytes[0]`.
    let base: Int
    let file: String
    var position = 0

    /// Deeper nesting is rejected rather than risking the stack; a valid header needs 3 levels.
    static let maximumDepth = 64

    init(bytes: UnsafeBufferPointer<UInt8>, base: Int, file: String) {
        self.bytes = bytes
        self.base = base
        self.file = file
    }

    mutating func parseDocument() throws(SNNError) -> JSONNode {
        skipWhitespace()
        let root = try parseValue(depth: 0)
        skipWhitespace()
        guard position == bytes.count else { throw unexpected("after the header's JSON value") }
        return root
    }

    private func error(_ message: String, at offset: Int) -> SNNError {
        SNNError(.corrupt, "header is not valid JSON: " + message, file: file, offset: base + offset)
    }

    private func unexpected(_ context: String) -> SNNError {
        guard position < bytes.count else { return error("unexpected end \(context)", at: position) }
        let byte = bytes[position]
        let shown =
            (0x21...0x7E).contains(byte) ? "'\(Character(Unicode.Scalar(byte)))'" : "byte 0x" + String(byte, radix: 16)
        return error("unexpected \(shown) \(context)", at: position)
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func parseValue(depth: Int) throws(SNNError) -> JSONNode {
        let start = position
        guard position < bytes.count else { throw unexpected("where a value was expected") }
        switch bytes[position] {
        case UInt8(ascii: "{"):
            guard depth < Self.maximumDepth else {
                throw error("nested deeper than \(Self.maximumDepth) levels", at: start)
            }
            return JSONNode(value: .object(try parseObject(depth: depth)), offset: base + start)
        case UInt8(ascii: "["):
            guard depth < Self.maximumDepth else {
                throw error("nested deeper than \(Self.maximumDepth) levels", at: start)
            }
            return JSONNode(value: .array(try parseArray(depth: depth)), offset: base + start)
        case UInt8(ascii: "\""):
            return JSONNode(value: .string(try parseString()), offset: base + start)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return JSONNode(value: try parseNumber(), offset: base + start)
        case UInt8(ascii: "t"):
            try parseLiteral("true")
            return JSONNode(value: .bool(true), offset: base + start)
        case UInt8(ascii: "f"):
            try parseLiteral("false")
            return JSONNode(value: .bool(false), offset: base + start)
        case UInt8(ascii: "n"):
            try parseLiteral("null")
            return JSONNode(value: .null, offset: base + start)
        default:
            throw unexpected("where a value was expected")
        }
    }

    private mutating func parseLiteral(_ word: String) throws(SNNError) {
        let start = position
        for expected in word.utf8 {
            guard position < bytes.count, bytes[position] == expected else {
                throw error("invalid literal (expected \(word))", at: start)
            }
            position += 1
        }
    }

    private mutating func parseObject(depth: Int) throws(SNNError) -> [(key: String, node: JSONNode)] {
        position += 1  // {
        var members: [(key: String, node: JSONNode)] = []
        var keys = Set<String>()
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return members
        }
        while true {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw unexpected("where an object key was expected")
            }
            let keyStart = position
            let key = try parseString()
            guard keys.insert(key).inserted else { throw error("duplicate key \"\(key)\"", at: keyStart) }
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
                throw unexpected("where ':' was expected")
            }
            position += 1
            skipWhitespace()
            members.append((key, try parseValue(depth: depth + 1)))
            skipWhitespace()
            guard position < bytes.count else { throw unexpected("in an object") }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "}"):
                position += 1
                return members
            default:
                throw unexpected("where ',' or '}' was expected")
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(SNNError) -> [JSONNode] {
        position += 1  // [
        var elements: [JSONNode] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return elements
        }
        while true {
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard position < bytes.count else { throw unexpected("in an array") }
            switch bytes[position] {
            case UInt8(ascii: ","):
                position += 1
                skipWhitespace()
            case UInt8(ascii: "]"):
                position += 1
                return elements
            default:
                throw unexpected("where ',' or ']' was expected")
            }
        }
    }

    private mutating func parseString() throws(SNNError) -> String {
        position += 1  // "
        var utf8: [UInt8] = []
        while true {
            guard position < bytes.count else { throw unexpected("in a string") }
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                let escapeStart = position
                position += 1
                guard position < bytes.count else { throw unexpected("in a string escape") }
                let escaped = bytes[position]
                position += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = UInt32(try parseHex4())
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                            bytes[position + 1] == UInt8(ascii: "u")
                        else {
                            throw error("unpaired surrogate in \\u escape", at: escapeStart)
                        }
                        position += 2
                        let low = UInt32(try parseHex4())
                        guard (0xDC00...0xDFFF).contains(low) else {
                            throw error("unpaired surrogate in \\u escape", at: escapeStart)
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw error("unpaired surrogate in \\u escape", at: escapeStart)
                    }
                    utf8.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
                default:
                    throw error("invalid escape", at: escapeStart)
                }
            case 0..<0x20:
                throw error("unescaped control character in a string", at: position)
            default:
                utf8.append(byte)
                position += 1
            }
        }
    }

    private mutating func parseHex4() throws(SNNError) -> UInt16 {
        let start = position
        guard position + 4 <= bytes.count else { throw error("truncated \\u escape", at: start) }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("invalid hex digit in \\u escape", at: position)
            }
            value = value << 4 | UInt16(digit)
            position += 1
        }
        return value
    }

    private mutating func parseNumber() throws(SNNError) -> JSONNode.Value {
        let start = position
        let negative = bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        func isDigit(_ at: Int) -> Bool {
            at < bytes.count && (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at])
        }
        guard isDigit(position) else { throw unexpected("where a digit was expected") }
        var magnitude = 0, overflow = false
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            while isDigit(position) {
                let times10 = magnitude.multipliedReportingOverflow(by: 10)
                let sum = times10.partialValue.addingReportingOverflow(Int(bytes[position] - UInt8(ascii: "0")))
                overflow = overflow || times10.overflow || sum.overflow
                magnitude = sum.partialValue
                position += 1
            }
        }
        var integral = true
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            integral = false
            position += 1
            guard isDigit(position) else { throw unexpected("where a digit was expected") }
            while isDigit(position) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            integral = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard isDigit(position) else { throw unexpected("where a digit was expected") }
            while isDigit(position) { position += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        if !integral { return .fraction(text) }
        if overflow { return .largeInteger(text) }
        return .integer(negative ? -magnitude : magnitude)
    }
}

// MARK: - Files

/// Whole-file reads and atomic writes with POSIX calls (kept outside `SafeTensors`, whose
/// `read`/`write` methods would shadow the C functions).
private enum SafeTensorsIO {
    static func systemError() -> String { String(cString: strerror(errno)) }

    static func readFile(_ path: String) throws(SNNError) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            throw SNNError(
                .io, code == ENOENT ? "no such file" : "cannot open file for reading", file: path,
                underlying: String(cString: strerror(code)))
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw SNNError(.io, "cannot get the file's size", file: path, underlying: systemError())
        }
        let expectedSize = max(0, Int(status.st_size))
        var failure: String?
        var bytes = [UInt8](unsafeUninitializedCapacity: expectedSize) { buffer, initialized in
            initialized = 0
            while initialized < expectedSize {
                let got = read(descriptor, buffer.baseAddress! + initialized, expectedSize - initialized)
                if got > 0 {
                    initialized += got
                } else if got == 0 {
                    break
                } else if errno != EINTR {
                    failure = systemError()
                    break
                }
            }
        }
        // The file may have grown since fstat, or report no size (a pipe, /proc): read to the end.
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while failure == nil {
            let got = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress!, $0.count) }
            if got > 0 {
                bytes.append(contentsOf: chunk[0..<got])
            } else if got == 0 {
                break
            } else if errno != EINTR {
                failure = systemError()
            }
        }
        if let failure {
            throw SNNError(.io, "read failed", file: path, offset: bytes.count, underlying: failure)
        }
        return bytes
    }
}
