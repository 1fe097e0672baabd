import Foundation
import SNNTensor

/// The five local circuits a cell can be (METHODS.md §3). Each edge is a sign-constrained spiking
/// convolution (P excitatory, N inhibitory, I identity); n0 and n1 are the cell's two inputs.
///
///     FE  (feedforward excitation)  n2 = P(n0) + P(n1);  n3 = P(n2) + I(n0)
///     FI  (feedforward inhibition)  n2 = P(n0) + P(n1);  n3 = P(n1) + N(n2)
///     FbI (feedback inhibition)     n2 = P(n0) + P(n1) + N(n3 at t − 1);  n3 = P(n2)
///     LI  (lateral inhibition)      n4 = P(n0) + P(n1);  n2 = P(n0) + N(n4);  n3 = P(n1) + N(n4)
///     MI  (mutual inhibition)       n2 = P(n0) + N(n3 at t − 1);  n3 = P(n1) + N(n2 at t − 1)
///
/// The cell's output is the channel concatenation of n2 and n3 (LI's interneuron n4 is not part of
/// it), so every motif gives 2C channels and motifs are interchangeable in a module.
public enum Motif: String, Sendable, CaseIterable, Codable {
    case feedforwardExcitation = "FE"
    case feedforwardInhibition = "FI"
    case feedbackInhibition = "FbI"
    case lateralInhibition = "LI"
    case mutualInhibition = "MI"

    /// The sign constraint of an edge.
    public enum Sign: Sendable, Equatable {
        /// Excitatory: only positive outputs pass (ReLU).
        case positive
        /// Inhibitory: only negative outputs pass (−ReLU(−x)).
        case negative
        /// Identity: the output passes unchanged.
        case identity
    }

    /// One edge of a motif: from node `source` to node `target`; `delayed` edges carry the source's
    /// spikes of the previous time step (nothing at t = 0).
    public struct Edge: Sendable, Equatable {
        public let source: Int, target: Int
        public let sign: Sign
        public let delayed: Bool
    }

    /// The edges, in the order of the genome's kernel bits.
    public var edges: [Edge] {
        func e(_ s: Int, _ t: Int, _ sign: Sign, delayed: Bool = false) -> Edge {
            Edge(source: s, target: t, sign: sign, delayed: delayed)
        }
        switch self {
        case .feedforwardExcitation:
            return [e(0, 2, .positive), e(1, 2, .positive), e(2, 3, .positive), e(0, 3, .identity)]
        case .feedforwardInhibition:
            return [e(0, 2, .positive), e(1, 2, .positive), e(1, 3, .positive), e(2, 3, .negative)]
        case .feedbackInhibition:
            return [e(0, 2, .positive), e(1, 2, .positive), e(3, 2, .negative, delayed: true), e(2, 3, .positive)]
        case .lateralInhibition:
            return [
                e(0, 4, .positive), e(1, 4, .positive), e(0, 2, .positive), e(4, 2, .negative),
                e(1, 3, .positive), e(4, 3, .negative),
            ]
        case .mutualInhibition:
            return [
                e(0, 2, .positive), e(3, 2, .negative, delayed: true), e(1, 3, .positive),
                e(2, 3, .negative, delayed: true),
            ]
        }
    }

    /// The internal nodes in the order they are computed within a step (after n0 and n1).
    public var computeOrder: [Int] { self == .lateralInhibition ? [4, 2, 3] : [2, 3] }

    /// Nodes n0 … n(count − 1).
    public var nodeCount: Int { self == .lateralInhibition ? 5 : 4 }

    /// The position in ``allCases``.
    public var index: Int {
        switch self {
        case .feedforwardExcitation: 0
        case .feedforwardInhibition: 1
        case .feedbackInhibition: 2
        case .lateralInhibition: 3
        case .mutualInhibition: 4
        }
    }

    /// The nodes concatenated into the cell's output.
    public static let outputNodes = [2, 3]
}

/// The genes of one module: the order of its five cells' motifs and, per motif, one kernel-size bit
/// per edge (false: 3×3, true: 5×5). Bits belong to a motif, not to a position, so reordering the
/// motifs keeps every cell's kernels and no bit is ever unused.
public struct ModuleGenes: Sendable, Hashable {
    /// A permutation of the five motifs.
    public var order: [Motif]
    /// Per motif (in ``Motif/allCases`` order), one bit per edge of ``Motif/edges``.
    public var kernelBits: [[Bool]]

