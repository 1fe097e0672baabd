import Foundation
import SNN

/// `snn search` over the ranks of an MPI job: rank 0 runs the search (NSGA-II, the predictor, the
/// state file and its resume guarantees, all as on one machine) and hands each batch of candidates
/// to every rank; candidate k goes to rank k mod N, which evaluates its share in its own
/// `snn search-worker` processes (``WorkerPoolEvaluator``, `--workers` of them per rank, one thread
/// each, so results do not depend on where they ran). Rank 0 records the results in candidate order
/// once the batch is back, the order one worker on one machine gives.
final class RankEvaluator: CandidateEvaluator {
    let communicator: Communicator
    let local: WorkerPoolEvaluator

    init(communicator: Communicator, local: WorkerPoolEvaluator) {
        self.communicator = communicator
        self.local = local
    }

    /// Rank 0: sends `batch` out, evaluates its own share, and collects every rank's.
    func evaluate(_ batch: [ArchitectureGenome], completed: (Int, CandidateEvaluation) throws -> Void) throws {
        var message = [UInt8](
            try JSONSerialization.data(
                withJSONObject: ["settings": local.settings, "genomes": batch.map(\.jsonObject)]))
        communicator.broadcast(&message, from: 0)
        let parts = communicator.allGather(try Self.evaluateShare(batch, of: communicator, with: local))
        var results: [(Int, CandidateEvaluation)] = []
        for (rank, part) in parts.enumerated() {
            let file = "the results of rank \(rank)"
            guard let list = try? JSONSerialization.jsonObject(with: Data(part)) as? [[String: Any]] else {
                throw CommandFailure(SNNError(.corrupt, "not a list of evaluations", file: file))
            }
            for entry in list {
                guard let k = (entry["index"] as? NSNumber)?.intValue, batch.indices.contains(k),
                    let evaluation = entry["evaluation"] as? [String: Any]
                else { throw CommandFailure(SNNError(.corrupt, "an entry lacks its index or evaluation", file: file)) }
                results.append((k, try CandidateEvaluation(jsonObject: evaluation, file: file)))
            }
        }
        guard Set(results.map(\.0)) == Set(batch.indices) else {
            throw CommandFailure(SNNError(.corrupt, "the ranks returned another set of candidates than they were sent"))
        }
        for (k, result) in results.sorted(by: { $0.0 < $1.0 }) { try completed(k, result) }
    }

    /// Rank 0, after the search: tells the other ranks that no batch follows.
    func finish() {
        var end: [UInt8] = []
        communicator.broadcast(&end, from: 0)
    }

    /// The other ranks: evaluate their share of each batch rank 0 sends until it sends none, with
    /// `workers` worker processes whose files go to `directory`.
    static func serve(_ communicator: Communicator, workers: Int, directory: String) throws {
        while true {
            var bytes: [UInt8] = []
            communicator.broadcast(&bytes, from: 0)
            if bytes.isEmpty { return }
            let file = "the batch sent by rank 0"
            guard let message = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
                let settings = message["settings"] as? [String: Any],
                let genomes = message["genomes"] as? [[String: Any]]
            else { throw CommandFailure(SNNError(.corrupt, "not a batch of candidates", file: file)) }
            let batch = try genomes.map { g throws(SNNError) in try ArchitectureGenome(jsonObject: g, file: file) }
            let local = WorkerPoolEvaluator(workers: workers, directory: directory, settings: settings)
            _ = communicator.allGather(try evaluateShare(batch, of: communicator, with: local))
        }
    }

    /// This rank's candidates of `batch` (k mod N = rank) evaluated, as JSON:
    /// `[{"index": k, "evaluation": {...}}, ...]`.
    static func evaluateShare(
        _ batch: [ArchitectureGenome], of communicator: Communicator, with local: WorkerPoolEvaluator
    ) throws -> [UInt8] {
        let mine = batch.indices.filter { $0 % communicator.size == communicator.rank }
        var results: [[String: Any]] = []
        try local.evaluate(mine.map { batch[$0] }) { j, evaluation in
            results.append(["index": mine[j], "evaluation": evaluation.jsonObject])
        }
        return [UInt8](try JSONSerialization.data(withJSONObject: results))
    }
}
