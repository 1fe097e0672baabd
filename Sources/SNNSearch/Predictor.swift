import Foundation
import SNNLayers
import SNNOptimizers
import SNNTensor

/// A surrogate model from a genome's feature vector to one objective, fitted on evaluated genomes.
public protocol PerformancePredictor {
    /// Fits the model to `inputs` (one feature vector each) and their `targets`.
    mutating func fit(_ inputs: [[Double]], _ targets: [Double]) throws(SNNError)
    /// The predicted objective of each input.
    func predict(_ inputs: [[Double]]) -> [Double]
}

/// The predictors `snn search --predictor` offers.
public enum PredictorKind: String, Sendable, CaseIterable, Codable {
    /// Radial-basis-function interpolation, cubic kernel, linear tail (``RBFInterpolator``).
    case rbf
    /// A multilayer perceptron with two hidden layers of 300 ReLU units (``MLPPredictor``).
    case mlp
    /// No predictor: every offspring is evaluated.
    case none

    /// A fresh, unfitted predictor (nil for `none`); `seed` initialises the MLP.
    public func make(seed: UInt64) -> (any PerformancePredictor)? {
        switch self {
        case .rbf: RBFInterpolator()
        case .mlp: MLPPredictor(seed: seed)
        case .none: nil
        }
    }
}

/// Radial-basis-function interpolation with the cubic kernel φ(r) = r³ and a linear tail:
///
///     s(x) = Σᵢ λᵢ‖x − xᵢ‖³ + c₀ + cᵀx,   with   s(xᵢ) = yᵢ   and   Σᵢ λᵢ = 0,  Σᵢ λᵢxᵢ = 0
///
/// (the usual side conditions that make the cubic, a conditionally positive definite kernel of
/// order 2, well posed). The square system is solved by Gaussian elimination with full pivoting;
/// when it is singular (fewer distinct points than features + 1) the free unknowns are set to
/// zero, which still interpolates every node.
public struct RBFInterpolator: PerformancePredictor, Sendable {
    public private(set) var nodes: [[Double]] = []
    public private(set) var weights: [Double] = []
    public private(set) var tail: [Double] = []

    public init() {}

    public mutating func fit(_ inputs: [[Double]], _ targets: [Double]) throws(SNNError) {
        let n = inputs.count
        guard n >= 1, targets.count == n else {
            throw SNNError(.invalidArgument, "RBF fit needs one target per input and at least one input")
        }
        let d = inputs[0].count
        guard inputs.allSatisfy({ $0.count == d }) else {
            throw SNNError(.invalidArgument, "RBF fit: feature vectors of different lengths")
        }
        let size = n + d + 1
        var a = [Double](repeating: 0, count: size * size), b = [Double](repeating: 0, count: size)
        for i in 0..<n {
            for j in 0..<n { a[i * size + j] = Self.kernel(inputs[i], inputs[j]) }
            a[i * size + n] = 1
            a[n * size + i] = 1
            for k in 0..<d {
                a[i * size + n + 1 + k] = inputs[i][k]
                a[(n + 1 + k) * size + i] = inputs[i][k]
            }
            b[i] = targets[i]
        }
        let solution = LinearSolve.fullPivoting(a, b, size: size)
        nodes = inputs
        weights = Array(solution[0..<n])
        tail = Array(solution[n...])
    }

    public func predict(_ inputs: [[Double]]) -> [Double] {
        inputs.map { x in
            var s = tail.first ?? 0
            for (k, v) in x.enumerated() where k + 1 < tail.count { s += tail[k + 1] * v }
            for (node, w) in zip(nodes, weights) { s += w * Self.kernel(x, node) }
            return s
        }
    }

    /// r³ for the Euclidean distance r.
    static func kernel(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for (x, y) in zip(a, b) { s += (x - y) * (x - y) }
        return s * s.squareRoot()
    }
}

/// Dense linear systems.
enum LinearSolve {
    /// Solves A x = b (A row-major `size`×`size`) by Gauss–Jordan elimination with full pivoting.
    /// Pivots below a relative tolerance end the elimination; the unknowns without a pivot are 0, so
    /// a consistent singular system gets a basic solution.
    static func fullPivoting(_ matrix: [Double], _ rhs: [Double], size n: Int) -> [Double] {
        var a = matrix, b = rhs
        var columnOf = Array(0..<n)  // the unknown each column stands for after column swaps
        let scale = max(a.map(abs).max() ?? 0, 1e-300)
        var rank = 0
        for k in 0..<n {
            var best = 0.0, pr = k, pc = k
            for i in k..<n {
                for j in k..<n where abs(a[i * n + j]) > best { best = abs(a[i * n + j]); pr = i; pc = j }
            }
            if best <= 1e-12 * scale { break }
            if pr != k {
                for j in 0..<n { a.swapAt(k * n + j, pr * n + j) }
                b.swapAt(k, pr)
            }
            if pc != k {
                for i in 0..<n { a.swapAt(i * n + k, i * n + pc) }
                columnOf.swapAt(k, pc)
            }
            let pivot = a[k * n + k]
            for i in 0..<n where i != k {
                let factor = a[i * n + k] / pivot
                if factor == 0 { continue }
                for j in k..<n { a[i * n + j] -= factor * a[k * n + j] }
                b[i] -= factor * b[k]
            }
            rank += 1
        }
        var x = [Double](repeating: 0, count: n)
        for k in 0..<rank { x[columnOf[k]] = b[k] / a[k * n + k] }
        return x
    }
}

