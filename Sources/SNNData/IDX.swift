import Foundation
import SNNTensor

/// An array read from an IDX file (the MNIST format): its shape and values as `Float`.
///
/// Layout: magic `00 00 TT DD` (TT = element type, DD = number of axes), DD big-endian `UInt32`
/// extents, then the elements in row-major order, big-endian. Plain and gzip'd files are read.
public struct IDXArray: Sendable, Equatable {
    /// The element type code of the file.
    public enum ElementType: UInt8, Sendable {
        case uint8 = 0x08, int8 = 0x09, int16 = 0x0B, int32 = 0x0C, float32 = 0x0D, float64 = 0x0E

        var size: Int {
            switch self {
            case .uint8, .int8: 1
            case .int16: 2
            case .int32, .float32: 4
            case .float64: 8
            }
        }
    }

    public var shape: [Int]
    public var elementType: ElementType
    public var values: [Float]

    /// Reads `path` (plain or gzip'd).
    public static func read(contentsOf path: String) throws(SNNError) -> IDXArray {
        try decode(FileBytes.readDecompressing(path), file: path)
    }

    /// Decodes IDX bytes; `file` names the source in errors.
    public static func decode(_ bytes: [UInt8], file: String) throws(SNNError) -> IDXArray {
        guard bytes.count >= 4 else {
            throw SNNError(
                .corrupt, "file of \(bytes.count) bytes is too short for the 4-byte IDX magic", file: file, offset: 0)
        }
        guard bytes[0] == 0 && bytes[1] == 0 else {
            throw SNNError(
                .corrupt, String(format: "bad IDX magic %02x %02x (expected 00 00)", bytes[0], bytes[1]), file: file,
                offset: 0)
        }
        guard let type = ElementType(rawValue: bytes[2]) else {
            throw SNNError(.corrupt, String(format: "unknown IDX element type 0x%02x", bytes[2]), file: file, offset: 2)
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw SNNError(.corrupt, "IDX file declares 0 dimensions", file: file, offset: 3) }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw SNNError(
                .corrupt, "truncated IDX header: \(rank) dimensions need \(headerSize) bytes, file has \(bytes.count)",
                file: file, offset: bytes.count)
        }
        var shape: [Int] = []
        var total = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let extent = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            let (product, overflow) = total.multipliedReportingOverflow(by: extent)
            guard !overflow && product <= Int(Int32.max) * 16 else {
                throw SNNError(.corrupt, "IDX extents \(shape + [extent]) are implausibly large", file: file, offset: o)
            }
            total = product
            shape.append(extent)
        }
        let expected = headerSize + total * type.size
        guard bytes.count == expected else {
            let what = bytes.count < expected ? "truncated" : "has trailing bytes"
            throw SNNError(
                .corrupt,
                "IDX data \(what): shape \(shape) of \(type) needs \(expected) bytes, file has \(bytes.count)",
                file: file, offset: min(bytes.count, expected))
        }
        var values = [Float](repeating: 0, count: total)
        bytes.withUnsafeBufferPointer { raw in
            let p = raw.baseAddress! + headerSize
            values.withUnsafeMutableBufferPointer { v in
                switch type {
                case .uint8: for i in 0..<total { v[i] = Float(p[i]) }
                case .int8: for i in 0..<total { v[i] = Float(Int8(bitPattern: p[i])) }
                case .int16:
                    for i in 0..<total { v[i] = Float(Int16(bitPattern: UInt16(p[2 * i]) << 8 | UInt16(p[2 * i + 1]))) }
                case .int32, .float32:
                    for i in 0..<total {
                        let q = p + 4 * i
                        let word = UInt32(q[0]) << 24 | UInt32(q[1]) << 16 | UInt32(q[2]) << 8 | UInt32(q[3])
                        v[i] = type == .int32 ? Float(Int32(bitPattern: word)) : Float(bitPattern: word)
                    }
                case .float64:
                    for i in 0..<total {
                        var word: UInt64 = 0
                        for k in 0..<8 { word = word << 8 | UInt64(p[8 * i + k]) }
                        v[i] = Float(Double(bitPattern: word))
                    }
                }
            }
        }
        return IDXArray(shape: shape, elementType: type, values: values)
    }
}
