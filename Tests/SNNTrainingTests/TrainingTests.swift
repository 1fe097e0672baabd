import Foundation
import SNN
import SNNTestSupport
import Testing

/// The `snn` executable built beside this test bundle.
func snnExecutable() -> URL? {
    if let path = ProcessInfo.processInfo.environment["SNN_EXECUTABLE"] { return URL(fileURLWithPath: path) }
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = directory.appendingPathComponent("snn")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        directory.deleteLastPathComponent()
    }
    return nil
}

/// Starts the executable in the background, its output discarded (for tests that kill it midway).
func startSNN(_ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = snnExecutable()
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    return process
}

/// Runs the executable to completion; returns exit status, stdout and stderr. `directory` is its
/// working directory; `shell`, when given, is bash run first (`ulimit`, `trap`) before the executable.
@discardableResult
func runSNN(_ arguments: [String], in directory: String? = nil, shell: String? = nil) throws
    -> (status: Int32, output: String, error: String)
{
    let process = Process()
    guard let executable = snnExecutable() else {
        throw SNNError(.io, "the snn executable was not built beside the tests (set SNN_EXECUTABLE)")
    }
    if let shell {
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", shell + " exec \"$0\" \"$@\"", executable.path] + arguments
    } else {
        process.executableURL = executable
        process.arguments = arguments
    }
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (
        process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self)
    )
}

func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("snn-\(name)-\(UUID().uuidString)").path
}

@Suite(.serialized) struct TrainingTests {
    static let smallRun = [
        "train", "--model", "spiking-mlp", "--widths", "48", "--time-steps", "2", "--epochs", "4",
        "--batch-size", "32", "--seed", "5", "--learning-rate", "0.5", "--json",
    ]

