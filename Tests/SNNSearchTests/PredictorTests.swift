import Foundation
@testable import SNNSearch
import SNNTensor
import Testing

@Suite struct PredictorTests {
    /// Kendall's τ-b by its definition, counting every pair.
    static func directTau(_ x: [Double], _ y: [Double]) -> Double? {
        var concordant = 0, discordant = 0, tiedXOnly = 0, tiedYOnly = 0
        for i in 0..<x.count {
            for j in (i + 1)..<x.count {
                let dx = x[i] - x[j], dy = y[i] - y[j]
                if dx == 0 && dy == 0 { continue }
                if dx == 0 {
                    tiedXOnly += 1
                } else if dy == 0 {
                    tiedYOnly += 1
                } else if (dx > 0) == (dy > 0) {
                    concordant += 1
                } else {
                    discordant += 1
                }
            }
        }
        let d = (Double(concordant + discordant + tiedXOnly) * Double(concordant + discordant + tiedYOnly)).squareRoot()
        return d > 0 ? Double(concordant - discordant) / d : nil
    }

    @Test func kendallTauMatchesThePairCount() {
        var g = RandomGenerator(seed: 11)
        for trial in 0..<40 {
            let n = 2 + trial * 3
            // Every third trial on few distinct values (ties in x, y and both).
            let levels = trial % 3 == 0 ? 4.0 : 1e9
            let x = (0..<n).map { _ in (Variation.unit(&g) * levels).rounded() }
            let y = x.map { v in (v + Variation.unit(&g) * levels).rounded() }
            let fast = KendallTau.tauB(x, y), slow = Self.directTau(x, y)
            #expect((fast == nil) == (slow == nil))
            if let fast, let slow { #expect(abs(fast - slow) < 1e-12, "n \(n): \(fast) vs \(slow)") }
        }
        #expect(KendallTau.tauB([1, 2, 3], [3, 2, 1]) == -1)
        #expect(KendallTau.tauB([1, 1, 1], [1, 2, 3]) == nil)
    }

    @Test func rbfInterpolatesItsNodes() throws {
        var g = RandomGenerator(seed: 5)
        // More nodes than dimensions + 1 (a regular system) and fewer (the singular case of genomes).
        for (n, d) in [(40, 3), (12, 30)] {
            let x = (0..<n).map { _ in (0..<d).map { _ in Variation.unit(&g) } }
            let y = x.map { sin(3 * $0[0]) + $0[1 % d] * $0[2 % d] }
            var rbf = RBFInterpolator()
            try rbf.fit(x, y)
            let predicted = rbf.predict(x)
            for (p, t) in zip(predicted, y) { #expect(abs(p - t) < 1e-8, "n \(n), d \(d): \(p) vs \(t)") }
        }
    }

    @Test func rbfReproducesLinearFunctionsEverywhere() throws {
        // The linear tail makes the interpolant exact for linear data, also between the nodes.
        var g = RandomGenerator(seed: 6)
        let x = (0..<30).map { _ in (0..<2).map { _ in Variation.unit(&g) } }
        let f = { (v: [Double]) in 2 * v[0] - 3 * v[1] + 0.5 }
        var rbf = RBFInterpolator()
        try rbf.fit(x, x.map(f))
        let probes = (0..<20).map { _ in (0..<2).map { _ in Variation.unit(&g) } }
        for (p, v) in zip(rbf.predict(probes), probes) { #expect(abs(p - f(v)) < 1e-8) }
    }

    @Test func mlpFitsItsTrainingData() throws {
        var g = RandomGenerator(seed: 8)
        let x = (0..<24).map { _ in (0..<6).map { _ in Variation.unit(&g) } }
        let y = x.map { $0[0] + 2 * $0[1] * $0[2] }
        var mlp = MLPPredictor(seed: 1)
        try mlp.fit(x, y)
        let tau = KendallTau.tauB(mlp.predict(x), y) ?? 0
        #expect(tau > 0.9, "training-set τ \(tau)")
    }
}
