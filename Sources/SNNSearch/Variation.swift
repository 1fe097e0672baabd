import Foundation
import SNNTensor

/// Crossover and mutation operators on the two kinds of genes a genome holds: bit strings and
/// permutations; and the real-coded operators of the released code (simulated binary crossover,
/// polynomial mutation), kept for reproduction and for real-valued test problems.
public enum Variation {
    // MARK: - Bits

    /// Flips each bit with probability `rate`.
    public static func bitFlip(_ bits: [Bool], rate: Double, using generator: inout RandomGenerator) -> [Bool] {
        bits.map { chance(rate, &generator) ? !$0 : $0 }
    }

    /// Two-point crossover: the children swap the segment between two random cut points.
    public static func twoPointCrossover(_ a: [Bool], _ b: [Bool], using generator: inout RandomGenerator)
        -> ([Bool], [Bool])
    {
        precondition(a.count == b.count, "twoPointCrossover: lengths \(a.count) and \(b.count)")
        guard a.count >= 2 else { return (a, b) }
        var i = Int(generator.next() % UInt64(a.count + 1)), j = Int(generator.next() % UInt64(a.count + 1))
        if i > j { swap(&i, &j) }
        var x = a, y = b
        for k in i..<j { (x[k], y[k]) = (b[k], a[k]) }
        return (x, y)
    }

    /// Uniform crossover: each position is swapped between the children with probability ½.
    public static func uniformCrossover(_ a: [Bool], _ b: [Bool], using generator: inout RandomGenerator)
        -> ([Bool], [Bool])
    {
        precondition(a.count == b.count, "uniformCrossover: lengths \(a.count) and \(b.count)")
        var x = a, y = b
        for k in a.indices where generator.next() & 1 == 1 { (x[k], y[k]) = (b[k], a[k]) }
        return (x, y)
    }

    // MARK: - Permutations

    /// Swap mutation: exchanges two distinct random positions.
    public static func swapMutation(_ p: [Int], using generator: inout RandomGenerator) -> [Int] {
        guard p.count >= 2 else { return p }
        let i = Int(generator.next() % UInt64(p.count))
        var j = Int(generator.next() % UInt64(p.count - 1))
        if j >= i { j += 1 }
        var q = p
        q.swapAt(i, j)
        return q
    }

    /// Insertion mutation: removes the element at one random position and inserts it at another.
    public static func insertionMutation(_ p: [Int], using generator: inout RandomGenerator) -> [Int] {
        guard p.count >= 2 else { return p }
        let from = Int(generator.next() % UInt64(p.count))
        var to = Int(generator.next() % UInt64(p.count - 1))
        if to >= from { to += 1 }
        var q = p
        let element = q.remove(at: from)
        q.insert(element, at: to)
        return q
    }

    /// Order crossover (OX, Davis 1985): the child keeps `a`'s segment between two cut points and
    /// fills the remaining positions, starting after the segment, with `b`'s elements in `b`'s
    /// order from after the segment, skipping those already present. The second child swaps roles.
    public static func orderCrossover(_ a: [Int], _ b: [Int], using generator: inout RandomGenerator)
        -> ([Int], [Int])
    {
        precondition(a.count == b.count, "orderCrossover: lengths \(a.count) and \(b.count)")
        let n = a.count
        guard n >= 2 else { return (a, b) }
        var i = Int(generator.next() % UInt64(n)), j = Int(generator.next() % UInt64(n))
        if i > j { swap(&i, &j) }
        return (orderChild(keep: a, fill: b, i, j), orderChild(keep: b, fill: a, i, j))
    }