    @Test func killedRunResumesToTheUninterruptedResult() throws {
        let uninterrupted = temporaryPath("whole"), killed = temporaryPath("killed")
        defer {
            try? FileManager.default.removeItem(atPath: uninterrupted)
            try? FileManager.default.removeItem(atPath: killed)
        }
        let whole = try runSNN(Self.smallRun + ["--output", uninterrupted])
        try #require(whole.status == 0, "uninterrupted run failed: \(whole.error)")
        let wholeMetrics = try RunDirectory.open(at: uninterrupted).readMetrics()
        #expect(wholeMetrics.count == 4)
        let epochSeconds = wholeMetrics.compactMap { ($0["seconds"] as? NSNumber)?.doubleValue }.max() ?? 1

        // Start the same run, wait until epoch 2 is checkpointed, then SIGKILL it during epoch 3.
        let process = try startSNN(Self.smallRun + ["--output", killed])
        let deadline = Date().addingTimeInterval(600)
        var linesAtKill = 0
        while Date() < deadline {
            if let lines = try? RunDirectory.open(at: killed).readMetrics(), lines.count >= 2,
                FileManager.default.fileExists(atPath: killed + "/last.json")
            {
                Thread.sleep(forTimeInterval: epochSeconds * 0.4)
                linesAtKill = (try? RunDirectory.open(at: killed).readMetrics().count) ?? 0
                kill(process.processIdentifier, SIGKILL)
                break
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run ended before it could be killed")
        #expect(linesAtKill < 4, "the kill came after the last epoch")

        let resumed = try runSNN(["train", "--resume", killed, "--json"])
        try #require(resumed.status == 0, "resume failed: \(resumed.error)")
        // Same weights, bit for bit, and the same metrics but for wall-clock seconds.
        let a = try SafeTensors.read(contentsOf: uninterrupted + "/last.safetensors")
        let b = try SafeTensors.read(contentsOf: killed + "/last.safetensors")
        #expect(a.entries == b.entries)
        let resumedMetrics = try RunDirectory.open(at: killed).readMetrics()
        #expect(resumedMetrics.count == 4)
        for (x, y) in zip(wholeMetrics, resumedMetrics) {
            for key in [
                "epoch", "learning_rate", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "firing_rate",
            ] {
                #expect(
                    (x[key] as? NSNumber) == (y[key] as? NSNumber), "\(key): \(x[key] ?? "nil") vs \(y[key] ?? "nil")")
            }
        }
        // The JSON summary names the run and its accuracy.
        let summary =
            try JSONSerialization.jsonObject(with: Data(resumed.output.split(separator: "\n").last!.utf8))
            as! [String: Any]
        #expect(summary["run_dir"] as? String == (killed as NSString).standardizingPath)
        #expect(summary["epochs"] as? Int == 4)
    }

    @Test func evaluateSweepsShorterTimeSteps() throws {
        let run = temporaryPath("sweep"), psn = temporaryPath("sweep-psn")
        defer {
            try? FileManager.default.removeItem(atPath: run)
            try? FileManager.default.removeItem(atPath: psn)
        }
        let trained = try runSNN([
            "train", "--model", "spiking-mlp", "--widths", "32", "--time-steps", "3", "--epochs", "2",
            "--train-samples", "400", "--temporal-weighting", "--msg-probability", "0.3",
            "--tks-alpha", "0.5", "--output", run, "--json",
        ])
        try #require(trained.status == 0, "\(trained.error)")
        let sweep = try runSNN(["evaluate", "--run", run, "--time-steps-sweep", "--json"])
        try #require(sweep.status == 0, "\(sweep.error)")
        let rows = try #require(
            (try JSONSerialization.jsonObject(with: Data(sweep.output.utf8)) as? [String: Any])?["sweep"]
                as? [[String: Any]])
        #expect(rows.map { ($0["time_steps"] as? Int) ?? 0 } == [1, 2, 3])
        let single = try runSNN(["evaluate", "--run", run, "--time-steps", "2", "--json"])
        let two = try #require(try JSONSerialization.jsonObject(with: Data(single.output.utf8)) as? [String: Any])
        #expect((two["test_accuracy"] as? Double) == (rows[1]["test_accuracy"] as? Double))
        // Fixed-T neurons cannot be swept: one clear error.
        let psnRun = try runSNN([
            "train", "--model", "spiking-mlp", "--widths", "16", "--neuron", "psn", "--time-steps", "3",
            "--epochs", "1", "--train-samples", "100", "--output", psn,
        ])
        try #require(psnRun.status == 0, "\(psnRun.error)")
        let refused = try runSNN(["evaluate", "--run", psn, "--time-steps-sweep"])
        #expect(refused.status != 0 && refused.error.contains("only at the trained T = 3"))
    }

