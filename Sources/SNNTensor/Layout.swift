import CSNNKernels
import Foundation

/// The channel-blocked layout nChwBc of an `[N, C, H, W]` tensor — oneDNN's preferred layout for
/// convolutions on AVX2 (B = 8) and AVX-512 (B = 16) machines: element (n, c, h, w) lives at
/// `((n·⌈C/B⌉ + c/B)·H·W + h·W + w)·B + c mod B`, the channels padded with zeros to a multiple of B.
///
/// A convolution can leave its output in this layout, and the operations that usually follow it —
/// batch normalisation, the fused spiking neurons, 2×2 average pooling, the next convolution and
/// all their backward passes — read and write it directly, so a conv net converts between layouts
/// only at its ends. Every other operation sees the plain row-major elements: the first plain read
/// converts the storage once (``TensorStorage/pointer``).
public struct BlockedLayout: Hashable, Sendable, CustomStringConvertible {
    public let batch: Int, channels: Int, height: Int, width: Int, block: Int

    public init(batch: Int, channels: Int, height: Int, width: Int, block: Int) {
        precondition(
            batch >= 0 && channels >= 1 && height >= 1 && width >= 1 && block >= 1,
            "BlockedLayout: invalid extents \(batch)×\(channels)×\(height)×\(width), block \(block)")
        self.batch = batch
        self.channels = channels
        self.height = height
        self.width = width
        self.block = block
    }

    public var channelBlocks: Int { (channels + block - 1) / block }
    public var paddedChannels: Int { channelBlocks * block }
    public var planeSize: Int { height * width }
    /// Elements of the logical `[N, C, H, W]` tensor.
    public var logicalCount: Int { batch * channels * planeSize }
    /// Elements of the blocked buffer (padding included).
    public var storageCount: Int { batch * paddedChannels * planeSize }
    public var description: String { "n\(channels)hw\(block)c [\(batch), \(channels), \(height), \(width)]" }

    /// Whether these are the extents of `shape`.
    public func matches(_ shape: [Int]) -> Bool { shape == [batch, channels, height, width] }

    /// The same layout for `batch` samples of `[channels, height, width]`.
    public func with(batch: Int, height: Int, width: Int) -> BlockedLayout {
        BlockedLayout(batch: batch, channels: channels, height: height, width: width, block: block)
    }
}

/// A buffer in a ``BlockedLayout``. Immutable once its producer has filled it.
public final class BlockedBuffer: @unchecked Sendable {
    /// Guards the conversion of blocked storage to plain (rare; one lock for all storages).
    static let lock = NSLock()

    public let layout: BlockedLayout
    public let pointer: UnsafeMutablePointer<Float>

    /// An uninitialised buffer; the producer writes every element, padding included.
    public init(layout: BlockedLayout) {
        self.layout = layout
        pointer = StoragePool.shared.allocate(layout.storageCount)
    }

    deinit { StoragePool.shared.release(pointer, count: layout.storageCount) }

    /// The plain elements of `plain` (row-major `[N, C, H, W]`) in `layout`.
    public convenience init(plain: UnsafePointer<Float>, layout: BlockedLayout) {
        self.init(layout: layout)
        let l = layout, dst = pointer
        Parallelism.forEachChunk(l.batch, grain: 1) { samples in
            snn_plain_to_blocked(plain, dst, samples.lowerBound, samples.upperBound, l.channels, l.planeSize, l.block)
        }
    }

    /// The sum of the logical elements (padding excluded), accumulated in double precision.
    public func logicalSum() -> Double {
        let l = layout, p = UnsafePointer(pointer)
        var total = 0.0
        for s in 0..<l.batch {
            for cb in 0..<l.channelBlocks {
                let valid = Swift.min(l.block, l.channels - cb * l.block),
                    base = p + (s * l.channelBlocks + cb) * l.planeSize * l.block
                var acc: Float = 0
                for q in 0..<l.planeSize { for ci in 0..<valid { acc += base[q * l.block + ci] } }
                total += Double(acc)
            }
        }
        return total
    }

    /// Writes the elements in plain row-major order into `plain`.
    func copyToPlain(_ plain: UnsafeMutablePointer<Float>) {
        let l = layout, src = UnsafePointer(pointer)
        Parallelism.forEachChunk(l.batch, grain: 1) { samples in
            snn_blocked_to_plain(src, plain, samples.lowerBound, samples.upperBound, l.channels, l.planeSize, l.block)
        }
    }
}

extension Tensor {
    /// Whether convolutions leave their outputs in oneDNN's blocked layout for the next layer
    /// (default on; `SNN_BLOCKED_LAYOUTS=0` turns it off, e.g. to compare the two paths).
    /// Task-local so a test can compare both paths without disturbing concurrent work
    /// (`Tensor.$propagatesBlockedLayouts.withValue(false) { … }`).
    @TaskLocal public static var propagatesBlockedLayouts: Bool =
        ProcessInfo.processInfo.environment["SNN_BLOCKED_LAYOUTS"] != "0"

    /// A tensor of `shape` held in `buffer`; `shape` must have the layout's logical element count.
    public init(blocked buffer: BlockedBuffer, shape: [Int]) {
        self.init(storage: TensorStorage(blocked: buffer), shape: shape)
    }

    /// The blocked buffer behind this tensor, while it has one.
    public var blockedBuffer: BlockedBuffer? { storage.blocked }

    /// The blocked buffer when this tensor is `[N, C, H, W]` held in a blocked layout with exactly
    /// these extents.
    public var blockedImage: BlockedBuffer? {
        guard rank == 4, let b = storage.blocked, b.layout.matches(shape) else { return nil }
        return b
    }

    /// This tensor's elements in `layout` (no copy when already so held).
    public func blocked(as layout: BlockedLayout) -> BlockedBuffer {
        precondition(layout.logicalCount == count, "blocked(as:): \(layout) does not hold \(shape)")
        if let b = storage.blocked, b.layout == layout { return b }
        return BlockedBuffer(plain: storage.pointer, layout: layout)
    }
}
