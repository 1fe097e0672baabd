import Foundation
@testable import SNNModels
import SNN
@testable import SNNTraining
import SNNTestSupport
import Testing

/// The defects of the corrections-and-hardening review: each test failed on the code before its fix.
@Suite(.serialized) struct HardeningTests {
    static func run(_ arguments: [String], in directory: String? = nil, shell: String? = nil) throws
        -> (status: Int32, output: String, error: String)
    {
        try runSNN(arguments, in: directory, shell: shell)
    }

    static let small = [
        "train", "--model", "spiking-mlp", "--widths", "48", "--time-steps", "2", "--batch-size", "32",
        "--seed", "5", "--learning-rate", "0.5",
    ]

    /// The one error line of a refused command.
    static func errorLine(_ result: (status: Int32, output: String, error: String)) -> String {
        result.error.split(separator: "\n").first.map(String.init) ?? ""
    }

    // MARK: Item 1: sizes that cannot fit are refused before allocating

    @Test func hugeSizesAreRefusedByNameBeforeAllocating() throws {
        let directory = temporaryPath("huge")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let cases: [([String], String)] = [
            (["--time-steps", "1000000"], "--time-steps"),
            (["--time-steps", "100000"], "--time-steps"),
            (["--time-steps", "9223372036854775807"], "--time-steps"),
            (["--widths", "9223372036854775807"], "overflows"),
            (["--model", "spiking-mlp", "--widths", "100000000"], "--widths"),
            (["--neuron", "psn", "--time-steps", "200000"], "--time-steps"),
        ]
        for (flags, named) in cases {
            let r = try Self.run(["train", "--epochs", "1", "--output", directory + "/run"] + flags)
            #expect(r.status != 0, "\(flags) was accepted")
            let line = Self.errorLine(r)
            #expect(line.hasPrefix("Error: ") && line.contains(named), "\(flags): \(line)")
            #expect(r.error.split(separator: "\n").count <= 2, "\(flags): more than one line: \(r.error)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/run"), "\(flags) left a run directory")
        }
        // The same holds for evaluation at a huge T' (the run is created cheaply first).
        let run = directory + "/small"
        let trained = try Self.run(Self.small + ["--epochs", "1", "--train-samples", "64", "--output", run])
        try #require(trained.status == 0, "\(trained.error)")
        let evaluated = try Self.run(["evaluate", "--run", run, "--time-steps", "100000000"])
        #expect(evaluated.status != 0 && Self.errorLine(evaluated).contains("--time-steps"), "\(evaluated.error)")
    }

    @Test func memoryBudgetNamesTheFlagsAndTheEstimate() throws {
        var budget = MemoryBudget(availableBytes: 1 << 20)
        try budget.add("a", factors: [1000, 10], flags: ["--x"])  // 40 000 bytes
        #expect(budget.totalBytes == 40_000)
        #expect(throws: SNNError.self) { try budget.add("b", factors: [1 << 18], flags: ["--y"]) }  // 1 MiB more
        do {
            try budget.add("c", factors: [Int.max, 2], flags: ["--time-steps", "--batch-size"])
            Issue.record("an overflowing product was accepted")
        } catch {
            #expect(error.message.contains("--time-steps, --batch-size"))
        }
        #expect(MemoryBudget.product([3, 5, 7]) == 105)
        #expect(MemoryBudget.product([Int.max, 2]) == nil && MemoryBudget.product([-1, 2]) == nil)
        #expect(MemoryBudget.format(3_000_000_000) == "3.00 GB" && MemoryBudget.format(512) == "512 B")
    }