/// A multilayer perceptron predictor: features → 300 → ReLU → 300 → ReLU → 1, trained with Adam
/// (learning rate 1e-3) on the mean squared error of standardised targets, full batch, for a fixed
/// number of epochs, from weights drawn with its own seed.
public struct MLPPredictor: PerformancePredictor {
    public let seed: UInt64
    public let epochs: Int
    private var network: Sequential?
    private var mean = 0.0, deviation = 1.0

    public init(seed: UInt64, epochs: Int = 300) {
        self.seed = seed
        self.epochs = epochs
    }

    public mutating func fit(_ inputs: [[Double]], _ targets: [Double]) throws(SNNError) {
        guard let d = inputs.first?.count, targets.count == inputs.count else {
            throw SNNError(.invalidArgument, "MLP fit needs one target per input and at least one input")
        }
        mean = targets.reduce(0, +) / Double(targets.count)
        let variance = targets.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(targets.count)
        deviation = variance > 0 ? variance.squareRoot() : 1
        let net = GlobalRandom.withSeed(seed) {
            Sequential {
                Linear(d, 300); ReLU(); Linear(300, 300); ReLU(); Linear(300, 1)
            }
        }
        let x = Self.tensor(inputs)
        let y = Tensor(shape: [targets.count, 1], scalars: targets.map { Float(($0 - mean) / deviation) })
        let optimizer = Adam(learningRate: 1e-3)
        for _ in 0..<epochs {
            let (_, gradients) = valueWithGradient(at: net) { net in
                let e = net(x) - y
                return (e * e).mean()
            }
            optimizer.update(net, along: gradients)
        }
        network = net
    }

    public func predict(_ inputs: [[Double]]) -> [Double] {
        guard let network, !inputs.isEmpty else { return inputs.map { _ in mean } }
        return network(Self.tensor(inputs)).scalars.map { Double($0) * deviation + mean }
    }

    static func tensor(_ rows: [[Double]]) -> Tensor {
        Tensor(shape: [rows.count, rows.first?.count ?? 0], scalars: rows.flatMap { $0.map(Float.init) })
    }
}

/// Rank correlation.
public enum KendallTau {
    /// Kendall's τ-b of two equally long samples in O(n log n) (Knight 1966: sort by x then y, count
    /// the tied pairs, then count the discordant pairs as the swaps of a merge sort by y):
    ///
    ///     τ_b = (n₀ − n₁ − n₂ + n₃ − 2·swaps) / √((n₀ − n₁)(n₀ − n₂))
    ///
    /// with n₀ = n(n − 1)/2 pairs, n₁ tied in x, n₂ tied in y, n₃ tied in both. nil when either
    /// sample is constant (or has fewer than two values).
    public static func tauB(_ x: [Double], _ y: [Double]) -> Double? {
        precondition(x.count == y.count, "KendallTau.tauB: \(x.count) and \(y.count) values")
        let n = x.count
        guard n >= 2 else { return nil }
        let order = x.indices.sorted { (x[$0], y[$0]) < (x[$1], y[$1]) }
        let total = n * (n - 1) / 2
        var tiedX = 0, tiedXY = 0
        var runX = 1, runXY = 1
        for k in 1..<n {
            let (p, q) = (order[k - 1], order[k])
            if x[p] == x[q] {
                runX += 1
                if y[p] == y[q] {
                    runXY += 1
                } else {
                    tiedXY += runXY * (runXY - 1) / 2
                    runXY = 1
                }
            } else {
                tiedX += runX * (runX - 1) / 2
                tiedXY += runXY * (runXY - 1) / 2
                runX = 1
                runXY = 1
            }
        }
        tiedX += runX * (runX - 1) / 2
        tiedXY += runXY * (runXY - 1) / 2
        var ys = order.map { y[$0] }
        let swaps = mergeSortCountingSwaps(&ys)
        var tiedY = 0, runY = 1
        for k in 1..<n {
            if ys[k] == ys[k - 1] { runY += 1 } else { tiedY += runY * (runY - 1) / 2; runY = 1 }
        }
        tiedY += runY * (runY - 1) / 2
        let denominator = (Double(total - tiedX) * Double(total - tiedY)).squareRoot()
        guard denominator > 0 else { return nil }
        return Double(total - tiedX - tiedY + tiedXY - 2 * swaps) / denominator
    }

    /// Sorts `values` ascending (stable) and returns the number of inversions (pairs out of order).
    static func mergeSortCountingSwaps(_ values: inout [Double]) -> Int {
        guard values.count > 1 else { return 0 }
        let middle = values.count / 2
        var left = Array(values[..<middle]), right = Array(values[middle...])
        var swaps = mergeSortCountingSwaps(&left) + mergeSortCountingSwaps(&right)
        var i = 0, j = 0, k = 0
        while i < left.count && j < right.count {
            if right[j] < left[i] {
                values[k] = right[j]
                j += 1
                swaps += left.count - i
            } else {
                values[k] = left[i]
                i += 1
            }
            k += 1
        }
        while i < left.count { values[k] = left[i]; i += 1; k += 1 }
        while j < right.count { values[k] = right[j]; j += 1; k += 1 }
        return swaps
    }
}
