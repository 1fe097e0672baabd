import Foundation
import SNN
import SNNTestSupport
import Testing

/// The event data set folders (DVS128 Gesture, CIFAR10-DVS, N-Caltech101) built from the real
/// DAVIS346 recording of ../shared/data/events, or from hand-made AEDAT 2.0 bytes where no real
/// file exists, checked against slicing and framing done independently on the ground truth.
@Suite struct EventDatasetTests {
    static func temporaryDirectory(_ name: String) throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("snn-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    /// Frames counted event by event from a list of (x, y, p), split by number (SpikingJelly).
    static func framesByNumber(_ s: EventStream, frames: Int) -> [Float] {
        let plane = s.width * s.height, n = s.count, per = n / frames
        var out = [Float](repeating: 0, count: frames * 2 * plane)
        for i in 0..<n {
            let f = min(i / per, frames - 1)
            out[(f * 2 + Int(s.p[i])) * plane + Int(s.y[i]) * s.width + Int(s.x[i])] += 1
        }
        return out
    }

    /// The ground-truth events with from ≤ t < to, by filtering every event.
    static func filtered(_ s: EventStream, _ from: Int64, _ to: Int64) -> EventStream {
        var r = EventStream(width: s.width, height: s.height)
        for i in 0..<s.count where s.t[i] >= from && s.t[i] < to {
            r.t.append(s.t[i]); r.x.append(s.x[i]); r.y.append(s.y[i]); r.p.append(s.p[i])
        }
        return r
    }

    @Test(.enabled(if: EventTests.events != nil, "needs ../shared/data/events"))
    func dvsGestureCutsRecordingsByTheirLabelRows() throws {
        let events = try #require(EventTests.events)
        var truth = try EventTests.groundTruth(
            events.appendingPathComponent("davis346-events.t64x16y16p8.bin"),
            timeBytes: 8, width: 346, height: 260)
        let t0 = truth.t[0]
        truth.t = truth.t.map { $0 - t0 }  // the AEDAT 3.1 re-encoding is relative to the first event
        let dir = try Self.temporaryDirectory("gesture")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let recording = events.appendingPathComponent("davis346-aedat31-reencoded.aedat").path
        let rows: [String: [(Int, Int64, Int64)]] = [
            "user01_fluorescent": [(3, 0, 500_000), (11, 500_000, 1_200_000), (1, 1_900_000, 2_400_000)],
            "user02_led": [(5, 100_000, 900_000), (3, 1_000_000, 2_000_000)],
        ]
        for (name, labels) in rows {
            try FileManager.default.copyItem(atPath: recording, toPath: "\(dir)/\(name).aedat")
            let csv = "class,startTime_usec,endTime_usec\r\n" + labels.map { "\($0.0),\($0.1),\($0.2)\r\n" }.joined()
            try csv.write(toFile: "\(dir)/\(name)_labels.csv", atomically: true, encoding: .utf8)
        }
        try "user01_fluorescent.aedat\n".write(toFile: "\(dir)/trials_to_train.txt", atomically: true, encoding: .utf8)
        try "user02_led.aedat\n\n".write(toFile: "\(dir)/trials_to_test.txt", atomically: true, encoding: .utf8)

        let train = try DVSGesture.load(
            .train, directory: dir, frames: 4, framing: .spikingJellyByNumber, sensor: (346, 260))
        // Class-interleaved: labels 0 (class 1), 2 (class 3), 10 (class 11).
        #expect(train.labels == [0, 2, 10])
        #expect(train.images.shape == [3, 4, 2, 260, 346])
        let per = 4 * 2 * 260 * 346
        for (k, window) in [(0, (1_900_000, 2_400_000)), (1, (0, 500_000)), (2, (500_000, 1_200_000))] {
            let expected = Self.framesByNumber(Self.filtered(truth, Int64(window.0), Int64(window.1)), frames: 4)
            #expect(Array(train.images.scalars[k * per..<(k + 1) * per]) == expected, "sample \(k)")
        }
        let test = try DVSGesture.load(
            .test, directory: dir, frames: 2, framing: .tonicTimeBins, size: 32, limit: 1, sensor: (346, 260))
        #expect(test.labels == [2] && test.images.shape == [1, 2, 2, 32, 32])
        let full = try Framing.tonicTimeBins.frames(Self.filtered(truth, 1_000_000, 2_000_000), frames: 2)
        let resized = full.reshaped(to: [4, 1, 260, 346]).interpolated(size: (32, 32), mode: .bilinear)
        #expect(test.images.scalars == resized.scalars)

        // A window with no events, a bad row, a missing list: errors naming the file (and the line's offset).
        try "class,startTime_usec,endTime_usec\n3,9000000,9500000\n".write(
            toFile: "\(dir)/user02_led_labels.csv", atomically: true, encoding: .utf8)
        #expect {
            _ = try DVSGesture.load(
                .test, directory: dir, frames: 2, framing: .spikingJellyByNumber, sensor: (346, 260))
        } throws: { ($0 as? SNNError)?.file == "\(dir)/user02_led.aedat" }
        let bad = [
            ("class,a,b\n3,1,x\n", 10), ("class,s,e\n12,0,5\n", 10), ("class,s,e\n1,0,5\n2,7,7\n", 16),
            ("class,s,e\n", 10),
        ]
        for (text, offset) in bad {
            #expect { _ = try DVSGesture.labels(Array(text.utf8), file: "l.csv") } throws: {
                let e = $0 as? SNNError
                return e?.file == "l.csv" && e?.offset == offset
            }
        }
        let csv = Array("class,startTime_usec,endTime_usec\r\n3,100,500\r\n11,600,900\r\n".utf8)
        survivesCorruption(csv, name: "l.csv") { (b: [UInt8]) throws(SNNError) in
            try DVSGesture.labels(b, file: "l.csv")
        }
        try FileManager.default.removeItem(atPath: "\(dir)/trials_to_test.txt")
        #expect { _ = try DVSGesture.samples(.test, directory: dir) } throws: {
            ($0 as? SNNError)?.file == "\(dir)/trials_to_test.txt"
        }
    }

    @Test func cifar10DVSSplitsEachClassNinetyTen() throws {
        let dir = try Self.temporaryDirectory("c10dvs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Eleven recordings per class; each holds 3 events at a pixel that encodes class and file.
        func aedat(_ x: UInt32, _ y: UInt32) -> [UInt8] {
            var b = Array("#!AER-DAT2.0\r\n# made by a test\r\n".utf8)
            for k in 0..<3 {
                let address = (y << 8) | (x << 1) | UInt32(k % 2), t = UInt32(10 * k)
                for v in [address, t] {
                    b += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
                }
            }
            return b
        }
        for (c, name) in CIFAR10DVS.classNames.enumerated() {
            try FileManager.default.createDirectory(atPath: "\(dir)/\(name)", withIntermediateDirectories: true)
            for f in 0..<11 {
                try Data(aedat(UInt32(f), UInt32(c))).write(
                    to: URL(fileURLWithPath: "\(dir)/\(name)/cifar10_\(name)_\(f).aedat"))
            }
        }
        let test = try CIFAR10DVS.samples(.test, directory: dir)
        // Names sort as text (as SpikingJelly lists them): _0, _1, _10, _2, …, _9 — the last is _9.
        #expect(test.map(\.label) == Array(0..<10))
        #expect(test.allSatisfy { $0.path.hasSuffix("_9.aedat") })
        let train = try CIFAR10DVS.load(.train, directory: dir, frames: 1, framing: .spikingJellyByNumber)
        #expect(train.count == 100 && train.labels == (0..<10).flatMap { _ in Array(0..<10) })
        // Sample 0 is airplane _0: x = 0, y = 0 raw → x' = 127 − y = 127, y' = 127 − x = 127, p' = 1 − p.
        let first = train.images.selecting(0)
        #expect(first.shape == [1, 2, 128, 128] && first.sum().item == 3)
        #expect(first.scalars[0 * 128 * 128 + 127 * 128 + 127] == 1)  // one raw ON event → OFF
        #expect(first.scalars[1 * 128 * 128 + 127 * 128 + 127] == 2)
        try FileManager.default.removeItem(atPath: "\(dir)/truck")
        #expect { _ = try CIFAR10DVS.samples(.train, directory: dir) } throws: {
            ($0 as? SNNError)?.message.contains("truck") == true
        }
    }

    @Test(.enabled(if: EventTests.events != nil, "needs ../shared/data/events"))
    func nCaltech101MovesEachRecordingToItsOrigin() throws {
        let events = try #require(EventTests.events)
        let truth = try EventTests.groundTruth(
            events.appendingPathComponent("davis346-crop34-groundtruth.t32x16y16p8.bin"),
            timeBytes: 4, width: 240, height: 180)
        let dir = try Self.temporaryDirectory("ncaltech")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let recording = events.appendingPathComponent("davis346-crop34-nmnist-format.bin").path
        for name in ["BACKGROUND_Google", "accordion"] {
            try FileManager.default.createDirectory(
                atPath: "\(dir)/Caltech101/\(name)", withIntermediateDirectories: true)
            for k in 1...3 {
                try FileManager.default.copyItem(
                    atPath: recording, toPath: "\(dir)/Caltech101/\(name)/image_000\(k).bin")
            }
        }
        #expect(try NCaltech101.classes(directory: dir) == ["BACKGROUND_Google", "accordion"])
        let s = try NCaltech101.read("\(dir)/Caltech101/accordion/image_0001.bin")
        let mx = truth.x.min()!, my = truth.y.min()!
        #expect(s.t == truth.t && s.p == truth.p && s.x == truth.x.map { $0 - mx } && s.y == truth.y.map { $0 - my })
        #expect(s.x.min() == 0 && s.y.min() == 0)
        let train = try NCaltech101.load(.train, directory: dir, frames: 3, framing: .spikingJellyByNumber)
        #expect(train.labels == [0, 1, 0, 1, 0, 1] && train.images.shape == [6, 3, 2, 180, 240])
        #expect(Array(train.images.scalars.prefix(3 * 2 * 180 * 240)) == Self.framesByNumber(s, frames: 3))
        #expect(try NCaltech101.samples(.test, directory: dir).isEmpty)  // ⌈0.9 · 3⌉ = 3: all three train
    }
}
