import Foundation

// MARK: - Broadcasting

extension Tensor {
    /// The shape two shapes broadcast to (NumPy rules: align trailing axes; 1 stretches).
    public static func broadcastShape(_ a: [Int], _ b: [Int]) -> [Int] {
        let rank = Swift.max(a.count, b.count)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            precondition(da == db || da == 1 || db == 1, "broadcast: shapes \(a) and \(b) are incompatible")
            out[i] = da == 1 ? db : da
        }
        return out
    }

    /// Row-major strides of `shape` aligned to `target`, with 0 on broadcast axes.
    static func broadcastStrides(_ shape: [Int], to target: [Int]) -> [Int] {
        var strides = [Int](repeating: 0, count: target.count)
        var running = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
            let t = i + target.count - shape.count
            strides[t] = shape[i] == 1 ? 0 : running
            running *= shape[i]
        }
        return strides
    }
}

/// Merges adjacent axes that both operands traverse contiguously (or both broadcast), so that the
/// innermost loop is as long as possible: [N, C, H, W] against [1, C, 1, 1] becomes [N, C, H·W].
func coalescedBroadcast(_ shape: [Int], _ sa: [Int], _ sb: [Int]) -> ([Int], [Int], [Int]) {
    var dims: [Int] = [], a: [Int] = [], b: [Int] = []
    for i in 0..<shape.count where shape[i] != 1 || i == shape.count - 1 {
        if let last = dims.last, a.last! == sa[i] * shape[i], b.last! == sb[i] * shape[i] {
            dims[dims.count - 1] = last * shape[i]
            a[a.count - 1] = sa[i]
            b[b.count - 1] = sb[i]
        } else {
            dims.append(shape[i])
            a.append(sa[i])
            b.append(sb[i])
        }
    }
    if dims.isEmpty { return ([1], [0], [0]) }
    return (dims, a, b)
}

/// out[i] = op(a[i'], b[i'']) with broadcasting; chunked over both cores for large outputs.
@inline(__always)
func broadcastBinary(_ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
    let pa = a.storage.pointer, pb = b.storage.pointer
    if a.shape == b.shape {
        let out = Tensor(uninitializedShape: a.shape)
        let po = out.storage.pointer
        Parallelism.forEachChunk(a.count) { r in for i in r { po[i] = op(pa[i], pb[i]) } }
        return out
    }
    let shape = Tensor.broadcastShape(a.shape, b.shape)
    let out = Tensor(uninitializedShape: shape)
    let po = out.storage.pointer
    if b.count == 1 && shape == a.shape {
        let s = pb[0]
        Parallelism.forEachChunk(a.count) { r in for i in r { po[i] = op(pa[i], s) } }
        return out
    }
    if a.count == 1 && shape == b.shape {
        let s = pa[0]
        Parallelism.forEachChunk(b.count) { r in for i in r { po[i] = op(s, pb[i]) } }
        return out
    }
    let (dims, sa, sb) = coalescedBroadcast(
        shape, Tensor.broadcastStrides(a.shape, to: shape),
        Tensor.broadcastStrides(b.shape, to: shape))
    let rank = dims.count
    let n = dims[rank - 1], rows = out.count / Swift.max(n, 1)
    let ia = sa[rank - 1], ib = sb[rank - 1]
    Parallelism.forEachChunk(rows, grain: Swift.max(1, (1 << 15) / Swift.max(n, 1))) { range in
        for row in range {
            var rem = row, oa = 0, ob = 0
            for d in stride(from: rank - 2, through: 0, by: -1) {
                let q = rem % dims[d]
                rem /= dims[d]
                oa += q * sa[d]
                ob += q * sb[d]
            }
            let o = po + row * n, xa = pa + oa, xb = pb + ob
            if ia == 1 && ib == 0 {
                let v = xb[0]
                for j in 0..<n { o[j] = op(xa[j], v) }
            } else if ia == 0 && ib == 1 {
                let v = xa[0]
                for j in 0..<n { o[j] = op(v, xb[j]) }
            } else if ia == 1 && ib == 1 {
                for j in 0..<n { o[j] = op(xa[j], xb[j]) }
            } else {
                for j in 0..<n { o[j] = op(xa[j * ia], xb[j * ib]) }
            }
        }
    }
    return out
}

