import ArgumentParser
import Foundation
import SNN

/// `snn data`: look at data files and make event data.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Inspect data files, frame event recordings, emulate event data sets.",
        subcommands: [Inspect.self, Frames.self, Render.self, Emulate.self])

    /// The event file formats ``readEvents(_:width:height:)`` tells apart, for help texts.
    static let eventFormats = EventFileFormat.summary
    static let widthHelp = ArgumentHelp(
        "Sensor width: events must lie inside it (AEDAT 3.1: default the camera its header names, else the "
            + "largest x + 1; .bin: default the largest x + 1; "
            + "AEDAT 2.0 and 4.0 files give their own size and ignore it).")
    static let heightHelp = ArgumentHelp("Sensor height (as --width).")
    static let framingHelp = ArgumentHelp("Framing convention: \(Framing.names.joined(separator: ", ")).")

    /// Reads an event file in the format its bytes say (``EventFileFormat``).
    static func readEvents(_ path: String, width: Int?, height: Int?) throws(SNNError) -> (
        format: String, events: EventStream
    ) {
        let (format, events) = try EventFileFormat.read(path, width: width, height: height)
        return (format.rawValue, events)
    }

    /// Refuses the sensor-size and frame-count flags a command was given when they are below 1.
    static func validateSizes(frames: Int?, width: Int?, height: Int?) throws {
        if let frames, frames < 1 { throw ValidationError("--frames must be ≥ 1, got \(frames)") }
        if let width, width < 1 { throw ValidationError("--width must be ≥ 1, got \(width)") }
        if let height, height < 1 { throw ValidationError("--height must be ≥ 1, got \(height)") }
    }

    /// Refuses an `--output` file that cannot be written, before any work is done: a folder, or a
    /// path whose folder does not exist or cannot be written in.
    static func validateOutputFile(_ path: String) throws {
        var isFolder: ObjCBool = false
        let existingFolder = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
        if path.hasSuffix("/") || existingFolder {
            throw ValidationError("--output \(path) is a folder; give the name of the file to write")
        }
        try validateParentFolder(of: path)
    }

    /// Refuses a path whose folder does not exist or cannot be written in.
    static func validateParentFolder(of path: String) throws {
        let folder = (path as NSString).deletingLastPathComponent, parent = folder.isEmpty ? "." : folder
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isFolder), isFolder.boolValue else {
            throw ValidationError("--output \(path): the folder \(parent) does not exist")
        }
        guard access(parent, W_OK) == 0 else {
            let reason = String(cString: strerror(errno))
            throw ValidationError("--output \(path): cannot write in the folder \(parent) (\(reason))")
        }
    }

    /// Refuses, naming the flags that set the size (`setBy`) and the estimate, `bytes` of `what`
    /// that overflow (`nil`) or exceed this machine's memory.
    static func requireMemory(_ bytes: Int?, for what: String, setBy flags: String) throws(SNNError) {
        guard let bytes else {
            throw SNNError(.invalidArgument, "\(flags): \(what) would take more bytes than a 64-bit size can count")
        }
        if let excess = MemoryEstimate.excess(bytes) { throw SNNError(.invalidArgument, "\(flags): \(what) \(excess)") }
    }

    /// Reads an event file and integrates it into frames `[T, 2, H, W]`, once their size is known to
    /// fit in memory: the frames `copies` times plus `extra(T, H, W)` bytes (`nil`: overflow).
    static func frames(
        of file: String, framing name: String, frames requested: Int, width: Int?, height: Int?,
        copies: Int, while doing: String, extra: (Int, Int, Int) -> Int? = { _, _, _ in 0 }
    )
        throws(SNNError) -> Tensor
    {
        let (_, events) = try readEvents(file, width: width, height: height)
        guard let framing = Framing(name: name) else { throw SNNError(.invalidArgument, "unknown framing \(name)") }
        let t = framing.frameCount(events, requested: requested)
        var flags = [framing.fixesFrameCount ? "--frames \(requested)" : "--framing \(name) (\(t) frames)"]
        if let width { flags.append("--width \(width)") }
        if let height { flags.append("--height \(height)") }
        let shape = [t, 2, events.height, events.width]
        let frameBytes = MemoryEstimate.checkedProduct(shape + [4])
        let total = MemoryEstimate.checkedSum([
            frameBytes.flatMap { MemoryEstimate.checkedProduct([$0, copies]) },
            extra(t, events.height, events.width),
        ])
        try requireMemory(total, for: "the frames \(shape) of float32 (\(doing))", setBy: flags.joined(separator: ", "))
        return try framing.frames(events, frames: requested)
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Detect a file's format and print what it holds, or summarise a folder of your own data.")
        @Argument(
            help: ArgumentHelp(
                "An event file (\(DataCommand.eventFormats)), an SHD / SSC .h5 file, an array "
                    + "file (.npy, .npz, .safetensors), or a data set folder (train.npz and test.npz, "
                    + "or class folders of images or event recordings): its classes, samples per class "
                    + "and split, shapes and value range (frame size for events).")) var file: String
        @Option(parsing: .unconditional, help: DataCommand.widthHelp) var width: Int?
        @Option(parsing: .unconditional, help: DataCommand.heightHelp) var height: Int?
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws { try DataCommand.validateSizes(frames: nil, width: width, height: height) }

        func run() throws {
            do {
                var isFolder: ObjCBool = false
                if FileManager.default.fileExists(atPath: file, isDirectory: &isFolder), isFolder.boolValue {
                    let summary = try DataSetSummary.inspect(directory: file)
                    if json {
                        print(try JSONLine.encode(summary.dictionary))
                    } else {
                        for line in summary.lines { print(line) }
                    }
                    return
                }
                if file.hasSuffix(".npy") || file.hasSuffix(".npz") || file.hasSuffix(".safetensors") {
                    let arrays: [String: Tensor]
                    let format: String
                    if file.hasSuffix(".npy") {
                        arrays = ["array": try NumPy.readNPY(file)]
                        format = "npy"
                    } else if file.hasSuffix(".npz") {
                        arrays = try NumPy.readNPZ(file)
                        format = "npz"
                    } else {
                        arrays = try SafeTensors.read(contentsOf: file).tensors
                        format = "safetensors"
                    }
                    let shapes = arrays.mapValues(\.shape)
                    if json {
                        print(try JSONLine.encode(["file": file, "format": format, "tensors": shapes]))
                    } else {
                        print("\(file): \(format), \(arrays.count) tensor\(arrays.count == 1 ? "" : "s")")
                        for name in shapes.keys.sorted() { print("  \(name): \(shapes[name]!)") }
                    }
                    return
                }
                if file.hasSuffix(".h5") || file.hasSuffix(".hdf5") {
                    let (samples, labels) = try SpikingSpeech.read(
                        file, classCount: SpikingSpeech.Corpus.ssc.classCount)
                    let spikes = samples.reduce(0) { $0 + $1.count }
                    let longest = samples.map { $0.t.last ?? 0 }.max() ?? 0
                    let facts: [String: Any] = [
                        "file": file, "format": "hdf5-spiking-speech", "samples": samples.count, "spikes": spikes,
                        "channels": SpikingSpeech.channels, "classes": Set(labels).count, "max_t_us": longest,
                    ]
                    if json {
                        print(try JSONLine.encode(facts))
                    } else {
                        print(
                            String(
                                format: "%@: SHD/SSC HDF5, %d samples, %d spikes, %d classes present, longest %.3f s",
                                file,
                                samples.count, spikes, Set(labels).count, Double(longest) / 1e6))
                    }
                    return
                }
                let (format, e) = try DataCommand.readEvents(file, width: width, height: height)
                let facts: [String: Any] = [
                    "file": file, "format": format, "events": e.count, "duration_us": e.duration, "width": e.width,
                    "height": e.height, "on_fraction": e.onFraction, "first_t_us": e.t.first ?? 0,
                ]
                if json {
                    print(try JSONLine.encode(facts))
                } else {
                    print(
                        String(
                            format: "%@: %@, %d events over %.3f s, %d×%d, %.1f%% ON", file, format, e.count,
                            Double(e.duration) / 1e6, e.width, e.height, e.onFraction * 100))
                }
            } catch let error as SNNError {
                throw CommandFailure(error)
            }
        }
    }

    struct Frames: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Integrate an event file into frames [T, 2, H, W] and write them as safetensors (key \"frames\")."
        )
        @Argument(help: "An event file (\(DataCommand.eventFormats)).") var file: String
        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "Number of frames T (the tonic time-window and event-count framings make as many "
                    + "as the recording gives)."))
        var frames = 8
        @Option(help: DataCommand.framingHelp) var framing = "sj-number"
        @Option(parsing: .unconditional, help: DataCommand.widthHelp) var width: Int?
        @Option(parsing: .unconditional, help: DataCommand.heightHelp) var height: Int?
        @Option(help: "Output .safetensors file (replaced atomically).") var output: String
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            try DataCommand.validateSizes(frames: frames, width: width, height: height)
            guard Framing(name: framing) != nil else {
                throw ValidationError(
                    "--framing must be one of \(Framing.names.joined(separator: ", ")), got '\(framing)'")
            }
            try DataCommand.validateOutputFile(output)
        }

        func run() throws {
            do {
                // The tensor, its safetensors entry and the encoded file are in memory together.
                let f = try DataCommand.frames(
                    of: file, framing: framing, frames: frames, width: width, height: height,
                    copies: 3, while: "held 3 times while the file is written")
                try SafeTensors(tensors: ["frames": f], metadata: ["framing": framing, "source": file]).write(
                    to: output)
                if json {
                    print(
                        try JSONLine.encode(["output": output, "shape": f.shape, "events_framed": Double(f.sum().item)])
                    )
                } else {
                    print("wrote \(output): frames \(f.shape), \(Int(f.sum().item)) events")
                }
            } catch let error as SNNError {
                throw CommandFailure(error)
            }
        }
    }

    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw an event recording (integrated into frames) or a frames file as a PNG: frames side by "
                + "side, ON counts green and OFF counts red, scaled by the largest count (negative and NaN values "
                + "black).")
        @Argument(
            help: ArgumentHelp(
                "An event file (\(DataCommand.eventFormats)) or a .safetensors file with a "
                    + "[T, 2, H, W] tensor \"frames\" (as `snn data frames` writes)."))
        var file: String
        @Option(
            parsing: .unconditional,
            help: ArgumentHelp(
                "Number of frames T for an event file (the tonic time-window and event-count "
                    + "framings make as many as the recording gives)."))
        var frames = 4
        @Option(help: ArgumentHelp("Framing convention for an event file: \(Framing.names.joined(separator: ", "))."))
        var framing = "sj-number"
        @Option(parsing: .unconditional, help: DataCommand.widthHelp) var width: Int?
        @Option(parsing: .unconditional, help: DataCommand.heightHelp) var height: Int?
        @Option(parsing: .unconditional, help: "Pixels per sensor pixel, 1…64.") var scale = 4
        @Option(help: "Output .png file (replaced atomically).") var output: String

        func validate() throws {
            try DataCommand.validateSizes(frames: frames, width: width, height: height)
            guard (1...64).contains(scale) else { throw ValidationError("--scale must be in 1…64, got \(scale)") }
            guard Framing(name: framing) != nil else {
                throw ValidationError(
                    "--framing must be one of \(Framing.names.joined(separator: ", ")), got '\(framing)'")
            }
            try DataCommand.validateOutputFile(output)
        }

        /// Bytes of drawing frames [t, 2, h, w]: the RGB image, its scanlines and the compressed copy.
        func imageBytes(_ t: Int, _ h: Int, _ w: Int) -> Int? {
            let size = PNG.renderedSize(frames: t, height: h, width: w, scale: scale)
            return size.flatMap { MemoryEstimate.checkedProduct([$0.rgbBytes, 3]) }
        }

        func run() throws {
            do {
                let f: Tensor
                if file.hasSuffix(".safetensors") {
                    let st = try SafeTensors.read(contentsOf: file)
                    guard let t = st.tensors["frames"] else {
                        throw SNNError(.mismatch, "no tensor named \"frames\"", file: file)
                    }
                    f = t
                    // Empty axes and wrong ranks are refused by PNG.renderFrames, naming the axis.
                    if f.rank == 4, f.shape.allSatisfy({ $0 >= 1 }) {
                        try DataCommand.requireMemory(
                            imageBytes(f.shape[0], f.shape[2], f.shape[3]),
                            for: "the image of frames \(f.shape) from \(file)",
                            setBy: "--scale \(scale)")
                    }
                } else {
                    f = try DataCommand.frames(
                        of: file, framing: framing, frames: frames, width: width, height: height,
                        copies: 2, while: "with their image at --scale \(scale)"
                    ) { t, h, w in
                        t >= 1 && h >= 1 && w >= 1 ? imageBytes(t, h, w) : 0
                    }
                }
                let png = try PNG.renderFrames(f, scale: scale)
                try AtomicFile.write(png, to: output)
                print("wrote \(output): \(f.shape[0]) frames of \(f.shape[3])×\(f.shape[2])")
            } catch let error as SNNError {
                throw CommandFailure(error)
            }
        }
    }

    /// The image data sets `snn data emulate` turns into events.
    enum EmulatedDataset: String, ExpressibleByArgument, CaseIterable {
        case mnist
        case fashionMNIST = "fashion-mnist"

        var name: DatasetName { self == .mnist ? .mnist : .fashionMNIST }
    }

    struct Emulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn an image data set into event recordings (saccades over each image, ESIM-style pixels) "
                + "in the N-MNIST layout.",
            discussion: "The output folder is built beside its final place and renamed into it once complete: an "
                + "interrupted run leaves at most a hidden .<name>.partial-… folder beside it, never a partial or "
                + "mixed output.")
        @Option(help: "Image data set.") var dataset: EmulatedDataset = .mnist
        @Option(help: "Folder holding the data set's IDX files (as for `snn train --dataset mnist`).")
        var dataDir: String
        @Option(
            help: ArgumentHelp(
                "Output folder (gets Train/<label>/<index>.bin and Test/<label>/<index>.bin); must "
                    + "be absent or empty unless --overwrite is given.")) var output: String
        @Flag(help: "Replace a non-empty output folder (its old content is deleted once the new one is complete).")
        var overwrite = false
        @Option(parsing: .unconditional, help: "Random seed (threshold mismatch, noise).") var seed: UInt64 = 1
        @Option(parsing: .unconditional, help: "Emulate only the first N images of each split.") var limit: Int?
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be ≥ 1, got \(limit)") }
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: output, isDirectory: &isFolder) {
                guard isFolder.boolValue else { throw ValidationError("--output \(output) is a file, not a folder") }
                if !overwrite && AtomicDirectory.isNonEmptyFolder(output) {
                    throw ValidationError(
                        "--output \(output) is not empty; pass --overwrite to replace it, or choose "
                            + "another folder")
                }
            }
            try DataCommand.validateParentFolder(of: output.hasSuffix("/") ? String(output.dropLast()) : output)
        }

        func run() throws {
            do {
                let start = Date()
                let (train, test) = try dataset.name.load(directory: dataDir)
                let emulator = EventEmulator()
                var events = 0, samples = 0
                try AtomicDirectory.write(to: output, replacing: overwrite) { folder throws(SNNError) in
                    for (split, data) in [(Split.train, train), (Split.test, test)] {
                        let part = limit.map { data.subset(Array(0..<min($0, data.count))) } ?? data
                        events += try emulator.writeNMNIST(part, split: split, directory: folder, seed: seed)
                        samples += part.count
                    }
                }
                let seconds = Date().timeIntervalSince(start)
                if json {
                    print(
                        try JSONLine.encode([
                            "output": output, "samples": samples, "events": events, "seconds": seconds,
                        ]))
                } else {
                    print(
                        String(
                            format: "wrote %d samples, %d events (%.0f per sample) to %@ in %.1f s", samples, events,
                            Double(events) / Double(max(samples, 1)), output, seconds))
                }
            } catch let error as SNNError {
                throw CommandFailure(error)
            }
        }
    }
}
