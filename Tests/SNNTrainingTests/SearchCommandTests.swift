import Foundation
import SNN
import SNNTestSupport
import Testing

/// `snn search` end to end through the built executable (tiny networks so a debug build is quick).
@Suite(.serialized) struct SearchCommandTests {
    static let tiny = [
        "search", "--dataset", "digits", "--population", "4", "--generations", "2", "--evaluation-steps", "3",
        "--predictor", "rbf", "--evaluations-per-generation", "2", "--candidates-per-evaluation", "4",
        "--modules", "2", "--channels", "2", "--time-steps", "2", "--batch-size", "8",
        "--train-samples", "48", "--validation-samples", "24", "--seed", "3",
    ]

    static func front(_ directory: String) throws -> [[String: Any]] {
        let object = try AtomicFile.readJSON(directory + "/pareto.json")
        return try #require(object["front"] as? [[String: Any]])
    }

    static func evaluationCount(_ directory: String) -> Int {
        guard let state = try? AtomicFile.readJSON(directory + "/state.json") else { return 0 }
        return (state["evaluations"] as? [Any])?.count ?? 0
    }

    @Test func killedSearchResumesToTheUninterruptedFront() throws {
        let whole = temporaryPath("search-whole"), killed = temporaryPath("search-killed")
        defer {
            try? FileManager.default.removeItem(atPath: whole)
            try? FileManager.default.removeItem(atPath: killed)
        }
        let reference = try runSNN(Self.tiny + ["--workers", "2", "--output", whole, "--json"])
        try #require(reference.status == 0, "search failed: \(reference.error)")
        // Without --threshold and --learning-rate the candidates get the evolved networks' neuron
        // (threshold 0.5) and base rate 0.64, not the project-wide 1 and 0.02, and the state records
        // them for the workers and --resume.
        let state = try AtomicFile.readJSON(whole + "/state.json")
        let settings = try #require(state["evaluation"] as? [String: Any])
        let training = try #require(settings["training"] as? [String: Any])
        let searchNeuron = try #require(training["neuron"] as? [String: Any])
        #expect((searchNeuron["threshold"] as? NSNumber)?.floatValue == 0.5)
        #expect((training["learning_rate"] as? NSNumber)?.floatValue == 0.64)
        let expected = try Self.front(whole)
        #expect(!expected.isEmpty)
        let total = Self.evaluationCount(whole)
        #expect(total == 4 + 2 * 2)
        // Non-dominated: no evaluation is at least as good in both objectives and better in one.
        let lines = try String(contentsOfFile: whole + "/evaluations.jsonl", encoding: .utf8).split(separator: "\n")
        let all = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(all.count == total)
        for member in expected {
            let e = member["error"] as? Double ?? -1, s = member["spikes_per_sample"] as? Double ?? -1
            #expect(
                !all.contains { o in
                    let (oe, os) = (o["error"] as? Double ?? 9, o["spikes_per_sample"] as? Double ?? 9e9)
                    return oe <= e && os <= s && (oe < e || os < s)
                })
        }

        // The same search, SIGKILLed once some evaluations are on disk, then resumed.
        let process = try startSNN(Self.tiny + ["--workers", "2", "--output", killed])
        let deadline = Date().addingTimeInterval(600)
        var atKill = 0
        while Date() < deadline {
            atKill = Self.evaluationCount(killed)
            if atKill >= 5 { break }
            Thread.sleep(forTimeInterval: 0.01)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(atKill >= 5 && atKill < total, "killed after \(atKill) of \(total) evaluations")
        let resumed = try runSNN(["search", "--resume", "--output", killed, "--workers", "1", "--json"])
        try #require(resumed.status == 0, "resume failed: \(resumed.error)")
        #expect(Self.evaluationCount(killed) == total)
        let front = try Self.front(killed)
        #expect(front.count == expected.count)
        for (a, b) in zip(front, expected) {
            #expect(a["key"] as? String == b["key"] as? String)
            #expect(a["error"] as? Double == b["error"] as? Double)
            #expect(a["spikes_per_sample"] as? Double == b["spikes_per_sample"] as? Double)
        }
        // No worker files are left behind, and the picture exists.
        let work = (try? FileManager.default.contentsOfDirectory(atPath: killed + "/work")) ?? []
        #expect(work.isEmpty, "\(work)")
        #expect(FileManager.default.fileExists(atPath: killed + "/front.svg"))

        // A front member retrains with the usual training options.
        let run = temporaryPath("search-retrain")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let trained = try runSNN([
            "train", "--architecture", killed + "/pareto.json#0", "--epochs", "1", "--time-steps", "2",
            "--batch-size", "32", "--train-samples", "64", "--test-samples", "32", "--output", run, "--json",
        ])
        #expect(trained.status == 0, "\(trained.error)")
        let config = try AtomicFile.readJSON(run + "/config.json")
        let architecture = try #require(config["architecture"] as? [String: Any])
        #expect(architecture["channels"] as? Int == 2)
        // Retraining also defaults to the evolved networks' neuron and learning rate; an explicit flag wins.
        let neuron = try #require(config["neuron"] as? [String: Any])
        #expect((neuron["threshold"] as? NSNumber)?.floatValue == 0.5)
        #expect((config["learning_rate"] as? NSNumber)?.floatValue == 0.64)
        let explicit = temporaryPath("search-retrain-threshold")
        defer { try? FileManager.default.removeItem(atPath: explicit) }
        let given = try runSNN([
            "train", "--architecture", killed + "/pareto.json#0", "--epochs", "1", "--time-steps", "2",
            "--batch-size", "32", "--train-samples", "64", "--test-samples", "32", "--threshold", "1",
            "--output", explicit, "--json",
        ])
        #expect(given.status == 0, "\(given.error)")
        let givenNeuron = try #require(try AtomicFile.readJSON(explicit + "/config.json")["neuron"] as? [String: Any])
        #expect((givenNeuron["threshold"] as? NSNumber)?.floatValue == 1)
    }

    @Test func refusals() throws {
        let directory = temporaryPath("search-refusals")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (arguments, phrase) in [
            (["search", "--output", directory, "--modules", "5"], "odd size"),
            (["search", "--output", directory, "--channels", "3"], "--channels must be even"),
            (["search", "--output", directory, "--population", "1"], "--population must be ≥ 2"),
            (["search", "--output", directory, "--resume", "--population", "4"], "--population cannot change"),
            (["search", "--output", directory, "--resume"], "state.json"),
            (["train", "--architecture", directory + "/none.json#0"], "no such file"),
            // npz frame sequences: the evolved networks take images; refused by name, before any work.
            (
                [
                    "search", "--output", directory, "--dataset", "npz", "--data-dir",
                    OwnDataTrainingTests.npzFixture("frames"), "--train-samples", "1", "--validation-samples", "1",
                ],
                "take image input [C, H, W] per step"
            ),
        ] {
            let r = try runSNN(arguments)
            #expect(r.status != 0 && r.status < 128, "\(arguments): status \(r.status)")
            #expect(r.error.contains(phrase), "\(arguments): \(r.error)")
            #expect(!r.error.contains("Fatal error"), "\(arguments): \(r.error)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/state.json"))
    }
}
