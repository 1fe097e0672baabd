import Foundation
import SNN
import SNNTestSupport
import Testing

/// The alignment measures and the loss of static-to-event transfer (METHODS.md §4) against
/// independent references: the test vector, direct double-precision sums, finite differences and
/// the closed form of ∂L/∂c_t.
@Suite struct TransferLossTests {
    static let x = Tensor(shape: [4, 2], scalars: [1, 0, 0, 1, 1, 1, 2, 0])
    static let y = Tensor(shape: [4, 2], scalars: [2, 1, 0, 1, 1, 3, 1, 0])

    /// Row-major [n, d] as rows of doubles.
    static func rows(_ t: Tensor) -> [[Double]] {
        let d = t.shape[1]
        return (0..<t.shape[0]).map { i in (0..<d).map { Double(t.scalars[i * d + $0]) } }
    }

    static func gram(_ a: [[Double]]) -> [[Double]] {
        a.map { u in a.map { v in zip(u, v).reduce(0) { $0 + $1.0 * $1.1 } } }
    }

    /// METHODS.md's recipe literally: K = X·Xᵀ, K̃ = K − row means − column means + grand mean.
    static func referenceCKA(_ x: Tensor, _ y: Tensor) -> Double {
        func centred(_ k: [[Double]]) -> [[Double]] {
            let n = k.count
            let row = k.map { $0.reduce(0, +) / Double(n) }
            let column = (0..<n).map { j in k.reduce(0) { $0 + $1[j] } / Double(n) }
            let grand = row.reduce(0, +) / Double(n)
            return (0..<n).map { i in (0..<n).map { j in k[i][j] - row[i] - column[j] + grand } }
        }
        let kx = centred(gram(rows(x))), ky = centred(gram(rows(y)))
        func dot(_ a: [[Double]], _ b: [[Double]]) -> Double {
            zip(a, b).reduce(0) { $0 + zip($1.0, $1.1).reduce(0) { $0 + $1.0 * $1.1 } }
        }
        return dot(kx, ky) / ((dot(kx, kx).squareRoot() * dot(ky, ky).squareRoot()) + 1e-7)
    }

    /// Song et al.'s unbiased HSIC on the uncentred Gram matrices, by explicit sums.
    static func referenceHSIC(_ kIn: [[Double]], _ lIn: [[Double]]) -> Double {
        let n = kIn.count
        var k = kIn, l = lIn
        for i in 0..<n { k[i][i] = 0; l[i][i] = 0 }
        var trace = 0.0, sumK = 0.0, sumL = 0.0, cross = 0.0
        for i in 0..<n {
            for j in 0..<n {
                trace += k[i][j] * l[j][i]
                sumK += k[i][j]
                sumL += l[i][j]
                for m in 0..<n { cross += k[i][j] * l[j][m] }
            }
        }
        let nn = Double(n)
        return (trace + sumK * sumL / ((nn - 1) * (nn - 2)) - 2 / (nn - 2) * cross) / (nn * (nn - 3))
    }

    @Test func linearCKATestVector() {
        let cka = DomainAlignment.linearCKA(Self.x, Self.y).item
        #expect(abs(cka - 0.385013) < 1e-5)
        #expect(abs(Double(cka) - Self.referenceCKA(Self.x, Self.y)) < 1e-5)
        #expect(abs(DomainAlignment.loss(.cka, Self.x, Self.y).item - (1 - 0.385013)) < 1e-5)
        // Features of different widths, as CKA allows.
        let a = randomTensor([6, 5], seed: 1), b = randomTensor([6, 3], seed: 2)
        #expect(abs(Double(DomainAlignment.linearCKA(a, b).item) - Self.referenceCKA(a, b)) < 1e-5)
    }

    @Test func linearCKAGradientMatchesFiniteDifferences() {
        let a = randomTensor([6, 5], seed: 3), b = randomTensor([6, 4], seed: 4)
        #expect(gradientError(at: [a, b], step: 1e-2) { DomainAlignment.linearCKA($0[0], $0[1]) } < 2e-3)
        #expect(gradientError(at: [a, b], step: 1e-2) { DomainAlignment.loss(.cka, $0[0], $0[1]) } < 2e-3)
    }

    @Test func unbiasedCKAMatchesDirectHSIC() {
        for (a, b) in [(Self.x, Self.y), (randomTensor([7, 5], seed: 5), randomTensor([7, 3], seed: 6) + 2)] {
            let k = Self.gram(Self.rows(a)), l = Self.gram(Self.rows(b))
            let expected = Self.referenceHSIC(k, l) / (Self.referenceHSIC(k, k) * Self.referenceHSIC(l, l)).squareRoot()
            let actual = DomainAlignment.unbiasedLinearCKA(a, b).item
            #expect(abs(Double(actual) - expected) < 1e-4, "unbiased CKA \(actual), direct HSIC \(expected)")
        }
        let a = randomTensor([7, 5], seed: 7), b = randomTensor([7, 4], seed: 8)
        #expect(gradientError(at: [a, b], step: 1e-2) { DomainAlignment.unbiasedLinearCKA($0[0], $0[1]) } < 2e-3)
        // Below 4 samples the estimator is undefined: no alignment signal.
        let three = (randomTensor([3, 2], seed: 9), randomTensor([3, 2], seed: 10))
        #expect(DomainAlignment.loss(.ckaUnbiased, three.0, three.1).item == 0)
    }

