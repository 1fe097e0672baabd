import Foundation
import SNN
import Testing

/// `snn data frames`, `render` and `emulate` on input that used to crash them or leave half-written
/// output: each refusal is one error line and a clean exit, through the built executable.
@Suite struct DataCommandTests {
    /// A folder that is removed when the test ends.
    final class Scratch {
        let path = temporaryPath("data-command")
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func file(_ name: String) -> String { path + "/" + name }
        /// The entries of the folder, hidden ones included.
        var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }
    }

    /// An N-MNIST `.bin` recording of 300 events on a 34 × 34 sensor.
    static func eventFile(in scratch: Scratch) throws -> String {
        let i = Array(0..<300)
        let events = EventStream(
            t: i.map { Int64($0 * 100) }, x: i.map { UInt16($0 % 34) },
            y: i.map { UInt16($0 * 7 % 34) }, p: i.map { UInt8($0 % 2) }, width: 34, height: 34)
        let path = scratch.file("events.bin")
        try Data(try NMNISTBinary.encode(events)).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// Expects a failure that is one `Error:` line (plus argument-parser's usage lines for validation
    /// errors) containing every one of `phrases`, with exit status 1 or 64 rather than a signal.
    static func expectRefusal(
        _ arguments: [String], _ phrases: [String], limitKB: Int? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let r = try limitKB.map { try runLimited(arguments, fileSizeKB: $0) } ?? runSNN(arguments)
        #expect(
            r.status == 1 || r.status == 64, "\(arguments): status \(r.status)\n\(r.error)",
            sourceLocation: sourceLocation)
        let errors = r.error.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        #expect(errors.count == 1, "\(arguments): \(r.error)", sourceLocation: sourceLocation)
        for phrase in phrases {
            #expect(
                errors.first?.contains(phrase) == true, "\(arguments): no '\(phrase)' in \(r.error)",
                sourceLocation: sourceLocation)
        }
        #expect(
            !r.error.contains("Backtrac") && !r.error.contains("Fatal error"), "\(r.error)",
            sourceLocation: sourceLocation)
    }

    /// Runs the executable with the file-size limit `ulimit -f` set to `fileSizeKB` kilobytes.
    static func runLimited(_ arguments: [String], fileSizeKB: Int) throws
        -> (status: Int32, output: String, error: String)
    {
        let executable = try #require(snnExecutable()).path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "ulimit -f \(fileSizeKB * 2); exec \"$0\" \"$@\"", executable] + arguments
        let out = Pipe(), err = Pipe()
        (process.standardOutput, process.standardError) = (out, err)
        try process.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: outData, as: UTF8.self),
            String(decoding: errData, as: UTF8.self)
        )
    }

    // MARK: Sizes (item 1 of issue 12)

    @Test func framesThatCannotFitAreRefusedByFlagBeforeAllocating() throws {
        let scratch = try Scratch(), events = try Self.eventFile(in: scratch), output = scratch.file("out.safetensors")
        // One frame more than this machine's memory holds, whatever the machine.
        let tooMany = MemoryEstimate.physicalMemory / (2 * 34 * 34 * 4) + 1
        let estimate = MemoryEstimate.formatted(3 * tooMany * 2 * 34 * 34 * 4)
        for command in ["frames", "render"] {
            let out = command == "frames" ? output : scratch.file("out.png")
            try Self.expectRefusal(
                ["data", command, events, "--frames", "\(tooMany)", "--output", out],
                ["--frames \(tooMany)", "[\(tooMany), 2, 34, 34]", "memory of this machine"])
            try Self.expectRefusal(
                ["data", command, events, "--frames", "\(Int.max)", "--output", out],
                ["--frames \(Int.max)", "64-bit"])
            let base = ["data", command, events, "--output", out]
            try Self.expectRefusal(
                base + ["--width", "\(Int.max)", "--height", "34"], ["--width \(Int.max)", "64-bit"])
            try Self.expectRefusal(base + ["--width", "34", "--height", "\(Int.max / 8)"], ["--height \(Int.max / 8)"])
        }
        try Self.expectRefusal(
            ["data", "frames", events, "--frames", "\(tooMany)", "--output", output],
            ["take \(estimate)"])
        // A tonic slicer makes as many frames as the recording gives: named by its --framing.
        try Self.expectRefusal(
            [
                "data", "frames", events, "--framing", "tonic-event-count:1", "--width", "\(1 << 40)",
                "--output", output,
            ],
            ["--framing tonic-event-count:1 (300 frames)", "--width \(1 << 40)"])
        #expect(scratch.entries == ["events.bin"], "a refused command left files behind")
        // A large scale on a frames file: the image is estimated before drawing.
        let wide = scratch.file("wide.safetensors")
        // Frames of a few megabytes whose image at scale 64 (×3 while encoding) outgrows the memory.
        let shape = [1, 2, 1, MemoryEstimate.physicalMemory / (64 * 64 * 3) / 2]
        try SafeTensors(tensors: ["frames": Tensor(zeros: shape)]).write(to: wide)
        try Self.expectRefusal(
            ["data", "render", wide, "--scale", "64", "--output", scratch.file("wide.png")],
            ["--scale 64", "image of frames \(shape)", "memory of this machine"])
    }

    @Test func negativeNumbersReachValidation() throws {
        let scratch = try Scratch(), events = try Self.eventFile(in: scratch), out = scratch.file("a")
        let cases: [([String], String)] = [
            (["data", "frames", events, "--frames", "-1", "--output", out], "--frames must be ≥ 1, got -1"),
            (["data", "frames", events, "--width", "-34", "--output", out], "--width must be ≥ 1, got -34"),
            (["data", "render", events, "--height", "-2", "--output", out], "--height must be ≥ 1, got -2"),
            (["data", "render", events, "--frames", "-3", "--output", out], "--frames must be ≥ 1, got -3"),
            (["data", "render", events, "--scale", "-4", "--output", out], "--scale must be in 1…64, got -4"),
            (["data", "inspect", events, "--width", "-1"], "--width must be ≥ 1, got -1"),
            (
                ["data", "emulate", "--data-dir", scratch.path, "--output", scratch.file("e"), "--limit", "-5"],
                "--limit must be ≥ 1, got -5"
            ),
            (
                ["data", "emulate", "--data-dir", scratch.path, "--output", scratch.file("e"), "--seed", "-1"],
                "The value '-1' is invalid for '--seed <seed>'"
            ),
        ]
        for (arguments, message) in cases { try Self.expectRefusal(arguments, [message]) }
    }

    // MARK: Output paths

    @Test func unwritableOutputsAndFullFilesAreOneLineNamingThePath() throws {
        let scratch = try Scratch(), events = try Self.eventFile(in: scratch)
        for command in ["frames", "render"] {
            try Self.expectRefusal(
                ["data", command, events, "--output", "/nonexistent-folder/out"],
                [
                    "--output /nonexistent-folder/out",
                    "the folder /nonexistent-folder does not exist",
                ])
            try Self.expectRefusal(["data", command, events, "--output", scratch.path], ["is a folder"])
            // The file system refuses the write itself (here the file-size limit, as a full disk would):
            // one line naming the file and the reason; no temporary file stays behind.
            let output = scratch.file("limited.\(command)")
            try Self.expectRefusal(
                ["data", command, events, "--frames", "40", "--output", output],
                [output, "write failed", "File too large"], limitKB: 1)
            #expect(scratch.entries == ["events.bin"], "\(command): \(scratch.entries)")
        }
    }

    // MARK: Rendering (item 3)

    @Test func renderDrawsAnyFramesFileAndRefusesEmptyAxes() throws {
        let scratch = try Scratch()
        let odd = scratch.file("odd.safetensors")
        let values: [Float] = [-5, .nan, .infinity, -.infinity, 3, 0, 1, 2]
        try SafeTensors(tensors: ["frames": Tensor(shape: [1, 2, 2, 2], scalars: values)]).write(to: odd)
        let drawn = try runSNN(["data", "render", odd, "--scale", "1", "--output", scratch.file("odd.png")])
        #expect(drawn.status == 0, "\(drawn.error)")
        #expect(drawn.output.contains("wrote \(scratch.file("odd.png")): 1 frames of 2×2"))
        for (shape, axis) in [([0, 2, 4, 4], "time (T)"), ([3, 2, 0, 4], "height (H)"), ([3, 2, 4, 0], "width (W)")] {
            let empty = scratch.file("empty.safetensors")
            try SafeTensors(tensors: ["frames": Tensor(shape: shape, scalars: [])]).write(to: empty)
            try Self.expectRefusal(
                ["data", "render", empty, "--output", scratch.file("empty.png")],
                ["empty \(axis) axis", "\(shape)"])
        }
        #expect(!scratch.entries.contains("empty.png"))
    }

    // MARK: Emulation (item 6)

    /// MNIST's four IDX files with `count` images per split: a bright square at a place that depends
    /// on the index, labels 0…9 in turn.
    static func mnist(in scratch: Scratch, count: Int) throws -> String {
        let folder = scratch.file("mnist")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        func be32(_ v: Int) -> [UInt8] { [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: v >> $0) } }
        var pixels: [UInt8] = []
        for i in 0..<count {
            for y in 0..<28 {
                for x in 0..<28 { pixels.append((x - i % 14 - 4) / 8 == 0 && (y - 6) / 10 == 0 ? 255 : 0) }
            }
        }
        for prefix in ["train", "t10k"] {
            let images = be32(0x803) + be32(count) + be32(28) + be32(28) + pixels
            let labels = be32(0x801) + be32(count) + (0..<count).map { UInt8($0 % 10) }
            try Data(images).write(to: URL(fileURLWithPath: "\(folder)/\(prefix)-images-idx3-ubyte"))
            try Data(labels).write(to: URL(fileURLWithPath: "\(folder)/\(prefix)-labels-idx1-ubyte"))
        }
        return folder
    }

    /// Every file under `folder` with its bytes, by relative path.
    static func snapshot(_ folder: String) -> [String: Data] {
        var files: [String: Data] = [:]
        for case let path as String in FileManager.default.enumerator(atPath: folder)?.allObjects ?? [] {
            var isFolder: ObjCBool = false
            let full = folder + "/" + path
            if FileManager.default.fileExists(atPath: full, isDirectory: &isFolder), !isFolder.boolValue {
                files[path] = FileManager.default.contents(atPath: full)
            }
        }
        return files
    }

    @Test func emulateRefusesToMixAndReplacesOnlyWhenComplete() throws {
        let scratch = try Scratch(), data = try Self.mnist(in: scratch, count: 12), output = scratch.file("out")
        let first = try runSNN(["data", "emulate", "--data-dir", data, "--output", output, "--limit", "6"])
        try #require(first.status == 0, "\(first.error)")
        let old = Self.snapshot(output)
        #expect(old.count == 12 && old.keys.filter { $0.hasPrefix("Train/") }.count == 6)

        // Into the same folder again: refused, untouched.
        try Self.expectRefusal(
            ["data", "emulate", "--data-dir", data, "--output", output, "--limit", "3"],
            ["--output \(output) is not empty", "--overwrite"])
        #expect(Self.snapshot(output) == old)

        // A run that fails half-way (every sample file is over the size limit): one line naming the
        // file, the old folder exactly as it was, no temporary folder left.
        let replace = ["data", "emulate", "--data-dir", data, "--output", output, "--limit", "3", "--overwrite"]
        try Self.expectRefusal(replace, [".out.partial-", ".bin", "File too large"], limitKB: 1)
        #expect(Self.snapshot(output) == old)
        #expect(scratch.entries == ["mnist", "out"], "\(scratch.entries)")

        // --overwrite: exactly the new set (3 per split), nothing of the old one.
        let second = try runSNN(replace)
        try #require(second.status == 0, "\(second.error)")
        let new = Self.snapshot(output)
        #expect(
            Set(new.keys) == [
                "Train/0/0.bin", "Train/1/1.bin", "Train/2/2.bin", "Test/0/0.bin", "Test/1/1.bin",
                "Test/2/2.bin",
            ])
        #expect(new["Train/0/0.bin"] == old["Train/0/0.bin"])  // same seed, same sample
        #expect(scratch.entries == ["mnist", "out"], "\(scratch.entries)")
        // An empty folder is filled without --overwrite.
        let empty = scratch.file("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let third = try runSNN(["data", "emulate", "--data-dir", data, "--output", empty, "--limit", "3"])
        #expect(third.status == 0 && Self.snapshot(empty) == new, "\(third.error)")
    }

    @Test func aKilledEmulationLeavesTheOldFolderWhole() throws {
        let scratch = try Scratch(), data = try Self.mnist(in: scratch, count: 200), output = scratch.file("out")
        let first = try runSNN(["data", "emulate", "--data-dir", data, "--output", output, "--limit", "2"])
        try #require(first.status == 0, "\(first.error)")
        let old = Self.snapshot(output)

        let process = Process()
        process.executableURL = snnExecutable()
        process.arguments = ["data", "emulate", "--data-dir", data, "--output", output, "--overwrite"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Kill it once some samples of the new set are written.
        let deadline = Date().addingTimeInterval(300)
        var written = 0
        while Date() < deadline && process.isRunning && written < 20 {
            let partial = scratch.entries.first { $0.hasPrefix(".out.partial-") }
            written = partial.map { Self.snapshot(scratch.file($0)).count } ?? 0
            Thread.sleep(forTimeInterval: 0.02)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the run ended before it could be killed")
        #expect(written >= 20)
        // The folder is the old one, whole; the new half lies in the hidden temporary folder only.
        #expect(Self.snapshot(output) == old)
        #expect(scratch.entries.filter { !$0.hasPrefix(".out.partial-") } == ["mnist", "out"], "\(scratch.entries)")
    }

    // MARK: Help texts

    /// `snn data <command> --help` with every run of white space (help wraps its lines) one space.
    static func help(_ command: String) throws -> String {
        try runSNN(["data", command, "--help"]).output.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    @Test func helpDescribesTheCurrentOptions() throws {
        for command in ["frames", "render"] {
            let help = try Self.help(command)
            // Every event format readEvents reads, and the sensor-size defaults per format.
            for phrase in [
                "AEDAT 2.0 / 3.1 / 4.0", "N-Caltech101 .bin", "AEDAT 3.1: default the camera its header names",
                "--frames <frames>",
                "tonic-event-count:N", "replaced atomically",
            ] {
                #expect(help.contains(phrase), "data \(command) --help lacks '\(phrase)'")
            }
        }
        let render = try Self.help("render")
        #expect(render.contains("1…64") && render.contains("NaN values black"))
        let emulate = try Self.help("emulate")
        for phrase in ["--overwrite", "values: mnist, fashion-mnist", "absent or empty", "partial"] {
            #expect(emulate.contains(phrase), "data emulate --help lacks '\(phrase)'")
        }
    }
}
