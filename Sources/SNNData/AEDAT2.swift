import Foundation
import SNNTensor

/// AEDAT 2.0 (jAER; the original CIFAR10-DVS): optional `#` header lines, then 8-byte big-endian
/// events `int32 address, int32 timestamp µs`; DVS128 addresses (bit 0 polarity, bits 1–7 x,
/// bits 8–14 y, origin lower-left).
public enum AEDAT20 {
    public enum Orientation: Sendable, Equatable {
        /// The address fields as stored.
        case raw
        /// SpikingJelly's CIFAR10-DVS mapping for upright images: x' = 127 − y, y' = 127 − x, p' = 1 − p.
        case cifar10DVS
    }

    public static func decode(_ bytes: [UInt8], file: String, orientation: Orientation = .raw) throws(SNNError)
        -> EventStream
    {
        var i = 0
        if bytes.first == UInt8(ascii: "#") {
            guard bytes.starts(with: Array("#!AER-DAT2.0".utf8)) else {
                throw SNNError(.corrupt, "not an AEDAT 2.0 file (expected \"#!AER-DAT2.0\")", file: file, offset: 0)
            }
            while i < bytes.count && bytes[i] == UInt8(ascii: "#") {
                guard let nl = bytes[i...].firstIndex(of: UInt8(ascii: "\n")) else {
                    throw SNNError(.corrupt, "header line without an end", file: file, offset: i)
                }
                i = nl + 1
            }
        }
        let payload = bytes.count - i
        guard payload % 8 == 0 else {
            throw SNNError(
                .corrupt, "truncated event data: \(payload) bytes is not a whole number of 8-byte events", file: file,
                offset: i + payload - payload % 8)
        }
        var s = EventStream(width: 128, height: 128)
        s.reserve(payload / 8)
        var last = Int64.min
        func be32(_ o: Int) -> UInt32 {
            UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3])
        }
        while i < bytes.count {
            let address = be32(i), t = Int64(Int32(bitPattern: be32(i + 4)))
            guard address >> 15 == 0 else {
                throw SNNError(
                    .corrupt, "address 0x\(String(address, radix: 16)) is not a DVS128 polarity event", file: file,
                    offset: i)
            }
            guard t >= last else {
                throw SNNError(
                    .corrupt, "timestamp \(t) µs goes back in time (previous \(last) µs)", file: file, offset: i + 4)
            }
            last = t
            let p = UInt8(address & 1), x = UInt16((address >> 1) & 0x7F), y = UInt16((address >> 8) & 0x7F)
            switch orientation {
            case .raw: s.append(t: t, x: x, y: y, p: p)
            case .cifar10DVS: s.append(t: t, x: 127 - y, y: 127 - x, p: 1 - p)
            }
            i += 8
        }
        return s
    }

    public static func read(_ path: String, orientation: Orientation = .raw) throws(SNNError) -> EventStream {
        try decode(try FileBytes.read(path), file: path, orientation: orientation)
    }
}
