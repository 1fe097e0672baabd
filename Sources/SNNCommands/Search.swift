import ArgumentParser
import Foundation
import SNN

extension PredictorKind: ExpressibleByArgument {}
extension GenomeVariation.BitCrossover: ExpressibleByArgument {}
extension GenomeVariation.PermutationMutation: ExpressibleByArgument {}

/// The variation operators of the command line.
enum OperatorFamily: String, ExpressibleByArgument, CaseIterable { case standard, released }

/// `snn search`: NSGA-II over EB architectures (METHODS.md §3).
struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Search spiking architectures of brain-inspired motifs with NSGA-II (validation error vs spikes per sample).",
        discussion: """
            Candidates are trained for --evaluation-steps steps on a training subset and measured on a validation \
            split carved from the training set (never the test set). Spikes per sample count every spiking neuron \
            of the network once per time step, the input encoding excluded. Writes OUTPUT/state.json after every \
            evaluation (continue a killed search with --resume), evaluations.jsonl, pareto.json and front.svg.
            """)

    @Option(help: "Data set (default: digits).")
    var dataset: DatasetName?
    @Option(help: "Directory holding the data set's files (not needed for digits).")
    var dataDir: String?
    @Option(parsing: .unconditional, help: "Population size P (default: 8).")
    var population: Int?
    @Option(parsing: .unconditional, help: "Generations after the initial population (default: 2).")
    var generations: Int?
    @Option(parsing: .unconditional, help: "Training steps per candidate (default: 100).")
    var evaluationSteps: Int?
    @Option(help: "Predictor ranking the offspring: rbf, mlp or none (every offspring evaluated; default: rbf).")
    var predictor: PredictorKind?
    @Option(parsing: .unconditional, help: "With a predictor: true evaluations per generation (default: P/2).")
    var evaluationsPerGeneration: Int?
    @Option(parsing: .unconditional, help: "With a predictor: offspring ranked per true evaluation (default: 10).")
    var candidatesPerEvaluation: Int?
    @Option(parsing: .unconditional, help: "Modules M per network (default: 3).")
    var modules: Int?
    @Option(parsing: .unconditional, help: "Channels C per node in the first module, even (default: 8).")
    var channels: Int?
    @Option(
        parsing: .unconditional, help: "Probability of each global connection in the initial population (default: 0.2)."
    )
    var connectionProbability: Double?
    @Option(
        help:
            "Variation operators: standard (bit flip, crossover, swap/insertion, OX) or released (SBX + polynomial mutation, repaired; default: standard)."
    )
    var operators: OperatorFamily?
    @Option(help: "Crossover of the bits: two-point or uniform (default: two-point).")
    var bitCrossover: GenomeVariation.BitCrossover?
    @Option(help: "Mutation of the motif orders: swap or insertion (default: swap).")
    var permutationMutation: GenomeVariation.PermutationMutation?
    @OptionGroup var neuronOptions: NeuronOptions
    @Option(name: [.customLong("time-steps")], parsing: .unconditional, help: "Time steps T (default: 4).")
    var timeSteps: Int?
    @Option(parsing: .unconditional, help: "Mini-batch size (default: 64).")
    var batchSize: Int?
    @Option(parsing: .unconditional, help: "Base learning rate (scaled by batch/1024; default: 0.64).")
    var learningRate: Float?
    @Option(
        parsing: .unconditional, help: "Training subset size (default: the training set less the validation split).")
    var trainSamples: Int?
    @Option(parsing: .unconditional, help: "Validation split carved from the training set (default: 300).")
    var validationSamples: Int?
    @Option(parsing: .unconditional, help: "Random seed (default: 42).")
    var seed: UInt64?
    @Option(
        parsing: .unconditional, help: "Worker processes evaluating candidates at once, one thread each (default: 1).")
    var workers: Int = 1
    @Option(help: "Folder of the search (state.json, evaluations.jsonl, pareto.json, front.svg).")
    var output: String
    @Flag(help: "Continue the search in --output from its state.json (only --workers and --json may be given).")
    var resume = false
    @Flag(help: "Print a JSON summary as the last line of standard output (progress goes to standard error).")
    var json = false
    @Flag(
        help: """
            Spread the evaluations over the ranks of an MPI job (mpirun -np N snn search ...; on by itself when \
            OMPI_COMM_WORLD_SIZE or PMI_SIZE says N > 1): rank 0 runs the search and writes --output, each rank \
            evaluates with --workers processes.
            """)
    var distributed = false

    var givenSearchOptions: [String] {
        let given: [(String, Bool)] = [
            ("--dataset", dataset != nil), ("--data-dir", dataDir != nil), ("--population", population != nil),
            ("--generations", generations != nil), ("--evaluation-steps", evaluationSteps != nil),
            ("--predictor", predictor != nil), ("--evaluations-per-generation", evaluationsPerGeneration != nil),
            ("--candidates-per-evaluation", candidatesPerEvaluation != nil), ("--modules", modules != nil),
            ("--channels", channels != nil), ("--connection-probability", connectionProbability != nil),
            ("--operators", operators != nil), ("--bit-crossover", bitCrossover != nil),
            ("--permutation-mutation", permutationMutation != nil), ("--time-steps", timeSteps != nil),
            ("--batch-size", batchSize != nil), ("--learning-rate", learningRate != nil),
            ("--train-samples", trainSamples != nil), ("--validation-samples", validationSamples != nil),
            ("--seed", seed != nil),
        ]
        return given.filter(\.1).map(\.0) + neuronOptions.given
    }

    func validate() throws {
        guard workers >= 1 && workers <= 64 else { throw ValidationError("--workers must be in 1…64, got \(workers)") }
        if resume {
            let ignored = givenSearchOptions
            guard ignored.isEmpty else {
                throw ValidationError(
                    "--resume continues a search with the options of its state.json; \(ignored.joined(separator: ", ")) cannot change now (only --workers and --json can be given)"
                )
            }
            return
        }
        if operators == .released && (bitCrossover != nil || permutationMutation != nil) {
            throw ValidationError(
                "--bit-crossover and --permutation-mutation choose standard operators, not --operators released")
        }
        let d = dataset ?? .digits
        if d.needsDirectory && dataDir == nil {
            throw ValidationError("--data-dir is required for --dataset \(d.rawValue)")
        }
        for (flag, value) in [
            ("--evaluation-steps", evaluationSteps), ("--channels", channels), ("--time-steps", timeSteps),
            ("--batch-size", batchSize), ("--train-samples", trainSamples),
            ("--validation-samples", validationSamples),
        ] {
            if let value, value < 1 { throw ValidationError("\(flag) must be ≥ 1, got \(value)") }
        }
        do {
            try makeSearchConfiguration().validate()
        } catch let error as SNNError {
            throw ValidationError(Self.flagNames(error.message))
        }
    }

    /// Library wording → flag names.
    static func flagNames(_ message: String) -> String {
        message.replacingOccurrences(of: "the population", with: "--population")
            .replacingOccurrences(of: "generations must", with: "--generations must")
            .replacingOccurrences(of: "evaluations per generation", with: "--evaluations-per-generation")
            .replacingOccurrences(of: "candidates per evaluation", with: "--candidates-per-evaluation")
            .replacingOccurrences(of: "modules must", with: "--modules must")
            .replacingOccurrences(of: "connection probability", with: "--connection-probability")
            .replacingOccurrences(of: "channels must", with: "--channels must")
    }

    func makeSearchConfiguration() throws -> SearchConfiguration {
        var variation = GenomeVariation()
        if operators == .released {
            variation.operators = .released(eta: 3)
        } else {
            variation.operators = .standard(
                bitCrossover: bitCrossover ?? .twoPoint, permutationMutation: permutationMutation ?? .swap)
        }
        let p = population ?? 8
        return SearchConfiguration(
            population: p, generations: generations ?? 2, predictor: predictor ?? .rbf,
            evaluationsPerGeneration: evaluationsPerGeneration,
            candidatesPerEvaluation: candidatesPerEvaluation ?? 10, modules: modules ?? 3,
            connectionProbability: connectionProbability ?? 0.2, variation: variation, seed: seed ?? 42)
    }

    func makeEvaluation() throws -> FewShotEvaluation {
        var c = TrainingConfiguration()
        if let dataset { c.dataset = dataset }
        c.dataDirectory = dataDir.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        c.neuron = try neuronOptions.configuration(defaults: .evolved)
        if let timeSteps { c.timeSteps = timeSteps }
        if let batchSize { c.batchSize = batchSize }
        c.learningRate = learningRate ?? TrainingConfiguration.defaultLearningRate(for: c.model, evolved: true)
        if let seed { c.seed = seed }
        c.trainSamples = trainSamples
        c.encoding = c.dataset.isEventData ? .frames : .direct
        return FewShotEvaluation(
            training: c, channels: channels ?? 8, steps: evaluationSteps ?? 100,
            validationSamples: validationSamples ?? 300)
    }

    func run() throws {
        var communicator: Communicator?
        if distributed || (Communicator.launcherWorldSize() ?? 1) > 1 {
            do {
                communicator = try Communicator.world()
            } catch {
                throw CommandFailure(error)
            }
        }
        if let communicator, !communicator.isRoot {
            // Its worker files go to a folder of its own: --output may not exist on this machine.
            let scratch = NSTemporaryDirectory() + "snn-search-rank\(communicator.rank)-\(getpid())"
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            try RankEvaluator.serve(communicator, workers: workers, directory: scratch)
            Communicator.finalize()
            return
        }
        let started = Date()
        let search: SearchRun
        let evaluation: FewShotEvaluation
        do {
            if resume {
                search = try SearchRun.resume(at: output)
                evaluation = try FewShotEvaluation(dictionary: search.evaluationSettings, file: output + "/state.json")
            } else {
                evaluation = try makeEvaluation()
                let configuration = try makeSearchConfiguration()
                // Check data and sizes before the folder is created.
                let (train, _) = try evaluation.split()
                do {
                    try evaluation.validate(
                        sampleShape: Array(train.images.shape.dropFirst()), modules: configuration.modules)
                } catch {
                    throw ValidationError(Self.flagNames(error.message))
                }
                search = try SearchRun.create(
                    at: output, configuration: configuration,
                    evaluationSettings: evaluation.dictionary)
            }
        } catch let error as SNNError {
            throw CommandFailure(error)
        }
        let log = FileHandle.standardError
        func say(_ text: String) {
            (json ? log : FileHandle.standardOutput).write(Data((text + "\n").utf8))
        }
        search.onEvent = { event in
            switch event {
            case let .evaluated(generation, done, count, e):
                say(
                    String(
                        format: "generation %d: %d/%d  error %.2f%%  spikes/sample %.0f  params %d  %.1f s",
                        generation, done, count, e.error * 100, e.spikesPerSample, e.parameters, e.seconds))
            case let .predictorQuality(generation, errorTau, spikesTau, samples):
                say(
                    "generation \(generation): predictor Kendall τ on its \(samples) choices: error "
                        + (errorTau.map { String(format: "%.3f", $0) } ?? "n/a") + ", spikes "
                        + (spikesTau.map { String(format: "%.3f", $0) } ?? "n/a"))
            case let .generationEnded(generation, front):
                say(
                    "generation \(generation) done; population front: "
                        + front.map { String(format: "(%.2f%%, %.0f)", $0.error * 100, $0.spikesPerSample) }.joined(
                            separator: " "))
            }
        }
        let evaluator = WorkerPoolEvaluator(workers: workers, directory: output, settings: search.evaluationSettings)
        do {
            if let communicator {
                let ranks = RankEvaluator(communicator: communicator, local: evaluator)
                try search.run(ranks)
                ranks.finish()
                Communicator.finalize()
            } else {
                try search.run(evaluator)
            }
            try Self.writeResults(search, evaluation: evaluation)
        } catch let error as SNNError {
            throw CommandFailure(error)
        }
        let front = search.front
        say("front of \(search.evaluations.count) evaluations (written to \(output)/pareto.json):")
        for (k, e) in front.enumerated() {
            say(
                String(
                    format: "  #%d  error %.2f%%  spikes/sample %.0f  params %d", k, e.error * 100, e.spikesPerSample,
                    e.parameters))
        }
        if json {
            print(
                try JSONLine.encode([
                    "front": front.map {
                        [
                            "error": $0.error, "spikes_per_sample": $0.spikesPerSample, "parameters": $0.parameters,
                            "key": $0.genome.key,
                        ]
                    },
                    "evaluations": search.evaluations.count, "output": output,
                    "seconds": Date().timeIntervalSince(started),
                ]))
        }
    }

    /// pareto.json and front.svg.
    static func writeResults(_ search: SearchRun, evaluation: FewShotEvaluation) throws(SNNError) {
        let front = search.front
        let pareto: [String: Any] = [
            "objectives": [
                "error":
                    "validation error (fraction) on \(evaluation.validationSamples) samples carved from the training set of \(evaluation.training.dataset.rawValue), after \(evaluation.steps) training steps",
                "spikes_per_sample":
                    "spikes per validation sample over \(evaluation.training.timeSteps) steps, every spiking neuron counted once per step, the input encoding excluded",
            ],
            "front_of": "all \(search.evaluations.count) evaluations",
            "channels": evaluation.channels,
            "front": front.map { e -> [String: Any] in
                [
                    "genome": e.genome.jsonObject, "key": e.genome.key, "error": e.error,
                    "spikes_per_sample": e.spikesPerSample,
                    "parameters": e.parameters,
                ]
            },
            "kendall_tau": search.kendallTauLog,
        ]
        let svg = ParetoPlot.svg(
            evaluations: search.evaluations, front: front,
            title:
                "\(evaluation.training.dataset.rawValue): \(search.evaluations.count) evaluations, front of \(front.count)"
        )
        try AtomicFile.writeAll([
            (search.directory + "/front.svg", Data(svg.utf8)),
            (
                search.directory + "/pareto.json",
                try AtomicFile.encodeJSON(pareto, for: search.directory + "/pareto.json")
            ),
        ])
    }
}

