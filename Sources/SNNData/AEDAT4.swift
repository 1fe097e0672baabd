import CSNNKernels
import Foundation
import SNNTensor

/// AEDAT 4.0 (iniVation DV; the re-hosted CIFAR10-DVS): `#!AER-DAT4.0\r\n`, a size-prefixed
/// Flatbuffer `IOHeader` (compression, data-table position, XML stream description), then packets
/// `int32 streamID, int32 size` + a (NONE / LZ4 / ZSTD compressed) size-prefixed Flatbuffer; event
/// packets carry the identifier `EVTS` and a vector of 16-byte structs `int64 t, int16 x, int16 y,
/// bool on` (t in µs since the Unix epoch). The polarity events of the first event stream are read;
/// other streams are skipped.
public enum AEDAT40 {
    public static let magic = Array("#!AER-DAT4.0\r\n".utf8)
    /// The largest decompressed packet accepted (a guard against damaged size fields).
    static let packetLimit = 1 << 30

    enum Compression: Int32 {
        case none = 0, lz4, lz4High, zstd, zstdHigh
    }

    public static func decode(_ bytes: [UInt8], file: String) throws(SNNError) -> EventStream {
        guard bytes.starts(with: magic) else {
            throw SNNError(.corrupt, "not an AEDAT 4.0 file (expected \"#!AER-DAT4.0\\r\\n\")", file: file, offset: 0)
        }
        let whole = FlatBuffer(bytes: bytes, file: file, base: 0, packet: nil)
        let headerSize = Int(try whole.u32(magic.count))
        guard headerSize >= 8, magic.count + 4 + headerSize <= bytes.count else {
            throw SNNError(
                .corrupt, "IOHeader of \(headerSize) bytes does not fit the file", file: file, offset: magic.count)
        }
        let header = FlatBuffer(
            bytes: bytes, file: file, base: magic.count + 4, end: magic.count + 4 + headerSize, packet: nil)
        let root = try header.root()
        let rawCompression =
            try header.field(root, 0).map { (o) throws(SNNError) in Int32(bitPattern: try header.u32(o)) } ?? 0
        guard let compression = Compression(rawValue: rawCompression) else {
            throw SNNError(
                .unsupported, "unknown AEDAT 4.0 compression \(rawCompression)", file: file, offset: magic.count + 4)
        }
        let tablePosition = try header.field(root, 1).map { (o) throws(SNNError) in try header.i64(o) } ?? -1
        let info = try header.string(root, 2) ?? ""
        let stream = eventStream(info)
        var pos = magic.count + 4 + headerSize
        let end = tablePosition >= 0 ? Int(clamping: tablePosition) : bytes.count
        guard end >= pos && end <= bytes.count else {
            throw SNNError(
                .corrupt, "data table position \(tablePosition) lies outside the packets", file: file,
                offset: magic.count + 4)
        }
        var s = EventStream(width: stream?.width ?? 0, height: stream?.height ?? 0)
        var eventStreamID = stream?.id
        var maxX = 0, maxY = 0
        var last = Int64.min
        while pos < end {
            guard pos + 8 <= end else {
                throw SNNError(.corrupt, "truncated packet header (\(end - pos) of 8 bytes)", file: file, offset: pos)
            }
            let id = Int32(bitPattern: try whole.u32(pos)), size = Int(Int32(bitPattern: try whole.u32(pos + 4)))
            guard size >= 0, pos + 8 + size <= end else {
                throw SNNError(
                    .corrupt, "packet of \(size) bytes runs past the end of the packets (\(end - pos - 8) left)",
                    file: file, offset: pos)
            }
            defer { pos += 8 + size }
            if let e = eventStreamID, e != id { continue }
            let payload: [UInt8]
            switch compression {
            case .none: payload = Array(bytes[(pos + 8)..<(pos + 8 + size)])
            case .lz4, .lz4High, .zstd, .zstdHigh:
                payload = try decompress(
                    bytes, pos + 8, size, zstd: compression == .zstd || compression == .zstdHigh, file: file,
                    packet: pos)
            }
            let prefixed = Int(try FlatBuffer(bytes: payload, file: file, base: 0, packet: pos).u32(0))
            guard prefixed + 4 <= payload.count, prefixed >= 8 else {
                throw SNNError(
                    .corrupt, "packet Flatbuffer of \(prefixed) bytes does not fit its \(payload.count) bytes",
                    file: file, offset: pos)
            }
            let buffer = FlatBuffer(bytes: payload, file: file, base: 4, end: 4 + prefixed, packet: pos)
            guard Array(payload[8..<12]) == Array("EVTS".utf8) else {
                if eventStreamID == id {
                    throw SNNError(
                        .corrupt, "a packet of the event stream \(id) is not an EVTS packet", file: file, offset: pos)
                }
                continue
            }
            eventStreamID = id
            guard let (start, count) = try buffer.vector(try buffer.root(), 0, elementSize: 16) else { continue }
            s.reserve(s.count + count)
            for k in 0..<count {
                let o = start + 16 * k
                let t = try buffer.i64(o), x = Int(Int16(bitPattern: try buffer.u16(o + 8))),
                    y = Int(Int16(bitPattern: try buffer.u16(o + 10)))
                let on = try buffer.u8(o + 12)
                guard x >= 0, y >= 0, stream == nil || (x < s.width && y < s.height) else {
                    throw SNNError(
                        .corrupt,
                        "event (\(x), \(y)) outside the \(s.width)×\(s.height) sensor (event \(k) of the packet)",
                        file: file, offset: pos)
                }
                guard on <= 1 else {
                    throw SNNError(
                        .corrupt, "polarity byte \(on) is not a bool (event \(k) of the packet)", file: file,
                        offset: pos)
                }
                // Microseconds since the Unix epoch: a negative time is damage (and would make the span
                // of a recording, t_last − t_first, overflow when it is framed).
                guard t >= 0 else {
                    throw SNNError(
                        .corrupt, "timestamp \(t) µs is negative (event \(k) of the packet)", file: file,
                        offset: pos)
                }
                guard t >= last else {
                    throw SNNError(
                        .corrupt, "timestamp \(t) µs goes back in time (previous \(last) µs; event \(k) of the packet)",
                        file: file, offset: pos)
                }
                last = t
                maxX = max(maxX, x)
                maxY = max(maxY, y)
                s.append(t: t, x: UInt16(x), y: UInt16(y), p: on)
            }
        }
        if stream == nil {
            s.width = maxX + 1
            s.height = maxY + 1
        }
        return s
    }

