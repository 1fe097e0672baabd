import ArgumentParser
import Foundation
import SNN

/// `snn data`: look at data files and make event data.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Inspect data files, frame event recordings, emulate event data sets.",
        subcommands: [Inspect.self, Frames.self, Render.self, Emulate.self])

    /// Reads an event file by its format: AEDAT 3.1 by its first line, N-MNIST `.bin` otherwise.
    static func readEvents(_ path: String, width: Int?, height: Int?) throws(SNNError) -> (format: String, events: EventStream) {
        let bytes = try FileBytes.read(path)
        if bytes.starts(with: Array("#!AER-DAT3.1".utf8)) {
            return ("aedat-3.1", try AEDAT31.decode(bytes, file: path, width: width, height: height))
        }
        if bytes.starts(with: Array("#!AER-DAT2.0".utf8)) || (path.hasSuffix(".aedat") && bytes.first != UInt8(ascii: "#")) {
            return ("aedat-2.0", try AEDAT20.decode(bytes, file: path))
        }
        if bytes.starts(with: AEDAT40.magic) {
            return ("aedat-4.0", try AEDAT40.decode(bytes, file: path))
        }
        if bytes.starts(with: Array("#!AER-DAT".utf8)) {
            throw SNNError(.unsupported, "this AEDAT version is not read (AEDAT 2.0, 3.1 and 4.0 are)", file: path, offset: 0)
        }
        if path.hasSuffix(".bin") {
            return ("nmnist-bin", try NMNISTBinary.decode(bytes, file: path, width: width, height: height))
        }
        throw SNNError(.unsupported, "unknown event file format (expected AEDAT 2.0 / 3.1 / 4.0 or an N-MNIST .bin)", file: path, offset: 0)
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Detect a file's format and print what it holds.")
        @Argument(help: "An event file (AEDAT 2.0 / 3.1 / 4.0, N-MNIST .bin), an SHD / SSC .h5 file, or an array file (.npy, .npz, .safetensors).") var file: String
        @Option(help: "Sensor width (default: the format's, or the largest x + 1).") var width: Int?
        @Option(help: "Sensor height.") var height: Int?
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            do {
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
                    let (samples, labels) = try SpikingSpeech.read(file, classCount: SpikingSpeech.Corpus.ssc.classCount)
                    let spikes = samples.reduce(0) { $0 + $1.count }
                    let longest = samples.map { $0.t.last ?? 0 }.max() ?? 0
                    let facts: [String: Any] = [
                        "file": file, "format": "hdf5-spiking-speech", "samples": samples.count, "spikes": spikes,
                        "channels": SpikingSpeech.channels, "classes": Set(labels).count, "max_t_us": longest,
                    ]
                    if json {
                        print(try JSONLine.encode(facts))
                    } else {
                        print(String(format: "%@: SHD/SSC HDF5, %d samples, %d spikes, %d classes present, longest %.3f s", file,
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
                    print(String(format: "%@: %@, %d events over %.3f s, %d×%d, %.1f%% ON", file, format, e.count,
                                 Double(e.duration) / 1e6, e.width, e.height, e.onFraction * 100))
                }
            } catch let error as SNNError {
                throw CommandFailure(error)
            }
        }
    }

    struct Frames: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Integrate an event file into frames [T, 2, H, W] and write them as safetensors (key \"frames\").")
        @Argument(help: "An event file (AEDAT 3.1, N-MNIST .bin).") var file: String
        @Option(help: "Number of frames T (the tonic time-window and event-count framings make as many as the recording gives).") var frames = 8
        @Option(help: "Framing convention: \(Framing.names.joined(separator: ", ")).") var framing = "sj-number"
        @Option(help: "Sensor width.") var width: Int?
        @Option(help: "Sensor height.") var height: Int?
        @Option(help: "Output .safetensors file.") var output: String
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            guard frames >= 1 else { throw ValidationError("--frames must be ≥ 1, got \(frames)") }
            guard Framing(name: framing) != nil else {
                throw ValidationError("--framing must be one of \(Framing.names.joined(separator: ", ")), got '\(framing)'")
            }
        }

        func run() throws {
            do {
                let (_, e) = try DataCommand.readEvents(file, width: width, height: height)
                let f = try Framing(name: framing)!.frames(e, frames: frames)
                try SafeTensors(tensors: ["frames": f], metadata: ["framing": framing, "source": file]).write(to: output)
                if json {
                    print(try JSONLine.encode(["output": output, "shape": f.shape, "events_framed": Double(f.sum().item)]))
                } else {
                    print("wrote \(output): frames \(f.shape), \(Int(f.sum().item)) of \(e.count) events")
                }
            } catch let error as SNNError {
                throw CommandFailure(error)
            }
        }
    }

    struct Render: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw an event recording (integrated into frames) or a frames file as a PNG: ON green, OFF red, frames side by side.")
        @Argument(help: "An event file (AEDAT 3.1, N-MNIST .bin) or a .safetensors file with a [T, 2, H, W] tensor \"frames\".")
        var file: String
        @Option(help: "Frames T for an event file.") var frames = 4
        @Option(help: "Framing convention for an event file: \(Framing.names.joined(separator: ", ")).") var framing = "sj-number"
        @Option(help: "Sensor width.") var width: Int?
        @Option(help: "Sensor height.") var height: Int?
        @Option(help: "Pixels per sensor pixel.") var scale = 4
        @Option(help: "Output .png file.") var output: String

        func validate() throws {
            guard frames >= 1, scale >= 1, scale <= 64 else { throw ValidationError("--frames must be ≥ 1 and --scale in 1…64") }
            guard Framing(name: framing) != nil else {
                throw ValidationError("--framing must be one of \(Framing.names.joined(separator: ", ")), got '\(framing)'")
            }
        }

        func run() throws {
            do {
                let f: Tensor
                if file.hasSuffix(".safetensors") {
                    let st = try SafeTensors.read(contentsOf: file)
                    guard let t = st.tensors["frames"] else { throw SNNError(.mismatch, "no tensor named \"frames\"", file: file) }
                    f = t
                } else {
                    let (_, e) = try DataCommand.readEvents(file, width: width, height: height)
                    f = try Framing(name: framing)!.frames(e, frames: frames)
                }
                let png = try PNG.renderFrames(f, scale: scale)
                try AtomicFile.write(Data(png), to: output)
                print("wrote \(output): \(f.shape[0]) frames of \(f.shape[3])×\(f.shape[2])")
            } catch let error as SNNError {
                throw CommandFailure(error)
            }
        }
    }

    struct Emulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Turn an image data set into event recordings (saccades over each image, ESIM-style pixels) in the N-MNIST layout.")
        @Option(help: "Image data set: mnist or fashion-mnist.") var dataset: DatasetName = .mnist
        @Option(help: "Directory holding the data set's files.") var dataDir: String
        @Option(help: "Output directory (gets Train/<label>/*.bin and Test/<label>/*.bin).") var output: String
        @Option(help: "Random seed (threshold mismatch, noise).") var seed: UInt64 = 1
        @Option(help: "Emulate only the first N images of each split.") var limit: Int?
        @Flag(help: "Print one JSON object.") var json = false

        func validate() throws {
            guard dataset == .mnist || dataset == .fashionMNIST else { throw ValidationError("--dataset must be mnist or fashion-mnist") }
            if let limit, limit < 1 { throw ValidationError("--limit must be ≥ 1, got \(limit)") }
        }

        func run() throws {
            do {
                let start = Date()
                let (train, test) = try dataset.load(directory: dataDir)
                let emulator = EventEmulator()
                var events = 0, samples = 0
                for (split, data) in [(Split.train, train), (Split.test, test)] {
                    let part = limit.map { data.subset(Array(0..<min($0, data.count))) } ?? data
                    events += try emulator.writeNMNIST(part, split: split, directory: output, seed: seed)
                    samples += part.count
                }
                let seconds = Date().timeIntervalSince(start)
                if json {
                    print(try JSONLine.encode(["output": output, "samples": samples, "events": events, "seconds": seconds]))
                } else {
                    print(String(format: "wrote %d samples, %d events (%.0f per sample) to %@ in %.1f s", samples, events,
                                 Double(events) / Double(max(samples, 1)), output, seconds))
                }
            } catch let error as SNNError {
                throw CommandFailure(error)
            }
        }
    }
}

