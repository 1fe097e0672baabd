import Foundation
import SNNTensor

/// What a running search reports.
public enum SearchEvent {
    /// A candidate finished: its generation, how many of the batch are done, and the result.
    case evaluated(generation: Int, done: Int, of: Int, CandidateEvaluation)
    /// The predictor's Kendall τ on the batch it chose, against the true values (held out: the
    /// predictor was fitted before they were evaluated); nil where a sample was constant.
    case predictorQuality(generation: Int, errorTau: Double?, spikesTau: Double?, samples: Int)
    /// A generation ended; `front` is the non-dominated set of the population.
    case generationEnded(generation: Int, front: [CandidateEvaluation])
}

/// An NSGA-II search of EB architectures with its state on disk (METHODS.md §3).
///
/// Generation 0 evaluates P random genomes. Each later generation picks parents by binary
/// tournament on the population (Pareto rank, then crowding distance), makes offspring that differ
/// from every genome evaluated so far (duplicates are drawn again), and evaluates all P of them, or,
/// with a predictor, ranks `candidatesPerEvaluation × E` of them by the predicted objectives (one
/// predictor per objective, fitted on every evaluation so far) and evaluates only the best E by
/// non-dominated sorting and crowding. Survival keeps the best P of population ∪ evaluated offspring.
///
/// `state.json` (and `evaluations.jsonl` beside it) is rewritten atomically after every evaluation
/// and at every generation boundary. It holds the configuration, the population, the batch being
/// evaluated, every evaluation (the predictors' data) and the random generator, so a search killed
/// at any moment continues with ``resume(at:)`` without repeating a finished evaluation and ends
/// where an uninterrupted search would, provided evaluations are deterministic per genome.
public final class SearchRun {
    public let directory: String
    public let configuration: SearchConfiguration
    /// The evaluator's own settings, stored with the state so a resumed search evaluates alike.
    public let evaluationSettings: [String: Any]
    public var onEvent: ((SearchEvent) -> Void)?

    /// The generation whose batch is pending (0: the initial population).
    public private(set) var generation = 0
    private var generator: RandomGenerator
    /// Keys of the current population (empty before generation 0 completes).
    private var population: [String] = []
    /// The batch of this generation, with the predictor's estimates when it chose them.
    private var pending: [(genome: ArchitectureGenome, predicted: [Double]?)] = []
    public private(set) var evaluations: [CandidateEvaluation] = []
    private var tauLog: [[String: Any]] = []
    public private(set) var finished = false

    static let stateVersion = 1
    var statePath: String { directory + "/state.json" }

    private init(directory: String, configuration: SearchConfiguration, evaluationSettings: [String: Any]) {
        self.directory = directory
        self.configuration = configuration
        self.evaluationSettings = evaluationSettings
        generator = RandomGenerator(seed: configuration.seed)
    }

    /// A new search in `directory` (created; it must not hold a search already). Writes the state
    /// with the initial population's batch.
    public static func create(
        at directory: String, configuration: SearchConfiguration,
        evaluationSettings: [String: Any]
    ) throws(SNNError) -> SearchRun {
        try configuration.validate()
        let path = directory + "/state.json"
        if FileManager.default.fileExists(atPath: path) {
            throw SNNError(
                .invalidArgument, "the folder already holds a search; continue it with --resume", file: directory)
        }
        try AtomicFile.createDirectory(directory)
        let run = SearchRun(directory: directory, configuration: configuration, evaluationSettings: evaluationSettings)
        var keys = Set<String>()
        var attempts = 0
        while run.pending.count < configuration.population && attempts < 1000 * configuration.population {
            let g = ArchitectureGenome.random(
                modules: configuration.modules,
                connectionProbability: configuration.connectionProbability,
                using: &run.generator)
            if keys.insert(g.key).inserted { run.pending.append((g, nil)) }
            attempts += 1
        }
        try run.save()
        return run
    }