    public static func read(_ path: String) throws(SNNError) -> EventStream {
        try decode(try FileBytes.read(path), file: path)
    }

    /// The id and sensor size of the first output stream whose type is EVTS in the header's XML.
    static func eventStream(_ info: String) -> (id: Int32, width: Int, height: Int)? {
        let parts = info.components(separatedBy: "<node name=\"")
        for index in parts.indices.dropFirst() {
            let part = parts[index]
            guard let quote = part.firstIndex(of: "\""), let id = Int32(part[..<quote]),
                part.contains("path=\"/outInfo/\(id)/\""), part.contains(">EVTS</attr>")
            else { continue }
            // The stream's info node follows its own node: search this node and the next one.
            let scope = parts[index..<min(index + 2, parts.count)].joined()
            func attribute(_ key: String) -> Int? {
                guard let r = scope.range(of: "key=\"\(key)\" type=\"int\">") else { return nil }
                return Int(scope[r.upperBound...].prefix { $0.isNumber })
            }
            guard let w = attribute("sizeX"), let h = attribute("sizeY"), w > 0, h > 0, w <= 65536, h <= 65536 else {
                return nil
            }
            return (id, w, h)
        }
        return nil
    }

    static func decompress(_ bytes: [UInt8], _ start: Int, _ size: Int, zstd: Bool, file: String, packet: Int)
        throws(SNNError) -> [UInt8]
    {
        var out: UnsafeMutablePointer<UInt8>?
        var outSize = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { b in
            snn_decompress(
                zstd ? 1 : 0, b.baseAddress! + start, size, packetLimit, &out, &outSize, &message, message.count)
        }
        defer { free(out) }
        let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        switch Int(status) {
        case Int(SNN_DECOMPRESS_OK): return Array(UnsafeBufferPointer(start: out, count: outSize))
        case Int(SNN_DECOMPRESS_UNAVAILABLE):
            throw SNNError(
                .unsupported,
                "\(zstd ? "ZSTD" : "LZ4")-compressed AEDAT 4.0 needs \(reason.isEmpty ? "its library" : reason)",
                file: file, offset: packet)
        default:
            throw SNNError(
                .corrupt, "packet does not decompress (\(zstd ? "ZSTD" : "LZ4"): \(reason))", file: file, offset: packet
            )
        }
    }
}