    @Test func biasedCKAOfUnrelatedFeaturesIsNearOneWhenFeaturesOutnumberTheBatch() {
        // METHODS.md's caution: with B ≪ D the biased form is ≈ 1/(1 + B/D) for unrelated features,
        // while the unbiased form stays near 0.
        let a = randomTensor([40, 2000], seed: 11), b = randomTensor([40, 2000], seed: 12)
        let biased = DomainAlignment.linearCKA(a, b).item, unbiased = DomainAlignment.unbiasedLinearCKA(a, b).item
        #expect(abs(biased - 1 / (1 + 40.0 / 2000)) < 0.01, "biased CKA \(biased)")
        #expect(abs(unbiased) < 0.1, "unbiased CKA \(unbiased)")
    }

    @Test func gaussianMMDMatchesDirectDoubleSum() {
        let a = randomTensor([5, 4], seed: 13), b = randomTensor([5, 4], seed: 14, scale: 2) + 0.5
        let xa = Self.rows(a), xb = Self.rows(b), z = xa + xb
        func squaredDistance(_ u: [Double], _ v: [Double]) -> Double {
            zip(u, v).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }
        }
        var total = 0.0
        for i in z.indices { for j in z.indices where i != j { total += squaredDistance(z[i], z[j]) } }
        let variance = total / Double(z.count * (z.count - 1))
        func mean(_ p: [[Double]], _ q: [[Double]]) -> Double {
            var s = 0.0
            for u in p { for v in q { s += Foundation.exp(-squaredDistance(u, v) / (2 * variance)) } }
            return s / Double(p.count * q.count)
        }
        let expected = mean(xa, xa) + mean(xb, xb) - 2 * mean(xa, xb)
        #expect(abs(Double(DomainAlignment.gaussianMMD(a, b).item) - expected) < 1e-5)
        #expect(abs(Double(DomainAlignment.loss(.mmd, a, b).item) - expected) < 1e-5)
        // σ² is held constant in the backward pass, so finite differences hold it too.
        #expect(
            gradientError(at: [a, b], step: 1e-2) {
                DomainAlignment.gaussianMMD($0[0], $0[1], variance: Float(variance))
            } < 2e-3)
    }

    /// The loss at logits `s`, `e` `[T, B, C]`, alignment `[T]` and c `[T]`, and its per-step parts.
    static func parts(_ e: Tensor, _ labels: [Int]) -> (ce: [Double], mse: [Double]) {
        let t = e.shape[0], b = e.shape[1], c = e.shape[2], v = e.scalars
        var ce = [Double](repeating: 0, count: t), mse = ce
        for step in 0..<t {
            for i in 0..<b {
                let row = (0..<c).map { Double(v[(step * b + i) * c + $0]) }
                let top = row.max()!
                let logSum = top + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - top) })
                ce[step] += (logSum - row[labels[i]]) / Double(b)
                mse[step] += row.reduce(0) { $0 + ($1 - 1) * ($1 - 1) } / Double(b * c)
            }
        }
        return (ce, mse)
    }

    @Test func stepWeightGradientMatchesClosedFormAndFiniteDifferences() {
        let t = 4, labels = [0, 2, 1]
        let s = randomTensor([t, 3, 3], seed: 21), e = randomTensor([t, 3, 3], seed: 22)
        let alignment = Tensor(shape: [t], scalars: [0.9, 0.4, 0.2, 0.7])
        let c = Tensor(shape: [t], scalars: [1, -0.5, 0.3, 2])
        func loss(_ c: Tensor) -> Tensor {
            staticToEventLoss(
                staticLogits: s, eventLogits: e, labels: labels, alignment: alignment,
                stepWeights: c.sigmoid())
        }
        let (_, gradient) = valueWithGradient(at: c, loss)
        // Closed form: σ′(c_t)/T·[0.5·L_DA[t] − (1−λ)·CE_t − λ·MSE_t].
        let (ce, mse) = Self.parts(e, labels)
        let lambda = Double(TransferOptions.lambda)
        let expected = (0..<t).map { k -> Float in
            let w = 1 / (1 + Foundation.exp(-Double(c.scalars[k])))
            let bracket = 0.5 * Double(alignment.scalars[k]) - (1 - lambda) * ce[k] - lambda * mse[k]
            return Float(w * (1 - w) / Double(t) * bracket)
        }
        #expect(relativeError(gradient, Tensor(shape: [t], scalars: expected)) < 1e-5)
        #expect(relativeError(gradient, numericalGradient(at: c, step: 1e-2, loss)) < 1e-3)
        // And the value: L_s + L_e + 0.5·L_KT from the same parts.
        let (ceS, mseS) = Self.parts(s, labels)
        var value = 0.0
        for k in 0..<t {
            let w = 1 / (1 + Foundation.exp(-Double(c.scalars[k])))
            value += ((1 - lambda) * ceS[k] + lambda * mseS[k]) / Double(t)
            value += (1 - w) * ((1 - lambda) * ce[k] + lambda * mse[k]) / Double(t)
            value += 0.5 * w * Double(alignment.scalars[k]) / Double(t)
        }
        #expect(abs(Double(loss(c).item) - value) < 1e-5)
    }
}
