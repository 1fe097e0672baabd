import Foundation

extension Tensor {
    /// Sum over one axis, keeping it with extent 1. Deterministic: the summation order depends only
    /// on the shape.
    func sumKeepingAxis(_ a: Int) -> Tensor {
        let outer = shape[..<a].reduce(1, *), n = shape[a], inner = shape[(a + 1)...].reduce(1, *)
        var outShape = shape
        outShape[a] = 1
        let out = Tensor(zeros: outShape)
        let pi = storage.pointer, po = out.storage.pointer
        if inner == 1 {
            Parallelism.forEachChunk(outer, grain: Swift.max(1, (1 << 15) / Swift.max(n, 1))) { r in
                for o in r {
                    let row = pi + o * n
                    // Eight partial sums: faster and more accurate than one running sum.
                    var acc = SIMD8<Float>()
                    var k = 0
                    while k + 8 <= n {
                        acc += loadLanes(row + k)
                        k += 8
                    }
                    var s = acc.sum()
                    while k < n { s += row[k]; k += 1 }
                    po[o] = s
                }
            }
        } else {
            Parallelism.forEachChunk(outer * inner, grain: 1 << 12) { r in
                // Chunks cover flat output indices; accumulate row by row for locality.
                var flat = r.lowerBound
                while flat < r.upperBound {
                    let o = flat / inner, i0 = flat % inner
                    let i1 = Swift.min(inner, i0 + (r.upperBound - flat))
                    let dst = po + o * inner
                    for k in 0..<n {
                        let src = pi + (o * n + k) * inner
                        for i in i0..<i1 { dst[i] += src[i] }
                    }
                    flat += i1 - i0
                }
            }
        }
        let shapeBefore = shape
        return Tensor(out, input: self) { g in g.broadcast(to: shapeBefore) }
    }

    /// Sum over `axes`; with `keepingDimensions` the reduced axes stay with extent 1.
    public func sum(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let normalized = Set(axes.map { normalizedAxis($0) }).sorted()
        var result = self
        for a in normalized { result = result.sumKeepingAxis(a) }
        if keepingDimensions { return result }
        return result.reshaped(to: shape.enumerated().filter { !normalized.contains($0.offset) }.map(\.element))
    }

    /// Sum over one axis.
    public func sum(alongAxis axis: Int, keepingDimensions: Bool = false) -> Tensor {
        sum(alongAxes: [axis], keepingDimensions: keepingDimensions)
    }

    /// Sum of all elements (a scalar).
    public func sum() -> Tensor {
        if rank == 0 { return self }
        return reshaped(to: [count]).sum(alongAxes: [0])
    }

    /// Mean over `axes`.
    public func mean(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let n = Set(axes.map { normalizedAxis($0) }).map { shape[$0] }.reduce(1, *)
        return sum(alongAxes: axes, keepingDimensions: keepingDimensions) / Float(Swift.max(n, 1))
    }

    /// Mean over one axis.
    public func mean(alongAxis axis: Int, keepingDimensions: Bool = false) -> Tensor {
        mean(alongAxes: [axis], keepingDimensions: keepingDimensions)
    }

    /// Mean of all elements.
    public func mean() -> Tensor { sum() / Float(Swift.max(count, 1)) }

    /// Variance over `axes`; `unbiased` divides by n − 1 instead of n.
    public func variance(alongAxes axes: [Int], keepingDimensions: Bool = false, unbiased: Bool = false) -> Tensor {
        let n = Set(axes.map { normalizedAxis($0) }).map { shape[$0] }.reduce(1, *)
        let centered = self - mean(alongAxes: axes, keepingDimensions: true)
        let ss = centered.squared().sum(alongAxes: axes, keepingDimensions: keepingDimensions)
        return ss / Float(Swift.max(unbiased ? n - 1 : n, 1))
    }

    /// Variance over one axis.
    public func variance(alongAxis axis: Int, keepingDimensions: Bool = false, unbiased: Bool = false) -> Tensor {
        variance(alongAxes: [axis], keepingDimensions: keepingDimensions, unbiased: unbiased)
    }

    /// Maximum over one axis and the index of the first maximum.
    func maxAndIndices(alongAxis a: Int) -> (values: Tensor, indices: [Int]) {
        let outer = shape[..<a].reduce(1, *), n = shape[a], inner = shape[(a + 1)...].reduce(1, *)
        precondition(n > 0, "max: axis \(a) of shape \(shape) is empty")
        var outShape = shape
        outShape[a] = 1
        let out = Tensor(uninitializedShape: outShape)
        var indices = [Int](repeating: 0, count: outer * inner)
        let pi = storage.pointer, po = out.storage.pointer
        indices.withUnsafeMutableBufferPointer { idx in
            for o in 0..<outer {
                for i in 0..<inner {
                    var best = pi[o * n * inner + i], arg = 0
                    for k in 1..<n {
                        let v = pi[(o * n + k) * inner + i]
                        if v > best || (v.isNaN && !best.isNaN) { best = v; arg = k }
                    }
                    po[o * inner + i] = best
                    idx[o * inner + i] = arg
                }
            }
        }
        return (out, indices)
    }

    /// Maximum along `axis`; the gradient goes to the first maximal element.
    public func max(alongAxis axis: Int, keepingDimensions: Bool = false) -> Tensor {
        let a = normalizedAxis(axis)
        let (values, indices) = maxAndIndices(alongAxis: a)
        let shapeBefore = shape
        let inner = shape[(a + 1)...].reduce(1, *), n = shape[a]
        let result = Tensor(values, input: self) { g in
            let dx = Tensor(zeros: shapeBefore)
            let pg = g.storage.pointer, pd = dx.storage.pointer
            for (j, k) in indices.enumerated() {
                let o = j / inner, i = j % inner
                pd[(o * n + k) * inner + i] = pg[j]
            }
            return dx
        }
        return keepingDimensions ? result : result.squeezingShape(at: a)
    }

    /// Maximum of all elements.
    public func max() -> Tensor { reshaped(to: [count]).max(alongAxis: 0) }

    /// Index of the first maximum along `axis` (as integers; no gradient).
    public func argmax(alongAxis axis: Int) -> [Int] {
        maxAndIndices(alongAxis: normalizedAxis(axis)).indices
    }

    /// log(softmax(x)) along `axis`, computed stably.
    public func logSoftmax(alongAxis axis: Int = -1) -> Tensor {
        let a = normalizedAxis(axis)
        let m = detached.max(alongAxis: a, keepingDimensions: true)
        let shifted = detached - m
        let lse = shifted.exp().sum(alongAxis: a, keepingDimensions: true).log()
        let y = shifted - lse
        return Tensor(y, input: self) { g in
            // d/dx = g − softmax · Σ g
            let sm = y.exp()
            return g - sm * g.sum(alongAxis: a, keepingDimensions: true)
        }
    }

    /// softmax along `axis`.
    public func softmax(alongAxis axis: Int = -1) -> Tensor { logSoftmax(alongAxis: axis).exp() }
}
