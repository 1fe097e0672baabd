import Foundation
import SNN

/// Central finite differences of a scalar-valued function, in double precision where it matters.
///
/// `f` is evaluated at `x ± h·e_i` for every element i; the result is (f(x+h) − f(x−h)) / 2h.
public func numericalGradient(at x: Tensor, step h: Float = 1e-2, _ f: (Tensor) -> Tensor) -> Tensor {
    var grad = [Float](repeating: 0, count: x.count)
    let base = x.scalars
    for i in 0..<x.count {
        var plus = base, minus = base
        plus[i] += h
        minus[i] -= h
        let fp = Double(f(Tensor(shape: x.shape, scalars: plus)).sum().item)
        let fm = Double(f(Tensor(shape: x.shape, scalars: minus)).sum().item)
        grad[i] = Float((fp - fm) / (2 * Double(h)))
    }
    return Tensor(shape: x.shape, scalars: grad)
}

/// The largest elementwise difference between two tensors of the same shape, relative to the
/// largest magnitude in `reference` (at least 1).
public func relativeError(_ actual: Tensor, _ reference: Tensor) -> Float {
    precondition(actual.shape == reference.shape, "relativeError: shapes \(actual.shape) and \(reference.shape) differ")
    let a = actual.scalars, r = reference.scalars
    var worst: Float = 0, scale: Float = 1
    for i in 0..<a.count {
        worst = max(worst, abs(a[i] - r[i]))
        scale = max(scale, abs(r[i]))
    }
    return worst / scale
}

/// Checks the tape gradient of `sum(f(x) * w)` (w fixed random weights, so every output element
/// matters differently) against central finite differences, for each input of `f`.
/// Returns the worst relative error over all inputs.
public func gradientError(
    at inputs: [Tensor], seed: UInt64 = 7, step: Float = 1e-2,
    _ f: @escaping ([Tensor]) -> Tensor
) -> Float {
    var rng = RandomGenerator(seed: seed)
    let probe = f(inputs)
    let weights = Tensor.randomNormal(probe.shape, using: &rng)
    let objective: ([Tensor]) -> Tensor = { (f($0) * weights).sum() }
    let (_, analytic) = valueWithGradient(at: inputs, objective)
    var worst: Float = 0
    for k in inputs.indices {
        let numeric = numericalGradient(at: inputs[k], step: step) { xk in
            var xs = inputs
            xs[k] = xk
            return objective(xs)
        }
        worst = max(worst, relativeError(analytic[k], numeric))
    }
    return worst
}

/// A seeded random tensor for tests.
public func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    return Tensor.randomNormal(shape, standardDeviation: scale, using: &rng)
}

/// Random values at least `margin` away from zero (finite differences are wrong across kinks).
public func randomTensorAwayFromZero(_ shape: [Int], seed: UInt64, margin: Float = 0.1) -> Tensor {
    let r = randomTensor(shape, seed: seed).scalars
    return Tensor(shape: shape, scalars: r.map { $0 >= 0 ? $0 + margin : $0 - margin })
}

/// Distinct values spaced `spacing` apart in random order (no near-ties for max-type operations).
public func distinctTensor(_ shape: [Int], seed: UInt64, spacing: Float = 0.1) -> Tensor {
    var rng = RandomGenerator(seed: seed)
    let n = shape.reduce(1, *)
    let p = rng.permutation(n)
    return Tensor(shape: shape, scalars: p.map { (Float($0) - Float(n) / 2) * spacing })
}

/// Naive 7-loop 2-D convolution in double precision: the independent reference for conv kernels.
public func naiveConv2d(
    _ x: Tensor, _ w: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int),
    dilation: (Int, Int), groups: Int
) -> Tensor {
    let (n, c, h, wd) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (o, kh, kw) = (w.shape[0], w.shape[2], w.shape[3])
    let oh = (h + 2 * padding.0 - dilation.0 * (kh - 1) - 1) / stride.0 + 1
    let ow = (wd + 2 * padding.1 - dilation.1 * (kw - 1) - 1) / stride.1 + 1
    let cg = c / groups, og = o / groups
    let xs = x.scalars, ws = w.scalars, bs = bias?.scalars
    var out = [Float](repeating: 0, count: n * o * oh * ow)
    for b in 0..<n {
        for oc in 0..<o {
            let g = oc / og
            for y in 0..<oh {
                for xo in 0..<ow {
                    var s = Double(bs?[oc] ?? 0)
                    for ci in 0..<cg {
                        for dy in 0..<kh {
                            let iy = y * stride.0 - padding.0 + dy * dilation.0
                            if iy < 0 || iy >= h { continue }
                            for dx in 0..<kw {
                                let ix = xo * stride.1 - padding.1 + dx * dilation.1
                                if ix < 0 || ix >= wd { continue }
                                s +=
                                    Double(xs[((b * c + g * cg + ci) * h + iy) * wd + ix])
                                    * Double(ws[((oc * cg + ci) * kh + dy) * kw + dx])
                            }
                        }
                    }
                    out[((b * o + oc) * oh + y) * ow + xo] = Float(s)
                }
            }
        }
    }
    return Tensor(shape: [n, o, oh, ow], scalars: out)
}

/// Naive matrix product in double precision.
public func naiveMatmul(_ a: Tensor, _ b: Tensor) -> Tensor {
    let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
    let av = a.scalars, bv = b.scalars
    var out = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var s = 0.0
            for p in 0..<k { s += Double(av[i * k + p]) * Double(bv[p * n + j]) }
            out[i * n + j] = Float(s)
        }
    }
    return Tensor(shape: [m, n], scalars: out)
}
