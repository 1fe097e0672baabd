import SNNTensor

/// How the transfer loss measures the distance between static and event features (METHODS.md §4).
public enum AlignmentMeasure: String, Sendable, CaseIterable {
    /// 1 − |linear CKA| (the released code's choice).
    case cka
    /// 1 − |CKA| with the unbiased HSIC estimator (Song et al. 2012): unlike the biased form, it is
    /// near 0 for unrelated features when the batch is much smaller than the feature count.
    case ckaUnbiased = "cka-unbiased"
    /// The squared maximum mean discrepancy with a Gaussian kernel.
    case mmd
}

/// The domain-alignment measures of static-to-event transfer on feature batches `[B, D]`, built from
/// differentiable tensor operations (their gradients come from the tape).
///
/// Linear CKA (biased, METHODS.md §4): with K = X·Xᵀ and its doubly centred K̃,
/// `CKA(X, Y) = ⟨K̃_X, K̃_Y⟩_F / (‖K̃_X‖_F·‖K̃_Y‖_F + 1e−7)`. K̃ is computed as X_c·X_cᵀ with X_c = X minus
/// its mean over the batch, which equals K − row means − column means + grand mean.
///
/// Unbiased CKA replaces ⟨K̃_X, K̃_Y⟩ by the unbiased HSIC estimator: with K and L the Gram matrices
/// with zeroed diagonals, `HSIC₁ = [tr(KL) + 1ᵀK1·1ᵀL1/((n−1)(n−2)) − 2/(n−2)·1ᵀKL1] / (n(n−3))`, and
/// `CKA₁ = HSIC₁(K, L) / (√(max(HSIC₁(K, K)·HSIC₁(L, L), 0)) + 1e−7)`. The features are centred first
/// (as in Kornblith et al.'s reference code; the estimator does not change, its rounding improves).
///
/// Gaussian MMD: `MMD² = mean k(x, x′) + mean k(y, y′) − 2·mean k(x, y)` over all pairs (diagonals
/// included), `k(a, b) = exp(−‖a − b‖² / (2σ²))`, σ² the mean squared distance between distinct
/// points of the pooled batch, held constant in the backward pass (a fixed σ would saturate at the
/// thousands of features of a conv layer).
public enum DomainAlignment {
    /// Linear CKA of `x` and `y` (`[B, D]` and `[B, D′]`), a scalar tensor.
    public static func linearCKA(_ x: Tensor, _ y: Tensor) -> Tensor {
        checkBatches(x, y)
        let kx = centredGram(x), ky = centredGram(y)
        return (kx * ky).sum() / (norm(kx) * norm(ky) + 1e-7)
    }

    /// Linear CKA with the unbiased HSIC estimator; needs at least 4 samples.
    public static func unbiasedLinearCKA(_ x: Tensor, _ y: Tensor) -> Tensor {
        checkBatches(x, y)
        let n = x.shape[0]
        precondition(n >= 4, "unbiased CKA needs at least 4 samples, got \(n)")
        let offDiagonal = Tensor(shape: [n, n], scalars: (0..<(n * n)).map { $0 % (n + 1) == 0 ? 0 : 1 })
        let k = gram(centred(x)) * offDiagonal, l = gram(centred(y)) * offDiagonal
        let hxy = unbiasedHSIC(k, l, n), hxx = unbiasedHSIC(k, k, n), hyy = unbiasedHSIC(l, l, n)
        return hxy / (((hxx * hyy).clamped(min: 0) + tiny).sqrt() + 1e-7)
    }

    /// HSIC₁ of two Gram matrices with zeroed diagonals.
    static func unbiasedHSIC(_ k: Tensor, _ l: Tensor, _ n: Int) -> Tensor {
        let trace = (k * l).sum()  // tr(KL) for symmetric K, L
        let sums = k.sum() * l.sum() * (1 / Float((n - 1) * (n - 2)))
        let cross = (k.sum(alongAxis: 1) * l.sum(alongAxis: 1)).sum() * (2 / Float(n - 2))
        return (trace + sums - cross) * (1 / Float(n * (n - 3)))
    }

    /// MMD² with a Gaussian kernel between `x` and `y` (`[B, D]` each), a scalar tensor; `variance`
    /// is σ² (nil: ``gaussianBandwidth(_:)`` of this batch).
    public static func gaussianMMD(_ x: Tensor, _ y: Tensor, variance fixedVariance: Float? = nil) -> Tensor {
        checkBatches(x, y)
        precondition(x.shape == y.shape, "MMD: features must have the same shape, got \(x.shape) and \(y.shape)")
        let n = x.shape[0]
        let z = Tensor.concatenate([x, y], alongAxis: 0)
        let squaredNorms = z.squared().sum(alongAxis: 1)
        let distances =
            (squaredNorms.reshaped(to: [2 * n, 1]) + squaredNorms.reshaped(to: [1, 2 * n])
            - Tensor.matmul(z, z, transposeB: true) * 2).clamped(min: 0)
        let variance = fixedVariance ?? gaussianBandwidth(distances.detached)
        let kernel = (distances * (-1 / (2 * variance))).exp()
        let xx = kernel.slice(0..<n, alongAxis: 0).slice(0..<n, alongAxis: 1).mean()
        let yy = kernel.slice(n..<(2 * n), alongAxis: 0).slice(n..<(2 * n), alongAxis: 1).mean()
        let xy = kernel.slice(0..<n, alongAxis: 0).slice(n..<(2 * n), alongAxis: 1).mean()
        return xx + yy - xy * 2
    }

    /// σ² of the MMD kernel: the mean squared distance between distinct points (1 when they all coincide).
    public static func gaussianBandwidth(_ squaredDistances: Tensor) -> Float {
        let m = squaredDistances.shape[0]
        guard m > 1 else { return 1 }
        let mean = squaredDistances.sum().item / Float(m * (m - 1))  // the diagonal is 0
        return mean > 0 && mean.isFinite ? mean : 1
    }

    /// The alignment loss L_DA of one step: 1 − |CKA| or MMD². The unbiased CKA is not defined below
    /// 4 samples: such a batch gives 0 (no alignment signal).
    public static func loss(_ measure: AlignmentMeasure, _ x: Tensor, _ y: Tensor) -> Tensor {
        switch measure {
        case .cka: return 1 - linearCKA(x, y).abs()
        case .ckaUnbiased: return x.shape[0] < 4 ? Tensor(0) : 1 - unbiasedLinearCKA(x, y).abs()
        case .mmd: return gaussianMMD(x, y)
        }
    }

    /// Keeps √ differentiable at 0 (an all-constant batch); far below any real squared norm.
    static let tiny: Float = 1e-30

    static func checkBatches(_ x: Tensor, _ y: Tensor) {
        precondition(
            x.rank == 2 && y.rank == 2 && x.shape[0] == y.shape[0] && x.shape[0] >= 1,
            "alignment: features must be [B, D] with the same B ≥ 1, got \(x.shape) and \(y.shape)")
    }

    static func centred(_ x: Tensor) -> Tensor { x - x.mean(alongAxis: 0, keepingDimensions: true) }

    static func gram(_ x: Tensor) -> Tensor { Tensor.matmul(x, x, transposeB: true) }

    static func centredGram(_ x: Tensor) -> Tensor { gram(centred(x)) }

    static func norm(_ k: Tensor) -> Tensor { (k.squared().sum() + tiny).sqrt() }
}