/// Evaluates candidates in `snn search-worker` child processes, at most `workers` at once.
final class WorkerPoolEvaluator: CandidateEvaluator {
    let workers: Int
    let directory: String
    let settings: [String: Any]

    init(workers: Int, directory: String, settings: [String: Any]) {
        self.workers = workers
        self.directory = directory
        self.settings = settings
    }

    static var executable: String { Bundle.main.executablePath ?? CommandLine.arguments[0] }

    func evaluate(_ batch: [ArchitectureGenome], completed: (Int, CandidateEvaluation) throws -> Void) throws {
        let work = directory + "/work"
        do { try AtomicFile.createDirectory(work) } catch { throw CommandFailure(error) }
        final class Finished: @unchecked Sendable {
            let lock = NSLock()
            var indices: [Int] = []
            let signal = DispatchSemaphore(value: 0)
        }
        let finished = Finished()
        var running: [Int: (Process, Pipe, String)] = [:]
        var next = 0
        defer { for (process, _, _) in running.values where process.isRunning { process.terminate() } }
        while next < batch.count || !running.isEmpty {
            while next < batch.count && running.count < workers {
                let k = next
                next += 1
                let name = String(format: "%016llx", batch[k].stableHash)
                let request = work + "/\(name).json", logPath = work + "/\(name).log"
                try AtomicFile.writeJSON(["evaluation": settings, "genome": batch[k].jsonObject], to: request)
                let process = Process()
                process.executableURL = URL(fileURLWithPath: Self.executable)
                process.arguments = ["search-worker", "--request", request]
                var environment = ProcessInfo.processInfo.environment
                environment["SNN_THREADS"] = "1"
                environment["OPENBLAS_NUM_THREADS"] = "1"
                environment["OMP_NUM_THREADS"] = "1"
                process.environment = environment
                let out = Pipe()
                process.standardOutput = out
                FileManager.default.createFile(atPath: logPath, contents: nil)
                process.standardError = FileHandle(forWritingAtPath: logPath)
                process.terminationHandler = { _ in
                    finished.lock.lock()
                    finished.indices.append(k)
                    finished.lock.unlock()
                    finished.signal.signal()
                }
                try process.run()
                running[k] = (process, out, logPath)
            }
            finished.signal.wait()
            finished.lock.lock()
            let done = finished.indices
            finished.indices.removeAll()
            finished.lock.unlock()
            for k in done {
                guard let (process, out, logPath) = running.removeValue(forKey: k) else { continue }
                let data = out.fileHandleForReading.readDataToEndOfFile()
                let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
                guard process.terminationStatus == 0,
                    let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                else {
                    let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                    let reason = log.split(separator: "\n").last.map(String.init) ?? "no output"
                    throw CommandFailure(
                        SNNError(
                            .io,
                            "the worker evaluating \(batch[k].key) failed (status \(process.terminationStatus)): \(reason)",
                            file: logPath))
                }
                let result = try CandidateEvaluation(jsonObject: object, file: logPath)
                // The worker's files go before the result is recorded: a search killed in between
                // then evaluates the candidate again on --resume (and removes its files), where the
                // other order left them behind for an evaluation that was already recorded.
                try? FileManager.default.removeItem(atPath: logPath)
                try? FileManager.default.removeItem(atPath: (logPath as NSString).deletingPathExtension + ".json")
                try completed(k, result)
            }
        }
    }
}