/// A bounds-checked reader of one Flatbuffer in `bytes[base..<end]` (positions relative to `base`).
/// Errors name the file and the offset: the byte's own in the file, or the packet's for data that
/// was decompressed from a packet.
struct FlatBuffer {
    let bytes: [UInt8]
    let file: String
    let base: Int
    let end: Int
    let packet: Int?

    init(bytes: [UInt8], file: String, base: Int, end: Int? = nil, packet: Int?) {
        self.bytes = bytes
        self.file = file
        self.base = base
        self.end = end ?? bytes.count
        self.packet = packet
    }

    func fail(_ message: String, _ position: Int) -> SNNError {
        SNNError(
            .corrupt, packet == nil ? message : "\(message) (at byte \(position) of the decompressed packet)",
            file: file,
            offset: packet ?? base + position)
    }

    func check(_ position: Int, _ size: Int) throws(SNNError) {
        guard position >= 0, base + position + size <= end else {
            throw fail("Flatbuffer reference to byte \(position) lies outside its \(end - base) bytes", position)
        }
    }

    func u8(_ p: Int) throws(SNNError) -> UInt8 {
        try check(p, 1)
        return bytes[base + p]
    }

    func u16(_ p: Int) throws(SNNError) -> UInt16 {
        try check(p, 2)
        return UInt16(bytes[base + p]) | UInt16(bytes[base + p + 1]) << 8
    }

    func u32(_ p: Int) throws(SNNError) -> UInt32 {
        try check(p, 4)
        var v: UInt32 = 0
        for k in 0..<4 { v |= UInt32(bytes[base + p + k]) << (8 * k) }
        return v
    }

    func i64(_ p: Int) throws(SNNError) -> Int64 {
        try check(p, 8)
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[base + p + k]) << (8 * k) }
        return Int64(bitPattern: v)
    }

    /// The root table's position.
    func root() throws(SNNError) -> Int { Int(try u32(0)) }

    /// The position of field `index` of the table at `table`, or nil when the field is absent.
    func field(_ table: Int, _ index: Int) throws(SNNError) -> Int? {
        let vtable = table - Int(Int32(bitPattern: try u32(table)))
        let vtableSize = Int(try u16(vtable))
        guard vtableSize >= 4, vtableSize % 2 == 0 else { throw fail("vtable of \(vtableSize) bytes", vtable) }
        let slot = 4 + 2 * index
        guard slot + 2 <= vtableSize else { return nil }
        let offset = Int(try u16(vtable + slot))
        return offset == 0 ? nil : table + offset
    }

    /// The element start and count of the vector in field `index` (elements of `elementSize` bytes).
    func vector(_ table: Int, _ index: Int, elementSize: Int) throws(SNNError) -> (start: Int, count: Int)? {
        guard let f = try field(table, index) else { return nil }
        let v = f + Int(try u32(f))
        let count = Int(try u32(v))
        try check(v + 4, count * elementSize)
        return (v + 4, count)
    }

    func string(_ table: Int, _ index: Int) throws(SNNError) -> String? {
        guard let (start, count) = try vector(table, index, elementSize: 1) else { return nil }
        return String(decoding: bytes[(base + start)..<(base + start + count)], as: UTF8.self)
    }
}
