import Foundation
import SNN
import SNNTestSupport
import Testing

/// What the readers' fuzz targets (Fuzz/, `make fuzz`) found, each reduced to a small input that
/// shows it; the inputs the fuzzer found are kept in Fuzz/corpus/<target>/crash-*.
@Suite struct FuzzFindingsTests {
    static func fixture(_ path: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(path)
    }

    /// `bytes` with the first occurrence of `pattern` replaced by `replacement` (same length); its offset.
    static func replacing(_ pattern: [UInt8], with replacement: [UInt8], in bytes: inout [UInt8]) throws -> Int {
        let at = try #require(bytes.indices.first { bytes[$0...].starts(with: pattern) }, "pattern not found")
        bytes.replaceSubrange(at..<at + pattern.count, with: replacement)
        return at
    }

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    /// AEDAT 4.0 (target aedat4): a negative int64 timestamp was accepted, and framing the recording
    /// then overflowed t_last − t_first and trapped.
    @Test func aedat4RefusesNegativeTimestamps() throws {
        var bytes = [UInt8](try Data(contentsOf: Self.fixture("aedat4/crop34-none.aedat4")))
        let first = try AEDAT40.decode(bytes, file: "c.aedat4").t[0]
        _ = try Self.replacing(Self.littleEndian(first), with: Self.littleEndian(Int64.min), in: &bytes)
        #expect {
            try AEDAT40.decode(bytes, file: "c.aedat4")
        } throws: {
            let e = $0 as? SNNError
            return e?.code == .corrupt && e?.file == "c.aedat4" && e?.offset != nil && e?.message.contains("negative") == true
        }
    }

    /// `.npz` (target npz): a deflated entry's uncompressed size was taken from the central directory
    /// unchecked, so one damaged size field made the reader allocate gigabytes before inflating.
    @Test func npzRefusesSizesDeflateCannotReach() throws {
        var bytes = [UInt8](try Data(contentsOf: Self.fixture("numpy/deflated.npz")))
        let entry = try #require(bytes.indices.first { bytes[$0...].starts(with: [0x50, 0x4B, 1, 2]) }, "no central directory")
        bytes.replaceSubrange(entry + 24..<entry + 28, with: Self.littleEndian(UInt32(0x7FFF_FFFF)))  // uncompressed size
        #expect {
            try NumPy.decodeNPZ(bytes, file: "d.npz")
        } throws: {
            let e = $0 as? SNNError
            return e?.code == .corrupt && e?.file == "d.npz" && e?.offset == entry + 24
        }
    }
}
