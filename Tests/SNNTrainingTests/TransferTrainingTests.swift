import Foundation
import SNN
import SNNTestSupport
import Testing

/// Static-to-event transfer through the trainer and the command line, on N-MNIST emulated from the
/// shared MNIST (needs ../shared/data).
@Suite(.serialized, .enabled(if: sharedDataDirectory() != nil, "needs ../shared/data/mnist"))
struct TransferTrainingTests {
    /// 40 + 40 emulated recordings, made once for the suite.
    static let events: String? = {
        guard let mnist = sharedDataDirectory()?.appendingPathComponent("mnist").path else { return nil }
        let output = temporaryPath("transfer-events")
        let r = try? runSNN(["data", "emulate", "--data-dir", mnist, "--output", output, "--limit", "40"])
        return r?.status == 0 ? output : nil
    }()

    static func configuration(events: String) throws -> TrainingConfiguration {
        var c = TrainingConfiguration()
        c.dataset = .nmnist
        c.dataDirectory = events
        c.encoding = .frames
        c.model = .transferSCNN
        c.eventSize = 28
        c.timeSteps = 3
        c.epochs = 2
        c.batchSize = 8
        c.learningRate = 0.5
        c.frameCacheDirectory = nil
        let mnist = try #require(sharedDataDirectory()).appendingPathComponent("mnist").path
        c.transfer = TransferOptions(source: .mnist, dataDirectory: mnist)
        return c
    }

    @Test func transferRunLogsItsTermsAndResumesExactly() throws {
        let events = try #require(Self.events, "emulation failed")
        let whole = temporaryPath("transfer-whole"), stopped = temporaryPath("transfer-stopped")
        defer {
            try? FileManager.default.removeItem(atPath: whole)
            try? FileManager.default.removeItem(atPath: stopped)
        }
        let c = try Self.configuration(events: events)
        let trainer = try Trainer(configuration: c, directory: whole)
        _ = try trainer.run()
        let metrics = try RunDirectory.open(at: whole).readMetrics()
        #expect(metrics.count == 2)
        // 40 samples in batches of 8: 5 batches an epoch, 10 in all; the last has P = (9/10)³.
        let last = try #require(metrics.last)
        let probabilities = metrics.compactMap { ($0["replacement_probability"] as? NSNumber)?.doubleValue }
        #expect(
            probabilities.count == 2 && abs(probabilities[0] - pow(4.0 / 10, 3)) < 1e-12
                && abs(probabilities[1] - pow(9.0 / 10, 3)) < 1e-12, "\(probabilities)")
        let weights = try #require(last["step_weights"] as? [NSNumber]).map(\.doubleValue)
        #expect(weights.count == 3 && weights.allSatisfy { $0 > 0 && $0 < 1 && abs($0 - 1 / (1 + exp(-1.0))) > 1e-6 })
        for key in ["alignment_loss", "cka", "cka_unbiased", "mean_step_weight"] {
            #expect((last[key] as? NSNumber)?.doubleValue.isFinite == true, "\(key) missing")
        }
        // config.json holds the transfer, and reads back to the same configuration.
        let dictionary = try RunDirectory.open(at: whole).readConfiguration()
        #expect(try TrainingConfiguration(dictionary: dictionary, file: "config.json").transfer == c.transfer)

