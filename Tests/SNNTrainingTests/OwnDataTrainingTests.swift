import Foundation
import SNN
import SNNTestSupport
import Testing

/// `snn train` on your own data: image folders written as real PNG files, their options and errors.
@Suite(.serialized) struct OwnDataTrainingTests {
    /// Writes `DIR/<split>/<class>/<i>.png` colour images of `side(i)` pixels a side; the split ""
    /// writes the class folders into `DIR` itself.
    static func writeFolder(
        _ root: String, classes: [String], perClass: Int, splits: [String],
        side: (Int) -> Int = { _ in 6 }
    ) throws {
        for split in splits {
            for (label, name) in classes.enumerated() {
                let folder = split.isEmpty ? "\(root)/\(name)" : "\(root)/\(split)/\(name)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                for i in 0..<perClass {
                    let s = side(i)
                    // Each class a colour: a learnable difference.
                    let rgb: [UInt8] = (0..<(s * s)).flatMap { p -> [UInt8] in
                        [UInt8((label * 90 + p) % 256), UInt8(i * 20 % 256), 40]
                    }
                    let png = try PNG.encode(rgb: rgb, width: s, height: s)
                    try Data(png).write(to: URL(fileURLWithPath: "\(folder)/\(i).png"))
                }
            }
        }
    }

    /// Writes `DIR/<class>/<i>.bin` N-MNIST recordings: 30 events, x up to 8 + i, in class-specific rows.
    static func writeRecordings(_ root: String, classes: [String], perClass: Int) throws {
        for (label, name) in classes.enumerated() {
            let folder = "\(root)/\(name)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for i in 0..<perClass {
                var bytes: [UInt8] = []
                for k in 0..<30 {
                    let t = k * 100, x = k % (9 + i), y = label * 4 + k % 3
                    bytes += [UInt8(x), UInt8(y), UInt8(k % 2 << 7 | t >> 16), UInt8(t >> 8 & 255), UInt8(t & 255)]
                }
                try Data(bytes).write(to: URL(fileURLWithPath: "\(folder)/\(i).bin"))
            }
        }
    }

    @Test func eventFolderTrainsAndStatesTheSensorSizeItFound() throws {
        let root = temporaryPath("event-folder")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.writeRecordings(root + "/data", classes: ["up", "down"], perClass: 4)
        let run = root + "/run"
        let r = try runSNN(
            Self.small + [
                "--dataset", "event-folder", "--data-dir", root + "/data",
                "--validation-fraction", "0.25", "--frame-cache", "off", "--output", run,
                "--json",
            ])
        try #require(r.status == 0, "\(r.error)")
        let config = try AtomicFile.readJSON(run + "/config.json")
        #expect(config["class_names"] as? [String] == ["down", "up"])
        // Largest x: 8 + 3 (the fourth recording); largest y: 1·4 + 2.
        #expect(config["resolved_sensor_size"] as? [Int] == [12, 7] && config["sensor_size"] == nil)
        #expect(config["encoding"] as? String == "frames")
        let sized = try runSNN(
            Self.small + [
                "--dataset", "event-folder", "--data-dir", root + "/data",
                "--validation-fraction", "0.25", "--sensor-size", "16,8", "--frame-cache",
                "off", "--output", root + "/sized",
            ])
        try #require(sized.status == 0, "\(sized.error)")
        let sizedConfig = try AtomicFile.readJSON(root + "/sized/config.json")
        #expect(sizedConfig["resolved_sensor_size"] as? [Int] == [16, 8])
        #expect(sizedConfig["sensor_size"] as? [Int] == [16, 8])
        let evaluated = try runSNN(["evaluate", "--run", root + "/sized", "--json"])
        #expect(evaluated.status == 0, "\(evaluated.error)")
    }

    /// Caltech101 ↔ N-Caltech101 in small: class folders of images as the static side of event
    /// folders, read at the event frames' size and paired by class name.
    @Test func imageFoldersPairWithEventFoldersByClassName() throws {
        let root = temporaryPath("folder-transfer")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.writeRecordings(root + "/events", classes: ["up", "down"], perClass: 4)
        try Self.writeFolder(root + "/images", classes: ["up", "down"], perClass: 3, splits: [""], side: { 5 + $0 })
        try Self.writeFolder(root + "/other", classes: ["up", "sideways"], perClass: 3, splits: [""])
        let transfer = [
            "train", "--dataset", "event-folder", "--data-dir", root + "/events",
            "--validation-fraction", "0.25", "--event-size", "16", "--model", "transfer-scnn",
            "--time-steps", "2", "--epochs", "1", "--batch-size", "4", "--frame-cache", "off",
            "--transfer-from", "image-folder",
        ]
        let paired = try runSNN(
            transfer + [
                "--transfer-data-dir", root + "/images", "--output", root + "/run",
                "--json",
            ])
        #expect(paired.status == 0, "\(paired.error)")
        let mismatched = try runSNN(transfer + ["--transfer-data-dir", root + "/other", "--output", root + "/bad"])
        let refusal = "image-folder's class 0 is sideways, event-folder's is down"
        #expect(mismatched.status != 0 && mismatched.error.contains(refusal), "\(mismatched.error)")
        #expect(!FileManager.default.fileExists(atPath: root + "/bad"))
    }

    static let small = [
        "train", "--model", "spiking-mlp", "--widths", "16", "--time-steps", "2", "--epochs", "1",
        "--batch-size", "8", "--seed", "3",
    ]

    @Test func imageFolderTrainsAndRecordsItsClassesSizeAndSplit() throws {
        let root = temporaryPath("image-folder")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.writeFolder(root + "/data", classes: ["owl", "elk"], perClass: 5, splits: [""], side: { 5 + $0 })
        let run = root + "/run"
        let r = try runSNN(
            Self.small + [
                "--dataset", "image-folder", "--data-dir", root + "/data", "--image-size",
                "6,7", "--validation-fraction", "0.4", "--output", run, "--json",
            ])
        try #require(r.status == 0, "\(r.error)")
        let config = try AtomicFile.readJSON(run + "/config.json")
        #expect(config["class_names"] as? [String] == ["elk", "owl"])
        #expect(config["image_size"] as? [Int] == [6, 7])
        #expect((config["validation_fraction"] as? NSNumber)?.doubleValue == 0.4)
        // The run's own options bring the same data back: evaluation reads it through config.json.
        let evaluated = try runSNN(["evaluate", "--run", run, "--json"])
        #expect(evaluated.status == 0, "\(evaluated.error)")
    }

    @Test func dataInspectSummarisesAFolder() throws {
        let root = temporaryPath("inspect")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.writeFolder(root, classes: ["b", "a"], perClass: 3, splits: ["train"], side: { 4 + $0 })
        try Self.writeFolder(root, classes: ["a"], perClass: 2, splits: ["test"])
        let r = try runSNN(["data", "inspect", root, "--json"])
        try #require(r.status == 0, "\(r.error)")
        let line = try #require(r.output.split(separator: "\n").last)
        let d = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(d["classes"] as? [String] == ["a", "b"] && d["layout"] as? String == "image-folder")
        #expect(d["counts"] as? [String: [Int]] == ["train": [3, 3], "test": [2, 0]])
        #expect(d["heights"] as? [Int] == [4, 6] && d["widths"] as? [Int] == [4, 6] && d["channels"] as? [Int] == [3])
        let text = try runSNN(["data", "inspect", root])
        let heading = "image-folder, 2 classes, 6 train + 2 test samples"
        #expect(text.status == 0 && text.output.contains(heading), "\(text)")
    }

    /// The npz fixtures of the data tests (Tests/SNNDataTests/Fixtures/npz).
    static func npzFixture(_ name: String, file: StaticString = #filePath) -> String {
        URL(fileURLWithPath: "\(file)").deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SNNDataTests/Fixtures/npz/\(name)").path
    }

    /// What an npz sample is shows only in the file: the encoding is checked against the loaded shape.
    @Test func npzSamplesMustFitTheEncoding() throws {
        let root = temporaryPath("npz-encoding")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let frames = ["--dataset", "npz", "--data-dir", Self.npzFixture("frames")]
        let images = ["--dataset", "npz", "--data-dir", Self.npzFixture("images")]
        let cases: [([String], String)] = [
            (
                frames,
                "--encoding direct takes images [C, H, W]; npz has samples [2, 2, 3, 3] (frame sequences: use "
                    + "--encoding frames)"
            ),
            (frames + ["--encoding", "frames", "--time-steps", "3"], "sequences of 2 frames: use --time-steps 2"),
            (images + ["--encoding", "frames"], "--encoding frames takes frame sequences [T, C, H, W]"),
        ]
        for (flags, message) in cases {
            let r = try runSNN(
                [
                    "train", "--model", "spiking-mlp", "--widths", "8", "--epochs", "1", "--output",
                    root + "/run",
                ] + flags)
            let first = r.error.split(separator: "\n").first
            #expect(r.status != 0 && first?.contains(message) == true, "\(flags): \(r.error)")
            #expect(!FileManager.default.fileExists(atPath: root + "/run"), "\(flags) left a run directory")
        }
        let trained = try runSNN(
            [
                "train", "--model", "spiking-mlp", "--widths", "8", "--epochs", "1", "--encoding",
                "frames", "--time-steps", "2", "--output", root + "/frames",
            ] + frames)
        #expect(trained.status == 0, "\(trained.error)")
    }

    /// A resumed run reads its data again: class folders renamed since are refused, not trained on.
    @Test func resumeRefusesChangedClasses() throws {
        let root = temporaryPath("image-folder-resume")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.writeFolder(root + "/data", classes: ["owl", "elk"], perClass: 3, splits: ["train", "test"])
        let run = root + "/run"
        let r = try runSNN(Self.small + ["--dataset", "image-folder", "--data-dir", root + "/data", "--output", run])
        try #require(r.status == 0, "\(r.error)")
        for split in ["train", "test"] {
            try FileManager.default.moveItem(atPath: "\(root)/data/\(split)/elk", toPath: "\(root)/data/\(split)/yak")
        }
        let resumed = try runSNN(["train", "--resume", run, "--epochs", "2"])
        let refusal = "the run was trained on the classes elk, owl; the data now has owl, yak"
        #expect(resumed.status != 0 && resumed.error.contains(refusal), "\(resumed.error)")
    }

    /// Each bad option or folder is one clear error line and a non-zero exit.
    @Test func badOptionsAndFoldersAreClearErrors() throws {
        let root = temporaryPath("image-folder-errors")
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Self.writeFolder(root + "/flat", classes: ["a", "b"], perClass: 3, splits: [""], side: { 4 + $0 })
        try Self.writeFolder(root + "/split", classes: ["a", "b"], perClass: 2, splits: ["train", "test"])
        let folder = ["--dataset", "image-folder", "--data-dir"]
        let cases: [([String], String)] = [
            (folder + [root + "/flat", "--image-size", "0"], "--image-size must be H or H,W with each side in 1…4096"),
            (folder + [root + "/flat", "--image-size", "4x4"], "--image-size must be H or H,W"),
            (
                folder + [root + "/flat", "--image-size", "4", "--validation-fraction", "1"],
                "--validation-fraction must be in (0, 1)"
            ),
            (["--image-size", "8"], "--image-size resizes the images of --dataset image-folder"),
            (["--validation-fraction", "0.2"], "--validation-fraction splits class folders"),
            (["--sensor-size", "34,34"], "--sensor-size sizes the recordings of --dataset event-folder"),
            (["--dataset", "event-folder", "--data-dir", root, "--sensor-size", "34"], "--sensor-size must be W,H"),
            (["--dataset", "event-folder", "--data-dir", root, "--sensor-size", "0,5"], "each side in 1…65536"),
            (
                ["--dataset", "event-folder", "--data-dir", root + "/flat", "--validation-fraction", "0.3"],
                "empty class: no event recordings"
            ),
            (folder + [root + "/flat", "--image-size", "4"], "no test folder: give --validation-fraction"),
            (folder + [root + "/flat", "--validation-fraction", "0.3"], "images differ in size"),
            (folder + [root + "/split", "--validation-fraction", "0.3"], "has a test folder"),
            (folder + [root + "/split", "--encoding", "frames"], "--encoding frames is for event data sets"),
        ]
        for (flags, message) in cases {
            let r = try runSNN(Self.small + flags + ["--output", root + "/run"])
            // One error line (option errors are followed by argument-parser's usage hint).
            let lines = r.error.split(separator: "\n")
            #expect(r.status != 0 && lines.first?.hasPrefix("Error: ") == true, "\(flags): \(r.error)")
            #expect(lines.first?.contains(message) == true, "\(flags): \(r.error)")
            #expect(lines.dropFirst().allSatisfy { $0.contains("Usage") || $0.contains("--help") }, "\(r.error)")
            #expect(!FileManager.default.fileExists(atPath: root + "/run"), "\(flags) left a run directory")
        }
    }
}
