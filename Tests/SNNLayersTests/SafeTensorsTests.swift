import Foundation
import SNNLayers
import SNNTensor
import Testing

/// Reading and writing safetensors files, against a file written by the Python library
/// (Fixtures/safetensors/make_fixture.py) and, when `SNN_PYTHON` is set, checked by it.
@Suite struct SafeTensorsTests {
    static let fixtureDirectory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        .appendingPathComponent("safetensors")

    /// The tensors of `expected()` in make_fixture.py, with the dtypes they are stored with.
    static let expected = SafeTensors(
        entries: [
            "f32_matrix": .init(shape: [2, 3], values: [-1, -0.5, 0, 0.5, 1, 1.5], dtype: .f32),
            "f16_vector": .init(shape: [4], values: [1, -2.5, 65504, 0x1p-24], dtype: .f16),
            "f64_scalar": .init(shape: [], values: [Float(0.1 as Double)], dtype: .f64),
            "i64_vector": .init(shape: [3], values: [-1, 0, 0x1p40], dtype: .i64),
            "i32_vector": .init(shape: [2], values: [-0x1p31, 7], dtype: .i32),
            "i16_vector": .init(shape: [2], values: [-32768, 32767], dtype: .i16),
            "i8_vector": .init(shape: [3], values: [-128, 0, 127], dtype: .i8),
            "u8_matrix": .init(shape: [2, 2], values: [0, 1, 254, 255], dtype: .u8),
            "bool_vector": .init(shape: [3], values: [1, 0, 1], dtype: .bool),
            "empty": .init(shape: [0, 3], values: [], dtype: .f32),
        ],
        metadata: ["format": "pt"])

    /// A small valid file for the corruption tests.
    static let small = SafeTensors(
        entries: ["bias": .init(shape: [3], values: [1, 2, 3]), "scale": .init(shape: [], values: [-0.25])],
        metadata: ["step": "7"]
    ).encoded()

    // MARK: Decoding

    @Test func decodesTheFileWrittenByPython() throws {
        let path = Self.fixtureDirectory.appendingPathComponent("reference.safetensors").path
        let file = try SafeTensors.read(contentsOf: path)
        #expect(file.metadata == ["format": "pt"])
        #expect(Set(file.entries.keys) == Set(Self.expected.entries.keys))
        for (name, want) in Self.expected.entries {
            let got = try #require(file.entries[name], "missing \(name)")
            #expect(got.shape == want.shape, "\(name)")
            #expect(got.values == want.values, "\(name)")
            #expect(got.dtype == want.dtype, "\(name)")
        }
        #expect(file == Self.expected)
    }

    @Test func decodesBFloat16AndHalfSpecialsFromAnUnalignedBuffer() throws {
        // A 7-byte-odd header puts the data at an unaligned file offset.
        var header =
            #"{"b":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]},"#
            + #""h":{"dtype":"F16","shape":[8],"data_offsets":[8,24]},"#
            + #""d":{"dtype":"F64","shape":[1],"data_offsets":[24,32]},"#
            + #""f":{"dtype":"F32","shape":[2],"data_offsets":[32,40]}}"#
        while (8 + header.utf8.count) % 8 != 1 { header += " " }
        var data: [UInt8] = []
        for bits: UInt16 in [0x3F80, 0xC040, 0x7F80, 0x0001] { data += le(bits) }
        for bits: UInt16 in [0x7C00, 0xFC00, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C01, 0x7E00] { data += le(bits) }
        data += le((-2.75 as Double).bitPattern)
        data += le((3.5 as Float).bitPattern) + le(Float.leastNonzeroMagnitude.bitPattern)
        let file = try SafeTensors.decode(Self.file(header, data), file: "hand-made")

        let b = try #require(file.entries["b"])
        #expect(b.dtype == .bf16 && b.shape == [4])
        #expect(b.values == [1, -3, .infinity, Float(bitPattern: 0x0001_0000)])
        let h = try #require(file.entries["h"])
        #expect(h.dtype == .f16)
        let halves: [Float] = [.infinity, -.infinity, 0, 0x1p-24, 0x3FFp-24, 0x1p-14, 0x1.004p0]
        #expect(Array(h.values[0..<7]) == halves)
        #expect(h.values[2].sign == .minus)
        #expect(h.values[7].isNaN)
        #expect(file.entries["d"] == .init(shape: [1], values: [-2.75], dtype: .f64))
        #expect(file.entries["f"] == .init(shape: [2], values: [3.5, .leastNonzeroMagnitude], dtype: .f32))
    }

