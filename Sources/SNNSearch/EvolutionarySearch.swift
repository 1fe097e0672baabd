import Foundation
import SNNTensor

/// One truly evaluated genome.
public struct CandidateEvaluation: Sendable, Equatable {
    public var genome: ArchitectureGenome
    /// Validation error in [0, 1].
    public var error: Double
    /// Spikes per validation sample, counted once per spiking neuron over all T steps (the input
    /// encoding excluded).
    public var spikesPerSample: Double
    /// Trainable scalars of the network.
    public var parameters: Int
    /// Wall-clock seconds of the evaluation (not part of any decision).
    public var seconds: Double
    /// The generation that proposed it (0: the initial population) and its position in that batch.
    public var generation: Int, index: Int
    /// The predictor's estimates of (error, spikes per sample), when a predictor chose it.
    public var predicted: [Double]?

    public init(
        genome: ArchitectureGenome, error: Double, spikesPerSample: Double, parameters: Int, seconds: Double,
        generation: Int = 0, index: Int = 0, predicted: [Double]? = nil
    ) {
        self.genome = genome
        self.error = error
        self.spikesPerSample = spikesPerSample
        self.parameters = parameters
        self.seconds = seconds
        self.generation = generation
        self.index = index
        self.predicted = predicted
    }

    /// The two objectives, both minimised.
    public var objectives: [Double] { [error, spikesPerSample] }

    public var jsonObject: [String: Any] {
        var d: [String: Any] = [
            "genome": genome.jsonObject, "key": genome.key, "error": error,
            "spikes_per_sample": spikesPerSample, "parameters": parameters, "seconds": seconds,
            "generation": generation, "index": index,
            // JSON numbers do not always read back to the same Double (Foundation
            // on Linux), so the objectives also travel as their exact bit patterns.
            "exact": [error, spikesPerSample].map { String($0.bitPattern, radix: 16) },
        ]
        if let predicted { d["predicted"] = ["error": predicted[0], "spikes_per_sample": predicted[1]] }
        return d
    }

    public init(jsonObject d: [String: Any], file: String? = nil) throws(SNNError) {
        guard let g = d["genome"] as? [String: Any], let shownError = (d["error"] as? NSNumber)?.doubleValue,
            let shownSpikes = (d["spikes_per_sample"] as? NSNumber)?.doubleValue,
            let parameters = d["parameters"] as? Int,
            let generation = d["generation"] as? Int, let index = d["index"] as? Int
        else {
            throw SNNError(
                .corrupt, "an evaluation lacks genome, error, spikes_per_sample, parameters, generation or index",
                file: file)
        }
        var (error, spikes) = (shownError, shownSpikes)
        if let exact = d["exact"] as? [String], exact.count == 2 {
            guard let e = UInt64(exact[0], radix: 16), let s = UInt64(exact[1], radix: 16) else {
                throw SNNError(
                    .corrupt, "an evaluation's \"exact\" objectives are not hexadecimal bit patterns", file: file)
            }
            (error, spikes) = (Double(bitPattern: e), Double(bitPattern: s))
        }
        var predicted: [Double]?
        if let p = d["predicted"] as? [String: Any], let e = (p["error"] as? NSNumber)?.doubleValue,
            let s = (p["spikes_per_sample"] as? NSNumber)?.doubleValue
        {
            predicted = [e, s]
        }
        self.init(
            genome: try ArchitectureGenome(jsonObject: g, file: file), error: error, spikesPerSample: spikes,
            parameters: parameters, seconds: (d["seconds"] as? NSNumber)?.doubleValue ?? 0, generation: generation,
            index: index, predicted: predicted)
    }
}

/// Runs candidates' evaluations (in this process, or in worker processes).
public protocol CandidateEvaluator {
    /// Evaluates every genome of `batch`; calls `completed` with its position and result as each one
    /// finishes (in any order, always on the calling thread). An error from `completed` or from an
    /// evaluation stops the batch and is rethrown.
    func evaluate(_ batch: [ArchitectureGenome], completed: (Int, CandidateEvaluation) throws -> Void) throws
}

/// The settings of a search (what `--resume` takes from the state file).
public struct SearchConfiguration: Sendable, Equatable {
    /// Population size P.
    public var population: Int
    /// Generations after the initial population.
    public var generations: Int
    /// The surrogate that ranks offspring, or none (every offspring evaluated).
    public var predictor: PredictorKind
    /// With a predictor: the true evaluations per generation (METHODS.md: 8).
    public var evaluationsPerGeneration: Int
    /// With a predictor: offspring ranked per true evaluation.
    public var candidatesPerEvaluation: Int
    /// Modules M of every genome.
    public var modules: Int
    /// Probability of each global connection in the initial population.
    public var connectionProbability: Double
    public var variation: GenomeVariation
    public var seed: UInt64