    /// One OX child: `keep[i...j]` in place, the rest from `fill` cyclically from j + 1.
    static func orderChild(keep: [Int], fill: [Int], _ i: Int, _ j: Int) -> [Int] {
        let n = keep.count
        var child = [Int](repeating: -1, count: n)
        var used = Set<Int>()
        for k in i...j {
            child[k] = keep[k]
            used.insert(keep[k])
        }
        var position = (j + 1) % n
        for step in 0..<n {
            let value = fill[(j + 1 + step) % n]
            if used.contains(value) { continue }
            child[position] = value
            used.insert(value)
            position = (position + 1) % n
        }
        return child
    }

    /// Whether `p` is a permutation of `0..<p.count`.
    public static func isPermutation(_ p: [Int]) -> Bool {
        var seen = [Bool](repeating: false, count: p.count)
        for v in p {
            guard v >= 0 && v < p.count && !seen[v] else { return false }
            seen[v] = true
        }
        return true
    }

    /// Makes any vector of integers a permutation of `0..<n`: values out of range and repeats are
    /// replaced, left to right, by the missing values in increasing order. A permutation is unchanged.
    public static func repairPermutation(_ p: [Int]) -> [Int] {
        let n = p.count
        var seen = Set<Int>()
        var slots: [Int] = []
        var q = p
        for (k, v) in p.enumerated() {
            if v >= 0 && v < n && !seen.contains(v) { seen.insert(v) } else { slots.append(k) }
        }
        let missing = (0..<n).filter { !seen.contains($0) }
        for (k, v) in zip(slots, missing) { q[k] = v }
        return q
    }

    // MARK: - Real-coded operators (the released code's)

    /// Polynomial mutation (Deb and Goyal 1996, as pymoo implements it): each variable mutates with
    /// probability `rate` by a perturbation whose distribution index is `eta`, kept inside
    /// [lower, upper].
    public static func polynomialMutation(
        _ x: [Double], lower: [Double], upper: [Double], eta: Double,
        rate: Double, using generator: inout RandomGenerator
    ) -> [Double] {
        var y = x
        for k in x.indices where chance(rate, &generator) {
            let range = upper[k] - lower[k]
            guard range > 0 else { continue }
            let d1 = (x[k] - lower[k]) / range, d2 = (upper[k] - x[k]) / range
            let u = unit(&generator), power = 1 / (eta + 1)
            let dq: Double
            if u < 0.5 {
                let v = 2 * u + (1 - 2 * u) * pow(1 - d1, eta + 1)
                dq = pow(v, power) - 1
            } else {
                let v = 2 * (1 - u) + 2 * (u - 0.5) * pow(1 - d2, eta + 1)
                dq = 1 - pow(v, power)
            }
            y[k] = min(max(x[k] + dq * range, lower[k]), upper[k])
        }
        return y
    }

    /// Simulated binary crossover (Deb and Agrawal 1995): per variable with probability ½, two
    /// children spread around the parents with distribution index `eta`, kept inside the bounds.
    public static func simulatedBinaryCrossover(
        _ a: [Double], _ b: [Double], lower: [Double], upper: [Double],
        eta: Double, using generator: inout RandomGenerator
    )
        -> ([Double], [Double])
    {
        var x = a, y = b
        for k in a.indices where generator.next() & 1 == 1 && abs(a[k] - b[k]) > 1e-14 {
            let u = unit(&generator)
            let beta = u <= 0.5 ? pow(2 * u, 1 / (eta + 1)) : pow(1 / (2 * (1 - u)), 1 / (eta + 1))
            let mean = (a[k] + b[k]) / 2, half = abs(a[k] - b[k]) / 2
            x[k] = min(max(mean - beta * half, lower[k]), upper[k])
            y[k] = min(max(mean + beta * half, lower[k]), upper[k])
        }
        return (x, y)
    }

    // MARK: - Helpers

    /// A uniform double in [0, 1) with 53 random bits.
    static func unit(_ generator: inout RandomGenerator) -> Double { Double(generator.next() >> 11) * 0x1p-53 }

    /// True with probability `p`.
    static func chance(_ p: Double, _ generator: inout RandomGenerator) -> Bool { unit(&generator) < p }
}
