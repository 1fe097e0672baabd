import Foundation
import SNNTensor

/// MNIST and Fashion-MNIST from a directory holding the four standard IDX files (plain or `.gz`):
/// `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
/// `t10k-labels-idx1-ubyte`. Pixels are scaled to [0, 1]; images come as `[N, 1, 28, 28]`.
public enum MNIST {
    /// Loads one split from `directory`.
    public static func load(_ split: Split, directory: String) throws(SNNError) -> LabeledImages {
        let prefix = split == .train ? "train" : "t10k"
        let imagesPath = try locate("\(prefix)-images-idx3-ubyte", in: directory)
        let labelsPath = try locate("\(prefix)-labels-idx1-ubyte", in: directory)
        let images = try IDXArray.read(contentsOf: imagesPath)
        let labels = try IDXArray.read(contentsOf: labelsPath)
        guard images.elementType == .uint8, images.shape.count == 3 else {
            throw SNNError(.mismatch, "expected uint8 images [N, H, W], found \(images.elementType) \(images.shape)", file: imagesPath)
        }
        guard labels.shape == [images.shape[0]] else {
            throw SNNError(.mismatch, "\(labels.shape) labels for \(images.shape[0]) images", file: labelsPath)
        }
        if let bad = labels.values.firstIndex(where: { $0 < 0 || $0 > 9 }) {
            throw SNNError(.corrupt, "label \(Int(labels.values[bad])) outside 0…9", file: labelsPath, offset: 8 + bad)
        }
        let (n, h, w) = (images.shape[0], images.shape[1], images.shape[2])
        return LabeledImages(images: Tensor(shape: [n, 1, h, w], scalars: images.values.map { $0 / 255 }),
                             labels: labels.values.map { Int($0) }, classCount: 10)
    }

    /// The path of `name` or `name.gz` in `directory`.
    static func locate(_ name: String, in directory: String) throws(SNNError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SNNError(.io, "data directory does not exist", file: directory)
        }
        for candidate in [name, name + ".gz"] {
            let path = (directory as NSString).appendingPathComponent(candidate)
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw SNNError(.io, "missing \(name) (or \(name).gz)", file: directory)
    }
}

/// Random augmentation of image batches `[N, C, H, W]`.
public struct ImageAugmentation: Sendable, Equatable {
    /// Zero padding on every side before a random crop back to the original size (0 = off).
    public var cropPadding: Int
    /// Whether to flip each image horizontally with probability ½.
    public var horizontalFlip: Bool
    /// Rotation by an angle drawn uniformly from ±this many degrees (0 = off): counter-clockwise
    /// for positive angles, about the image centre, nearest pixel, zeros outside — torchvision's
    /// `RandomRotation(degrees)` with its defaults.
    public var maxRotation: Float
    /// For event frames of spike counts: each counted event is dropped with this probability (0 = off),
    /// which gives exactly the frames of the recording after tonic's `DropEvent(p)`, since framing
    /// counts events (a count c becomes a Binomial(c, 1 − p) draw). On such frames the crop with
    /// padding is likewise exact: it shifts every event of the sample by the same (dx, dy), and those
    /// that leave the sensor are dropped.
    public var eventDropProbability: Float

    public init(cropPadding: Int = 0, horizontalFlip: Bool = false, maxRotation: Float = 0, eventDropProbability: Float = 0) {
        precondition(cropPadding >= 0, "ImageAugmentation: crop padding must be ≥ 0")
        precondition(maxRotation >= 0 && maxRotation <= 180, "ImageAugmentation: rotation must be in 0…180 degrees")
        precondition(eventDropProbability >= 0 && eventDropProbability < 1, "ImageAugmentation: event drop probability must be in [0, 1)")
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
        self.maxRotation = maxRotation
        self.eventDropProbability = eventDropProbability
    }

    public var isIdentity: Bool { cropPadding == 0 && !horizontalFlip && maxRotation == 0 && eventDropProbability == 0 }

