import SNNTensor

/// How offspring genomes are made from two parents (METHODS.md §3, Decision on the operators).
public struct GenomeVariation: Sendable, Equatable {
    /// How bits are recombined.
    public enum BitCrossover: String, Sendable, CaseIterable { case twoPoint = "two-point", uniform }
    /// How a motif order is mutated.
    public enum PermutationMutation: String, Sendable, CaseIterable { case swap, insertion }

    /// The operator family.
    public enum Operators: Sendable, Equatable {
        /// Bit-flip mutation and two-point or uniform crossover on the bits; swap or insertion
        /// mutation and order crossover (OX) on the motif orders. Always yields valid genomes.
        case standard(bitCrossover: BitCrossover, permutationMutation: PermutationMutation)
        /// The released code's: the genome as integers (each motif order as five values in 0…4,
        /// bits as 0/1), simulated binary crossover (η = 15) and polynomial mutation (η = `eta`,
        /// rate 1/L) on the reals, rounded. It often breaks a motif order; such orders are
        /// repaired (repeats replaced by the missing motifs, left to right) so the genome stays valid.
        case released(eta: Double)
    }

    public var operators: Operators
    /// Probability that a pair of parents is recombined (otherwise the children start as copies).
    public var crossoverProbability: Double
    /// Per-bit flip probability; nil: 1/L for L bits.
    public var bitFlipRate: Double?
    /// Per-module probability of one permutation mutation; nil: 1/M for M modules.
    public var permutationMutationRate: Double?

    public init(
        operators: Operators = .standard(bitCrossover: .twoPoint, permutationMutation: .swap),
        crossoverProbability: Double = 0.9, bitFlipRate: Double? = nil, permutationMutationRate: Double? = nil
    ) {
        self.operators = operators
        self.crossoverProbability = crossoverProbability
        self.bitFlipRate = bitFlipRate
        self.permutationMutationRate = permutationMutationRate
    }

    /// Two children of `a` and `b` (genomes of the same number of modules).
    public func offspring(_ a: ArchitectureGenome, _ b: ArchitectureGenome, using generator: inout RandomGenerator)
        -> (ArchitectureGenome, ArchitectureGenome)
    {
        precondition(
            a.modules.count == b.modules.count,
            "GenomeVariation: parents of \(a.modules.count) and \(b.modules.count) modules")
        switch operators {
        case let .standard(bitCrossover, permutationMutation):
            var (bitsA, bitsB) = (a.bits, b.bits)
            var (permsA, permsB) = (a.permutations, b.permutations)
            if Variation.chance(crossoverProbability, &generator) {
                (bitsA, bitsB) =
                    bitCrossover == .twoPoint
                    ? Variation.twoPointCrossover(bitsA, bitsB, using: &generator)
                    : Variation.uniformCrossover(bitsA, bitsB, using: &generator)
                for k in permsA.indices {
                    (permsA[k], permsB[k]) = Variation.orderCrossover(permsA[k], permsB[k], using: &generator)
                }
            }
            let flip = bitFlipRate ?? 1 / Double(max(bitsA.count, 1))
            let permute = permutationMutationRate ?? 1 / Double(max(permsA.count, 1))
            func mutate(_ bits: [Bool], _ perms: [[Int]], _ generator: inout RandomGenerator) -> ([Bool], [[Int]]) {
                let newBits = Variation.bitFlip(bits, rate: flip, using: &generator)
                let newPerms = perms.map { p in
                    guard Variation.chance(permute, &generator) else { return p }
                    return permutationMutation == .swap
                        ? Variation.swapMutation(p, using: &generator)
                        : Variation.insertionMutation(p, using: &generator)
                }
                return (newBits, newPerms)
            }
            let (x, y) = (mutate(bitsA, permsA, &generator), mutate(bitsB, permsB, &generator))
            return (a.with(bits: x.0, permutations: x.1), a.with(bits: y.0, permutations: y.1))
        case .released(let eta):
            let (x, y) = releasedOffspring(a, b, eta: eta, using: &generator)
            return (Self.decode(x, like: a).genome, Self.decode(y, like: a).genome)
        }
    }

    /// The released operator's two integer vectors (before any repair).
    func releasedOffspring(
        _ a: ArchitectureGenome, _ b: ArchitectureGenome, eta: Double,
        using generator: inout RandomGenerator
    ) -> ([Double], [Double]) {
        let (lower, upper) = Self.bounds(like: a)
        var (x, y) = (Self.encode(a), Self.encode(b))
        if Variation.chance(crossoverProbability, &generator) {
            (x, y) = Variation.simulatedBinaryCrossover(x, y, lower: lower, upper: upper, eta: 15, using: &generator)
        }
        let rate = 1 / Double(x.count)
        x = Variation.polynomialMutation(x, lower: lower, upper: upper, eta: eta, rate: rate, using: &generator)
        y = Variation.polynomialMutation(y, lower: lower, upper: upper, eta: eta, rate: rate, using: &generator)
        return (x.map { $0.rounded() }, y.map { $0.rounded() })
    }

    /// The integer vector of the released code: every module's order as five values, then the bits.
    static func encode(_ genome: ArchitectureGenome) -> [Double] {
        genome.permutations.flatMap { $0.map(Double.init) } + genome.bits.map { $0 ? 1 : 0 }
    }

    /// Bounds of ``encode(_:)``'s entries: 0…4 for motif positions, 0…1 for bits.
    static func bounds(like genome: ArchitectureGenome) -> ([Double], [Double]) {
        let p = genome.modules.count * 5, n = p + genome.bits.count
        return ([Double](repeating: 0, count: n), (0..<n).map { $0 < p ? 4 : 1 })
    }

    /// The genome of an integer vector (rounded values), with its motif orders repaired; also
    /// whether any order had to be repaired.
    static func decode(_ vector: [Double], like genome: ArchitectureGenome) -> (
        genome: ArchitectureGenome, repaired: Bool
    ) {
        let m = genome.modules.count
        var repaired = false
        let perms = (0..<m).map { k -> [Int] in
            let raw = vector[(k * 5)..<(k * 5 + 5)].map { Int($0) }
            let fixed = Variation.repairPermutation(raw)
            if fixed != raw { repaired = true }
            return fixed
        }
        let bits = vector[(m * 5)...].map { $0 >= 0.5 }
        return (genome.with(bits: Array(bits), permutations: perms), repaired)
    }
}
