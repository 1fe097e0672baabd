import Foundation
import SNN
import SNNTestSupport
import Testing

/// Every truncation and thousands of byte flips: either a clean decode of a prefix / other valid
/// stream, or an SNNError naming the file and an offset; never a crash or hang.
func survivesCorruption<R>(_ valid: [UInt8], name: String, decode: ([UInt8]) throws(SNNError) -> R) {
    for cut in 0..<valid.count {
        do {
            _ = try decode(Array(valid[0..<cut]))
        } catch {
            #expect(error.file == name && error.offset != nil, "cut at \(cut): \(error)")
        }
    }
    var rng = RandomGenerator(seed: 11)
    for _ in 0..<3000 {
        var bytes = valid
        for _ in 0..<(1 + Int(rng.next() % 4)) {
            bytes[Int(rng.next() % UInt64(bytes.count))] ^= UInt8(1 << (rng.next() % 8))
        }
        do {
            _ = try decode(bytes)
        } catch {
            #expect(error.file == name && error.offset != nil, "\(error)")
        }
    }
}

/// Event readers on the real DAVIS346 recording of ../shared/data/events and its ground truth;
/// corruption; both framing conventions against independent computations.
@Suite struct EventTests {
    static var events: URL? { sharedDataDirectory()?.appendingPathComponent("events") }

    /// Packed little-endian ground-truth records `<t> <uint16 x> <uint16 y> <uint8 p>`, t of `timeBytes` bytes.
    static func groundTruth(_ url: URL, timeBytes: Int, width: Int, height: Int) throws -> EventStream {
        let b = [UInt8](try Data(contentsOf: url)), size = timeBytes + 5
        #expect(b.count % size == 0)
        var s = EventStream(width: width, height: height)
        for o in stride(from: 0, to: b.count, by: size) {
            var t: Int64 = 0
            for k in 0..<timeBytes { t |= Int64(b[o + k]) << (8 * k) }
            s.t.append(t)
            s.x.append(UInt16(b[o + timeBytes]) | UInt16(b[o + timeBytes + 1]) << 8)
            s.y.append(UInt16(b[o + timeBytes + 2]) | UInt16(b[o + timeBytes + 3]) << 8)
            s.p.append(b[o + timeBytes + 4])
        }
        return s
    }

    /// The ground truth of the real 34×34 crop (`davis346-crop34-groundtruth.t32x16y16p8.bin`).
    static func crop34Truth() throws -> EventStream {
        let dir = try #require(events, "../shared/data/events is not present")
        return try groundTruth(
            dir.appendingPathComponent("davis346-crop34-groundtruth.t32x16y16p8.bin"), timeBytes: 4, width: 34,
            height: 34)
    }

    /// A path inside this suite's Fixtures folder.
    static func fixtures(_ path: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(path)
    }