    @Test func acceptsHeadersWithoutTensorsOrPadding() throws {
        #expect(try SafeTensors.decode(Self.file("{}", []), file: "x") == SafeTensors())
        let file = try SafeTensors.decode(Self.file(#" { "__metadata__" : null } "#, []), file: "x")
        #expect(file == SafeTensors())
        let escaped = try SafeTensors.decode(
            Self.file(#"{"__metadata__":{"a\/b":"\u00e9\ud83d\ude00\n"}}"#, []), file: "x")
        #expect(escaped.metadata == ["a/b": "é😀\n"])
    }

    // MARK: Encoding

    @Test func encodingRoundTripsAsF32() throws {
        let bytes = Self.expected.encoded()
        let headerLength = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        let decoded = try SafeTensors.decode(bytes, file: "round-trip")
        var wanted = Self.expected
        for name in wanted.entries.keys { wanted.entries[name]!.dtype = .f32 }
        #expect(decoded == wanted)
        #expect(decoded.encoded() == bytes)
    }

    @Test func encodingMatchesTheLayoutOfThePythonLibrary() throws {
        let file = SafeTensors(
            entries: ["b": .init(shape: [1], values: [2]), "a": .init(shape: [2], values: [1, -1])],
            metadata: ["format": "pt"])
        // The checksums, from Python: '%08x' % zlib.crc32(struct.pack('<2f', 1, -1)) and
        // '%08x' % zlib.crc32(struct.pack('<f', 2)).
        let header =
            #"{"__metadata__":{"crc32:a":"38bed2b0","crc32:b":"57989e8c","format":"pt"},"#
            + #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"#
            + #""b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#
        var padded = header
        while padded.utf8.count % 8 != 0 { padded += " " }
        #expect(
            file.encoded()
                == Self.file(
                    padded, le((1 as Float).bitPattern) + le((-1 as Float).bitPattern) + le((2 as Float).bitPattern)))
    }

    @Test func roundTripsSpecialValuesAndNames() throws {
        let values: [Float] = [
            .nan, -.infinity, .infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude, 1e-20,
        ]
        let names = ["plain", "quote\"back\\slash", "line\nfeed\ttab\u{01}", "é", "😀", ""]
        var file = SafeTensors(metadata: ["key \"1\"": "value\n\u{1F}", "é": "😀", "": ""])
        for (i, name) in names.enumerated() {
            file.entries[name] = .init(shape: [1, values.count], values: values.map { $0 * Float(i + 1) })
        }
        file.entries["empty"] = .init(shape: [3, 0, 2], values: [])
        let decoded = try SafeTensors.decode(file.encoded(), file: "special")
        #expect(decoded.metadata == file.metadata)
        #expect(Set(decoded.entries.keys) == Set(file.entries.keys))
        for (name, entry) in file.entries {
            let got = try #require(decoded.entries[name])
            #expect(got.shape == entry.shape)
            #expect(got.values.map(\.bitPattern) == entry.values.map(\.bitPattern), "\(name)")
        }
    }

    // MARK: Files

    @Test(
        .enabled(
            if: ProcessInfo.processInfo.environment["SNN_PYTHON"] != nil,
            "set SNN_PYTHON to a Python with safetensors and numpy installed to cross-check with the Python library"))
    func pythonReadsWhatWeWrite() throws {
        let python = ProcessInfo.processInfo.environment["SNN_PYTHON"]!
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("written.safetensors").path
        try Self.expected.write(to: path)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            python, Self.fixtureDirectory.appendingPathComponent("make_fixture.py").path, "--check", path,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "make_fixture.py --check failed:\n\(output)")
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "ok")
    }

    @Test func writeAndReadBackLeavesOnlyTheFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("model.safetensors").path
        try Self.expected.write(to: path)
        let replacement = SafeTensors(entries: ["w": .init(shape: [2], values: [4, 5])])
        try replacement.write(to: path)
        #expect(try SafeTensors.read(contentsOf: path) == replacement)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["model.safetensors"])
    }