    /// Augments every sample of `images` — `[N, C, H, W]`, or `[N, T, C, H, W]` event frames, whose
    /// planes all move together — drawing from `generator`.
    public func apply(_ images: Tensor, using generator: inout RandomGenerator) -> Tensor {
        if isIdentity { return images }
        if eventDropProbability > 0 {
            let moved = ImageAugmentation(cropPadding: cropPadding, horizontalFlip: horizontalFlip, maxRotation: maxRotation)
                .apply(images, using: &generator)
            return Self.dropEvents(moved, probability: eventDropProbability, using: &generator)
        }
        precondition(images.rank >= 3, "ImageAugmentation: images must be [N, …, H, W], got \(images.shape)")
        let r = images.rank
        let (n, h, w) = (images.shape[0], images.shape[r - 2], images.shape[r - 1])
        let c = images.count / max(n * h * w, 1)
        var out = Tensor(zeros: images.shape)
        let p = cropPadding
        images.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let rotated = UnsafeMutableBufferPointer<Float>.allocate(capacity: maxRotation > 0 ? c * h * w : 0)
                defer { rotated.deallocate() }
                for i in 0..<n {
                    let dy = p > 0 ? Int(generator.next() % UInt64(2 * p + 1)) - p : 0
                    let dx = p > 0 ? Int(generator.next() % UInt64(2 * p + 1)) - p : 0
                    let flip = horizontalFlip && generator.next() & 1 == 1
                    var source = UnsafeBufferPointer(rebasing: src[(i * c * h * w)..<((i + 1) * c * h * w)])
                    if maxRotation > 0 {
                        let u = Float(generator.next() >> 40) / Float(1 << 24)
                        Self.rotate(source, into: rotated, planes: c, height: h, width: w, degrees: (2 * u - 1) * maxRotation)
                        source = UnsafeBufferPointer(rotated)
                    }
                    for ch in 0..<c {
                        let plane = ch * h * w, target = (i * c + ch) * h * w
                        for y in 0..<h {
                            let sy = y + dy
                            if sy < 0 || sy >= h { continue }
                            for x in 0..<w {
                                let ox = flip ? w - 1 - x : x
                                let sx = ox + dx
                                if sx >= 0 && sx < w { dst[target + y * w + x] = source[plane + sy * w + sx] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Every count c of `frames` replaced by the number of its c events that survive an independent
    /// drop with `probability`. Counts must be whole numbers (frames of counted events, not resized).
    public static func dropEvents(_ frames: Tensor, probability: Float, using generator: inout RandomGenerator) -> Tensor {
        var out = frames
        let keep = UInt64((1 - Double(probability)) * 0x1p53)
        out.withUnsafeMutableBufferPointer { p in
            for i in p.indices where p[i] != 0 {
                let count = p[i]
                precondition(count > 0 && count == count.rounded() && count < 1e7,
                             "ImageAugmentation: event drop needs frames of event counts, found \(count)")
                var kept = 0
                for _ in 0..<Int(count) where generator.next() >> 11 < keep { kept += 1 }
                p[i] = Float(kept)
            }
        }
        return out
    }

    /// `planes` planes of `height` × `width` rotated by `degrees` counter-clockwise about the centre
    /// ((width − 1) / 2, (height − 1) / 2), nearest pixel, zeros where the source falls outside.
    public static func rotate(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<Float>, planes: Int, height h: Int,
                              width w: Int, degrees: Float) {
        let theta = Double(degrees) * .pi / 180, cosT = cos(theta), sinT = sin(theta)
        let cx = Double(w - 1) / 2, cy = Double(h - 1) / 2
        for y in 0..<h {
            for x in 0..<w {
                let ddx = Double(x) - cx, ddy = Double(y) - cy
                let sx = (cx + cosT * ddx - sinT * ddy).rounded(), sy = (cy + sinT * ddx + cosT * ddy).rounded()
                let inside = sx >= 0 && sx < Double(w) && sy >= 0 && sy < Double(h)
                let from = inside ? Int(sy) * w + Int(sx) : 0
                for p in 0..<planes { dst[p * h * w + y * w + x] = inside ? src[p * h * w + from] : 0 }
            }
        }
    }
}

/// One mini-batch.
public struct Batch: Sendable {
    public var inputs: Tensor
    public var labels: [Int]
    /// Position of this batch in its epoch.
    public var index: Int
}

/// Mini-batches of an in-memory data set: per-epoch seeded shuffling, optional drop-last,
/// augmentation, and the next batch prepared on a background thread while the current one trains.
///
/// The order and augmentation of epoch e depend only on (seed, e), so any epoch can be replayed
/// exactly (this is what makes resumed training identical to uninterrupted training).
public struct DataLoader: Sendable {
    public enum Order: Sendable, Equatable {
        case sequential
        case shuffled(seed: UInt64)
    }

    public let data: LabeledImages
    public let batchSize: Int
    public let order: Order
    public let dropLast: Bool
    public let augmentation: ImageAugmentation
    public let prefetch: Bool

    public init(_ data: LabeledImages, batchSize: Int, order: Order = .sequential, dropLast: Bool = false,
                augmentation: ImageAugmentation = ImageAugmentation(), prefetch: Bool = true) {
        precondition(batchSize >= 1, "DataLoader: batch size must be ≥ 1, got \(batchSize)")
        self.data = data
        self.batchSize = batchSize
        self.order = order
        self.dropLast = dropLast
        self.augmentation = augmentation
        self.prefetch = prefetch
    }

    /// Batches per epoch.
    public var batchCount: Int {
        // Written without `count + batchSize − 1`, which overflows for a batch size near Int.max.
        data.count / batchSize + (dropLast || data.count % batchSize == 0 ? 0 : 1)
    }

    /// The sample order of `epoch`.
    public func indices(forEpoch epoch: Int) -> [Int] {
        switch order {
        case .sequential: return Array(0..<data.count)
        case .shuffled(let seed):
            var g = RandomGenerator(seed: RandomGenerator.streamSeed(seed, UInt64(epoch)))
            return g.permutation(data.count)
        }
    }

    /// Batch `index` of `epoch`.
    public func batch(_ index: Int, ofEpoch epoch: Int, indices: [Int]? = nil) -> Batch {
        let order = indices ?? self.indices(forEpoch: epoch)
        let start = index * batchSize, end = Swift.min(start + batchSize, order.count)
        let subset = data.subset(Array(order[start..<end]))
        var inputs = subset.images
        if !augmentation.isIdentity {
            let seed: UInt64
            if case .shuffled(let s) = self.order { seed = s } else { seed = 0 }
            var g = RandomGenerator(seed: seed ^ (UInt64(epoch) << 32 | UInt64(index)) &* 0xD1B5_4A32_D192_ED03)
            inputs = augmentation.apply(inputs, using: &g)
        }
        return Batch(inputs: inputs, labels: subset.labels, index: index)
    }

    /// The batches of `epoch`, from `startingAt` on.
    public func batches(forEpoch epoch: Int, startingAt first: Int = 0) -> Batches {
        Batches(loader: self, epoch: epoch, first: first)
    }

    /// A sequence of batches that prepares the next one in the background.
    public struct Batches: Sequence {
        let loader: DataLoader
        let epoch: Int
        let first: Int

        public func makeIterator() -> Iterator { Iterator(loader: loader, epoch: epoch, first: first) }

        public final class Iterator: IteratorProtocol {
            let loader: DataLoader
            let epoch: Int
            let order: [Int]
            var position: Int
            private var pending: (DispatchGroup, Box)?

            final class Box: @unchecked Sendable { var batch: Batch? }

            init(loader: DataLoader, epoch: Int, first: Int) {
                self.loader = loader
                self.epoch = epoch
                self.order = loader.indices(forEpoch: epoch)
                self.position = first
            }

            private func start(_ index: Int) {
                guard loader.prefetch, index < loader.batchCount else { return }
                let group = DispatchGroup(), box = Box()
                let (loader, epoch, order) = (self.loader, self.epoch, self.order)
                DispatchQueue.global(qos: .userInitiated).async(group: group) {
                    box.batch = loader.batch(index, ofEpoch: epoch, indices: order)
                }
                pending = (group, box)
            }

            public func next() -> Batch? {
                guard position < loader.batchCount else { return nil }
                let batch: Batch
                if let (group, box) = pending {
                    group.wait()
                    batch = box.batch!
                    pending = nil
                } else {
                    batch = loader.batch(position, ofEpoch: epoch, indices: order)
                }
                position += 1
                start(position)
                return batch
            }
        }
    }
}
