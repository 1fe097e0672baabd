import Foundation
@testable import SNNSearch
import SNNTensor
import Testing

/// NSGA-II's selection against brute-force definitions, and the whole algorithm on ZDT1.
@Suite struct NSGA2Tests {
    static func randomPoints(_ n: Int, objectives: Int, seed: UInt64, grid: Double? = nil) -> [[Double]] {
        var g = RandomGenerator(seed: seed)
        return (0..<n).map { _ in
            (0..<objectives).map { _ in
                let u = Variation.unit(&g)
                return grid.map { ($0 * u).rounded() } ?? u
            }
        }
    }

    /// Fronts by definition: repeatedly peel off the points that no remaining point dominates.
    static func bruteForceFronts(_ points: [[Double]]) -> [[Int]] {
        var remaining = Array(points.indices), fronts: [[Int]] = []
        while !remaining.isEmpty {
            let front = remaining.filter { i in
                !remaining.contains { j in
                    j != i && zip(points[j], points[i]).allSatisfy { $0 <= $1 }
                        && zip(points[j], points[i]).contains { $0 < $1 }
                }
            }
            fronts.append(front)
            remaining.removeAll { front.contains($0) }
        }
        return fronts
    }

    @Test(arguments: [(2, 1), (3, 2), (2, 3)])
    func sortingMatchesTheDefinition(objectives: Int, seed: UInt64) {
        // Continuous points, and points on a coarse grid (many ties and duplicates).
        for grid in [nil, 4.0] {
            let points = Self.randomPoints(60, objectives: objectives, seed: seed, grid: grid)
            #expect(
                NSGA2.nonDominatedFronts(points) == Self.bruteForceFronts(points), "grid \(String(describing: grid))")
        }
    }

    @Test func crowdingMatchesTheDefinition() {
        // Without ties, a point's neighbours in objective m are the nearest values below and above.
        for seed: UInt64 in 1...4 {
            let points = Self.randomPoints(40, objectives: 3, seed: seed)
            for front in NSGA2.nonDominatedFronts(points) where front.count > 2 {
                let fast = NSGA2.crowdingDistances(points, front: front)
                for (position, i) in front.enumerated() {
                    var expected = 0.0
                    for m in 0..<3 {
                        let values = front.map { points[$0][m] }
                        let below = values.filter { $0 < points[i][m] }.max(),
                            above = values.filter { $0 > points[i][m] }.min()
                        guard let below, let above else { expected = .infinity; break }
                        expected += (above - below) / (values.max()! - values.min()!)
                    }
                    if expected.isInfinite {
                        #expect(fast[position].isInfinite)
                    } else {
                        #expect(abs(fast[position] - expected) < 1e-12, "point \(i): \(fast[position]) vs \(expected)")
                    }
                }
            }
        }
    }

    @Test func survivalTakesWholeFrontsThenTheLeastCrowded() {
        let points = Self.randomPoints(50, objectives: 2, seed: 9)
        let fronts = Self.bruteForceFronts(points)
        let count = fronts[0].count + fronts[1].count + 2
        let chosen = NSGA2.survivors(points, count: count)
        #expect(chosen.count == count)
        #expect(Set(chosen.prefix(fronts[0].count + fronts[1].count)) == Set(fronts[0] + fronts[1]))
        let third = fronts[2], distance = NSGA2.crowdingDistances(points, front: third)
        let expected = Set(
            third.indices.sorted { (-distance[$0], third[$0]) < (-distance[$1], third[$1]) }.prefix(2).map { third[$0] }
        )
        #expect(Set(chosen.suffix(2)) == expected)
    }

    @Test func tournamentPrefersRankThenCrowding() {
        var g = RandomGenerator(seed: 3)
        let rank = [0, 1, 0], crowding = [1.0, 5.0, 2.0]
        var wins = [0, 0, 0]
        for _ in 0..<3000 { wins[NSGA2.tournament(rank: rank, crowding: crowding, using: &g)] += 1 }
        // Point 2 beats both others, point 0 beats point 1, point 1 never wins: wins are 2/3, 1/3, 0.
        #expect(wins[1] == 0)
        #expect(abs(Double(wins[2]) / 3000 - 2.0 / 3) < 0.03 && abs(Double(wins[0]) / 3000 - 1.0 / 3) < 0.03, "\(wins)")
    }

    @Test func hypervolumeOfAStaircase() {
        // Boxes [1,4]×[3,4] ∪ [2,4]×[1,4] = 3 + 6 − 2 (their overlap [2,4]×[3,4]) = 7; the
        // dominated point (3, 3) adds nothing.
        let area = NSGA2.hypervolume2D([[1, 3], [2, 1], [3, 3]], reference: [4, 4])
        #expect(area == 7)
    }

    /// ZDT1 (Zitzler, Deb, Thiele 2000): 30 variables in [0, 1]; the true front is f2 = 1 − √f1.
    static func zdt1(_ x: [Double]) -> [Double] {
        let g = 1 + 9 * x.dropFirst().reduce(0, +) / Double(x.count - 1)
        return [x[0], g * (1 - (x[0] / g).squareRoot())]
    }

    @Test func reachesTheZDT1Front() {
        var g = RandomGenerator(seed: 42)
        let n = 30, size = 100, generations = 250
        let lower = [Double](repeating: 0, count: n), upper = [Double](repeating: 1, count: n)
        var population = (0..<size).map { _ in (0..<n).map { _ in Variation.unit(&g) } }
        var objectives = population.map(Self.zdt1)
        for _ in 0..<generations {
            let (rank, crowding) = NSGA2.rankAndCrowding(objectives)
            var children: [[Double]] = []
            while children.count < size {
                let a = population[NSGA2.tournament(rank: rank, crowding: crowding, using: &g)]
                let b = population[NSGA2.tournament(rank: rank, crowding: crowding, using: &g)]
                var (x, y) =
                    Variation.chance(0.9, &g)
                    ? Variation.simulatedBinaryCrossover(a, b, lower: lower, upper: upper, eta: 15, using: &g) : (a, b)
                x = Variation.polynomialMutation(x, lower: lower, upper: upper, eta: 20, rate: 1 / Double(n), using: &g)
                y = Variation.polynomialMutation(y, lower: lower, upper: upper, eta: 20, rate: 1 / Double(n), using: &g)
                children += [x, y]
            }
            let all = population + children, allObjectives = objectives + children.map(Self.zdt1)
            let keep = NSGA2.survivors(allObjectives, count: size)
            population = keep.map { all[$0] }
            objectives = keep.map { allObjectives[$0] }
        }
        // Generational distance: mean distance of the final front to the true front (sampled finely).
        let truth = (0...10_000).map { i -> [Double] in
            let f1 = Double(i) / 10_000; return [f1, 1 - f1.squareRoot()]
        }
        let front = NSGA2.nonDominatedFronts(objectives)[0].map { objectives[$0] }
        let distances = front.map { p in
            truth.map { t in ((p[0] - t[0]) * (p[0] - t[0]) + (p[1] - t[1]) * (p[1] - t[1])).squareRoot() }.min()!
        }
        let gd = distances.reduce(0, +) / Double(distances.count)
        // And the front must spread: the inverse direction (every true point near some found point).
        let igd =
            truth.enumerated().filter { $0.offset % 100 == 0 }.map { _, t in
                front.map { p in ((p[0] - t[0]) * (p[0] - t[0]) + (p[1] - t[1]) * (p[1] - t[1])).squareRoot() }.min()!
            }.reduce(0, +) / 101
        print("ZDT1 after \(generations) generations of \(size): \(front.count) front points, GD \(gd), IGD \(igd)")
        #expect(gd < 0.01)
        #expect(igd < 0.01)
    }
}