    /// The search saved in `directory`.
    public static func resume(at directory: String) throws(SNNError) -> SearchRun {
        let path = directory + "/state.json"
        let d = try AtomicFile.readJSON(path)
        func bad(_ what: String) -> SNNError {
            SNNError(.corrupt, "the search state lacks or garbles \(what)", file: path)
        }
        guard d["version"] as? Int == stateVersion else { throw bad("its version (expected \(stateVersion))") }
        guard let c = d["configuration"] as? [String: Any] else { throw bad("\"configuration\"") }
        let run = SearchRun(
            directory: directory, configuration: try SearchConfiguration(dictionary: c, file: path),
            evaluationSettings: d["evaluation"] as? [String: Any] ?? [:])
        guard let generation = d["generation"] as? Int, let words = d["rng"] as? [String], words.count == 4,
            let population = d["population"] as? [String], let pending = d["pending"] as? [[String: Any]],
            let evaluations = d["evaluations"] as? [[String: Any]], let finished = d["finished"] as? Bool
        else {
            throw bad("generation, rng, population, pending, evaluations or finished")
        }
        let state = words.compactMap { UInt64($0, radix: 16) }
        guard state.count == 4, state.contains(where: { $0 != 0 }) else { throw bad("the random generator's state") }
        run.generator = RandomGenerator(state: state)
        run.generation = generation
        run.population = population
        run.finished = finished
        for p in pending {
            guard let g = p["genome"] as? [String: Any] else { throw bad("a pending genome") }
            run.pending.append((try ArchitectureGenome(jsonObject: g, file: path), p["predicted"] as? [Double]))
        }
        for e in evaluations { run.evaluations.append(try CandidateEvaluation(jsonObject: e, file: path)) }
        run.tauLog = d["kendall_tau"] as? [[String: Any]] ?? []
        return run
    }

    /// Writes `state.json` and `evaluations.jsonl` as one atomic group (the state last).
    func save() throws(SNNError) {
        let state: [String: Any] = [
            "version": Self.stateVersion, "configuration": configuration.dictionary, "evaluation": evaluationSettings,
            "generation": generation, "rng": generator.state.map { String($0, radix: 16) }, "population": population,
            "pending": pending.map { p -> [String: Any] in
                var d: [String: Any] = ["genome": p.genome.jsonObject]
                if let predicted = p.predicted { d["predicted"] = predicted }
                return d
            },
            "evaluations": evaluations.map(\.jsonObject), "kendall_tau": tauLog, "finished": finished,
        ]
        var lines = Data()
        for e in evaluations {
            lines.append(try AtomicFile.encodeJSONLine(e.jsonObject, for: directory + "/evaluations.jsonl"))
        }
        try AtomicFile.writeAll([
            (directory + "/evaluations.jsonl", lines),
            (statePath, try AtomicFile.encodeJSON(state, for: statePath)),
        ])
    }