extension Tensor {
    /// Elementwise `op` over one tensor. The result is not tracked: no gradient flows through it.
    @inline(__always)
    public func map(_ op: (Float) -> Float) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let pi = storage.pointer, po = out.storage.pointer
        Parallelism.forEachChunk(count) { r in for i in r { po[i] = op(pi[i]) } }
        return out
    }

    /// Elementwise `op` over two tensors of the same shape. The result is not tracked.
    @inline(__always)
    public func zipMap(_ other: Tensor, _ op: (Float, Float) -> Float) -> Tensor {
        precondition(shape == other.shape, "zipMap: shapes \(shape) and \(other.shape) differ")
        return broadcastBinary(self, other, op)
    }

    /// Sums `self` down to `target`, undoing a broadcast (used by pullbacks).
    public func sum(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(target.count <= rank, "sum(toShape:): cannot reduce \(shape) to \(target)")
        let padded = [Int](repeating: 1, count: rank - target.count) + target
        var axes: [Int] = []
        for i in 0..<rank where padded[i] == 1 && shape[i] != 1 { axes.append(i) }
        precondition(
            zip(padded, shape).allSatisfy { $0 == $1 || $0 == 1 },
            "sum(toShape:): \(shape) does not broadcast from \(target)")
        return sum(alongAxes: axes, keepingDimensions: true).reshaped(to: target)
    }
}

// MARK: - Arithmetic

extension Tensor {
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        Tensor(broadcastBinary(a, b, +), inputs: [a, b]) { g, needs in
            [needs[0] ? g.sum(toShape: a.shape) : nil, needs[1] ? g.sum(toShape: b.shape) : nil]
        }
    }

    public static func - (a: Tensor, b: Tensor) -> Tensor {
        Tensor(broadcastBinary(a, b, -), inputs: [a, b]) { g, needs in
            [needs[0] ? g.sum(toShape: a.shape) : nil, needs[1] ? (-g).sum(toShape: b.shape) : nil]
        }
    }

    public static func * (a: Tensor, b: Tensor) -> Tensor {
        Tensor(broadcastBinary(a, b, *), inputs: [a, b]) { g, needs in
            [needs[0] ? (g * b).sum(toShape: a.shape) : nil, needs[1] ? (g * a).sum(toShape: b.shape) : nil]
        }
    }

    public static func / (a: Tensor, b: Tensor) -> Tensor {
        Tensor(broadcastBinary(a, b, /), inputs: [a, b]) { g, needs in
            [
                needs[0] ? (g / b).sum(toShape: a.shape) : nil,
                needs[1] ? (-(g * a) / (b * b)).sum(toShape: b.shape) : nil,
            ]
        }
    }

    public static prefix func - (a: Tensor) -> Tensor {
        Tensor(a.map { -$0 }, input: a) { g in -g }
    }

    public static func + (a: Tensor, b: Float) -> Tensor { a + Tensor(b) }
    public static func - (a: Tensor, b: Float) -> Tensor { a - Tensor(b) }
    public static func * (a: Tensor, b: Float) -> Tensor { a * Tensor(b) }
    public static func / (a: Tensor, b: Float) -> Tensor { a * Tensor(1 / b) }
    public static func + (a: Float, b: Tensor) -> Tensor { Tensor(a) + b }
    public static func - (a: Float, b: Tensor) -> Tensor { Tensor(a) - b }
    public static func * (a: Float, b: Tensor) -> Tensor { Tensor(a) * b }
    public static func / (a: Float, b: Tensor) -> Tensor { Tensor(a) / b }

    public static func += (a: inout Tensor, b: Tensor) { a = a + b }
    public static func -= (a: inout Tensor, b: Tensor) { a = a - b }
    public static func *= (a: inout Tensor, b: Tensor) { a = a * b }
}

// MARK: - Math

extension Tensor {
    /// e^x.
    public func exp() -> Tensor {
        let y = map { Foundation.exp($0) }
        return Tensor(y, input: self) { g in g * y }
    }

    /// Natural logarithm.
    public func log() -> Tensor {
        Tensor(map { Foundation.log($0) }, input: self) { [self] g in g / self }
    }

    /// Square root.
    public func sqrt() -> Tensor {
        let y = map { $0.squareRoot() }
        return Tensor(y, input: self) { g in g.zipMap(y) { g, y in 0.5 * g / y } }
    }

    /// x².
    public func squared() -> Tensor {
        Tensor(map { $0 * $0 }, input: self) { [self] g in g.zipMap(self) { g, x in 2 * g * x } }
    }

    /// x raised to a constant power.
    public func pow(_ exponent: Float) -> Tensor {
        Tensor(map { Foundation.pow($0, exponent) }, input: self) { [self] g in
            g.zipMap(self) { g, x in g * exponent * Foundation.pow(x, exponent - 1) }
        }
    }

    /// Hyperbolic tangent.
    public func tanh() -> Tensor {
        let y = map { Foundation.tanh($0) }
        return Tensor(y, input: self) { g in g.zipMap(y) { g, y in g * (1 - y * y) } }
    }