    /// The closed-form footprint counts exactly the parameters the built model has, for every model
    /// and the neurons that change the count.
    @Test func footprintCountsTheBuiltModelsParameters() throws {
        let neurons: [NeuronConfiguration] = [
            .init(kind: .leakyIntegrateAndFire), .init(kind: .parametricLIF),
            .init(kind: .psn, timeSteps: 3), .init(kind: .maskedPSN, timeSteps: 3),
            .init(kind: .slidingPSN, order: 2), .init(kind: .psu, timeSteps: 3),
            .init(kind: .rpsu, timeSteps: 3),
        ]
        for name in ModelName.allCases {
            let input: [Int] =
                switch name {
                case .sequentialConv, .sequentialCIFAR: [3, 8]
                case .vggSNN, .transferSCNN: [2, 16, 16]
                case .spikingMLP, .shdFC, .recurrentMLP: [1, 6, 6]
                default: [1, 8, 8]
                }
            // The large models are built with two neurons only: their layers are the same for all.
            let heavy = [ModelName.vggSNN, .sewResNet18, .resnet19].contains(name)
            for neuron in neurons
            where (name != .recurrentMLP || neuron.isStepwise)
                && (!heavy || [.leakyIntegrateAndFire, .psn].contains(neuron.kind))
            {
                let c = ModelConfiguration(
                    name: name, inputShape: input, classes: 3, neuron: neuron,
                    widths: name == .sequentialCIFAR ? [4, 6] : (name == .spikingCNN ? [4, 5] : nil))
                let f = try c.footprint()
                let model = c.make()
                #expect(f.parameters == model.parameterCount, "\(name.rawValue) with \(neuron.kind.rawValue)")
                #expect(f.activationsPerSampleStep > 0)
                // Static and event heads, with and without learned step weights (conv models only).
                for learned in [true, false] {
                    var twoHeads = c
                    twoHeads.heads = .staticAndEvent(learnedStepWeights: learned)
                    if name.supportsDomainHeads {
                        #expect(
                            try twoHeads.footprint().parameters == twoHeads.make().parameterCount,
                            "\(name.rawValue) with two heads, \(neuron.kind.rawValue)")
                    } else {
                        #expect(throws: SNNError.self) { try twoHeads.footprint() }
                    }
                }
            }
        }
        // Spikformer with TIM on either axis (D = 16 = the 16 tokens of 8×8), and a small size.
        for (axis, size) in [
            (TemporalInteraction.Axis.tokens, SpikformerConfiguration(embedDimension: 32, heads: 4, depth: 3)),
            (.features, SpikformerConfiguration()),
        ] {
            for neuron in neurons {
                var s = size
                s.temporalInteraction = TemporalInteractionConfiguration(axis: axis)
                let c = ModelConfiguration(
                    name: .spikformer, inputShape: [2, 8, 8], classes: 3, neuron: neuron, spikformer: s)
                #expect(
                    try c.footprint().parameters == c.make().parameterCount,
                    "spikformer + TIM with \(neuron.kind.rawValue)")
            }
        }
        // Shape rules that used to be preconditions are errors now.
        let tooSmall = ModelConfiguration(name: .spikingCNN, inputShape: [1, 2, 2], classes: 3, widths: [4, 4, 4])
        #expect(throws: SNNError.self) { try tooSmall.footprint() }
        let wrongRank = ModelConfiguration(name: .sequentialConv, inputShape: [1, 8, 8], classes: 3)
        #expect(throws: SNNError.self) { try wrongRank.footprint() }
        let cifarWidths = ModelConfiguration(name: .sequentialCIFAR, inputShape: [3, 8], classes: 3, widths: [4])
        #expect(throws: SNNError.self) { try cifarWidths.footprint() }
    }

    @Test func batchCountDoesNotOverflow() throws {
        let data = try Digits.load(.test)
        #expect(DataLoader(data, batchSize: Int.max).batchCount == 1)
        #expect(DataLoader(data, batchSize: Int.max, dropLast: true).batchCount == 0)
        #expect(DataLoader(data, batchSize: 100).batchCount == 4 && DataLoader(data, batchSize: 90).batchCount == 4)
        #expect(DataLoader(data, batchSize: 100, dropLast: true).batchCount == 3)
    }

    // MARK: Items 2 and 16: every float flag refuses NaN and infinity by name; negative values parse

    @Test func nonFiniteAndOutOfRangeValuesAreRefusedByName() throws {
        let flags = [
            "--tau", "--threshold", "--weight-decay", "--learning-rate", "--label-smoothing", "--alpha",
            "--reset-value", "--delta-threshold", "--rotation", "--event-drop", "--msg-probability", "--tks-alpha",
            "--tks-temperature",
        ]
        for flag in flags {
            for value in ["nan", "inf", "-inf"] {
                var arguments = ["train", "--epochs", "1", flag, value]
                if flag == "--tks-temperature" { arguments += ["--tks-alpha", "0.5"] }
                let r = try Self.run(arguments)
                #expect(r.status != 0, "\(flag) \(value) was accepted")
                #expect(Self.errorLine(r).contains(flag), "\(flag) \(value): \(Self.errorLine(r))")
            }
        }
        for (arguments, named) in [
            (["--alpha", "0"], "--alpha"), (["--crop-padding", "9"], "--crop-padding"),
            (["--time-steps", "-1"], "--time-steps must be ≥ 1"), (["--epochs", "-2"], "--epochs must be ≥ 1"),
            (["--batch-size", "-5"], "--batch-size must be ≥ 1"),
        ] {
            let r = try Self.run(["train", "--output", temporaryPath("never")] + arguments)
            #expect(r.status != 0 && Self.errorLine(r).contains(named), "\(arguments): \(r.error)")
        }
        let e = try Self.run(["evaluate", "--run", "nowhere", "--time-steps", "-1"])
        #expect(e.status != 0 && Self.errorLine(e).contains("--time-steps must be ≥ 1"), "\(e.error)")
    }

    @Test func configFileValuesThatReachedPreconditionsAreErrors() throws {
        var dictionary = TrainingConfiguration().dictionary
        dictionary["crop_padding"] = -3
        #expect(throws: SNNError.self) { try TrainingConfiguration(dictionary: dictionary, file: "config.json") }
        dictionary = TrainingConfiguration().dictionary
        dictionary["on_nonfinite"] = "sometimes"
        #expect(throws: SNNError.self) { try TrainingConfiguration(dictionary: dictionary, file: "config.json") }
        var c = TrainingConfiguration()
        c.onNonfinite = .skip
        #expect(try TrainingConfiguration(dictionary: c.dictionary, file: "config.json").onNonfinite == .skip)
        #expect(
            try TrainingConfiguration(dictionary: TrainingConfiguration().dictionary, file: "c").onNonfinite == .stop)
    }

    // MARK: Item 4: one run directory, one writer; default names unique

    @Test func aSecondRunIntoTheSameDirectoryIsRefused() throws {
        let run = temporaryPath("locked")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let first = try RunDirectory.create(at: run, configuration: ["dataset": "digits"])
        #expect(throws: SNNError.self) { try RunDirectory.open(at: run, forWriting: true) }
        let r = try Self.run(["train", "--resume", run])
        #expect(
            r.status != 0 && Self.errorLine(r).contains("another snn process is writing to this run directory"),
            "\(r.error)")
        _ = first  // the lock is held until here
        // Unique names: the same default name twice gives two directories.
        let base = temporaryPath("unique")
        defer {
            try? FileManager.default.removeItem(atPath: base)
            try? FileManager.default.removeItem(atPath: base + "-2")
        }
        let a = try RunDirectory.create(at: base, configuration: ["dataset": "digits"], unique: true)
        let b = try RunDirectory.create(at: base, configuration: ["dataset": "digits"], unique: true)
        #expect(a.path == base && b.path == base + "-2")
        #expect(throws: SNNError.self) { try RunDirectory.create(at: base, configuration: [:]) }
    }

    @Test func runsStartedTogetherWithDefaultNamesStayApart() throws {
        let directory = temporaryPath("together")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let arguments = Self.small + ["--epochs", "1", "--train-samples", "64", "--test-samples", "32"]
        // Three processes started at once: their default names fall within the same second.
        var processes: [Process] = []
        for _ in 0..<3 {
            let process = Process()
            process.executableURL = snnExecutable()
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            processes.append(process)
        }
        for process in processes { try process.run() }
        for process in processes { process.waitUntilExit() }
        #expect(processes.map(\.terminationStatus) == [0, 0, 0])
        let runs = try FileManager.default.contentsOfDirectory(atPath: directory + "/runs")
        #expect(runs.count == 3, "\(runs)")
        for name in runs {
            #expect(try RunDirectory.open(at: directory + "/runs/" + name).readMetrics().count == 1, "\(name)")
        }
    }

    // MARK: Item 6: grouped atomic writes; the stub of a failed run is reported and resumable

    @Test func aFailedGroupWriteLeavesEveryFileAsItWas() throws {
        let directory = temporaryPath("group")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = directory + "/a.bin"
        try AtomicFile.write(Data("old".utf8), to: first)
        // The second file's folder does not exist: its staging fails after the first was staged.
        #expect(throws: SNNError.self) {
            try AtomicFile.writeAll([(first, Data("new".utf8)), (directory + "/missing/b.bin", Data("x".utf8))])
        }
        #expect(FileManager.default.contents(atPath: first) == Data("old".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["a.bin"])  // no temporary left
        try AtomicFile.writeAll([(first, Data("new".utf8)), (directory + "/b.bin", Data("x".utf8))])
        #expect(FileManager.default.contents(atPath: first) == Data("new".utf8))
    }

    /// A file-size limit makes every checkpoint write fail as a full disk would: one line naming the
    /// file and the system's reason, and no checkpoint file, whole or partial, left behind.
    @Test func aFullDiskFailsInOneLineWithoutHalfWrittenCheckpoints() throws {
        let run = temporaryPath("full")
        defer { try? FileManager.default.removeItem(atPath: run) }
        // 8 blocks of 512 bytes: config.json and the metrics fit, the model's checkpoint does not.
        let r = try Self.run(
            Self.small + ["--epochs", "1", "--train-samples", "64", "--output", run],
            shell: "trap '' XFSZ; ulimit -f 8;")
        #expect(r.status != 0)
        let line = Self.errorLine(r)
        #expect(line.contains(run) && line.contains("File too large"), "\(r.error)")
        #expect(
            !r.error.contains("Error Domain") && !r.error.contains("UserInfo"), "a raw system error dump: \(r.error)")
        let left = try FileManager.default.contentsOfDirectory(atPath: run).filter { !$0.hasPrefix(".lock") }.sorted()
        #expect(left == ["config.json", "metrics.jsonl"], "\(left)")
        // The stub is reported as a resumable run, and resuming it works.
        let again = try Self.run(Self.small + ["--epochs", "1", "--output", run])
        #expect(again.status != 0 && Self.errorLine(again).contains("snn train --resume"), "\(again.error)")
        let resumed = try Self.run(["train", "--resume", run])
        #expect(resumed.status == 0, "\(resumed.error)")
        #expect(try RunDirectory.open(at: run).checkpointEpoch(.last)?.completed == 1)
    }

    // MARK: Item 7: --resume honours --epochs and refuses what it would ignore

    @Test func resumeExtendsTheRunAndRefusesOtherOptions() throws {
        let run = temporaryPath("extend")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let base = Self.small + ["--train-samples", "128", "--test-samples", "64", "--warmup-epochs", "0"]
        #expect(try Self.run(base + ["--epochs", "2", "--output", run]).status == 0)
        let refused = try Self.run(["train", "--resume", run, "--batch-size", "8", "--seed", "3"])
        #expect(refused.status != 0 && Self.errorLine(refused).contains("--batch-size, --seed"), "\(refused.error)")
        let shorter = try Self.run(["train", "--resume", run, "--epochs", "1"])
        #expect(
            shorter.status != 0 && Self.errorLine(shorter).contains("already completed 2 epochs"), "\(shorter.error)")
        let extended = try Self.run(["train", "--resume", run, "--epochs", "3", "--json"])
        try #require(extended.status == 0, "\(extended.error)")
        let metrics = try RunDirectory.open(at: run).readMetrics()
        #expect(metrics.compactMap { ($0["epoch"] as? NSNumber)?.intValue } == [1, 2, 3])
        let config = try TrainingConfiguration(
            dictionary: try RunDirectory.open(at: run).readConfiguration(), file: run)
        #expect(config.epochs == 3)
    }

    // MARK: Item 8: divergence stops clearly, or is skipped

    @Test func divergenceStopsWithTheStepOrIsSkipped() throws {
        let run = temporaryPath("diverge")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let diverging =
            Self.small + [
                "--epochs", "2", "--optimizer", "sgd", "--learning-rate", "1e30", "--no-linear-scaling",
                "--output", run,
            ]
        let stopped = try Self.run(diverging)
        #expect(stopped.status != 0)
        let line = Self.errorLine(stopped)
        #expect(
            line.contains("training diverged at epoch 1, step") && line.contains("not finite")
                || line.contains("loss is nan"),
            "\(line)")
        let skipped = try Self.run(["train", "--resume", run, "--on-nonfinite", "skip", "--json"])
        try #require(skipped.status == 0, "\(skipped.error)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(skipped.output.utf8)) as? [String: Any])
        #expect((summary["skipped_steps"] as? Int ?? 0) > 0)
        let metrics = try RunDirectory.open(at: run).readMetrics()
        #expect(metrics.count == 2 && metrics.allSatisfy { (($0["skipped_steps"] as? Int) ?? 0) > 0 })
        // Skipped steps leave no NaN in the weights or the batch-norm statistics.
        let weights = try SafeTensors.read(contentsOf: run + "/last.safetensors")
        for (name, entry) in weights.entries { #expect(entry.values.allSatisfy { $0.isFinite }, "\(name)") }
    }

    @Test func nonFiniteGradientsAreFoundByName() {
        let fine = Gradients(byPath: ["a": Tensor([1, 2]), "b": Tensor([3])])
        #expect(Trainer.nonFinite(loss: 1, gradients: fine) == nil)
        #expect(Trainer.nonFinite(loss: .nan, gradients: fine) == "the loss is nan")
        let bad = Gradients(byPath: ["a": Tensor([1, 2]), "b.weight": Tensor([3, .infinity, 1])])
        #expect(Trainer.nonFinite(loss: 1, gradients: bad) == "the gradient of b.weight is not finite")
    }

    // MARK: Item 9: SIGINT / SIGTERM checkpoint where the epoch stands and resume bit-identically

    /// The run uses dropout (shd-fc), MSG masks and Poisson spikes, so every random stream that moves
    /// within an epoch has to be checkpointed for the resumed run to match.
    @Test(arguments: [(SIGINT, Int32(130)), (SIGTERM, Int32(143))])
    func aSignalStopsTheRunWhichThenResumesBitIdentically(signal: Int32, status: Int32) throws {
        let whole = temporaryPath("signal-whole"), stopped = temporaryPath("signal-stopped")
        defer {
            try? FileManager.default.removeItem(atPath: whole)
            try? FileManager.default.removeItem(atPath: stopped)
        }
        let arguments = [
            "train", "--model", "shd-fc", "--widths", "64", "--time-steps", "3", "--batch-size", "16",
            "--encoding", "poisson", "--msg-probability", "0.3", "--temporal-weighting", "--seed", "5",
            "--learning-rate", "0.5", "--epochs", "4",
        ]
        #expect(try Self.run(arguments + ["--output", whole]).status == 0)
        let wholeMetrics = try RunDirectory.open(at: whole).readMetrics()
        let epochSeconds = wholeMetrics.compactMap { ($0["seconds"] as? NSNumber)?.doubleValue }.max() ?? 1

        let process = Process()
        process.executableURL = snnExecutable()
        process.arguments = arguments + ["--output", stopped]
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        // Wait for epoch 1's checkpoint, then signal about 40 % into epoch 2.
        let deadline = Date().addingTimeInterval(300)
        while Date() < deadline, (try? RunDirectory.open(at: stopped).checkpointEpoch(.last)) == nil {
            Thread.sleep(forTimeInterval: 0.005)
        }
        Thread.sleep(forTimeInterval: epochSeconds * 0.4)
        let sent = Date()
        kill(process.processIdentifier, signal)
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(Date().timeIntervalSince(sent) < 5)
        #expect(process.terminationReason == .exit && process.terminationStatus == status)
        #expect(String(decoding: errData, as: UTF8.self).contains("interrupted — resume with: snn train --resume "))
        let checkpoint = try #require(try RunDirectory.open(at: stopped).checkpointEpoch(.last))
        #expect(
            checkpoint.completed < 4 && checkpoint.withinEpoch, "the signal did not land within an epoch: \(checkpoint)"
        )

        let resumed = try Self.run(["train", "--resume", stopped])
        try #require(resumed.status == 0, "\(resumed.error)")
        let a = try SafeTensors.read(contentsOf: whole + "/last.safetensors")
        let b = try SafeTensors.read(contentsOf: stopped + "/last.safetensors")
        #expect(a.entries.keys.sorted() == b.entries.keys.sorted())
        let differing = a.entries.keys.filter { a.entries[$0] != b.entries[$0] }.sorted()
        #expect(differing.isEmpty, "tensors that differ from the uninterrupted run: \(differing)")
        let resumedMetrics = try RunDirectory.open(at: stopped).readMetrics()
        #expect(resumedMetrics.count == 4)
        for (x, y) in zip(wholeMetrics, resumedMetrics) {
            for key in [
                "epoch", "learning_rate", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "firing_rate",
            ] {
                #expect(
                    (x[key] as? NSNumber) == (y[key] as? NSNumber), "\(key): \(x[key] ?? "nil") vs \(y[key] ?? "nil")")
            }
        }
    }

    // MARK: Item 16: per-layer firing rates name the layer

    @Test func firingRatesNameTheLayer() throws {
        let run = temporaryPath("names")
        defer { try? FileManager.default.removeItem(atPath: run) }
        #expect(try Self.run(Self.small + ["--epochs", "1", "--train-samples", "64", "--output", run]).status == 0)
        let text = try Self.run(["evaluate", "--run", run])
        #expect(text.output.contains("firing rate 3 (LIF)"), "\(text.output)")
        let json = try Self.run(["evaluate", "--run", run, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any])
        #expect(object["firing_rate_layers"] as? [String: String] == ["3": "LIF"])
    }
}