    public init(order: [Motif], kernelBits: [[Bool]]) {
        self.order = order
        self.kernelBits = kernelBits
    }

    /// The kernel size of edge `edge` of `motif`.
    public func kernelSize(_ motif: Motif, edge: Int) -> Int {
        kernelBits[motif.index][edge] ? 5 : 3
    }

    /// Bits per module (4 + 4 + 4 + 6 + 4 = 22).
    public static let bitCount = Motif.allCases.reduce(0) { $0 + $1.edges.count }
}

/// An architecture of the EB search space (METHODS.md §3): M modules of five motif cells and an
/// M×M binary matrix of global connections, where entry (m, j) feeds module m's output, through a
/// learned projection, into the n1 input of module j's last cell (m < j: the same time step;
/// m ≥ j: the previous step).
public struct ArchitectureGenome: Sendable, Hashable {
    public var modules: [ModuleGenes]
    /// `globalConnections[m][j]`: module m feeds module j's last cell.
    public var globalConnections: [[Bool]]

    public init(modules: [ModuleGenes], globalConnections: [[Bool]]) {
        self.modules = modules
        self.globalConnections = globalConnections
    }

    /// Checks the genes' sizes and that every order is a permutation of the five motifs.
    public func validate() throws(SNNError) {
        func bad(_ message: String) -> SNNError { SNNError(.invalidArgument, "genome: " + message) }
        let m = modules.count
        guard m >= 1 else { throw bad("needs at least one module") }
        for (k, module) in modules.enumerated() {
            guard module.order.count == 5, Set(module.order).count == 5 else {
                throw bad(
                    "module \(k): the motif order must hold each of FE, FI, FbI, LI, MI once, got "
                        + module.order.map(\.rawValue).joined(separator: ", "))
            }
            guard module.kernelBits.count == 5 else {
                throw bad("module \(k): kernels for 5 motifs, got \(module.kernelBits.count)")
            }
            for (motif, bits) in zip(Motif.allCases, module.kernelBits) where bits.count != motif.edges.count {
                throw bad(
                    "module \(k): motif \(motif.rawValue) has \(motif.edges.count) edges, got \(bits.count) kernel sizes"
                )
            }
        }
        guard globalConnections.count == m, globalConnections.allSatisfy({ $0.count == m }) else {
            throw bad("the global connection matrix must be \(m)×\(m)")
        }
    }

    /// A random genome: uniform permutations, fair kernel bits, each global connection on with
    /// probability `connectionProbability`.
    public static func random(
        modules count: Int, connectionProbability: Double = 0.2,
        using generator: inout RandomGenerator
    ) -> ArchitectureGenome {
        let modules = (0..<count).map { _ in
            ModuleGenes(
                order: generator.permutation(5).map { Motif.allCases[$0] },
                kernelBits: Motif.allCases.map { m in m.edges.map { _ in generator.next() & 1 == 1 } })
        }
        let connections = (0..<count).map { _ in
            (0..<count).map { _ in Variation.unit(&generator) < connectionProbability }
        }
        return ArchitectureGenome(modules: modules, globalConnections: connections)
    }

    // MARK: - Flat encodings

    /// All bits: every module's kernel bits, then the connection matrix row by row.
    public var bits: [Bool] { modules.flatMap { $0.kernelBits.flatMap { $0 } } + globalConnections.flatMap { $0 } }

    /// Every module's motif order as a permutation of 0…4 (indices into ``Motif/allCases``).
    public var permutations: [[Int]] { modules.map { $0.order.map(\.index) } }

    /// The genome with the given bits and permutations (as ``bits`` and ``permutations`` lay them out).
    public func with(bits: [Bool], permutations: [[Int]]) -> ArchitectureGenome {
        precondition(
            bits.count == self.bits.count && permutations.count == modules.count,
            "ArchitectureGenome.with: \(bits.count) bits and \(permutations.count) permutations for \(modules.count) modules"
        )
        var cursor = 0
        func take(_ n: Int) -> [Bool] {
            defer { cursor += n }
            return Array(bits[cursor..<(cursor + n)])
        }
        let newModules = zip(modules, permutations).map { module, p in
            ModuleGenes(order: p.map { Motif.allCases[$0] }, kernelBits: Motif.allCases.map { take($0.edges.count) })
        }
        let m = modules.count
        let connections = (0..<m).map { _ in take(m) }
        return ArchitectureGenome(modules: newModules, globalConnections: connections)
    }