    @Test(.enabled(if: EventTests.events != nil, "needs ../shared/data/events"))
    func nmnistEncodingDecodesToTheGroundTruth() throws {
        let dir = try #require(Self.events, "../shared/data/events is not present")
        let decoded = try NMNISTBinary.read(
            dir.appendingPathComponent("davis346-crop34-nmnist-format.bin").path, width: 34, height: 34)
        let truth = try Self.groundTruth(
            dir.appendingPathComponent("davis346-crop34-groundtruth.t32x16y16p8.bin"),
            timeBytes: 4, width: 34, height: 34)
        #expect(decoded.count == 10_067)
        #expect(decoded == truth)
        // Our encoder writes the same bytes back.
        let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("davis346-crop34-nmnist-format.bin")))
        #expect(try NMNISTBinary.encode(decoded) == bytes)
    }

    @Test(.enabled(if: EventTests.events != nil, "needs ../shared/data/events")) func aedat31DecodesToTheGroundTruth()
        throws
    {
        let dir = try #require(Self.events, "../shared/data/events is not present")
        let decoded = try AEDAT31.read(
            dir.appendingPathComponent("davis346-aedat31-reencoded.aedat").path, width: 346, height: 260)
        var truth = try Self.groundTruth(
            dir.appendingPathComponent("davis346-events.t64x16y16p8.bin"), timeBytes: 8, width: 346, height: 260)
        let t0 = truth.t[0]
        truth.t = truth.t.map { $0 - t0 }  // the re-encoding stores times relative to the first event
        #expect(decoded.count == 78_830)
        #expect(decoded == truth)
    }

    @Test func nmnistOverflowMarkersRoundTrip() throws {
        // Timestamps past 2²³ µs need overflow markers (y = 240) that add 2¹³ µs each.
        let s = EventStream(
            t: [0, 5, 8_388_607, 8_388_608, 9_000_000, 20_000_000], x: [1, 2, 3, 4, 5, 33],
            y: [0, 1, 2, 239, 241, 33], p: [1, 0, 1, 0, 1, 1], width: 256, height: 256)
        let bytes = try NMNISTBinary.encode(s)
        #expect(bytes.count > 6 * 5)  // markers were inserted
        #expect(try NMNISTBinary.decode(bytes, file: "mem", width: 256, height: 256) == s)
        // Hand-made: one event at 3 µs after one marker is at 8192 + 3 µs.
        let hand = try NMNISTBinary.decode([0, 240, 0, 0, 0, 7, 9, 0x80, 0, 3], file: "hand")
        #expect(hand.t == [8195] && hand.x == [7] && hand.y == [9] && hand.p == [1])
    }

    @Test(.enabled(if: EventTests.events != nil, "needs ../shared/data/events"))
    func readersSurviveTruncationAndByteFlips() throws {
        let dir = try #require(Self.events, "../shared/data/events is not present")
        let nmnist = Array(
            [UInt8](try Data(contentsOf: dir.appendingPathComponent("davis346-crop34-nmnist-format.bin"))).prefix(600))
        survivesCorruption(nmnist, name: "n.bin") { (b: [UInt8]) throws(SNNError) in
            try NMNISTBinary.decode(b, file: "n.bin", width: 34, height: 34)
        }
        // A small AEDAT 3.1 file: the real header and one polarity packet of 40 events.
        let full = [UInt8](try Data(contentsOf: dir.appendingPathComponent("davis346-aedat31-reencoded.aedat")))
        let headerEnd =
            try #require(full.indices.first { i in full[i...].starts(with: Array("#!END-HEADER\r\n".utf8)) }) + 14
        var packet = Array(full[headerEnd..<headerEnd + 28])
        let count: [UInt8] = [40, 0, 0, 0]
        packet.replaceSubrange(16..<20, with: count)  // capacity
        packet.replaceSubrange(20..<24, with: count)  // number
        packet.replaceSubrange(24..<28, with: count)  // valid
        let small = Array(full[0..<headerEnd]) + packet + Array(full[headerEnd + 28..<headerEnd + 28 + 320])
        let decoded = try AEDAT31.decode(small, file: "a.aedat", width: 346, height: 260)
        #expect(decoded.count == 40)
        survivesCorruption(small, name: "a.aedat") { (b: [UInt8]) throws(SNNError) in
            try AEDAT31.decode(b, file: "a.aedat", width: 346, height: 260)
        }
        var wrongMagic = small
        wrongMagic[3] = UInt8(ascii: "X")
        #expect(throws: SNNError.self) { try AEDAT31.decode(wrongMagic, file: "a.aedat") }
    }

    @Test(.enabled(if: EventTests.events != nil, "needs ../shared/data/events"))
    func aedat31SizeFromTheHeaderTheCallerOrTheEvents() throws {
        let dir = try #require(Self.events, "../shared/data/events is not present")
        let path = dir.appendingPathComponent("davis346-aedat31-reencoded.aedat").path
        let full = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let given = try AEDAT31.decode(full, file: "a", width: 346, height: 260)
        // "#Source 1: DAVIS346": the DAVIS346's 346 × 260, the same events as with the size given.
        let named = try AEDAT31.read(path)
        #expect(named.count == 78_830 && named.width == 346 && named.height == 260 && named == given)
        let frames = try AEDAT31.frames(full, file: "a", frames: 4, framing: .spikingJellyByNumber)
        #expect(
            frames.scalars
                == (try AEDAT31.frames(
                    full, file: "a", width: 346, height: 260, frames: 4,
                    framing: .spikingJellyByNumber)).scalars)
        // The same packets under other headers.
        let body = Array(
            full[
                (try #require(full.indices.first { full[$0...].starts(with: Array("#!END-HEADER\r\n".utf8)) }) + 14)...]
        )
        func file(_ source: String?) -> [UInt8] {
            Array(
                ("#!AER-DAT3.1\r\n#Format: RAW\r\n" + (source.map { "#Source 1: \($0)\r\n" } ?? "") + "#!END-HEADER\r\n")
                    .utf8) + body
        }
        // cAER's chip name for the same sensor.
        #expect(try AEDAT31.decode(file("DAVIS346B"), file: "b").width == 346)
        // A smaller camera: refused, naming the header as the size's origin.
        do {
            _ = try AEDAT31.decode(file("DVS128"), file: "c")
            Issue.record("a DAVIS346 recording decoded as DVS128")
        } catch {
            #expect(
                error.message.hasPrefix("event at (")
                    && error.message.hasSuffix(
                        "outside the 128×128 sensor (size from the header's #Source camera DVS128)"),
                "\(error.message)")
            #expect(error.file == "c" && error.offset != nil)
        }
        // The caller's size wins over the header's.
        let wider = try AEDAT31.decode(file("DVS128"), file: "d", width: 400, height: 300)
        #expect(wider.width == 400 && wider.height == 300 && wider.t == given.t && wider.x == given.x)
        // An unknown camera or no source line: the largest coordinate + 1.
        let maxX = Int(given.x.max() ?? 0), maxY = Int(given.y.max() ?? 0)
        for source in ["Prophesee Gen4", nil] {
            let measured = try AEDAT31.decode(file(source), file: "e")
            #expect(measured.width == maxX + 1 && measured.height == maxY + 1 && measured.t == given.t)
            let f = try AEDAT31.frames(file(source), file: "e", frames: 2, framing: .spikingJellyByNumber)
            #expect(f.shape == [2, 2, maxY + 1, maxX + 1])
        }
        // One axis given, the other from the header; the error names both origins.
        do {
            _ = try AEDAT31.decode(file("DAVIS346"), file: "f", width: 200)
            Issue.record("x ≥ 200 accepted")
        } catch {
            #expect(
                error.message.hasSuffix(
                    "outside the 200×260 sensor (size from width given, height the header's #Source camera DAVIS346)"),
                "\(error.message)")
        }
    }

    @Test func sensorNamesAndSizes() {
        let cases: [(String, Int, Int)] = [
            ("DVS128", 128, 128), ("DAVIS128", 128, 128), ("DAVIS240C", 240, 180), ("DAVIS346", 346, 260),
            ("DAVIS346Cbsi", 346, 260), ("DAVIS208", 208, 192), ("DAVIS640", 640, 480), ("DVXplorer", 640, 480),
            ("DVXplorer Lite", 320, 240), ("DVXPLORER_LITE", 320, 240),
        ]
        for (name, w, h) in cases {
            let size = EventSensor.size(named: name)
            #expect(size?.width == w && size?.height == h, "\(name)")
        }
        #expect(EventSensor.size(named: "DAVIS") == nil && EventSensor.size(named: "Gen4") == nil)
    }

    /// Frames computed event by event from the definitions (not from segment ranges).
    func independentFrames(_ s: EventStream, frames: Int, framing: Framing) -> [Float]? {
        let n = s.count, plane = s.width * s.height
        var out = [Float](repeating: 0, count: frames * 2 * plane)
        let t0 = s.t[0], window = (s.t[n - 1] - t0) / Int64(frames)
        var seen = Set<Int>()
        for i in 0..<n {
            let f: Int
            switch framing {
            case .spikingJellyByNumber: f = min(i / (n / frames), frames - 1)
            case .spikingJellyByTime: f = window == 0 ? 0 : min(Int((s.t[i] - t0) / window), frames - 1)
            case .tonicTimeBins:
                guard window > 0, (s.t[i] - t0) / window < Int64(frames) else { continue }
                f = Int((s.t[i] - t0) / window)
            case .tonicTimeWindow, .tonicEventCount: return nil  // checked against tonic itself
            }
            if framing == .spikingJellyByTime, window > 0, (s.t[i] - t0) / window < Int64(frames) { seen.insert(f) }
            out[(f * 2 + Int(s.p[i])) * plane + Int(s.y[i]) * s.width + Int(s.x[i])] += 1
        }
        if framing == .spikingJellyByTime && seen.count < frames { return nil }  // an empty window: SJ raises
        return out
    }

    @Test(
        .enabled(if: EventTests.events != nil, "needs ../shared/data/events"),
        arguments: [Framing.spikingJellyByNumber, .spikingJellyByTime, .tonicTimeBins], [4, 7, 10])
    func framingMatchesIndependentComputation(_ framing: Framing, _ frames: Int) throws {
        let dir = try #require(Self.events, "../shared/data/events is not present")
        let s = try AEDAT31.read(
            dir.appendingPathComponent("davis346-aedat31-reencoded.aedat").path, width: 346, height: 260)
        let f = try framing.frames(s, frames: frames)
        #expect(f.shape == [frames, 2, 260, 346])
        #expect(f.scalars == independentFrames(s, frames: frames, framing: framing))
        // The two-pass path straight from the file's bytes gives the same frames.
        let bytes = [UInt8](try Data(contentsOf: dir.appendingPathComponent("davis346-aedat31-reencoded.aedat")))
        #expect(
            try AEDAT31.frames(bytes, file: "a", width: 346, height: 260, frames: frames, framing: framing).scalars
                == f.scalars)
        let total = f.sum().item
        switch framing {
        case .tonicTimeBins: #expect(total < Float(s.count))  // the last event always falls outside
        default: #expect(total == Float(s.count))  // every event lands in a frame
        }
    }

    /// AEDAT 4.0 written by dv-processing 2.0.4 (Fixtures/aedat4/make_aedat4_fixtures.py) from the real
    /// crop: every event, under LZ4, Zstandard and no compression; then thousands of corruptions.
    @Test(.enabled(if: EventTests.events != nil, "needs ../shared/data/events"))
    func aedat4DecodesToTheGroundTruth() throws {
        let truth = try Self.crop34Truth()
        let fixtures = Self.fixtures("aedat4")
        let t0: Int64 = 1_700_000_000_000_000
        for (name, count) in [("crop34-lz4.aedat4", 2000), ("crop34-none.aedat4", 700), ("crop34-zstd.aedat4", 700)] {
            let s = try AEDAT40.read(fixtures.appendingPathComponent(name).path)
            #expect(s.width == 34 && s.height == 34, "\(name)")
            #expect(s.t == truth.t.prefix(count).map { $0 + t0 }, "\(name)")
            #expect(
                s.x == Array(truth.x.prefix(count)) && s.y == Array(truth.y.prefix(count))
                    && s.p == Array(truth.p.prefix(count)), "\(name)")
        }
        for name in ["crop34-zstd.aedat4", "crop34-none.aedat4"] {
            let bytes = [UInt8](try Data(contentsOf: fixtures.appendingPathComponent(name)))
            survivesCorruption(bytes, name: "c.aedat4") { (b: [UInt8]) throws(SNNError) in
                try AEDAT40.decode(b, file: "c.aedat4")
            }
        }
        var wrong = [UInt8](try Data(contentsOf: fixtures.appendingPathComponent("crop34-lz4.aedat4")))
        wrong[11] = UInt8(ascii: "1")
        #expect { _ = try AEDAT40.decode(wrong, file: "w.aedat4") } throws: { ($0 as? SNNError)?.offset == 0 }
    }

    /// tonic 1.7.0 `ToFrame` on the real 34×34 crop (Fixtures/tonic/make_tonic_fixtures.py), whole tensors.
    @Test(.enabled(if: EventTests.events != nil, "needs ../shared/data/events"))
    func tonicFramingsMatchTonic() throws {
        let s = try Self.crop34Truth()
        let expected = try NumPy.readNPZ(Self.fixtures("tonic/tonic-frames.npz").path)
        #expect(expected.count == 7)
        let framings: [String: (Framing, Int)] = [
            "tonic_time_bins_8": (.tonicTimeBins, 8),
            "tonic_time_window_100000": (.tonicTimeWindow(microseconds: 100_000), 1),
            "tonic_time_window_333333": (.tonicTimeWindow(microseconds: 333_333), 1),
            "tonic_time_window_9000000": (.tonicTimeWindow(microseconds: 9_000_000), 1),
            "tonic_event_count_1000": (.tonicEventCount(1000), 1),
            "tonic_event_count_3333": (.tonicEventCount(3333), 1),
            "tonic_event_count_20000": (.tonicEventCount(20_000), 1),
        ]
        for (name, frames) in expected {
            let (framing, count) = try #require(framings[name], "\(name)")
            #expect(Framing(name: framing.description) == framing)
            let ours = try framing.frames(s, frames: count)
            #expect(ours.shape == frames.shape, "\(name)")
            #expect(ours.scalars == frames.scalars, "\(name)")
        }
    }

    /// Framing sized by a file (its header, the caller or a damaged coordinate) refuses frames that
    /// overflow or exceed memory, naming the shape and the file, instead of aborting in the allocator.
    @Test func framingRefusesFramesBeyondMemory() throws {
        let huge = EventStream(t: [0, 1], x: [0, 1], y: [0, 1], p: [0, 1], width: 1 << 15, height: 1 << 15)
        // 1000 × 2 × 32768² float32 = 8.6 TB: more than any machine this runs on.
        #expect { try Framing.tonicTimeBins.frames(huge, frames: 1000) } throws: {
            ($0 as? SNNError)?.message.hasPrefix(
                "frames [1000, 2, 32768, 32768] of float32 would take 8.59 TB, more than") == true
        }
        let overflowing = EventStream(t: [0, 1], x: [0, 1], y: [0, 1], p: [0, 1], width: Int.max / 2, height: 4)
        #expect { try Framing.spikingJellyByNumber.frames(overflowing, frames: 2) } throws: {
            ($0 as? SNNError)?.message.hasSuffix("would take more bytes than a 64-bit size can count") == true
        }
        // Small frames are not affected.
        var small = huge
        small.width = 2
        small.height = 2
        #expect(try Framing.spikingJellyByNumber.frames(small, frames: 2).shape == [2, 2, 2, 2])
    }

    @Test(.enabled(if: EventTests.events != nil, "needs ../shared/data/events"))
    func aedat31FramesRefuseASizeBeyondMemory() throws {
        let dir = try #require(Self.events, "../shared/data/events is not present")
        let path = dir.appendingPathComponent("davis346-aedat31-reencoded.aedat").path
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        #expect {
            try AEDAT31.frames(
                bytes, file: path, width: 30_000, height: 30_000, frames: 1000, framing: .spikingJellyByNumber)
        } throws: {
            guard let error = $0 as? SNNError else { return false }
            return error.file == path
                && error.message.hasPrefix("frames [1000, 2, 30000, 30000] of float32 would take 7.20 TB")
        }
    }

    @Test func framingEdgeBehaviours() throws {
        // 10 events, T = 3: by number 3, 3, 4 (leftover in the last frame).
        let s = EventStream(
            t: [0, 1, 2, 3, 4, 5, 6, 7, 8, 90], x: Array(repeating: 0, count: 10), y: Array(repeating: 0, count: 10),
            p: Array(repeating: 1, count: 10), width: 1, height: 1)
        #expect(try Framing.spikingJellyByNumber.segments(s, frames: 3).map(\.count) == [3, 3, 4])
        // By time: window ⌊90/3⌋ = 30 µs; [30, 60) holds no event → SpikingJelly raises.
        #expect(throws: SNNError.self) { try Framing.spikingJellyByTime.segments(s, frames: 3) }
        // tonic: same windows, nothing raised, the event at t = 90 = t0 + 3·30 is dropped.
        #expect(try Framing.tonicTimeBins.segments(s, frames: 3).map(\.count) == [9, 0, 0])
        // By time with events everywhere: the last frame takes the events after T·window too.
        let t = EventStream(
            t: [0, 10, 20, 31], x: [0, 0, 0, 0], y: [0, 0, 0, 0], p: [0, 1, 0, 1], width: 1, height: 1)
        #expect(try Framing.spikingJellyByTime.segments(t, frames: 3).map(\.count) == [1, 1, 2])
        #expect(try Framing.tonicTimeBins.segments(t, frames: 3).map(\.count) == [1, 1, 1])
        #expect(throws: SNNError.self) {
            try Framing.tonicTimeBins.segments(EventStream(width: 1, height: 1), frames: 2)
        }
        // tonic slicers: time window 40 µs over 90 µs → ⌊90/40⌋ = 2 windows [0, 40), [40, 80); a window
        // longer than the recording → one; event count 4 → ⌊(10 − 4)/4⌋ + 1 = 2 slices; 11 → one of 10.
        #expect(try Framing.tonicTimeWindow(microseconds: 40).segments(s, frames: 1) == [0..<9, 9..<9])
        #expect(try Framing.tonicTimeWindow(microseconds: 1000).segments(s, frames: 1) == [0..<10])
        #expect(try Framing.tonicEventCount(4).segments(s, frames: 1) == [0..<4, 4..<8])
        #expect(try Framing.tonicEventCount(11).segments(s, frames: 1) == [0..<10])
        #expect(
            Framing(name: "tonic-time-window:0") == nil && Framing(name: "tonic-event-count:x") == nil
                && Framing(name: "tonic-time-window") == nil)
        // frameCount (what commands size their memory by) is the first axis of what frames() makes.
        let framings: [Framing] = [
            .spikingJellyByNumber, .tonicTimeBins, .tonicTimeWindow(microseconds: 40),
            .tonicTimeWindow(microseconds: 7), .tonicTimeWindow(microseconds: 1000),
            .tonicEventCount(1), .tonicEventCount(4), .tonicEventCount(11),
        ]
        for framing in framings {
            for requested in [1, 3, 25] {
                let made = try framing.frames(s, frames: requested).shape[0]
                #expect(framing.frameCount(s, requested: requested) == made, "\(framing), \(requested)")
            }
        }
        #expect(Framing.tonicEventCount(1).frameCount(s, requested: 3) == 10)
        #expect(Framing.tonicTimeWindow(microseconds: 7).frameCount(s, requested: 3) == 12)
        #expect(Framing.spikingJellyByNumber.frameCount(EventStream(width: 1, height: 1), requested: 3) == 0)
        // FileBytes reads what was written, and names a missing file.
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("snn-bytes-\(UUID().uuidString)").path
        let data = (0..<100_000).map { UInt8($0 % 251) }
        try Data(data).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try FileBytes.read(path) == data)
        #expect { try FileBytes.read(path + ".missing") } throws: { ($0 as? SNNError)?.file == path + ".missing" }
    }
}

