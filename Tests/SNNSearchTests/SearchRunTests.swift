import Foundation
@testable import SNNSearch
import SNNTensor
import Testing

/// The search loop with a deterministic stand-in for training: objectives computed from the genome.
@Suite struct SearchRunTests {
    struct Stopped: Error {}

    /// Error falls with the number of 5×5 kernels and with FE early in module 0; spikes rise with
    /// the 5×5 kernels and the global connections, so the two objectives conflict.
    final class SyntheticEvaluator: CandidateEvaluator {
        var calls: [String] = []
        var stopAfter: Int?
        init(stopAfter: Int? = nil) { self.stopAfter = stopAfter }

        static func evaluate(_ g: ArchitectureGenome) -> CandidateEvaluation {
            let large = Double(g.modules.flatMap { $0.kernelBits.flatMap { $0 } }.filter { $0 }.count)
            let links = Double(g.globalConnections.flatMap { $0 }.filter { $0 }.count)
            let position = Double(g.modules[0].order.firstIndex(of: .feedforwardExcitation) ?? 0)
            let error = 0.9 - 0.01 * large + 0.02 * position - 0.03 * links + 0.001 * Double(g.stableHash % 7)
            return CandidateEvaluation(
                genome: g, error: error, spikesPerSample: 100 * large + 300 * links + position,
                parameters: Int(large), seconds: 0)
        }

        func evaluate(_ batch: [ArchitectureGenome], completed: (Int, CandidateEvaluation) throws -> Void) throws {
            // Finish in reverse order, as workers may.
            for k in batch.indices.reversed() {
                if let stopAfter, calls.count >= stopAfter { throw Stopped() }
                calls.append(batch[k].key)
                try completed(k, Self.evaluate(batch[k]))
            }
        }
    }

    static func directory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("snn-search-\(UUID().uuidString)").path
    }

    @Test(arguments: [PredictorKind.none, .rbf, .mlp])
    func interruptedSearchResumesToTheSameFront(_ predictor: PredictorKind) throws {
        let configuration = SearchConfiguration(
            population: 8, generations: 4, predictor: predictor,
            evaluationsPerGeneration: 4, candidatesPerEvaluation: 5, modules: 2, seed: 7)
        let whole = Self.directory(), broken = Self.directory()
        defer {
            try? FileManager.default.removeItem(atPath: whole)
            try? FileManager.default.removeItem(atPath: broken)
        }
        let reference = try SearchRun.create(at: whole, configuration: configuration, evaluationSettings: [:])
        let full = SyntheticEvaluator()
        let expected = try reference.run(full)
        let total = full.calls.count
        #expect(total == 8 + 4 * configuration.offspringPerGeneration)
        #expect(Set(full.calls).count == total, "a genome was evaluated twice")

        // Stop in the middle of generation 2's batch (an exception stands in for the kill: the
        // state on disk is what a kill at that moment leaves), then resume from disk.
        let first = SyntheticEvaluator(stopAfter: 8 + configuration.offspringPerGeneration + 2)
        let interrupted = try SearchRun.create(at: broken, configuration: configuration, evaluationSettings: [:])
        #expect(throws: Stopped.self) { try interrupted.run(first) }
        let resumed = try SearchRun.resume(at: broken)
        let rest = SyntheticEvaluator()
        let front = try resumed.run(rest)
        #expect(first.calls.count + rest.calls.count == total, "evaluations repeated or skipped")
        #expect(Set(first.calls).isDisjoint(with: rest.calls))
        #expect(front.map(\.genome.key) == expected.map(\.genome.key))
        #expect(front.map(\.objectives) == expected.map(\.objectives))
        #expect(resumed.evaluations.count == reference.evaluations.count)
        // The front is non-dominated and nothing evaluated dominates a member.
        for member in front {
            #expect(!resumed.evaluations.contains { NSGA2.dominates($0.objectives, member.objectives) })
        }
        if predictor != .none {
            #expect(resumed.kendallTauLog.count == configuration.generations)
        }
    }

    @Test func searchImprovesOnItsInitialPopulation() throws {
        // Hypervolume of the population's front grows over generations (the stand-in rewards variation).
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let run = try SearchRun.create(
            at: directory,
            configuration: SearchConfiguration(
                population: 10, generations: 6,
                predictor: .none, modules: 2, seed: 3),
            evaluationSettings: [:])
        var fronts: [[CandidateEvaluation]] = []
        run.onEvent = { if case let .generationEnded(_, front) = $0 { fronts.append(front) } }
        try run.run(SyntheticEvaluator())
        let reference = [1.0, 10_000.0]
        let first = NSGA2.hypervolume2D(fronts[0].map(\.objectives), reference: reference)
        let last = NSGA2.hypervolume2D(fronts[fronts.count - 1].map(\.objectives), reference: reference)
        #expect(last > first, "hypervolume \(first) → \(last)")
    }

    @Test func anExistingSearchIsNotOverwritten() throws {
        let directory = Self.directory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        _ = try SearchRun.create(at: directory, configuration: SearchConfiguration(), evaluationSettings: [:])
        #expect(throws: SNNError.self) {
            _ = try SearchRun.create(at: directory, configuration: SearchConfiguration(), evaluationSettings: [:])
        }
    }
}
