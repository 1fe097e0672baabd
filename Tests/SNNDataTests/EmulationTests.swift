import Foundation
import SNN
import SNNTestSupport
import Testing

/// The event emulator (saccades + ESIM-style pixels) and the N-MNIST folder reader.
@Suite struct EmulationTests {
    static let digits = try! Digits.load(.train).subset(Array(0..<12))

    func stream(_ e: EventEmulator, _ i: Int, seed: UInt64) -> EventStream {
        let image = Self.digits.images.selecting(i)
        let max = image.scalars.max() ?? 1
        let scaled = image / Swift.max(max, 1e-6)
        return scaled.withUnsafeBufferPointer {
            e.events(image: $0.baseAddress!, imageHeight: 8, imageWidth: 8, seed: seed)
        }
    }

    @Test func eventsAreSortedInsideTheSensorAndSeeded() {
        let e = EventEmulator()
        let a = stream(e, 0, seed: 1), b = stream(e, 0, seed: 1), c = stream(e, 0, seed: 2)
        #expect(a == b)
        #expect(a != c)
        #expect(a.count > 200)
        #expect(zip(a.t, a.t.dropFirst()).allSatisfy { $0 <= $1 })
        #expect(a.x.allSatisfy { $0 < 34 } && a.y.allSatisfy { $0 < 34 })
        #expect(a.t.last! <= 300_000)
        #expect(a.onFraction > 0.3 && a.onFraction < 0.7)
    }

    @Test func withoutNoiseAndRefractoryEveryPixelEndsBalanced() {
        // The saccades return to the start, so each pixel's log intensity ends where it began: its
        // reference moved by (ON − OFF)·θ and stays within θ of the intensity, hence ON = OFF exactly.
        var e = EventEmulator()
        e.shotNoiseRate = 0
        e.refractoryMicroseconds = 0
        for i in 0..<4 {
            let s = stream(e, i, seed: 3)
            var balance = [Int](repeating: 0, count: 34 * 34)
            for k in 0..<s.count { balance[Int(s.y[k]) * 34 + Int(s.x[k])] += s.p[k] == 1 ? 1 : -1 }
            #expect(
                balance.allSatisfy { $0 == 0 },
                "digit \(i): \(balance.filter { $0 != 0 }.count) unbalanced pixels, values \(Set(balance))")
        }
    }

    @Test func refractoryPeriodAndNoiseRate() {
        var e = EventEmulator()
        e.shotNoiseRate = 0
        let s = stream(e, 1, seed: 4)
        var last = [Int64](repeating: -1_000_000, count: 34 * 34)
        var minimumGap = Int64.max
        for k in 0..<s.count {
            let i = Int(s.y[k]) * 34 + Int(s.x[k])
            minimumGap = min(minimumGap, s.t[k] - last[i])
            last[i] = s.t[k]
        }
        #expect(minimumGap >= e.refractoryMicroseconds)
        // A blank image gives only shot noise: rate × pixels × duration events (Poisson, ±5σ).
        var noisy = EventEmulator()
        noisy.shotNoiseRate = 50
        let blank = [Float](repeating: 0, count: 64)
        let n = blank.withUnsafeBufferPointer {
            noisy.events(image: $0.baseAddress!, imageHeight: 8, imageWidth: 8, seed: 5)
        }.count
        let expected = 50.0 * 34 * 34 * 0.3
        #expect(abs(Double(n) - expected) < 5 * expected.squareRoot())
    }

    @Test func writtenSetReadsBackFramed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("snn-emu-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let data = LabeledImages(images: Self.digits.images / 16, labels: Self.digits.labels, classCount: 10)
        let e = EventEmulator()
        let written = try e.writeNMNIST(data, split: .train, directory: directory, seed: 9)
        _ = try e.writeNMNIST(data.subset([0, 1, 2]), split: .test, directory: directory, seed: 9)
        let loaded = try NMNIST.load(.train, directory: directory, frames: 5, framing: .spikingJellyByNumber)
        #expect(loaded.images.shape == [12, 5, 2, 34, 34])
        #expect(loaded.images.sum().item == Float(written))  // by number: every event lands in a frame
        #expect(loaded.labels.sorted() == data.labels.sorted())
        // Each file holds exactly the emulator's stream for its sample.
        let files = try NMNIST.files(.train, directory: directory)
        let first = try #require(files.first { $0.path.hasSuffix("/0.bin") })
        let again = data.images.selecting(0).withUnsafeBufferPointer {
            e.events(image: $0.baseAddress!, imageHeight: 8, imageWidth: 8, seed: 9 ^ 0)
        }
        #expect(try NMNISTBinary.read(first.path, width: 34, height: 34) == again)
        // A limit loads the first samples of that order and nothing else.
        let four = try NMNIST.load(.train, directory: directory, frames: 5, framing: .spikingJellyByNumber, limit: 4)
        #expect(four.labels == Array(files.prefix(4).map(\.label)) && four.labels == Array(loaded.labels.prefix(4)))
        #expect(four.images.scalars == Array(loaded.images.scalars.prefix(four.images.count)))
        // A corrupt file is named in the error.
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: first.path))
        #expect {
            _ = try NMNIST.load(.train, directory: directory, frames: 5, framing: .spikingJellyByNumber)
        } throws: { ($0 as? SNNError)?.file == first.path }
    }

    @Test func folderFilesAreClassInterleaved() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("snn-nmnist-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let layout = [
            "0": ["10.bin", "1.bin", "2.bin"], "1": ["5.bin"], "2": ["4.bin", "3.bin", ".hidden.bin", "notes.txt"],
            "10": ["7.bin"],
        ]
        for (label, names) in layout {
            let folder = (directory as NSString).appendingPathComponent("Train/\(label)")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for name in names {
                try Data().write(to: URL(fileURLWithPath: (folder as NSString).appendingPathComponent(name)))
            }
        }
        let files = try NMNIST.files(.train, directory: directory)
        let relative = files.map { String($0.path.dropFirst(directory.count + "/Train/".count)) }
        #expect(relative == ["0/1.bin", "1/5.bin", "2/3.bin", "10/7.bin", "0/2.bin", "2/4.bin", "0/10.bin"])
        #expect(files.map(\.label) == [0, 1, 2, 10, 0, 2, 0])
    }
}
