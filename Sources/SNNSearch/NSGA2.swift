import SNNTensor

/// The selection machinery of NSGA-II (Deb, Pratap, Agarwal, Meyarivan 2002) on points of
/// objectives that are all minimised: fast non-dominated sorting, crowding distance, binary
/// tournament and survival.
///
/// A point `a` dominates `b` when it is no worse in every objective and better in at least one.
/// Front 0 holds the points no other point dominates; front k those dominated only by points of
/// fronts before k. The crowding distance of a point in its front is the sum over objectives of
/// the gap between its two neighbours in that objective, divided by the objective's range in the
/// front; the first and last point of each objective get an infinite distance.
public enum NSGA2 {
    /// Whether `a` dominates `b` (all objectives minimised).
    public static func dominates(_ a: [Double], _ b: [Double]) -> Bool {
        precondition(a.count == b.count, "NSGA2.dominates: \(a.count) and \(b.count) objectives")
        var strictlyBetter = false
        for (x, y) in zip(a, b) {
            if x > y { return false }
            if x < y { strictlyBetter = true }
        }
        return strictlyBetter
    }

    /// The indices of `points` grouped into non-dominated fronts, best front first; each front lists
    /// its indices in increasing order. O(M·N²) (Deb's fast non-dominated sort).
    public static func nonDominatedFronts(_ points: [[Double]]) -> [[Int]] {
        let n = points.count
        var dominated = [[Int]](repeating: [], count: n)  // the points each one dominates
        var dominators = [Int](repeating: 0, count: n)  // how many points dominate each one
        var current: [Int] = []
        for i in 0..<n {
            for j in (i + 1)..<max(n, i + 1) {
                if dominates(points[i], points[j]) {
                    dominated[i].append(j)
                    dominators[j] += 1
                } else if dominates(points[j], points[i]) {
                    dominated[j].append(i)
                    dominators[i] += 1
                }
            }
        }
        for i in 0..<n where dominators[i] == 0 { current.append(i) }
        var fronts: [[Int]] = []
        while !current.isEmpty {
            fronts.append(current)
            var next: [Int] = []
            for i in current {
                for j in dominated[i] {
                    dominators[j] -= 1
                    if dominators[j] == 0 { next.append(j) }
                }
            }
            current = next.sorted()
        }
        return fronts
    }

    /// The rank (front number) of every point.
    public static func ranks(_ points: [[Double]]) -> [Int] {
        var rank = [Int](repeating: 0, count: points.count)
        for (k, front) in nonDominatedFronts(points).enumerated() { for i in front { rank[i] = k } }
        return rank
    }

    /// The crowding distance of each member of `front` (indices into `points`), in the order of `front`.
    public static func crowdingDistances(_ points: [[Double]], front: [Int]) -> [Double] {
        var distance = [Double](repeating: 0, count: front.count)
        guard let objectives = front.first.map({ points[$0].count }) else { return [] }
        if front.count <= 2 { return distance.map { _ in .infinity } }
        for m in 0..<objectives {
            // Sort positions by the objective; ties keep the order of `front`, so the result is deterministic.
            let order = front.indices.sorted { (points[front[$0]][m], $0) < (points[front[$1]][m], $1) }
            let first = order[0], last = order[order.count - 1]
            let low = points[front[first]][m], high = points[front[last]][m]
            distance[first] = .infinity
            distance[last] = .infinity
            let range = high - low
            guard range > 0 else { continue }
            for k in 1..<(order.count - 1) {
                let gap = points[front[order[k + 1]]][m] - points[front[order[k - 1]]][m]
                distance[order[k]] += gap / range
            }
        }
        return distance
    }

    /// The rank and the crowding distance (within its front) of every point.
    public static func rankAndCrowding(_ points: [[Double]]) -> (rank: [Int], crowding: [Double]) {
        var rank = [Int](repeating: 0, count: points.count), crowding = [Double](repeating: 0, count: points.count)
        for (k, front) in nonDominatedFronts(points).enumerated() {
            for (i, d) in zip(front, crowdingDistances(points, front: front)) {
                rank[i] = k
                crowding[i] = d
            }
        }
        return (rank, crowding)
    }

    /// Whether point `a` is preferred to `b`: a lower rank, or the same rank and a larger crowding distance.
    static func prefers(_ a: Int, over b: Int, rank: [Int], crowding: [Double]) -> Bool {
        rank[a] != rank[b] ? rank[a] < rank[b] : crowding[a] > crowding[b]
    }

    /// Binary tournament: two distinct random contestants; the better by (rank, crowding) wins, and an
    /// exact tie goes to the first drawn.
    public static func tournament(rank: [Int], crowding: [Double], using generator: inout RandomGenerator) -> Int {
        let n = rank.count
        precondition(n >= 1, "NSGA2.tournament: empty population")
        guard n > 1 else { return 0 }
        let a = Int(generator.next() % UInt64(n))
        var b = Int(generator.next() % UInt64(n - 1))
        if b >= a { b += 1 }
        return prefers(b, over: a, rank: rank, crowding: crowding) ? b : a
    }

    /// The `count` survivors among `points`: whole fronts in rank order, and from the front that
    /// does not fit, the members with the largest crowding distance (ties: lower index first).
    /// Returns indices, best first.
    public static func survivors(_ points: [[Double]], count: Int) -> [Int] {
        var chosen: [Int] = []
        for front in nonDominatedFronts(points) {
            if chosen.count >= count { break }
            let distance = crowdingDistances(points, front: front)
            let order = front.indices.sorted { (-distance[$0], front[$0]) < (-distance[$1], front[$1]) }
            for k in order.prefix(count - chosen.count) { chosen.append(front[k]) }
        }
        return chosen
    }

    /// The hypervolume dominated by `points` (two objectives, minimised) up to `reference`: the
    /// area of the union of the boxes [p, reference]. Points not strictly better than the reference
    /// in both objectives add nothing.
    public static func hypervolume2D(_ points: [[Double]], reference: [Double]) -> Double {
        precondition(reference.count == 2, "NSGA2.hypervolume2D: needs two objectives")
        let inside = points.filter { $0[0] < reference[0] && $0[1] < reference[1] }.sorted {
            ($0[0], $0[1]) < ($1[0], $1[1])
        }
        var area = 0.0, bestSecond = reference[1]
        for p in inside where p[1] < bestSecond {
            area += (reference[0] - p[0]) * (bestSecond - p[1])
            bestSecond = p[1]
        }
        return area
    }
}
