import Foundation

/// Reference-counted Float32 buffer behind a ``Tensor``. Allocated 64-byte aligned for SIMD kernels.
///
/// Large buffers come from and return to a ``StoragePool``: a fresh multi-megabyte allocation costs
/// page faults on first touch (about 20 ms for 64 MiB), which would dominate a training step that
/// allocates the same activation sizes every iteration.
public final class TensorStorage: @unchecked Sendable {
    /// Number of elements.
    public let count: Int
    /// The plain buffer of storage made plain; nil for storage made in a blocked layout.
    @usableFromInline let plainAtInit: UnsafeMutablePointer<Float>?
    /// Blocked-origin storage only, guarded by ``BlockedBuffer/lock``: the plain copy once made, and
    /// the blocked buffer until then (dropped when the plain copy is made, since writes go there).
    private var lazyPlain: UnsafeMutablePointer<Float>?
    private var blockedStore: BlockedBuffer?

    /// Allocates uninitialised storage for `count` elements.
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "TensorStorage: negative element count \(count)")
        self.count = count
        plainAtInit = StoragePool.shared.allocate(count)
    }

    /// Storage whose elements are held in the channel-blocked `buffer` (see ``BlockedLayout``).
    public init(blocked buffer: BlockedBuffer) {
        count = buffer.layout.logicalCount
        plainAtInit = nil
        blockedStore = buffer
    }

    /// The elements in plain row-major order. For storage made blocked, the first access converts
    /// the elements (once) and the blocked form is dropped.
    @inlinable public var pointer: UnsafeMutablePointer<Float> {
        if let p = plainAtInit { return p }
        return materializedPointer()
    }

    @usableFromInline func materializedPointer() -> UnsafeMutablePointer<Float> {
        BlockedBuffer.lock.lock()
        defer { BlockedBuffer.lock.unlock() }
        if let p = lazyPlain { return p }
        let p = StoragePool.shared.allocate(count)
        if let b = blockedStore { b.copyToPlain(p) }
        lazyPlain = p
        blockedStore = nil
        return p
    }

    /// The blocked buffer while this storage has one (it was made blocked and nothing has read it plain).
    public var blocked: BlockedBuffer? {
        if plainAtInit != nil { return nil }
        BlockedBuffer.lock.lock()
        defer { BlockedBuffer.lock.unlock() }
        return blockedStore
    }

    /// Whether this storage was made in a blocked layout (blocked storage is never written in place).
    public var isBlockedOrigin: Bool { plainAtInit == nil }

    deinit {
        if let p = plainAtInit ?? lazyPlain { StoragePool.shared.release(p, count: count) }
    }
}

/// A cache of large freed buffers, reused by exact size. Small buffers go straight to malloc.
public final class StoragePool: @unchecked Sendable {
    /// The pool every tensor uses.
    public static let shared = StoragePool()

    /// Buffers below this many elements are not pooled (malloc handles them well).
    public let minimumPooledCount = 1 << 16
    /// The most bytes kept in the pool; beyond it, released buffers are freed. (Read and written under
    /// the pool's lock, like the rest of its state.)
    public var capacityBytes: Int {
        get {
            lock.lock()
            defer { lock.unlock() }
            return capacity
        }
        set {
            lock.lock()
            capacity = newValue
            lock.unlock()
        }
    }
    private var capacity = 2 << 30

    private var free: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var heldBytes = 0
    private let lock = NSLock()

    /// Bytes currently held for reuse.
    public var pooledBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return heldBytes
    }

    func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count >= minimumPooledCount {
            lock.lock()
            if let p = free[count]?.popLast() {
                heldBytes -= count * 4
                lock.unlock()
                return p
            }
            lock.unlock()
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    func release(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        if count >= minimumPooledCount {
            lock.lock()
            if heldBytes + count * 4 <= capacity {
                free[count, default: []].append(pointer)
                heldBytes += count * 4
                lock.unlock()
                return
            }
            lock.unlock()
        }
        UnsafeMutableRawPointer(pointer).deallocate()
    }

    /// Frees every pooled buffer.
    public func drain() {
        lock.lock()
        for list in free.values { for p in list { UnsafeMutableRawPointer(p).deallocate() } }
        free.removeAll()
        heldBytes = 0
        lock.unlock()
    }
}