        // Stopped within epoch 1 and resumed: the same weights and metrics as the whole run.
        weak var gone: Trainer?
        do {  // the trainer holds the run directory's lock until it goes
            let first = try Trainer(configuration: c, directory: stopped)
            gone = first
            var steps = 0
            first.shouldStop = {
                steps += 1
                return steps == 8
            }
            #expect(throws: SNNError.self) { try first.run() }
        }
        #expect(gone == nil, "the stopped trainer is still alive, holding its lock")
        let resumed = try Trainer(resuming: stopped)
        _ = try resumed.run()
        let a = try SafeTensors.read(contentsOf: whole + "/last.safetensors")
        let b = try SafeTensors.read(contentsOf: stopped + "/last.safetensors")
        #expect(a.entries == b.entries)
        for (x, y) in zip(metrics, try RunDirectory.open(at: stopped).readMetrics()) {
            let keys = [
                "train_loss", "test_accuracy", "alignment_loss", "cka", "cka_unbiased",
                "replacement_probability",
            ]
            for key in keys {
                #expect(
                    (x[key] as? NSNumber) == (y[key] as? NSNumber),
                    "\(key): \(x[key] ?? "nil") vs \(y[key] ?? "nil")")
            }
            #expect((x["step_weights"] as? [NSNumber]) == (y["step_weights"] as? [NSNumber]))
        }
    }

    @Test func transferRunsDefaultToVGGSNN() throws {
        // Without --model a transfer run builds the papers' extractor; a plain run keeps spiking-cnn.
        let events = try #require(Self.events, "emulation failed")
        let mnist = try #require(sharedDataDirectory()).appendingPathComponent("mnist").path
        let run = temporaryPath("transfer-vgg")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let r = try runSNN([
            "train", "--dataset", "nmnist", "--data-dir", events, "--transfer-from", "mnist",
            "--transfer-data-dir", mnist, "--event-size", "16", "--time-steps", "1", "--epochs", "1",
            "--batch-size", "8", "--train-samples", "8", "--test-samples", "8", "--frame-cache", "off",
            "--output", run, "--json",
        ])
        try #require(r.status == 0, "\(r.error)")
        #expect(try RunDirectory.open(at: run).readConfiguration()["model"] as? String == "vgg-snn")
        #expect(TrainingConfiguration().model == .spikingCNN)
    }

    @Test func optionsReachTheRunAndEvaluateUsesTheEventHead() throws {
        let events = try #require(Self.events, "emulation failed")
        let mnist = try #require(sharedDataDirectory()).appendingPathComponent("mnist").path
        let run = temporaryPath("transfer-cli")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let r = try runSNN([
            "train", "--dataset", "nmnist", "--data-dir", events, "--transfer-from", "mnist",
            "--transfer-data-dir", mnist, "--model", "transfer-scnn", "--event-size", "28",
            "--time-steps", "2", "--epochs", "1", "--batch-size", "10", "--alignment", "cka-unbiased",
            "--fixed-step-weights", "0.25", "--no-sliding", "--invert-static", "--frame-cache", "off",
            "--output", run, "--json",
        ])
        try #require(r.status == 0, "\(r.error)")
        let lastLine = Data(r.output.split(separator: "\n").last!.utf8)
        let summary = try #require(try JSONSerialization.jsonObject(with: lastLine) as? [String: Any])
        let accuracy = try #require((summary["test_accuracy"] as? NSNumber)?.doubleValue)
        let line = try #require(try RunDirectory.open(at: run).readMetrics().last)
        #expect((line["step_weights"] as? [NSNumber])?.map(\.doubleValue) == [0.25, 0.25])
        #expect((line["replacement_probability"] as? NSNumber)?.doubleValue == 0)
        let transfer = try #require(try RunDirectory.open(at: run).readConfiguration()["transfer"] as? [String: Any])
        #expect(transfer["alignment"] as? String == "cka-unbiased" && transfer["invert_static"] as? Bool == true)
        #expect(transfer["sliding"] as? Bool == false && (transfer["step_weights"] as? NSNumber)?.doubleValue == 0.25)
        // snn evaluate rebuilds the two-head model and tests the event head: the run's own figure.
        let e = try runSNN(["evaluate", "--run", run, "--checkpoint", "last", "--json"])
        try #require(e.status == 0, "\(e.error)")
        let evaluation = try #require(try JSONSerialization.jsonObject(with: Data(e.output.utf8)) as? [String: Any])
        #expect((evaluation["test_accuracy"] as? NSNumber)?.doubleValue == accuracy)
        // Transfer options without --transfer-from, and transfer into what cannot take it, are refused.
        for (flags, phrase) in [
            (["--alignment", "mmd"], "need --transfer-from"),
            (
                [
                    "--transfer-from", "mnist", "--transfer-data-dir", mnist, "--dataset", "mnist",
                    "--data-dir", mnist,
                ], "event data set"
            ),
            (
                [
                    "--dataset", "nmnist", "--data-dir", events, "--transfer-from", "mnist",
                    "--transfer-data-dir", mnist, "--model", "spiking-mlp",
                ], "conv model"
            ),
            (
                [
                    "--dataset", "nmnist", "--data-dir", events, "--transfer-from", "mnist",
                    "--transfer-data-dir", mnist, "--model", "transfer-scnn", "--neuron", "psn",
                ],
                "--neuron if, lif or plif"
            ),
            (
                [
                    "--dataset", "nmnist", "--data-dir", events, "--transfer-from", "cifar10",
                    "--transfer-data-dir", mnist,
                ], "data_batch_1.bin"
            ),
            (
                ["--dataset", "nmnist", "--data-dir", events, "--transfer-from", "mnist"],
                "--transfer-data-dir is required"
            ),
        ] {
            let refused = try runSNN(["train", "--output", run + "-refused"] + flags)
            #expect(refused.status != 0 && refused.error.contains(phrase), "\(flags): \(refused.error)")
            #expect(!refused.error.contains("Backtrac"))
            #expect(!FileManager.default.fileExists(atPath: run + "-refused"))
        }
    }
}