/// CIFAR binary and AEDAT 2.0 on hand-made bytes (no such files ship with the machine).
@Suite struct CIFARAndAEDAT2Tests {
    @Test func cifarRecordsDecodePlaneByPlane() throws {
        var bytes: [UInt8] = []
        for (label, base) in [(3, 0), (9, 7)] {
            bytes.append(UInt8(label))
            bytes += (0..<3072).map { UInt8(($0 + base) % 256) }
        }
        let d = try CIFAR.decode(bytes, variant: .cifar10, file: "c.bin")
        #expect(d.images.shape == [2, 3, 32, 32] && d.labels == [3, 9])
        // Pixel (channel 1, row 2, column 5) of the second image is byte 1024 + 2·32 + 5 of its plane data.
        #expect(d.images.scalars[3072 + 1024 + 69] == Float((1024 + 69 + 7) % 256) / 255)
        // CIFAR-100: coarse then fine label.
        let hundred = try CIFAR.decode(
            [4, 77] + [UInt8](repeating: 255, count: 3072), variant: .cifar100(coarse: false), file: "h.bin")
        #expect(hundred.labels == [77] && hundred.classCount == 100)
        #expect(
            try CIFAR.decode(
                [4, 77] + [UInt8](repeating: 255, count: 3072), variant: .cifar100(coarse: true), file: "h.bin"
            ).labels == [4])
        for cut in [1, 3072, 3073 + 100] {
            #expect { try CIFAR.decode(Array(bytes.prefix(cut)), variant: .cifar10, file: "c.bin") } throws: {
                ($0 as? SNNError)?.file == "c.bin" && ($0 as? SNNError)?.offset != nil
            }
        }
        var badLabel = bytes
        badLabel[3073] = 10
        #expect { try CIFAR.decode(badLabel, variant: .cifar10, file: "c.bin") } throws: {
            ($0 as? SNNError)?.offset == 3073
        }
    }

    @Test func aedat2DecodesDVS128AddressesAndTheCIFAR10DVSOrientation() throws {
        // Events (x, y, p, t): (3, 100, 1, 10), (127, 0, 0, 25).
        func event(_ x: UInt32, _ y: UInt32, _ p: UInt32, _ t: UInt32) -> [UInt8] {
            let a = y << 8 | x << 1 | p
            return [
                UInt8(a >> 24), UInt8(a >> 16 & 255), UInt8(a >> 8 & 255), UInt8(a & 255),
                UInt8(t >> 24), UInt8(t >> 16 & 255), UInt8(t >> 8 & 255), UInt8(t & 255),
            ]
        }
        let body = event(3, 100, 1, 10) + event(127, 0, 0, 25)
        let file = Array("#!AER-DAT2.0\r\n# This is a raw AE data file\r\n".utf8) + body
        let raw = try AEDAT20.decode(file, file: "a.aedat")
        #expect(raw.x == [3, 127] && raw.y == [100, 0] && raw.p == [1, 0] && raw.t == [10, 25])
        let upright = try AEDAT20.decode(body, file: "a.aedat", orientation: .cifar10DVS)
        #expect(upright.x == [27, 127] && upright.y == [124, 0] && upright.p == [0, 1])
        for cut in 0..<file.count {
            do { _ = try AEDAT20.decode(Array(file.prefix(cut)), file: "a.aedat") } catch {
                #expect(error.file == "a.aedat" && error.offset != nil)
            }
        }
        survivesCorruption(file, name: "a.aedat") { (b: [UInt8]) throws(SNNError) in
            try AEDAT20.decode(b, file: "a.aedat")
        }
        var backwards = body
        backwards[15] = 5  // second event at 5 µs < 10 µs
        #expect(throws: SNNError.self) { try AEDAT20.decode(backwards, file: "a.aedat") }
        #expect(throws: SNNError.self) { try AEDAT20.decode(Array("#!AER-DAT9".utf8) + body, file: "a.aedat") }
    }
}

