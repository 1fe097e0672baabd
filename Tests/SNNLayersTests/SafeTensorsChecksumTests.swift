import Foundation
import SNNLayers
import SNNTensor
import Testing

/// The CRC-32 of each tensor that files written here carry in their metadata ("crc32:<name>").
@Suite struct SafeTensorsChecksumTests {
    /// `bytes` with the little-endian header length read back: where the data buffer starts.
    static func dataStart(_ bytes: [UInt8]) -> Int {
        8 + bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    }

    /// The header of `bytes` as JSON.
    static func header(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<dataStart(bytes)])) as? [String: Any])
    }

    @Test func everyTensorGetsItsCRCAndReadingHidesThem() throws {
        let bytes = SafeTensorsTests.small
        let metadata = try #require(try Self.header(bytes)["__metadata__"] as? [String: String])
        // From Python: '%08x' % zlib.crc32(struct.pack('<3f', 1, 2, 3)), … struct.pack('<f', -0.25).
        #expect(metadata == ["step": "7", "crc32:bias": "b20e96b1", "crc32:scale": "361ed9dc"])
        let decoded = try SafeTensors.decode(bytes, file: "small")
        #expect(decoded.metadata == ["step": "7"])
        #expect(decoded.encoded() == bytes)
    }

    @Test func everyDamagedDataByteIsReportedWithItsTensor() throws {
        let bytes = SafeTensorsTests.small, start = Self.dataStart(bytes)
        // Data: "bias" (12 bytes) then "scale" (4 bytes), in name order.
        for position in start..<bytes.count {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = bytes
                damaged[position] ^= flip
                let error = #expect(throws: SNNError.self) { try SafeTensors.decode(damaged, file: "damaged") }
                let tensor = position < start + 12 ? "bias" : "scale"
                #expect(error?.code == .corrupt && error?.file == "damaged")
                #expect(
                    error?.message.contains("\"\(tensor)\"") == true,
                    "\(error.map(String.init(describing:)) ?? "")")
                #expect(error?.offset == (tensor == "bias" ? start : start + 12))
            }
        }
    }

    @Test func aCheckpointWithFlippedWeightBytesIsRefusedByName() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("checksum-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("model.safetensors").path
        let model = Linear(4, 3)
        try model.save(to: path, metadata: ["epoch": "3"])
        #expect(try Linear(4, 3).load(from: path) == ["epoch": "3"])

        // Four bytes of the weight's first element flipped, as in the report (a weight of −1.18e29).
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let file = try SafeTensors.decode(bytes, file: path)
        let offsets = try #require((try Self.header(bytes)["weight"] as? [String: Any])?["data_offsets"] as? [Int])
        let at = Self.dataStart(bytes) + offsets[0]
        for k in 0..<4 { bytes[at + k] ^= 0xF0 }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: SNNError.self) { try Linear(4, 3).load(from: path) }
        #expect(error?.code == .corrupt && error?.file == path && error?.offset == at)
        #expect(
            error?.description.contains("tensor \"weight\" is damaged") == true,
            "\(error.map(String.init(describing:)) ?? "")")
        #expect(file.entries.keys.sorted() == ["bias", "weight"])
    }

    @Test func filesWithoutChecksumsStillLoad() throws {
        // reference.safetensors, written by Python's safetensors, has no checksums (decodesTheFileWrittenByPython
        // reads it whole); here a file with a checksum for one tensor only: the other loads unchecked.
        let small = SafeTensorsTests.small, start = Self.dataStart(small)
        var header = try Self.header(small)
        header["__metadata__"] = ["crc32:bias": "b20e96b1"]
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var data = Array(small[start...])
        data[12] ^= 0x01  // "scale" changes, unchecked
        let file = try SafeTensors.decode(SafeTensorsTests.file([UInt8](json), data), file: "partial")
        #expect(file.metadata.isEmpty)
        #expect(file.entries["bias"]?.values == [1, 2, 3])
        #expect(file.entries["scale"]?.values.first?.bitPattern == (Float(-0.25).bitPattern ^ 0x01))
    }

    @Test(arguments: [
        ("crc32:bias", "b20e96b"), ("crc32:bias", "b20e96b1 "), ("crc32:bias", "-20e96b1"),
        ("crc32:bias", "+20e96b1"), ("crc32:bias", "g20e96b1"), ("crc32:missing", "b20e96b1"),
    ])
    func malformedChecksumsAreCorrupt(_ pair: (String, String)) throws {
        let small = SafeTensorsTests.small, start = Self.dataStart(small)
        var header = try Self.header(small)
        header["__metadata__"] = ["crc32:scale": "361ed9dc", pair.0: pair.1]
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        let error = #expect(throws: SNNError.self) {
            try SafeTensors.decode(SafeTensorsTests.file([UInt8](json), Array(small[start...])), file: "bad")
        }
        #expect(
            error?.code == .corrupt && error?.message.contains(pair.0) == true,
            "\(error.map(String.init(describing:)) ?? "")")
    }
}
