import Foundation
import SNN
import SNNTestSupport
import Testing

/// SHD / SSC through the HDF5 library on a file written by h5py (Fixtures/hdf5/make_shd_fixture.py).
@Suite(.enabled(if: SpikingSpeech.hdf5Version != nil, "needs the HDF5 library (libhdf5-dev)"))
struct SpikingSpeechTests {
    static let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(
        "hdf5")

    struct Expected: Decodable {
        var times_us: [[Int64]]
        var units: [[UInt16]]
        var labels: [Int]
    }

    static func expected() throws -> Expected {
        try JSONDecoder().decode(
            Expected.self, from: Data(contentsOf: directory.appendingPathComponent("shd-mini.json")))
    }

    @Test func readsWhatH5pyWrote() throws {
        let e = try Self.expected()
        let (samples, labels) = try SpikingSpeech.read(
            Self.directory.appendingPathComponent("shd-mini.h5").path, classCount: 20)
        #expect(labels == e.labels)
        #expect(samples.map(\.t) == e.times_us)
        #expect(samples.map(\.x) == e.units)
        #expect(
            samples.allSatisfy {
                $0.width == 700 && $0.height == 1 && $0.p.allSatisfy { $0 == 1 } && $0.y.allSatisfy { $0 == 0 }
            })
        // Labels outside the corpus' classes are refused.
        #expect {
            _ = try SpikingSpeech.read(Self.directory.appendingPathComponent("shd-mini.h5").path, classCount: 10)
        } throws: { ($0 as? SNNError)?.message.contains("labels[1] = 19") == true }
    }

    @Test func framesCountSpikesPerChannelAndStep() throws {
        let e = try Self.expected()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snn-shd-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for split in ["train", "test"] {
            try FileManager.default.copyItem(
                atPath: Self.directory.appendingPathComponent("shd-mini.h5").path, toPath: "\(dir)/shd_\(split).h5")
        }
        let frames = 3
        let data = try SpikingSpeech.load(.shd, .train, directory: dir, frames: frames, framing: .spikingJellyByNumber)
        #expect(data.images.shape == [6, frames, 1, 1, 700] && data.labels == e.labels && data.classCount == 20)
        // Split by number, computed spike by spike: ⌊n/3⌋ per step, the rest in the last.
        var expected = [Float](repeating: 0, count: 6 * frames * 700)
        for (i, units) in e.units.enumerated() where !units.isEmpty {
            let per = units.count / frames
            for (k, u) in units.enumerated() {
                let f = per == 0 ? frames - 1 : min(k / per, frames - 1)
                expected[(i * frames + f) * 700 + Int(u)] += 1
            }
        }
        #expect(data.images.scalars == expected)
        #expect(
            try SpikingSpeech.load(.shd, .test, directory: dir, frames: 2, framing: .tonicTimeBins, limit: 2).count == 2
        )
        // A missing file, a gzip'd one not yet unpacked, a file that is not HDF5: errors naming the file.
        #expect {
            _ = try SpikingSpeech.load(.ssc, .train, directory: dir, frames: 2, framing: .spikingJellyByNumber)
        } throws: { ($0 as? SNNError)?.file == "\(dir)/ssc_train.h5" }
        try Data([0x1f, 0x8b]).write(to: URL(fileURLWithPath: "\(dir)/ssc_train.h5.gz"))
        #expect {
            _ = try SpikingSpeech.load(.ssc, .train, directory: dir, frames: 2, framing: .spikingJellyByNumber)
        } throws: { ($0 as? SNNError)?.message.contains("gunzip") == true }
    }

    @Test func damagedFilesAreRefusedWithTheirName() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.directory.appendingPathComponent("shd-mini.h5")))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("snn-shd-bad-\(UUID().uuidString).h5")
            .path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A 512-byte user block in front: the superblock is found after it and the file reads the same.
        try Data([UInt8](repeating: 0, count: 512) + bytes).write(to: URL(fileURLWithPath: path))
        #expect(try SpikingSpeech.read(path, classCount: 20).labels == Self.expected().labels)
        // Truncation at every byte position and a wrong signature, refused with an offset; random byte
        // flips, which the library reads, refuses, crashes on or loops on (1500 flips of this file: about
        // 1220 read, 240 refused, 40 crashes and 3 endless loops, the last two caught in its child process).
        var cases: [[UInt8]] = (0..<bytes.count).map { Array(bytes.prefix($0)) }
        var wrong = bytes
        wrong[1] = UInt8(ascii: "X")
        cases.append(wrong)
        var withOffset = 0
        /// nil when the file reads, else the file its error names.
        func refusal() -> String?? {
            do {
                _ = try SpikingSpeech.read(path, classCount: 20)
                return nil
            } catch {
                if error.offset != nil { withOffset += 1 }
                return .some(error.file)
            }
        }
        var refused = 0
        for b in cases {
            try Data(b).write(to: URL(fileURLWithPath: path))
            if let named = refusal() {
                #expect(named == path)
                refused += 1
            }
        }
        #expect(refused == cases.count && withOffset == cases.count)
        var rng = RandomGenerator(seed: 5)
        var outcomes: [String: Int] = [:]
        for _ in 0..<1500 {
            var b = bytes
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                b[Int(rng.next() % UInt64(b.count))] ^= UInt8(1 << (rng.next() % 8))
            }
            try Data(b).write(to: URL(fileURLWithPath: path))
            do {
                _ = try SpikingSpeech.read(path, classCount: 20)
                outcomes["read", default: 0] += 1
            } catch {
                #expect(error.file == path, "\(error)")
                let kind =
                    error.message.contains("crashed")
                    ? "crashed" : error.message.contains("did not finish") ? "looped" : "refused"
                outcomes[kind, default: 0] += 1
                if error.message.contains("the library says") { outcomes["quoting the library", default: 0] += 1 }
            }
        }
        // Surviving is the test (a crash in this process would end it); the refusals show flips were met.
        #expect(
            outcomes["refused", default: 0] > 100 && outcomes["quoting the library", default: 0] > 50, "\(outcomes)")
    }
}
