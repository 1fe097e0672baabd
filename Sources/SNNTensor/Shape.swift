import Foundation

// MARK: - Views and layout

extension Tensor {
    /// The same elements with another shape; one dimension may be -1 (inferred). No copy.
    public func reshaped(to newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let inferred = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != inferred }.map(\.element).reduce(1, *)
            precondition(
                known > 0 && count % known == 0,
                "reshaped(to:): cannot infer -1 in \(newShape) for \(count) elements (shape \(shape))")
            resolved[inferred] = count / known
        }
        precondition(
            resolved.reduce(1, *) == count && resolved.allSatisfy { $0 >= 0 },
            "reshaped(to:): shape \(newShape) does not hold the \(count) elements of \(shape)")
        if resolved == shape { return self }
        let shapeBefore = shape
        return Tensor(Tensor(storage: storage, shape: resolved), input: self) { g in g.reshaped(to: shapeBefore) }
    }

    /// Collapses axes `startAxis...endAxis` into one.
    public func flattened(startAxis: Int = 0, endAxis: Int = -1) -> Tensor {
        if rank == 0 { return reshaped(to: [1]) }
        let s = normalizedAxis(startAxis), e = normalizedAxis(endAxis)
        precondition(s <= e, "flattened: startAxis \(startAxis) after endAxis \(endAxis) for shape \(shape)")
        let merged = shape[s...e].reduce(1, *)
        return reshaped(to: Array(shape[..<s]) + [merged] + Array(shape[(e + 1)...]))
    }

    /// Inserts an axis of extent 1 at `axis`.
    public func expandingShape(at axis: Int) -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        precondition(a >= 0 && a <= rank, "expandingShape(at:): axis \(axis) out of range for shape \(shape)")
        var s = shape
        s.insert(1, at: a)
        return reshaped(to: s)
    }

    /// Removes an axis of extent 1.
    public func squeezingShape(at axis: Int) -> Tensor {
        let a = normalizedAxis(axis)
        precondition(shape[a] == 1, "squeezingShape(at:): axis \(axis) of shape \(shape) is not 1")
        var s = shape
        s.remove(at: a)
        return reshaped(to: s)
    }

    /// Reorders the axes: axis i of the result is axis `permutation[i]` of `self`.
    public func permuted(_ permutation: [Int]) -> Tensor {
        precondition(
            permutation.count == rank && Set(permutation) == Set(0..<rank),
            "permuted: \(permutation) is not a permutation of the axes of \(shape)")
        if permutation == Array(0..<rank) { return self }
        let out = Tensor(uninitializedShape: permutation.map { shape[$0] })
        var inStrides = [Int](repeating: 1, count: rank)
        for i in stride(from: rank - 2, through: 0, by: -1) { inStrides[i] = inStrides[i + 1] * shape[i + 1] }
        let strides = permutation.map { inStrides[$0] }
        let outShape = out.shape
        let n = outShape[rank - 1], rows = count / Swift.max(n, 1), inner = strides[rank - 1]
        let pi = storage.pointer, po = out.storage.pointer
        Parallelism.forEachChunk(rows, grain: Swift.max(1, 8192 / Swift.max(n, 1))) { range in
            for row in range {
                var rem = row, offset = 0
                for d in stride(from: rank - 2, through: 0, by: -1) {
                    offset += (rem % outShape[d]) * strides[d]
                    rem /= outShape[d]
                }
                let o = po + row * n
                for j in 0..<n { o[j] = pi[offset + j * inner] }
            }
        }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in permutation.enumerated() { inverse[p] = i }
        return Tensor(out, input: self) { g in g.permuted(inverse) }
    }

    /// Swaps two axes (by default the last two).
    public func transposed(_ axis0: Int = -2, _ axis1: Int = -1) -> Tensor {
        var p = Array(0..<rank)
        p.swapAt(normalizedAxis(axis0), normalizedAxis(axis1))
        return permuted(p)
    }

    /// Materialises a broadcast to `newShape` (NumPy rules). Its pullback sums back.
    public func broadcast(to newShape: [Int]) -> Tensor {
        if newShape == shape { return self }
        precondition(
            Tensor.broadcastShape(shape, newShape) == newShape,
            "broadcast(to:): shape \(shape) does not broadcast to \(newShape)")
        let out = broadcastBinary(Tensor(zeros: newShape), self.detached) { _, x in x }
        let shapeBefore = shape
        return Tensor(out, input: self) { g in g.sum(toShape: shapeBefore) }
    }

    /// Elements `range` along `axis` (a copy).
    public func slice(_ range: Range<Int>, alongAxis axis: Int = 0) -> Tensor {
        let a = normalizedAxis(axis)
        precondition(
            range.lowerBound >= 0 && range.upperBound <= shape[a],
            "slice: range \(range) out of bounds for axis \(axis) of shape \(shape)")
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *), n = shape[a]
        var outShape = shape
        outShape[a] = range.count
        let out = Tensor(uninitializedShape: outShape)
        let pi = storage.pointer, po = out.storage.pointer, len = range.count * inner
        for o in 0..<outer {
            (po + o * len).update(from: pi + (o * n + range.lowerBound) * inner, count: len)
        }
        let shapeBefore = shape
        return Tensor(out, input: self) { g in
            g.padded(alongAxis: a, before: range.lowerBound, after: shapeBefore[a] - range.upperBound)
        }
    }

    /// Index `index` of `axis`, with that axis removed.
    public func selecting(_ index: Int, alongAxis axis: Int = 0) -> Tensor {
        slice(index..<(index + 1), alongAxis: axis).squeezingShape(at: axis)
    }

    /// Zero padding of one axis.
    public func padded(alongAxis axis: Int, before: Int, after: Int, value: Float = 0) -> Tensor {
        let a = normalizedAxis(axis)
        precondition(before >= 0 && after >= 0, "padded: negative padding \(before), \(after)")
        let outer = shape[..<a].reduce(1, *), inner = shape[(a + 1)...].reduce(1, *), n = shape[a]
        var outShape = shape
        outShape[a] = n + before + after
        let out = Tensor(repeating: value, shape: outShape)
        let pi = storage.pointer, po = out.storage.pointer
        for o in 0..<outer {
            (po + (o * outShape[a] + before) * inner).update(from: pi + o * n * inner, count: n * inner)
        }
        return Tensor(out, input: self) { g in g.slice(before..<(before + n), alongAxis: a) }
    }

    /// Constant padding of several trailing axes: `padding[i]` = (before, after) for axis
    /// `rank − padding.count + i`.
    public func padded(_ padding: [(before: Int, after: Int)], value: Float = 0) -> Tensor {
        precondition(padding.count <= rank, "padded: \(padding.count) paddings for shape \(shape)")
        var result = self
        for (i, p) in padding.enumerated() where p.before != 0 || p.after != 0 {
            result = result.padded(alongAxis: rank - padding.count + i, before: p.before, after: p.after, value: value)
        }
        return result
    }

    /// Joins tensors along `axis`; all other extents must agree.
    public static func concatenate(_ tensors: [Tensor], alongAxis axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "concatenate: no tensors")
        let first = tensors[0], a = first.normalizedAxis(axis)
        for t in tensors {
            precondition(
                t.rank == first.rank && (0..<first.rank).allSatisfy { $0 == a || t.shape[$0] == first.shape[$0] },
                "concatenate: shapes \(tensors.map(\.shape)) differ off axis \(axis)")
        }
        let outer = first.shape[..<a].reduce(1, *), inner = first.shape[(a + 1)...].reduce(1, *)
        let extents = tensors.map { $0.shape[a] }, total = extents.reduce(0, +)
        var outShape = first.shape
        outShape[a] = total
        let out = Tensor(uninitializedShape: outShape)
        let po = out.storage.pointer
        var start = 0
        for (t, n) in zip(tensors, extents) {
            let pi = t.storage.pointer
            for o in 0..<outer {
                (po + (o * total + start) * inner).update(from: pi + o * n * inner, count: n * inner)
            }
            start += n
        }
        return Tensor(out, inputs: tensors) { g, needs in
            var offset = 0
            return extents.enumerated().map { k, n in
                defer { offset += n }
                return needs[k] ? g.slice(offset..<(offset + n), alongAxis: a) : nil
            }
        }
    }

    /// Stacks equally shaped tensors along a new axis.
    public static func stack(_ tensors: [Tensor], alongAxis axis: Int = 0) -> Tensor {
        precondition(!tensors.isEmpty, "stack: no tensors")
        return concatenate(tensors.map { $0.expandingShape(at: axis) }, alongAxis: axis)
    }

    /// Repeats the tensor `times` along a new leading axis (e.g. direct encoding over T steps).
    public func repeated(_ times: Int) -> Tensor {
        expandingShape(at: 0).broadcast(to: [times] + shape)
    }
}