    /// The evaluation of each key.
    private var byKey: [String: CandidateEvaluation] {
        Dictionary(evaluations.map { ($0.genome.key, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Runs the search to its last generation; returns the non-dominated set of all evaluations.
    @discardableResult
    public func run(_ evaluator: some CandidateEvaluator) throws -> [CandidateEvaluation] {
        while !finished {
            try evaluatePending(evaluator)
            try endGeneration()
        }
        return front
    }

    /// Evaluates the pending genomes that have no evaluation yet, saving after each.
    private func evaluatePending(_ evaluator: some CandidateEvaluator) throws {
        let known = Set(evaluations.map(\.genome.key))
        let todo = pending.indices.filter { !known.contains(pending[$0].genome.key) }
        guard !todo.isEmpty else { return }
        var done = pending.count - todo.count
        try evaluator.evaluate(todo.map { pending[$0].genome }) { k, result in
            var e = result
            e.generation = generation
            e.index = todo[k]
            e.predicted = pending[todo[k]].predicted
            evaluations.append(e)
            try save()
            done += 1
            onEvent?(.evaluated(generation: generation, done: done, of: pending.count, e))
        }
    }

    /// Survival, the predictor's τ, then the next generation's batch (or the end); saved.
    private func endGeneration() throws(SNNError) {
        let known = byKey
        let batch = pending.compactMap { known[$0.genome.key] }
        let chosen = batch.compactMap { e in e.predicted.map { (predicted: $0, true: e.objectives) } }
        if !chosen.isEmpty {
            let errorTau = KendallTau.tauB(chosen.map { $0.predicted[0] }, chosen.map { $0.true[0] })
            let spikesTau = KendallTau.tauB(chosen.map { $0.predicted[1] }, chosen.map { $0.true[1] })
            var entry: [String: Any] = ["generation": generation, "samples": chosen.count]
            entry["error"] = errorTau
            entry["spikes_per_sample"] = spikesTau
            tauLog.append(entry)
            onEvent?(
                .predictorQuality(
                    generation: generation, errorTau: errorTau, spikesTau: spikesTau, samples: chosen.count))
        }
        var candidates = population.compactMap { known[$0] }
        var seen = Set(population)
        for e in batch where seen.insert(e.genome.key).inserted { candidates.append(e) }
        population = NSGA2.survivors(candidates.map(\.objectives), count: configuration.population).map {
            candidates[$0].genome.key
        }
        let members = population.compactMap { known[$0] }
        onEvent?(
            .generationEnded(
                generation: generation,
                front: NSGA2.nonDominatedFronts(members.map(\.objectives)).first?.map { members[$0] } ?? []))
        if generation >= configuration.generations {
            finished = true
            pending = []
        } else {
            generation += 1
            pending = try proposeOffspring(members)
        }
        try save()
    }

    /// The next batch: offspring of tournament-chosen parents, new to the search, ranked by the
    /// predictor when there is one.
    private func proposeOffspring(_ members: [CandidateEvaluation]) throws(SNNError) -> [(
        genome: ArchitectureGenome, predicted: [Double]?
    )] {
        let (rank, crowding) = NSGA2.rankAndCrowding(members.map(\.objectives))
        let want =
            configuration.predictor == .none
            ? configuration.population
            : configuration.evaluationsPerGeneration * configuration.candidatesPerEvaluation
        var pool: [ArchitectureGenome] = []
        var seen = Set(evaluations.map(\.genome.key))
        var attempts = 0
        while pool.count < want && attempts < 100 * want {
            attempts += 1
            let a = members[NSGA2.tournament(rank: rank, crowding: crowding, using: &generator)]
            let b = members[NSGA2.tournament(rank: rank, crowding: crowding, using: &generator)]
            let (x, y) = configuration.variation.offspring(a.genome, b.genome, using: &generator)
            for child in [x, y] where pool.count < want && seen.insert(child.key).inserted { pool.append(child) }
        }
        guard configuration.predictor != .none, pool.count > configuration.evaluationsPerGeneration else {
            return pool.prefix(configuration.offspringPerGeneration).map { ($0, nil) }
        }
        // Fit on every evaluation in a fixed order (generation, position), whatever order workers finished in.
        let data = evaluations.sorted { ($0.generation, $0.index) < ($1.generation, $1.index) }
        let inputs = data.map(\.genome.featureVector), poolInputs = pool.map(\.featureVector)
        var predictions: [[Double]] = []
        for (k, target) in [data.map(\.error), data.map(\.spikesPerSample)].enumerated() {
            guard var predictor = configuration.predictor.make(seed: configuration.seed &+ UInt64(generation * 2 + k))
            else {
                return pool.prefix(configuration.offspringPerGeneration).map { ($0, nil) }
            }
            try predictor.fit(inputs, target)
            predictions.append(predictor.predict(poolInputs))
        }
        let points = pool.indices.map { [predictions[0][$0], predictions[1][$0]] }
        return NSGA2.survivors(points, count: configuration.evaluationsPerGeneration).map { (pool[$0], points[$0]) }
    }

    /// The non-dominated set of every evaluation so far, by increasing error.
    public var front: [CandidateEvaluation] {
        let points = evaluations.map(\.objectives)
        return (NSGA2.nonDominatedFronts(points).first ?? []).map { evaluations[$0] }
            .sorted { ($0.error, $0.spikesPerSample, $0.genome.key) < ($1.error, $1.spikesPerSample, $1.genome.key) }
    }

    /// The predictor's τ per generation, as stored.
    public var kendallTauLog: [[String: Any]] { tauLog }
}