/// An n-dimensional array of `Float` values, row-major, with value semantics (copy-on-write).
///
/// A tensor may carry a node of the active ``GradientTape``: operations on tracked tensors are
/// recorded, and ``GradientTape/gradients(of:withRespectTo:)`` walks the records backwards.
/// Shapes follow the time-major convention of the library: `[T, N, C, H, W]` for frame sequences.
public struct Tensor: @unchecked Sendable {
    @usableFromInline var storage: TensorStorage
    /// The extent of each axis; `[]` is a scalar.
    public let shape: [Int]
    /// The node of this tensor on the tape that was recording when it was made, if any.
    @usableFromInline var node: TapeNode?

    /// Wraps existing storage. `storage.count` must equal the product of `shape`.
    @inlinable
    public init(storage: TensorStorage, shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        precondition(
            storage.count == shape.reduce(1, *),
            "Tensor: storage of \(storage.count) elements does not fit shape \(shape)")
        self.storage = storage
        self.shape = shape
        self.node = nil
    }

    /// A tensor of `shape` whose elements are not initialised; the caller must write every element.
    @inlinable
    public init(uninitializedShape shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        self.init(storage: TensorStorage(uninitializedCount: shape.reduce(1, *)), shape: shape)
    }

    /// A tensor of `shape` filled with `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(uninitializedShape: shape)
        storage.pointer.update(repeating: value, count: storage.count)
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) { self.init(repeating: 0, shape: shape) }

    /// A tensor of ones.
    public init(ones shape: [Int]) { self.init(repeating: 1, shape: shape) }

    /// A tensor holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        precondition(
            shape.reduce(1, *) == scalars.count,
            "Tensor(shape:scalars:): \(scalars.count) values do not fill shape \(shape)")
        self.init(uninitializedShape: shape)
        scalars.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: $0.count) }
    }

    /// A rank-0 tensor.
    public init(_ scalar: Float) { self.init(shape: [], scalars: [scalar]) }

    /// A rank-1 tensor.
    public init(_ scalars: [Float]) { self.init(shape: [scalars.count], scalars: scalars) }

    /// A tensor whose elements are `body(i)` for the row-major index i.
    public init(shape: [Int], generator body: (Int) -> Float) {
        self.init(uninitializedShape: shape)
        for i in 0..<storage.count { storage.pointer[i] = body(i) }
    }

    /// Number of elements.
    @inlinable public var count: Int { storage.count }
    /// Number of axes.
    @inlinable public var rank: Int { shape.count }
    /// The elements in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }
    /// The only element of a one-element tensor.
    public var item: Float {
        precondition(count == 1, "Tensor.item: tensor of shape \(shape) has \(count) elements, not 1")
        return storage.pointer[0]
    }
    /// Whether the active tape tracks this tensor.
    public var isTracked: Bool { node?.isLive ?? false }

    /// The same values without a tape node: gradients do not flow through the result.
    public var detached: Tensor {
        var copy = self
        copy.node = nil
        return copy
    }

    /// The element buffer, for kernels outside this module. Write only into a tensor the caller has
    /// just created and not yet shared; reading is always safe while the tensor lives.
    public var unsafeStoragePointer: UnsafeMutablePointer<Float> { storage.pointer }

    /// Calls `body` with the elements.
    @inlinable
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    /// Calls `body` with writable elements, copying the storage first if it is shared.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) || storage.isBlockedOrigin {
            let copy = TensorStorage(uninitializedCount: count)
            copy.pointer.update(from: storage.pointer, count: count)
            storage = copy
        }
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// Normalises a possibly negative axis index against `rank`.
    @inlinable
    public func normalizedAxis(_ axis: Int, function: String = #function) -> Int {
        let a = axis < 0 ? axis + rank : axis
        precondition(a >= 0 && a < rank, "\(function): axis \(axis) out of range for shape \(shape)")
        return a
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let preview = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", …" : "")])"
    }
}

extension Tensor {
    /// Whether both tensors have the same shape and every element differs by at most
    /// `absoluteTolerance + relativeTolerance * |other|`.
    public func isClose(
        to other: Tensor, relativeTolerance: Float = 1e-5,
        absoluteTolerance: Float = 1e-6
    ) -> Bool {
        guard shape == other.shape else { return false }
        for i in 0..<count {
            let a = storage.pointer[i], b = other.storage.pointer[i]
            if a.isNaN || b.isNaN { return false }
            if Swift.abs(a - b) > absoluteTolerance + relativeTolerance * Swift.abs(b) { return false }
        }
        return true
    }
}