/// `snn search-worker`: evaluates one candidate of `snn search` and prints its result as one JSON line.
struct SearchWorker: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search-worker", abstract: "Evaluate one candidate of snn search (used by snn search itself).",
        shouldDisplay: false)

    @Option(help: "The request file written by snn search.")
    var request: String

    func run() throws {
        // One thread per worker (SNN_THREADS=1 from the parent): results then do not depend on how
        // many workers run.
        do {
            let d = try AtomicFile.readJSON(request)
            guard let settings = d["evaluation"] as? [String: Any], let g = d["genome"] as? [String: Any] else {
                throw SNNError(.corrupt, "a worker request needs \"evaluation\" and \"genome\"", file: request)
            }
            let evaluation = try FewShotEvaluation(dictionary: settings, file: request)
            let genome = try ArchitectureGenome(jsonObject: g, file: request)
            let (train, validation) = try evaluation.split()
            try evaluation.validate(sampleShape: Array(train.images.shape.dropFirst()), modules: genome.modules.count)
            // A worker whose search was killed stops at its next step instead of finishing for nobody.
            let parent = getppid()
            guard
                let result = evaluation.evaluate(
                    genome, train: train, validation: validation,
                    shouldStop: { getppid() != parent })
            else {
                throw SNNError(.interrupted, "the search that asked for this evaluation has ended", file: request)
            }
            print(try JSONLine.encode(result.jsonObject))
        } catch let error as SNNError {
            throw CommandFailure(error)
        }
    }
}