    @Test func writeFailuresThrowIOAndLeaveNoTemporaryFile() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing/model.safetensors").path
        let error = #expect(throws: SNNError.self) { try Self.expected.write(to: missing) }
        #expect(error?.code == .io)
        #expect(error?.file == missing)

        // Renaming over a directory fails after the temporary file was written.
        let occupied = directory.appendingPathComponent("occupied.safetensors")
        try FileManager.default.createDirectory(
            at: occupied.appendingPathComponent("child"), withIntermediateDirectories: true)
        let renameError = #expect(throws: SNNError.self) { try Self.expected.write(to: occupied.path) }
        #expect(renameError?.code == .io)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["occupied.safetensors"])
    }

    @Test func readingAMissingFileOrADirectoryThrowsIO() throws {
        let error = #expect(throws: SNNError.self) {
            try SafeTensors.read(contentsOf: "/nonexistent/model.safetensors")
        }
        #expect(error?.code == .io)
        #expect(error?.file == "/nonexistent/model.safetensors")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let directoryError = #expect(throws: SNNError.self) { try SafeTensors.read(contentsOf: directory.path) }
        #expect(directoryError?.code == .io)
    }

    // MARK: Corruption

    @Test func everyTruncationThrows() {
        let bytes = Self.small
        var accepted: [Int] = []
        for length in 0..<bytes.count {
            do {
                _ = try SafeTensors.decode(Array(bytes[..<length]), file: "truncated")
                accepted.append(length)
            } catch {
                #expect(
                    error.code == .corrupt && error.file == "truncated" && error.offset != nil, "\(length): \(error)")
            }
        }
        #expect(accepted.isEmpty, "truncations to \(accepted) bytes were accepted")
    }

    @Test func randomByteFlipsThrowOrDecode() throws {
        let fixture = try Data(contentsOf: Self.fixtureDirectory.appendingPathComponent("reference.safetensors"))
        var random = XorShift(seed: 0x5AFE_7E45_0125)
        var thrown = 0, decoded = 0
        for original in [Self.small, [UInt8](fixture)] {
            for _ in 0..<3000 {
                var bytes = original
                for _ in 0..<(1 + random.next() % 3) {
                    // Mostly the length field and header, where the structure is.
                    let limit = random.next() % 4 == 0 ? bytes.count : min(bytes.count, 8 + 200)
                    bytes[Int(random.next() % UInt64(limit))] ^= UInt8(truncatingIfNeeded: 1 + random.next() % 255)
                }
                do {
                    _ = try SafeTensors.decode(bytes, file: "flipped")
                    decoded += 1
                } catch {
                    thrown += 1
                    #expect(error.file == "flipped")
                    #expect(error.offset.map { (0...bytes.count).contains($0) } == true, "\(error)")
                }
            }
        }
        #expect(thrown > 0 && decoded > 0, "\(thrown) thrown, \(decoded) decoded")
    }

    /// A malformed file, the error code it must raise and the file offset that error must name.
    struct BadFile: Sendable, CustomTestStringConvertible {
        /// Where the error points: an absolute file offset, the first occurrence of some text in the
        /// header (plus a distance), or a position in the data buffer.
        enum Place: Sendable {
            case file(Int)
            case header(String, plus: Int = 0)
            case data(Int)
        }

        var label: String
        var bytes: [UInt8]
        var code: SNNError.Code
        var offset: Int
        var testDescription: String { label }

        init(_ label: String, bytes: [UInt8], code: SNNError.Code = .corrupt, offset: Int) {
            (self.label, self.bytes, self.code, self.offset) = (label, bytes, code, offset)
        }

        init(_ label: String, header: String, data: [UInt8] = [], code: SNNError.Code = .corrupt, at place: Place) {
            self.init(label, bytes: SafeTensorsTests.file(header, data), code: code, offset: 0)
            switch place {
            case .file(let offset):
                self.offset = offset
            case .header(let text, let plus):
                let range = header.range(of: text)!
                offset = 8 + header.utf8.distance(from: header.startIndex, to: range.lowerBound) + plus
            case .data(let position):
                offset = 8 + header.utf8.count + position
            }
        }
    }

    static let entry = #""a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}"#
    static let eight = [UInt8](repeating: 0x3F, count: 8)

    /// A header for tensor "a" with the given fields, over 8 data bytes.
    static func tensor(
        _ label: String, _ fields: String, data: [UInt8] = eight, code: SNNError.Code = .corrupt,
        at place: BadFile.Place
    ) -> BadFile {
        BadFile(label, header: #"{"a":{"# + fields + "}}", data: data, code: code, at: place)
    }

    static let badFiles: [BadFile] = [
        BadFile("shorter than the length field", bytes: [1, 0, 0], offset: 0),
        BadFile("header length larger than the file", bytes: le(UInt64(100)) + Array("{}".utf8), offset: 0),
        BadFile("header length near UInt64.max", bytes: le(UInt64.max) + Array("{}".utf8), offset: 0),
        BadFile("header length past Int.max", bytes: le(UInt64(1) << 63) + Array("{}".utf8), offset: 0),
        BadFile("empty header", bytes: le(UInt64(0)), offset: 8),
        BadFile("header not UTF-8", bytes: file(Array(#"{"a"#.utf8) + [0xFF] + Array(#"":1}"#.utf8), []), offset: 11),
        BadFile(
            "overlong UTF-8", bytes: file(Array(#"{""#.utf8) + [0xC0, 0xAF] + Array(#"":1}"#.utf8), []), offset: 10),
        BadFile(
            "UTF-8 surrogate", bytes: file(Array(#"{""#.utf8) + [0xED, 0xA0, 0x80] + Array(#"":1}"#.utf8), []),
            offset: 10),
        BadFile("truncated UTF-8", bytes: file(Array("{} ".utf8) + [0xE2, 0x82], []), offset: 11),
        BadFile("truncated JSON", header: #"{"a":"#, at: .file(13)),
        BadFile("trailing garbage", header: "{} x", at: .header("x")),
        BadFile("unterminated string", header: #"{"a"#, at: .file(11)),
        BadFile("missing comma", header: #"{"a":1 "b":2}"#, at: .header(#""b""#)),
        BadFile("trailing comma", header: #"{"a":1,}"#, at: .header("}")),
        BadFile("bad literal", header: #"{"a":nul}"#, at: .header("nul")),
        BadFile("invalid escape", header: #"{"a\x":1}"#, at: .header("\\")),
        BadFile("lone surrogate escape", header: #"{"\ud800":1}"#, at: .header("\\")),
        BadFile("control character in string", header: "{\"a\u{01}\":1}", at: .header("\u{01}")),
        BadFile("deep nesting", header: String(repeating: "[", count: 100_000), at: .file(8 + 64)),
        BadFile("duplicate key", header: "{\(entry),\(entry)}", data: eight, at: .file(8 + 1 + entry.utf8.count + 1)),
        BadFile("header is an array", header: "[1,2]", at: .header("[")),
        BadFile("header is a string", header: #"  "{}""#, at: .header(#"""#)),
        BadFile("entry not an object", header: #"{"a":[1]}"#, at: .header("[")),
        BadFile(
            "leading zero", header: #"{"a":{"dtype":"F32","shape":[02],"data_offsets":[0,8]}}"#, data: eight,
            at: .header("02", plus: 1)),
        tensor("missing dtype", #""shape":[2],"data_offsets":[0,8]"#, at: .header(#"{"shape""#)),
        tensor("missing shape", #""dtype":"F32","data_offsets":[0,8]"#, at: .header(#"{"dtype""#)),
        tensor("missing data_offsets", #""dtype":"F32","shape":[2]"#, at: .header(#"{"dtype""#)),
        tensor("dtype not a string", #""dtype":4,"shape":[2],"data_offsets":[0,8]"#, at: .header("4")),
        tensor("shape not an array", #""dtype":"F32","shape":"2","data_offsets":[0,8]"#, at: .header(#""2""#)),
        tensor("fractional extent", #""dtype":"F32","shape":[2.0],"data_offsets":[0,8]"#, at: .header("2.0")),
        tensor("exponent extent", #""dtype":"F32","shape":[2e0],"data_offsets":[0,8]"#, at: .header("2e0")),
        tensor("boolean extent", #""dtype":"F32","shape":[true],"data_offsets":[0,8]"#, at: .header("true")),
        tensor("one data offset", #""dtype":"F32","shape":[2],"data_offsets":[8]"#, at: .header("[8]")),
        tensor("three data offsets", #""dtype":"F32","shape":[2],"data_offsets":[0,8,8]"#, at: .header("[0,8,8]")),
        tensor("data offsets not an array", #""dtype":"F32","shape":[2],"data_offsets":"0,8""#, at: .header(#""0,8""#)),
        tensor("fractional data offset", #""dtype":"F32","shape":[2],"data_offsets":[0,8.5]"#, at: .header("8.5")),
        tensor(
            "unknown dtype", #""dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]"#, data: [0, 0], code: .unsupported,
            at: .header(#""F8_E4M3""#)),
        tensor(
            "lower-case dtype", #""dtype":"f32","shape":[2],"data_offsets":[0,8]"#, code: .unsupported,
            at: .header(#""f32""#)),
        tensor(
            "shape disagrees with offsets", #""dtype":"F32","shape":[3],"data_offsets":[0,8]"#, at: .header("[0,8]")),
        tensor(
            "dtype size disagrees with offsets", #""dtype":"F64","shape":[2],"data_offsets":[0,8]"#,
            at: .header("[0,8]")),
        tensor("negative extent", #""dtype":"F32","shape":[-2],"data_offsets":[0,8]"#, at: .header("-2")),
        tensor("negative data offset", #""dtype":"F32","shape":[2],"data_offsets":[-8,0]"#, at: .header("-8")),
        tensor("end before begin", #""dtype":"F32","shape":[0],"data_offsets":[8,0]"#, at: .header("[8,0]")),
        tensor("offsets past the buffer", #""dtype":"F32","shape":[4],"data_offsets":[0,16]"#, at: .header("[0,16]")),
        tensor(
            "extent beyond Int", #""dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,8]"#,
            at: .header("99999999999999999999")),
        tensor(
            "data offset beyond Int", #""dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]"#,
            at: .header("99999999999999999999")),
        tensor(
            "element count overflows", #""dtype":"F32","shape":[4294967296,4294967296,0],"data_offsets":[0,0]"#,
            data: [],
            at: .header("[4294967296")),
        tensor(
            "byte count overflows", #""dtype":"F32","shape":[2305843009213693952],"data_offsets":[0,0]"#, data: [],
            at: .header("[2305843009213693952]")),
        BadFile(
            "overlapping tensors",
            header:
                #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
            data: eight + [0, 0, 0, 0], at: .data(4)),
        BadFile(
            "gap between tensors",
            header:
                #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}"#,
            data: eight + eight, at: .data(8)),
        tensor("gap before the first tensor", #""dtype":"F32","shape":[1],"data_offsets":[4,8]"#, at: .data(0)),
        BadFile("bytes after the last tensor", header: "{\(entry)}", data: eight + [1, 2], at: .data(8)),
        BadFile("buffer without tensors", header: "{}", data: [1], at: .data(0)),
        BadFile("metadata not an object", header: #"{"__metadata__":["pt"]}"#, at: .header("[")),
        BadFile("metadata value not a string", header: #"{"__metadata__":{"step":7}}"#, at: .header("7")),
    ]

    @Test(arguments: badFiles) func malformedFileThrows(_ bad: BadFile) {
        let error = #expect(throws: SNNError.self) { try SafeTensors.decode(bad.bytes, file: "bad.safetensors") }
        #expect(error?.code == bad.code, "\(error.map(String.init(describing:)) ?? "")")
        #expect(error?.file == "bad.safetensors")
        #expect(error?.offset == bad.offset, "\(error.map(String.init(describing:)) ?? "")")
    }
}

// MARK: Helpers

extension SafeTensorsTests {
    /// A file of `header` (unpadded) followed by `data`.
    static func file(_ header: String, _ data: [UInt8]) -> [UInt8] {
        file(Array(header.utf8), data)
    }

    static func file(_ header: [UInt8], _ data: [UInt8]) -> [UInt8] {
        le(UInt64(header.count)) + header + data
    }
}

/// The little-endian bytes of an integer.
private func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    withUnsafeBytes(of: value.littleEndian) { Array($0) }
}

private func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("SafeTensorsTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Marsaglia's xorshift64: deterministic, so failures reproduce.
private struct XorShift {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}
