import Foundation
import SNNTensor

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
///
/// In data-parallel training each of `count` ranks holds a loader with its own ``Shard``: batch i
/// is then a global batch of up to `count × batchSize` consecutive samples of the epoch's order
/// (the order every rank derives from the same seed), split into `count` contiguous, disjoint parts
/// whose sizes differ by at most one. A last global batch too small to give every rank a sample is
/// left out.
public struct DataLoader: Sendable {
    public enum Order: Sendable, Equatable {
        case sequential
        case shuffled(seed: UInt64)
    }

    /// Which part of every global batch a loader yields: part `index` of `count`.
    public struct Shard: Sendable, Equatable {
        public var index: Int
        public var count: Int

        /// The whole batch (one process).
        public static let whole = Shard(index: 0, count: 1)

        public init(index: Int, count: Int) {
            precondition(count >= 1 && (0..<count).contains(index), "Shard: index \(index) of \(count)")
            self.index = index
            self.count = count
        }
    }

    public let data: LabeledImages
    public let batchSize: Int
    public let order: Order
    public let dropLast: Bool
    public let augmentation: ImageAugmentation
    public let prefetch: Bool
    public let shard: Shard

    public init(
        _ data: LabeledImages, batchSize: Int, order: Order = .sequential, dropLast: Bool = false,
        augmentation: ImageAugmentation = ImageAugmentation(), prefetch: Bool = true, shard: Shard = .whole
    ) {
        precondition(batchSize >= 1, "DataLoader: batch size must be ≥ 1, got \(batchSize)")
        self.data = data
        self.batchSize = batchSize
        self.order = order
        self.dropLast = dropLast
        self.augmentation = augmentation
        self.prefetch = prefetch
        self.shard = shard
    }

    /// Samples of one full global batch: `batchSize` on each rank (Int.max when that overflows).
    public var globalBatchSize: Int {
        let (size, overflow) = batchSize.multipliedReportingOverflow(by: shard.count)
        return overflow ? Int.max : size
    }

    /// Batches per epoch.
    public var batchCount: Int {
        // Written without `count + batchSize − 1`, which overflows for a batch size near Int.max.
        let global = globalBatchSize, rest = data.count % global
        return data.count / global + (dropLast || rest == 0 || rest < shard.count ? 0 : 1)
    }

    /// The samples of global batch `index` over all ranks (the batch itself with one process).
    public func globalSamples(inBatch index: Int) -> Int {
        Swift.min(globalBatchSize, data.count - index * globalBatchSize)
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
        let first = index * globalBatchSize, samples = Swift.min(globalBatchSize, order.count - first)
        // This rank's contiguous part of the global batch; with one process, the whole batch.
        let start = first + shard.index * samples / shard.count
        let end = first + (shard.index + 1) * samples / shard.count
        let subset = data.subset(Array(order[start..<end]))
        var inputs = subset.images
        if !augmentation.isIdentity {
            let seed: UInt64
            if case .shuffled(let s) = self.order { seed = s } else { seed = 0 }
            // Each rank draws its own augmentations (rank 0's are those of a single process).
            var g = RandomGenerator(
                seed: seed ^ (UInt64(epoch) << 32 | UInt64(index)) &* 0xD1B5_4A32_D192_ED03
                    &+ UInt64(shard.index) &* 0x9E37_79B9_7F4A_7C15)
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