    /// Logistic sigmoid 1 / (1 + e^−x).
    public func sigmoid() -> Tensor {
        let y = map { 1 / (1 + Foundation.exp(-$0)) }
        return Tensor(y, input: self) { g in g.zipMap(y) { g, y in g * y * (1 - y) } }
    }

    /// max(x, 0); the derivative at 0 is 0, as in PyTorch.
    public func relu() -> Tensor {
        Tensor(map { Swift.max($0, 0) }, input: self) { [self] g in g.zipMap(self) { g, x in x > 0 ? g : 0 } }
    }

    /// |x|; the derivative at 0 is 0.
    public func abs() -> Tensor {
        Tensor(map { Swift.abs($0) }, input: self) { [self] g in
            g.zipMap(self) { g, x in x > 0 ? g : (x < 0 ? -g : 0) }
        }
    }

    /// Limits every element to `min...max`; the gradient passes where `min ≤ x ≤ max`, as in PyTorch.
    public func clamped(min lower: Float = -.infinity, max upper: Float = .infinity) -> Tensor {
        precondition(lower <= upper, "clamped: min \(lower) exceeds max \(upper)")
        return Tensor(map { Swift.min(Swift.max($0, lower), upper) }, input: self) { [self] g in
            g.zipMap(self) { g, x in (x >= lower && x <= upper) ? g : 0 }
        }
    }

    /// GELU with the exact (erf) form.
    public func gelu() -> Tensor {
        let y = map { 0.5 * $0 * (1 + erff($0 / Float(2).squareRoot())) }
        return Tensor(y, input: self) { [self] g in
            g.zipMap(self) { g, x in
                let cdf = 0.5 * (1 + erff(x / Float(2).squareRoot()))
                let pdf = Foundation.exp(-0.5 * x * x) / Float(2 * Float.pi).squareRoot()
                return g * (cdf + x * pdf)
            }
        }
    }

    /// max(x, slope·x).
    public func leakyRelu(negativeSlope: Float = 0.01) -> Tensor {
        Tensor(map { $0 > 0 ? $0 : negativeSlope * $0 }, input: self) { [self] g in
            g.zipMap(self) { g, x in x > 0 ? g : negativeSlope * g }
        }
    }
}

// MARK: - Comparison and selection (no gradients through the condition)

extension Tensor {
    /// 1 where a > b, else 0 (broadcasting).
    public static func .> (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b) { $0 > $1 ? 1 : 0 } }
    /// 1 where a ≥ b, else 0.
    public static func .>= (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b) { $0 >= $1 ? 1 : 0 } }
    /// 1 where a < b, else 0.
    public static func .< (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b) { $0 < $1 ? 1 : 0 } }
    /// 1 where a ≤ b, else 0.
    public static func .<= (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b) { $0 <= $1 ? 1 : 0 } }
    /// 1 where a == b, else 0.
    public static func .== (a: Tensor, b: Tensor) -> Tensor { broadcastBinary(a, b) { $0 == $1 ? 1 : 0 } }
    public static func .> (a: Tensor, b: Float) -> Tensor { a .> Tensor(b) }
    public static func .>= (a: Tensor, b: Float) -> Tensor { a .>= Tensor(b) }
    public static func .< (a: Tensor, b: Float) -> Tensor { a .< Tensor(b) }
    public static func .<= (a: Tensor, b: Float) -> Tensor { a .<= Tensor(b) }

    /// Elementwise `condition ? a : b`, where `condition` is nonzero for true; all three broadcast.
    /// Gradients flow to `a` where the condition holds and to `b` elsewhere.
    public static func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        let shape = broadcastShape(broadcastShape(condition.shape, a.shape), b.shape)
        let c = condition.detached.broadcast(to: shape).detached
        let ea = a.detached.broadcast(to: shape), eb = b.detached.broadcast(to: shape)
        let out = Tensor(uninitializedShape: shape)
        let pc = c.storage.pointer, pa = ea.storage.pointer, pb = eb.storage.pointer, po = out.storage.pointer
        Parallelism.forEachChunk(out.count) { r in for i in r { po[i] = pc[i] != 0 ? pa[i] : pb[i] } }
        return Tensor(out, inputs: [a, b]) { g, needs in
            [
                needs[0] ? g.zipMap(c) { g, c in c != 0 ? g : 0 }.sum(toShape: a.shape) : nil,
                needs[1] ? g.zipMap(c) { g, c in c != 0 ? 0 : g }.sum(toShape: b.shape) : nil,
            ]
        }
    }

    /// Elementwise maximum of two tensors (ties send the gradient to `a`).
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor { select(a .>= b, a, b) }
    /// Elementwise minimum of two tensors (ties send the gradient to `a`).
    public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor { select(a .<= b, a, b) }
}