    public init(
        population: Int = 8, generations: Int = 2, predictor: PredictorKind = .rbf,
        evaluationsPerGeneration: Int? = nil,
        candidatesPerEvaluation: Int = 10, modules: Int = 3, connectionProbability: Double = 0.2,
        variation: GenomeVariation = GenomeVariation(), seed: UInt64 = 42
    ) {
        self.population = population
        self.generations = generations
        self.predictor = predictor
        self.evaluationsPerGeneration = evaluationsPerGeneration ?? max(1, population / 2)
        self.candidatesPerEvaluation = candidatesPerEvaluation
        self.modules = modules
        self.connectionProbability = connectionProbability
        self.variation = variation
        self.seed = seed
    }

    /// Offspring truly evaluated per generation.
    public var offspringPerGeneration: Int { predictor == .none ? population : evaluationsPerGeneration }

    public func validate() throws(SNNError) {
        func bad(_ m: String) -> SNNError { SNNError(.invalidArgument, m) }
        guard population >= 2 else { throw bad("the population must be ≥ 2, got \(population)") }
        guard generations >= 0 else { throw bad("generations must be ≥ 0, got \(generations)") }
        guard evaluationsPerGeneration >= 1 else { throw bad("evaluations per generation must be ≥ 1") }
        guard candidatesPerEvaluation >= 1 else { throw bad("candidates per evaluation must be ≥ 1") }
        guard modules >= 1 && modules <= 6 else { throw bad("modules must be in 1…6, got \(modules)") }
        guard connectionProbability >= 0 && connectionProbability <= 1 else {
            throw bad("connection probability must be in [0, 1]")
        }
    }

    public var dictionary: [String: Any] {
        var v: [String: Any] = ["crossover_probability": variation.crossoverProbability]
        switch variation.operators {
        case let .standard(bits, permutations):
            v["operators"] = "standard"
            v["bit_crossover"] = bits.rawValue
            v["permutation_mutation"] = permutations.rawValue
        case .released(let eta):
            v["operators"] = "released"
            v["eta"] = eta
        }
        if let r = variation.bitFlipRate { v["bit_flip_rate"] = r }
        if let r = variation.permutationMutationRate { v["permutation_mutation_rate"] = r }
        return [
            "population": population, "generations": generations, "predictor": predictor.rawValue,
            "evaluations_per_generation": evaluationsPerGeneration,
            "candidates_per_evaluation": candidatesPerEvaluation,
            "modules": modules, "connection_probability": connectionProbability, "variation": v,
            "seed": String(seed),
        ]
    }

    public init(dictionary d: [String: Any], file: String? = nil) throws(SNNError) {
        func bad() -> SNNError { SNNError(.corrupt, "the search configuration is incomplete or malformed", file: file) }
        guard let p = d["population"] as? Int, let g = d["generations"] as? Int,
            let predictorName = d["predictor"] as? String, let predictor = PredictorKind(rawValue: predictorName),
            let e = d["evaluations_per_generation"] as? Int, let c = d["candidates_per_evaluation"] as? Int,
            let m = d["modules"] as? Int, let q = (d["connection_probability"] as? NSNumber)?.doubleValue,
            let v = d["variation"] as? [String: Any], let pc = (v["crossover_probability"] as? NSNumber)?.doubleValue,
            let seedText = d["seed"] as? String, let seed = UInt64(seedText)
        else { throw bad() }
        let operators: GenomeVariation.Operators
        switch v["operators"] as? String {
        case "standard"?:
            guard let b = (v["bit_crossover"] as? String).flatMap(GenomeVariation.BitCrossover.init),
                let pm = (v["permutation_mutation"] as? String).flatMap(GenomeVariation.PermutationMutation.init)
            else { throw bad() }
            operators = .standard(bitCrossover: b, permutationMutation: pm)
        case "released"?:
            guard let eta = (v["eta"] as? NSNumber)?.doubleValue else { throw bad() }
            operators = .released(eta: eta)
        default: throw bad()
        }
        let variation = GenomeVariation(
            operators: operators, crossoverProbability: pc,
            bitFlipRate: (v["bit_flip_rate"] as? NSNumber)?.doubleValue,
            permutationMutationRate: (v["permutation_mutation_rate"] as? NSNumber)?.doubleValue)
        self.init(
            population: p, generations: g, predictor: predictor, evaluationsPerGeneration: e,
            candidatesPerEvaluation: c,
            modules: m, connectionProbability: q, variation: variation, seed: seed)
    }
}
