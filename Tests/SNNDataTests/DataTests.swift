import Foundation
import SNN
import SNNTestSupport
import Testing

/// Readers, loaders and augmentation.
@Suite struct DataTests {
    static func idxBytes(type: UInt8, shape: [Int], payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0, 0, type, UInt8(shape.count)]
        for d in shape { bytes += [UInt8(d >> 24 & 255), UInt8(d >> 16 & 255), UInt8(d >> 8 & 255), UInt8(d & 255)] }
        return bytes + payload
    }

    @Test func idxDecodesEveryElementType() throws {
        let u8 = try IDXArray.decode(Self.idxBytes(type: 0x08, shape: [2, 2], payload: [0, 1, 128, 255]), file: "u8")
        #expect(u8.shape == [2, 2] && u8.values == [0, 1, 128, 255])
        let i8 = try IDXArray.decode(Self.idxBytes(type: 0x09, shape: [3], payload: [0xFF, 0x80, 0x7F]), file: "i8")
        #expect(i8.values == [-1, -128, 127])
        let i16 = try IDXArray.decode(
            Self.idxBytes(type: 0x0B, shape: [2], payload: [0xFF, 0xFE, 0x01, 0x00]), file: "i16")
        #expect(i16.values == [-2, 256])
        let i32 = try IDXArray.decode(
            Self.idxBytes(type: 0x0C, shape: [1], payload: [0xFF, 0xFF, 0xFF, 0xF9]), file: "i32")
        #expect(i32.values == [-7])
        let f32 = try IDXArray.decode(Self.idxBytes(type: 0x0D, shape: [1], payload: [0x3F, 0xC0, 0, 0]), file: "f32")
        #expect(f32.values == [1.5])
        let f64 = try IDXArray.decode(
            Self.idxBytes(type: 0x0E, shape: [1], payload: [0xC0, 0x04, 0, 0, 0, 0, 0, 0]), file: "f64")
        #expect(f64.values == [-2.5])
    }

    @Test func idxRejectsEveryTruncationAndBadMagic() throws {
        let valid = Self.idxBytes(type: 0x08, shape: [3, 2], payload: [1, 2, 3, 4, 5, 6])
        for length in 0..<valid.count {
            #expect(throws: SNNError.self) { try IDXArray.decode(Array(valid[..<length]), file: "t.idx") }
        }
        do {
            _ = try IDXArray.decode([1] + valid.dropFirst(), file: "bad.idx")
            Issue.record("bad magic accepted")
        } catch {
            #expect(error.code == .corrupt && error.offset == 0 && error.file == "bad.idx")
        }
        do {
            _ = try IDXArray.decode([0, 0, 0x07] + valid.dropFirst(3), file: "type.idx")
            Issue.record("bad type accepted")
        } catch {
            #expect(error.offset == 2)
        }
        #expect(throws: SNNError.self) { try IDXArray.decode(valid + [0], file: "long.idx") }
    }

    @Test func gzipIsTransparentAndCorruptionIsAnError() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("snn-gz-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let plain = Self.idxBytes(type: 0x08, shape: [4], payload: [9, 8, 7, 6])
        let path = directory.appendingPathComponent("a.idx").path
        _ = FileManager.default.createFile(atPath: path, contents: Data(plain))
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        gzip.arguments = ["gzip", "-k", path]
        try gzip.run()
        gzip.waitUntilExit()
        try #require(gzip.terminationStatus == 0)
        let decoded = try IDXArray.read(contentsOf: path + ".gz")
        #expect(decoded.values == [9, 8, 7, 6])
        let compressed = [UInt8](FileManager.default.contents(atPath: path + ".gz")!)
        for length in stride(from: 2, to: compressed.count - 1, by: 1) {
            #expect(throws: SNNError.self) { try FileBytes.gunzip(Array(compressed[..<length]), file: "x.gz") }
        }
        #expect(throws: SNNError.self) {
            try IDXArray.read(contentsOf: directory.appendingPathComponent("missing").path)
        }
    }

    @Test(.enabled(if: sharedDataDirectory() != nil, "needs ../shared/data")) func mnistFromSharedDirectory() throws {
        let shared = try #require(sharedDataDirectory())
        let test = try MNIST.load(.test, directory: shared.appendingPathComponent("mnist").path)
        #expect(test.images.shape == [10000, 1, 28, 28])
        #expect(test.labels.prefix(5) == [7, 2, 1, 0, 4])  // the well-known first t10k labels
        #expect(test.images.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
        #expect(throws: SNNError.self) { try MNIST.load(.train, directory: "/nonexistent-dir") }
    }

    @Test(.enabled(if: sharedDataDirectory() != nil, "needs ../shared/data")) func fsddFromSharedDirectory() throws {
        let shared = try #require(sharedDataDirectory())
        let directory = shared.appendingPathComponent("fsdd-mfcc").path
        let train = try FSDD.load(.train, directory: directory, frames: 20),
            test = try FSDD.load(.test, directory: directory, frames: 20)
        #expect(train.count == 2400 && test.count == 600)
        #expect(train.images.shape == [2400, 1, 20, 13])
        #expect(Set(test.labels) == Set(0..<10))
        // Standardised with training statistics: training coefficients of the first frame have mean ≈ 0.
        let firstFrames = train.images.selecting(0, alongAxis: 2).mean(alongAxes: [0, 1]).scalars
        #expect(firstFrames.allSatisfy { $0.isFinite })
        // The files are validated against each other.
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("snn-fsdd-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: copy) }
        for ext in ["f32", "len.u32", "labels.u8"] {
            try FileManager.default.copyItem(
                atPath: directory + "/fsdd-mfcc13.\(ext)", toPath: copy.path + "/fsdd-mfcc13.\(ext)")
        }
        let features = copy.path + "/fsdd-mfcc13.f32"
        let bytes = FileManager.default.contents(atPath: features)!
        try bytes.prefix(bytes.count - 4).write(to: URL(fileURLWithPath: features))
        do {
            _ = try FSDD.load(.train, directory: copy.path)
            Issue.record("a truncated feature file was accepted")
        } catch {
            #expect(error.file == features && error.offset != nil)
        }
    }

    @Test func loaderEpochsAreReproducibleAndCoverTheData() throws {
        let data = try Digits.load(.test)
        let loader = DataLoader(
            data, batchSize: 50, order: .shuffled(seed: 9),
            augmentation: ImageAugmentation(cropPadding: 1, horizontalFlip: true))
        let a = Array(loader.batches(forEpoch: 3)), b = Array(loader.batches(forEpoch: 3))
        let c = Array(loader.batches(forEpoch: 4))
        #expect(a.count == 8 && a.last!.labels.count == 10)
        #expect(zip(a, b).allSatisfy { $0.inputs.scalars == $1.inputs.scalars && $0.labels == $1.labels })
        #expect(a.map(\.labels) != c.map(\.labels))
        // Without prefetching the same batches come out.
        let serial = DataLoader(
            data, batchSize: 50, order: .shuffled(seed: 9),
            augmentation: ImageAugmentation(cropPadding: 1, horizontalFlip: true), prefetch: false)
        #expect(zip(a, Array(serial.batches(forEpoch: 3))).allSatisfy { $0.inputs.scalars == $1.inputs.scalars })
        // Every sample once per epoch.
        #expect(loader.indices(forEpoch: 3).sorted() == Array(0..<data.count))
        #expect(DataLoader(data, batchSize: 50, dropLast: true).batchCount == 7)
        // Resuming mid-epoch yields the remaining batches.
        #expect(Array(loader.batches(forEpoch: 3, startingAt: 5)).map(\.labels) == a.dropFirst(5).map(\.labels))
    }

    /// Data-parallel shards: for each global batch, the ranks' parts are disjoint, contiguous, sized
    /// within one of each other, and together are the batch one process with the global batch size
    /// yields; a last global batch with fewer samples than ranks is left out.
    @Test func shardsPartitionEachGlobalBatch() throws {
        let data = try Digits.load(.test)  // 360 samples
        for (ranks, perRank) in [(2, 25), (3, 16), (4, 89)] {
            let whole = DataLoader(data, batchSize: ranks * perRank, order: .shuffled(seed: 4), prefetch: false)
            let shards = (0..<ranks).map {
                DataLoader(
                    data, batchSize: perRank, order: .shuffled(seed: 4), prefetch: false,
                    shard: DataLoader.Shard(index: $0, count: ranks))
            }
            let expected = Array(whole.batches(forEpoch: 2))
            let parts = shards.map { Array($0.batches(forEpoch: 2)) }
            #expect(parts.allSatisfy { $0.count == expected.count })
            for (i, batch) in expected.enumerated() {
                #expect(parts.flatMap { $0[i].labels } == batch.labels)
                #expect(parts.flatMap { $0[i].inputs.scalars } == batch.inputs.scalars)
                let sizes = parts.map { $0[i].labels.count }
                #expect(sizes.max()! - sizes.min()! <= 1 && sizes.min()! >= 1)
                #expect(shards[0].globalSamples(inBatch: i) == batch.labels.count)
            }
        }
        // 360 = 7 × 50 + 10: the short batch gives 10 ranks one sample each; 25 ranks × 2 would leave
        // 15 of them without one, so that batch is left out.
        let ten = DataLoader(data, batchSize: 5, shard: DataLoader.Shard(index: 9, count: 10))
        #expect(ten.batchCount == 8 && ten.batch(7, ofEpoch: 0).labels == [data.labels[359]])
        #expect(DataLoader(data, batchSize: 2, shard: DataLoader.Shard(index: 0, count: 25)).batchCount == 7)
    }

    @Test func augmentationClosedForms() {
        let image = Tensor(shape: [1, 1, 2, 3], scalars: [1, 2, 3, 4, 5, 6])
        var g = RandomGenerator(seed: 1)
        // Flip only: every output is the image or its mirror.
        for _ in 0..<10 {
            let out = ImageAugmentation(horizontalFlip: true).apply(image, using: &g).scalars
            #expect(out == [1, 2, 3, 4, 5, 6] || out == [3, 2, 1, 6, 5, 4])
        }
        // Crop with padding 1: the output is a shifted copy with zeros entering at the border.
        var seen = Set<[Float]>()
        for _ in 0..<200 { seen.insert(ImageAugmentation(cropPadding: 1).apply(image, using: &g).scalars) }
        #expect(seen.count == 9)
        #expect(seen.contains([0, 0, 0, 0, 1, 2]))  // shifted down and right
        #expect(seen.contains([5, 6, 0, 0, 0, 0]))  // shifted up and left
    }

    @Test func rotationClosedForms() {
        // ±90° on square images of odd and even size: exact index maps (pixel centres land on centres).
        for n in [5, 6] {
            let src = (0..<(2 * n * n)).map { Float($0) }
            var dst = [Float](repeating: -1, count: src.count)
            for (degrees, map) in [
                (Float(90), { (y: Int, x: Int) in (x, n - 1 - y) }), (-90, { (y: Int, x: Int) in (n - 1 - x, y) }),
                (0, { (y: Int, x: Int) in (y, x) }),
            ] {
                src.withUnsafeBufferPointer { s in
                    dst.withUnsafeMutableBufferPointer {
                        ImageAugmentation.rotate(s, into: $0, planes: 2, height: n, width: n, degrees: degrees)
                    }
                }
                var expected = [Float](repeating: 0, count: src.count)
                for p in 0..<2 {
                    for y in 0..<n {
                        for x in 0..<n {
                            let (sy, sx) = map(y, x)
                            expected[p * n * n + y * n + x] = src[p * n * n + sy * n + sx]
                        }
                    }
                }
                #expect(dst == expected, "\(n)×\(n), \(degrees)°")
            }
        }
        // 45° on 5×5: the centre stays, the corners come from outside (zeros), (row 2, col 4) from
        // the source at distance 2·cos45, 2·sin45 rounded = (row 1, col 3)... computed by hand:
        // output (x=4, y=2): dx = 2, dy = 0 → sx = 2 + 2·cos45 = 3.41 → 3, sy = 2 + 2·sin45 = 3.41 → 3.
        let src = (0..<25).map { Float($0 + 1) }
        var dst = [Float](repeating: -1, count: 25)
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer {
                ImageAugmentation.rotate(s, into: $0, planes: 1, height: 5, width: 5, degrees: 45)
            }
        }
        #expect(dst[12] == src[12] && dst[0] == 0 && dst[4] == 0 && dst[20] == 0 && dst[24] == 0)
        #expect(dst[2 * 5 + 4] == src[3 * 5 + 3])
        // A counter-clockwise quarter turn moves the right edge to the top: a bright pixel at the
        // right-middle of the source shows at the top-middle.
        var edge = [Float](repeating: 0, count: 25)
        edge[2 * 5 + 4] = 1
        edge.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer {
                ImageAugmentation.rotate(s, into: $0, planes: 1, height: 5, width: 5, degrees: 90)
            }
        }
        #expect(dst.firstIndex(of: 1) == 0 * 5 + 2)
    }

    @Test func eventDropThinsCountsBinomially() {
        // One cell of 20 events, p = 0.3, 4,000 draws: the kept count is Binomial(20, 0.7), mean 14 and
        // variance 4.2 (bounds at about 5 standard errors); never more than 20.
        var g = RandomGenerator(seed: 4)
        let cell = Tensor(shape: [1, 1, 1, 1, 1], scalars: [20])
        let draws = (0..<4000).map { _ in ImageAugmentation.dropEvents(cell, probability: 0.3, using: &g).item }
        let mean = draws.reduce(0, +) / 4000
        let variance = draws.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 3999
        #expect(draws.allSatisfy { $0 >= 0 && $0 <= 20 && $0 == $0.rounded() })
        #expect(abs(mean - 14) < 0.17 && abs(variance - 4.2) < 0.5, "mean \(mean), variance \(variance)")
        // Through the augmentation, after the crop: zeros stay zero, nothing grows, whole frames keep
        // about 1 − p of their events.
        var g0 = RandomGenerator(seed: 5)
        let frames = Tensor(shape: [4, 3, 2, 8, 8], scalars: (0..<(4 * 3 * 2 * 64)).map { _ in Float(g0.next() % 6) })
        var g1 = RandomGenerator(seed: 6)
        let dropped = ImageAugmentation(eventDropProbability: 0.5).apply(frames, using: &g1)
        #expect(zip(dropped.scalars, frames.scalars).allSatisfy { $0 <= $1 && ($1 > 0 || $0 == 0) })
        let before = frames.scalars.reduce(0, +), after = dropped.scalars.reduce(0, +)
        #expect(abs(after / before - 0.5) < 0.05, "kept \(after) of \(before)")
    }

    @Test func eventFramesMoveTogetherUnderAugmentation() {
        // [N, T, C, H, W]: every plane of a sample gets the same crop, flip and rotation, the same
        // as augmenting the [N, T·C, H, W] view with the same draws.
        var g0 = RandomGenerator(seed: 3)
        let frames = Tensor(shape: [3, 2, 2, 6, 6], scalars: (0..<(3 * 2 * 2 * 36)).map { _ in Float(g0.next() % 5) })
        let a = ImageAugmentation(cropPadding: 2, horizontalFlip: true, maxRotation: 30)
        var g1 = RandomGenerator(seed: 9), g2 = RandomGenerator(seed: 9)
        let five = a.apply(frames, using: &g1)
        let four = a.apply(frames.reshaped(to: [3, 4, 6, 6]), using: &g2)
        #expect(five.shape == frames.shape && five.scalars == four.scalars)
        #expect(five.scalars != frames.scalars)
        // Rotation only, many draws: angles stay within ±30°, so a 90° turn of this asymmetric
        // image (exact for square images) never appears.
        var g3 = RandomGenerator(seed: 1)
        let image = Tensor(shape: [1, 1, 5, 5], scalars: (0..<25).map { Float($0 + 1) })
        var quarter = [Float](repeating: 0, count: 25)
        image.scalars.withUnsafeBufferPointer { s in
            quarter.withUnsafeMutableBufferPointer {
                ImageAugmentation.rotate(s, into: $0, planes: 1, height: 5, width: 5, degrees: 90)
            }
        }
        var changed = 0
        for _ in 0..<200 {
            let out = ImageAugmentation(maxRotation: 30).apply(image, using: &g3).scalars
            #expect(out != quarter && out[12] == 13)  // the centre pixel never moves
            if out != image.scalars { changed += 1 }
        }
        #expect(changed > 100)
    }
}