@Suite struct EventAugmentationTests {
    let stream = EventStream(
        t: Array(0..<2000).map(Int64.init), x: (0..<2000).map { UInt16($0 % 20) },
        y: (0..<2000).map { UInt16($0 % 13) }, p: (0..<2000).map { UInt8($0 % 2) }, width: 20, height: 13)

    @Test func dropKeepsAboutOneMinusP() {
        var g = RandomGenerator(seed: 1)
        let kept = EventAugmentation(dropProbability: 0.3).apply(stream, using: &g)
        #expect(abs(Double(kept.count) / 2000 - 0.7) < 5 * (0.21 / 2000).squareRoot())
        #expect(Set(kept.t).isSubset(of: Set(stream.t)))
    }

    @Test func shiftsMoveEveryEventTogether() {
        var g = RandomGenerator(seed: 2)
        var seenShifts = Set<Int>()
        for _ in 0..<20 {
            // Space only: times are unique and unchanged, so each survivor is found by its time.
            let s = EventAugmentation(maxSpatialShift: 3).apply(stream, using: &g)
            let shifts = Set(
                (0..<s.count).map { k -> [Int] in
                    let i = Int(s.t[k])
                    return [Int(s.x[k]) - Int(stream.x[i]), Int(s.y[k]) - Int(stream.y[i])]
                })
            #expect(shifts.count == 1)
            let d = shifts.first!
            #expect(abs(d[0]) <= 3 && abs(d[1]) <= 3)
            seenShifts.insert(d[0])
            #expect(s.x.allSatisfy { $0 < 20 } && s.y.allSatisfy { $0 < 13 })
            // Time only: nothing dropped, one constant offset, never before 0.
            let t = EventAugmentation(maxTimeShift: 50).apply(stream, using: &g)
            #expect(t.count == stream.count && t.x == stream.x && t.y == stream.y)
            #expect(Set(zip(t.t, stream.t).map { $0 - $1 }).count == 1 && t.t[0] >= 0)
        }
        #expect(seenShifts.count > 3)  // the shift is random
        var same = RandomGenerator(seed: 9), again = RandomGenerator(seed: 9)
        let a = EventAugmentation(dropProbability: 0.1, maxSpatialShift: 2, maxTimeShift: 10)
        #expect(a.apply(stream, using: &same) == a.apply(stream, using: &again))
    }
}