    @Test(.enabled(if: sharedDataDirectory() != nil, "needs ../shared/data")) func dataCommandsInspectFrameAndEmulate()
        throws
    {
        let events = try #require(
            sharedDataDirectory()?.appendingPathComponent("events").path, "../shared/data is not present")
        let inspect = try runSNN([
            "data", "inspect", events + "/davis346-crop34-nmnist-format.bin", "--width", "34", "--height", "34",
            "--json",
        ])
        try #require(inspect.status == 0, "\(inspect.error)")
        let facts = try #require(try JSONSerialization.jsonObject(with: Data(inspect.output.utf8)) as? [String: Any])
        #expect(
            facts["format"] as? String == "nmnist-bin" && facts["events"] as? Int == 10_067
                && facts["width"] as? Int == 34)
        // AEDAT 3.1 without --width/--height: the size of the DAVIS346 its header names.
        let davis = try runSNN(["data", "inspect", events + "/davis346-aedat31-reencoded.aedat", "--json"])
        try #require(davis.status == 0, "\(davis.error)")
        let d = try #require(try JSONSerialization.jsonObject(with: Data(davis.output.utf8)) as? [String: Any])
        #expect(d["format"] as? String == "aedat-3.1" && d["events"] as? Int == 78_830)
        #expect(d["width"] as? Int == 346 && d["height"] as? Int == 260)
        // Sizes given that the events do not fit: refused, naming where the size came from.
        let small = try runSNN([
            "data", "inspect", events + "/davis346-aedat31-reencoded.aedat", "--width", "128", "--height", "128",
        ])
        #expect(
            small.status != 0
                && small.error.contains("outside the 128×128 sensor (size from the width and height given)"))
        let output = temporaryPath("frames") + ".safetensors", emulated = temporaryPath("emulated")
        defer {
            try? FileManager.default.removeItem(atPath: output)
            try? FileManager.default.removeItem(atPath: emulated)
        }
        let frames = try runSNN([
            "data", "frames", events + "/davis346-aedat31-reencoded.aedat", "--width", "346", "--height", "260",
            "--frames", "5", "--framing", "sj-time", "--output", output,
        ])
        try #require(frames.status == 0, "\(frames.error)")
        let f = try SafeTensors.read(contentsOf: output)
        #expect(f.tensors["frames"]?.shape == [5, 2, 260, 346] && f.tensors["frames"]?.sum().item == 78_830)
        // A file of no known format: one error line naming it, non-zero exit.
        let bogus = temporaryPath("bogus")
        _ = FileManager.default.createFile(atPath: bogus, contents: Data("hello".utf8))
        defer { try? FileManager.default.removeItem(atPath: bogus) }
        let refused = try runSNN(["data", "inspect", bogus])
        #expect(refused.status != 0 && refused.error.contains(bogus))
        if let mnist = sharedDataDirectory()?.appendingPathComponent("mnist").path {
            let e = try runSNN([
                "data", "emulate", "--data-dir", mnist, "--output", emulated, "--limit", "20", "--json",
            ])
            try #require(e.status == 0, "\(e.error)")
            #expect(try NMNIST.files(.train, directory: emulated).count == 20)
            #expect(try NMNIST.files(.test, directory: emulated).count == 20)
        }
    }

    @Test func badInputFailsWithOneLineAndLeavesNothingBehind() throws {
        let output = temporaryPath("bad")
        defer { try? FileManager.default.removeItem(atPath: output) }
        let cases: [[String]] = [
            ["train", "--time-steps", "0", "--output", output],
            ["train", "--dataset", "mnist", "--data-dir", "/nonexistent-data", "--output", output],
            ["train", "--model", "no-such-model", "--output", output],
            ["train", "--surrogate", "bogus", "--output", output],
            ["train", "--output", "/proc/self/not-writable/run"],
            ["train", "--train-samples", "0", "--output", output],
            ["train", "--train-samples", "999999", "--output", output],
            ["train", "--test-samples", "0", "--output", output],
            ["train", "--test-samples", "999999", "--output", output],
            ["train", "--msg-probability", "1.5", "--output", output],
            ["train", "--msg-probability", "0.5", "--msg-schedule", "oops", "--output", output],
            ["train", "--msg-substitute", "sigmoid", "--output", output],
            ["train", "--tks-alpha", "0.7", "--loss", "tet", "--output", output],
            ["train", "--encoding", "frames", "--output", output],
            ["train", "--dataset", "nmnist", "--data-dir", "/nonexistent-events", "--output", output],
            ["train", "--framing", "bogus", "--output", output],
            ["train", "--model", "recurrent-mlp", "--neuron", "psn", "--output", output],
            ["train", "--model", "recurrent-mlp", "--msg-probability", "0.5", "--output", output],
            ["train", "--event-drop", "0.2", "--output", output],
            [
                "train", "--dataset", "nmnist", "--data-dir", output, "--event-drop", "0.2", "--event-size", "48",
                "--output", output,
            ],
            ["train", "--event-drop", "1", "--output", output],
        ]
        for arguments in cases {
            let r = try runSNN(arguments)
            #expect(r.status != 0, "\(arguments) succeeded")
            #expect(r.error.contains("Error:") || r.error.contains("error:"), "\(arguments): \(r.error)")
            #expect(!FileManager.default.fileExists(atPath: output), "\(arguments) left \(output) behind")
        }
        // A corrupt data file names the file and the offset.
        let data = temporaryPath("mnist")
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: data) }
        for name in [
            "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
        ] {
            _ = FileManager.default.createFile(atPath: data + "/" + name, contents: Data([0, 0, 8, 3, 0, 0]))
        }
        let corrupt = try runSNN(["train", "--dataset", "mnist", "--data-dir", data, "--output", output])
        #expect(corrupt.status != 0)
        #expect(corrupt.error.contains("train-images-idx3-ubyte") && corrupt.error.contains("offset"))
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test func configurationRoundTripsThroughJSON() throws {
        var c = TrainingConfiguration()
        c.dataset = .mnist
        c.dataDirectory = "/data/mnist"
        c.widths = [8, 16]
        c.neuron = NeuronConfiguration(
            kind: .parametricLIF, surrogate: .sigmoid(alpha: 3), tau: 3, threshold: 0.5, reset: .soft,
            detachReset: false, decayInput: false)
        c.loss = .tet
        c.encoding = .poisson
        c.augmentation = ImageAugmentation(cropPadding: 2, horizontalFlip: true)
        c.warmupEpochs = 1
        c.trainSamples = 1000
        c.testSamples = 300
        let data = try JSONSerialization.data(withJSONObject: c.dictionary)
        let back = try TrainingConfiguration(
            dictionary: JSONSerialization.jsonObject(with: data) as! [String: Any], file: "c.json")
        #expect(back == c)
        var events = TrainingConfiguration()
        events.dataset = .nmnist
        events.dataDirectory = "/data/nmnist"
        events.encoding = .frames
        events.augmentation = ImageAugmentation(cropPadding: 1, eventDropProbability: 0.25)
        events.warmupEpochs = 1  // stored resolved
        let eventData = try JSONSerialization.data(withJSONObject: events.dictionary)
        let eventsBack = try TrainingConfiguration(
            dictionary: JSONSerialization.jsonObject(with: eventData) as! [String: Any], file: "e.json")
        #expect(eventsBack == events)
    }

    @Test func sampleLimitsCutEachSplitToItsPrefix() throws {
        var c = TrainingConfiguration()
        let (fullTrain, fullTest) = try c.loadData()
        c.trainSamples = 100
        var (train, test) = try c.loadData()
        #expect(train.count == 100 && test.count == fullTest.count)
        #expect(train.labels == Array(fullTrain.labels.prefix(100)))
        #expect(train.images.scalars == Array(fullTrain.images.scalars.prefix(train.images.count)))
        c.trainSamples = nil
        c.testSamples = 50
        (train, test) = try c.loadData()
        #expect(train.count == fullTrain.count && test.count == 50)
        #expect(test.labels == Array(fullTest.labels.prefix(50)))
        #expect(test.images.scalars == Array(fullTest.images.scalars.prefix(test.images.count)))
        c.testSamples = fullTest.count + 1
        #expect(throws: SNNError.self) { _ = try c.loadData() }
    }

    @Test func scheduleFollowsTheRecipe() {
        var c = TrainingConfiguration()
        c.epochs = 100
        c.batchSize = 128
        c.learningRate = 0.008
        #expect(c.effectiveLearningRate == 0.001)
        #expect(c.resolvedWarmupEpochs == 5)
        #expect(abs(c.learningRate(atEpoch: 0) - 1e-6) < 1e-9)
        #expect(abs(c.learningRate(atEpoch: 2.5) - (1e-6 + 0.5 * (0.001 - 1e-6))) < 1e-8)
        // After warm-up: cosine from the base rate at epoch 0 of the cosine to 1e-5 at the end.
        let expected = 1e-5 + 0.5 * (0.001 - 1e-5) * (1 + cos(Float.pi * 50 / 100))
        #expect(abs(c.learningRate(atEpoch: 50) - expected) < 1e-8)
        #expect(abs(c.learningRate(atEpoch: 100) - 1e-5) < 1e-9)
    }
}