    /// The predictors' input: per module a one-hot 5×5 matrix of motif positions, then all ``bits``
    /// as 0 or 1.
    public var featureVector: [Double] {
        var v: [Double] = []
        for p in permutations {
            for motif in 0..<5 { for position in 0..<5 { v.append(p[position] == motif ? 1 : 0) } }
        }
        return v + bits.map { $0 ? 1 : 0 }
    }

    /// A compact canonical text, equal for equal genomes: modules as motif orders and kernel
    /// digits, then the matrix (`FE.FI.FbI.LI.MI:3535…|…#0100`).
    public var key: String {
        let parts = modules.map { module in
            module.order.map(\.rawValue).joined(separator: ".") + ":"
                + module.kernelBits.map { $0.map { $0 ? "5" : "3" }.joined() }.joined(separator: ",")
        }
        return parts.joined(separator: "|") + "#"
            + globalConnections.map { $0.map { $0 ? "1" : "0" }.joined() }.joined(separator: "/")
    }

    /// A 64-bit FNV-1a hash of ``key``, stable across processes and platforms (seeds of evaluations).
    public var stableHash: UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in key.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        return h
    }

    // MARK: - JSON

    /// The readable JSON form: `{"modules": [{"order": ["FE", …], "kernels": {"FE": [3, 5, 3, 3], …}}],
    /// "global_connections": [[0, 1], [0, 0]]}`.
    public var jsonObject: [String: Any] {
        let modules: [[String: Any]] = self.modules.map { module in
            var kernels: [String: Any] = [:]
            for (motif, bits) in zip(Motif.allCases, module.kernelBits) {
                kernels[motif.rawValue] = bits.map { $0 ? 5 : 3 }
            }
            return ["order": module.order.map(\.rawValue), "kernels": kernels]
        }
        return ["modules": modules, "global_connections": globalConnections.map { $0.map { $0 ? 1 : 0 } }]
    }

    /// Reads ``jsonObject`` back and validates it; `file` names the source in errors.
    public init(jsonObject object: [String: Any], file: String? = nil) throws(SNNError) {
        func bad(_ message: String) -> SNNError { SNNError(.corrupt, "genome: " + message, file: file) }
        guard let list = object["modules"] as? [[String: Any]] else {
            throw bad("\"modules\" must be a list of objects")
        }
        var modules: [ModuleGenes] = []
        for (k, entry) in list.enumerated() {
            guard let names = entry["order"] as? [String] else {
                throw bad("module \(k): \"order\" must be a list of motif names")
            }
            var order: [Motif] = []
            for name in names {
                guard let motif = Motif(rawValue: name) else {
                    throw bad("module \(k): unknown motif \"\(name)\" (expected FE, FI, FbI, LI or MI)")
                }
                order.append(motif)
            }
            guard let kernels = entry["kernels"] as? [String: Any] else {
                throw bad("module \(k): \"kernels\" must be an object")
            }
            var bits: [[Bool]] = []
            for motif in Motif.allCases {
                guard let sizes = (kernels[motif.rawValue] as? [NSNumber])?.map(\.intValue),
                    sizes.allSatisfy({ $0 == 3 || $0 == 5 })
                else {
                    throw bad("module \(k): kernels.\(motif.rawValue) must be a list of 3s and 5s")
                }
                bits.append(sizes.map { $0 == 5 })
            }
            modules.append(ModuleGenes(order: order, kernelBits: bits))
        }
        guard let rows = object["global_connections"] as? [[NSNumber]],
            rows.allSatisfy({ $0.allSatisfy { $0.intValue == 0 || $0.intValue == 1 } })
        else {
            throw bad("\"global_connections\" must be a matrix of 0s and 1s")
        }
        self.init(modules: modules, globalConnections: rows.map { $0.map { $0.intValue == 1 } })
        do {
            try validate()
        } catch {
            throw SNNError(.corrupt, error.message, file: file)
        }
    }
}