@Suite struct PNGTests {
    @Test func pngChunksAndPixelsAreExact() throws {
        // 2×2 RGB: red, green / blue, white.
        let rgb: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]
        let png = try PNG.encode(rgb: rgb, width: 2, height: 2)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: length 13, "IHDR", width 2, height 2, depth 8, colour type 2.
        #expect(Array(png[8..<33].prefix(21)) == [0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 2, 0, 0, 0, 2, 8, 2, 0, 0, 0])
        // The IEND chunk and its well-known CRC 0xAE426082 close the file.
        #expect(Array(png.suffix(12)) == [0, 0, 0, 0, 73, 69, 78, 68, 0xAE, 0x42, 0x60, 0x82])
    }

    static let python = ProcessInfo.processInfo.environment["SNN_PYTHON"] ?? "/usr/bin/python3"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: PNGTests.python), "needs python3"))
    func pngImageDataInflatesToTheScanlines() throws {
        let rgb: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255]
        let png = try PNG.encode(rgb: rgb, width: 2, height: 2)
        // Python's zlib inflates IDAT back to the filter-0 scanlines.
        let python = Self.python
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("snn-\(UUID().uuidString).png").path
        try Data(png).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [
            "-c",
            "import sys,zlib,struct\nb=open(sys.argv[1],'rb').read()\ni=8\nwhile i<len(b):\n n,=struct.unpack('>I',b[i:i+4]); t=b[i+4:i+8]\n if t==b'IDAT': print(list(zlib.decompress(b[i+8:i+8+n])))\n i+=12+n",
            path,
        ]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(
            text.trimmingCharacters(in: .whitespacesAndNewlines)
                == "[0, 255, 0, 0, 0, 255, 0, 0, 0, 0, 255, 255, 255, 255]")
    }
}
