import Foundation
@testable import SNNData
import SNNLayers
import SNNModels
import SNNNeurons
import SNNTensor
import SNNTraining

/// One fuzz target per reader. Each takes the input as the whole file (or, for the readers of
/// several files, splits it) and asserts what the readers promise: a decode either succeeds with a
/// consistent result or throws an `SNNError` that names the file and a byte offset. A trap, a
/// memory error, a hang, a huge allocation or an error without its place is a finding.
enum FuzzTarget: String, CaseIterable {
    /// IDX (MNIST), plain or gzip'd, as `IDXArray.read(contentsOf:)` takes it.
    case idx
    /// CIFAR-10 / CIFAR-100 binary batches, all three label variants.
    case cifar
    /// N-MNIST / N-Caltech101 `.bin`, with and without a sensor size; round trip; framing.
    case nmnist
    /// AEDAT 2.0, both orientations; framing.
    case aedat2
    /// AEDAT 3.1; the two-pass framing must equal decode-then-frame.
    case aedat31
    /// AEDAT 4.0 (Flatbuffers; uncompressed, LZ4 or Zstandard packets); framing.
    case aedat4
    /// NumPy `.npy`.
    case npy
    /// NumPy `.npz` (stored and deflated entries).
    case npz
    /// safetensors; round trip.
    case safetensors
    /// The frame cache file format; round trip.
    case frameCache = "frame-cache"
    /// The FSDD MFCC files (features `.f32`, lengths `.len.u32`, labels `.labels.u8`), split from one input.
    case fsdd
    /// The DVS128 Gesture label CSV.
    case gestureLabels = "gesture-labels"
    /// The Swift-side HDF5 superblock check made before the HDF5 library (in its child process) sees a file.
    case hdf5Superblock = "hdf5-superblock"
    /// PNG and JPEG through libpng and libjpeg (the image-folder data set's decoder).
    case image
    /// The record stream of the HDF5 tree reader's child (what a damaged HDF5 file can make it send),
    /// then the NIR graph, its conversion to a network and one forward pass of that network.
    case nirRecords = "nir-records"

    func run(_ bytes: [UInt8]) {
        switch self {
        case .idx: Self.idx(bytes)
        case .cifar: Self.cifar(bytes)
        case .nmnist: Self.nmnist(bytes)
        case .aedat2: Self.aedat2(bytes)
        case .aedat31: Self.aedat31(bytes)
        case .aedat4: Self.aedat4(bytes)
        case .npy: Self.npy(bytes)
        case .npz: Self.npz(bytes)
        case .safetensors: Self.safetensors(bytes)
        case .frameCache: Self.frameCache(bytes)
        case .fsdd: Self.fsdd(bytes)
        case .gestureLabels: Self.gestureLabels(bytes)
        case .hdf5Superblock: Self.hdf5Superblock(bytes)
        case .image: Self.image(bytes)
        case .nirRecords: Self.nirRecords(bytes)
        }
    }

    static func idx(_ bytes: [UInt8]) {
        let name = "f.idx"
        guard let plain = clean(name, { () throws(SNNError) in try FileBytes.decompressing(bytes, file: name) }),
            let array = clean(name, { () throws(SNNError) in try IDXArray.decode(plain, file: name) })
        else { return }
        require(array.values.count == array.shape.reduce(1, *), "IDX: \(array.values.count) values for \(array.shape)")
    }

    static func cifar(_ bytes: [UInt8]) {
        for variant in [CIFAR.Variant.cifar10, .cifar100(coarse: true), .cifar100(coarse: false)] {
            let set = clean("c.bin") { () throws(SNNError) in try CIFAR.decode(bytes, variant: variant, file: "c.bin") }
            guard let set else { continue }
            require(set.images.shape == [set.count, 3, 32, 32], "CIFAR: shape \(set.images.shape)")
            require(set.labels.allSatisfy { (0..<set.classCount).contains($0) }, "CIFAR: labels out of range")
        }
    }

    static func nmnist(_ bytes: [UInt8]) {
        let sized = clean("n.bin") { () throws(SNNError) in
            try NMNISTBinary.decode(bytes, file: "n.bin", width: 34, height: 34)
        }
        if let sized { frame(sized) }
        let events = clean("n.bin") { () throws(SNNError) in try NMNISTBinary.decode(bytes, file: "n.bin") }
        guard let events else { return }
        // Decoded events are always encodable, and encoding is decoding's inverse.
        do {
            let again = try NMNISTBinary.decode(try NMNISTBinary.encode(events), file: "again.bin")
            require(again == events, "N-MNIST: decode(encode(events)) differs from the events")
        } catch {
            fatalError("N-MNIST: decoded events do not encode and decode again: \(error)")
        }
    }

    static func aedat2(_ bytes: [UInt8]) {
        for orientation in [AEDAT20.Orientation.raw, .cifar10DVS] {
            let events = clean("a.aedat") { () throws(SNNError) in
                try AEDAT20.decode(bytes, file: "a.aedat", orientation: orientation)
            }
            if let events { frame(events) }
        }
    }

    static func aedat31(_ bytes: [UInt8]) {
        let events = clean("g.aedat") { () throws(SNNError) in try AEDAT31.decode(bytes, file: "g.aedat") }
        // As in frame(_:): a stream on a sensor beyond a DAVIS346's pixel count (no camera named and
        // a coordinate near 32767) would only measure the allocator, at up to 5 × 2 × 32768² floats.
        if let events, events.width * events.height > 346 * 260 { return }
        for framing in fixedCountFramings {
            let frames = 1 + bytes.count % 5
            let direct: Tensor?
            do { direct = try AEDAT31.frames(bytes, file: "g.aedat", frames: frames, framing: framing) } catch {
                require(error.file == "g.aedat", "AEDAT 3.1 frames: error without the file: \(error)")
                direct = nil
            }
            // The two-pass framing must agree with decoding and then framing, failures included.
            let reference = events.flatMap { events in try? framing.frames(events, frames: frames) }
            require(
                direct?.shape == reference?.shape && direct?.scalars == reference?.scalars,
                "AEDAT 3.1: frames(\(framing)) differ from framing the decoded stream")
        }
    }

    static func aedat4(_ bytes: [UInt8]) {
        let events = clean("c.aedat4") { () throws(SNNError) in try AEDAT40.decode(bytes, file: "c.aedat4") }
        guard let events else { return }
        require(
            events.x.allSatisfy { Int($0) < events.width } && events.y.allSatisfy { Int($0) < events.height },
            "AEDAT 4.0: events outside the \(events.width)×\(events.height) sensor")
        frame(events)
    }

    static func npy(_ bytes: [UInt8]) {
        let tensor = clean("a.npy") { () throws(SNNError) in try NumPy.decodeNPY(bytes, file: "a.npy") }
        guard let tensor else { return }
        require(tensor.count == tensor.shape.reduce(1, *), ".npy: \(tensor.count) values for \(tensor.shape)")
    }

    static func npz(_ bytes: [UInt8]) {
        // Errors inside an entry name it as "a.npz[name]".
        do { _ = try NumPy.decodeNPZ(bytes, file: "a.npz") } catch {
            require(
                error.file?.hasPrefix("a.npz") == true && error.offset != nil,
                "npz: error without its place: \(error)")
        }
    }

    static func safetensors(_ bytes: [UInt8]) {
        let file = clean("m.safetensors") { () throws(SNNError) in
            try SafeTensors.decode(bytes, file: "m.safetensors")
        }
        guard let file else { return }
        guard let again = try? SafeTensors.decode(file.encoded(), file: "again.safetensors") else {
            fatalError("safetensors: a decoded file does not encode and decode again")
        }
        require(
            again.metadata == file.metadata && again.entries.keys == file.entries.keys,
            "safetensors: round trip lost names")
        for (name, entry) in file.entries {
            let other = again.entries[name]
            require(
                other?.shape == entry.shape && other?.values.map(\.bitPattern) == entry.values.map(\.bitPattern),
                "safetensors: round trip changed \(name)")
        }
    }

    static func frameCache(_ bytes: [UInt8]) {
        let set: LabeledImages
        do { set = try FrameCache.decode(bytes, key: cacheKey, file: "f.frames") } catch {
            // A file of another key is no damage (FrameCache.load rebuilds it): that error has no offset.
            require(
                error.file == "f.frames" && (error.offset != nil || error.code == .mismatch),
                "error without its place: \(error)")
            return
        }
        guard let encoded = try? [UInt8](FrameCache.encode(set, key: cacheKey)) else {
            fatalError("frame cache: a decoded file does not encode again")
        }
        guard let again = try? FrameCache.decode(encoded, key: cacheKey, file: "again.frames") else {
            fatalError("frame cache: a decoded file does not encode and decode again")
        }
        require(
            again.labels == set.labels && again.images.shape == set.images.shape
                && again.images.scalars.map(\.bitPattern) == set.images.scalars.map(\.bitPattern),
            "frame cache: round trip differs")
    }

    static func fsdd(_ bytes: [UInt8]) {
        // Three header bytes: the sizes of the lengths and labels files and the frame count; the
        // lengths, the labels, and the rest are the features.
        guard bytes.count >= 3 else { return }
        let lengthEnd = 3 + Int(bytes[0]), labelEnd = lengthEnd + Int(bytes[1]), frames = 1 + Int(bytes[2]) % 40
        guard bytes.count >= labelEnd else { return }
        let lengths = Array(bytes[3..<lengthEnd]), labels = Array(bytes[lengthEnd..<labelEnd])
        let features = Array(bytes[labelEnd...])
        let files = FSDD.Files(features: "x.f32", lengths: "x.len.u32", labels: "x.labels.u8")
        for split in Split.allCases {
            do {
                let set = try FSDD.decode(
                    features: features, lengths: lengths, labels: labels, split: split,
                    frames: frames, files: files)
                require(
                    set.images.shape == [set.count, 1, frames, FSDD.coefficients],
                    "FSDD: shape \(set.images.shape)")
                require(set.images.scalars.allSatisfy(\.isFinite), "FSDD: non-finite standardised coefficients")
            } catch {
                require(
                    [files.features, files.lengths, files.labels].contains(error.file ?? "") && error.offset != nil,
                    "FSDD: error without its place: \(error)")
            }
        }
    }

    static func gestureLabels(_ bytes: [UInt8]) {
        let rows = clean("l.csv") { () throws(SNNError) in try DVSGesture.labels(bytes, file: "l.csv") }
        guard let rows else { return }
        require(
            rows.allSatisfy { (0..<DVSGesture.classCount).contains($0.label) && !$0.window.isEmpty },
            "gesture labels: bad row")
    }

    static func hdf5Superblock(_ bytes: [UInt8]) {
        // The check reads the file itself (it seeks, to find a superblock after a user block).
        guard FileManager.default.createFile(atPath: scratchFile, contents: Data(bytes)) else {
            fatalError("cannot write \(scratchFile)")
        }
        _ = clean(scratchFile) { () throws(SNNError) in try HDF5Superblock.check(scratchFile) }
    }

    static func nirRecords(_ bytes: [UInt8]) {
        // The records carry no user-facing offsets: an error must name the file, and nothing may trap.
        func named<R>(_ decode: () throws(SNNError) -> R) -> R? {
            do { return try decode() } catch {
                require(error.file == "g.nir", "NIR: error without its file: \(error)")
                return nil
            }
        }
        let objects = bytes.withUnsafeBufferPointer { buffer in
            named { () throws(SNNError) in try HDF5Tree.parse(records: buffer, file: "g.nir") }
        }
        guard let objects, let graph = named({ () throws(SNNError) in try NIRGraph(objects: objects, file: "g.nir") }),
            let (network, weights, outputs) = named({ () throws(SNNError) in
                try NIRConversion.network(from: graph, file: "g.nir")
            })
        else { return }
        // A network the conversion accepts builds and runs without reaching a precondition (small
        // ones only: a large one would only measure the allocator).
        guard case .success(let shapes) = network.shapes(), shapes.last == [outputs] else {
            fatalError("NIR: an accepted network fails its own shape check")
        }
        let sizes = [network.inputShape] + shapes
        guard sizes.allSatisfy({ $0.reduce(1, *) <= 1 << 12 }), weights.values.allSatisfy({ $0.count <= 1 << 16 })
        else { return }
        let model = network.make(neuron: NeuronConfiguration())
        var state = weights
        for (path, tensor) in model.stateDictionary() where tensor.count == 0 && state[path] == nil {
            state[path] = tensor
        }
        guard
            named({ () throws(SNNError) in try model.load(stateDictionary: state, strict: true, file: "g.nir") })
                != nil
        else { return }
        let output = model(Tensor(zeros: [2, 1] + network.inputShape))
        require(output.shape == [2, 1, outputs], "NIR: output \(output.shape) for \(outputs) outputs")
    }

    /// The key the frame cache seeds were written for (Fuzz/make_seeds.py).
    static let cacheKey = "fuzz"

    /// A file of this process's own for the readers that take a path.
    static let scratchFile = (NSTemporaryDirectory() as NSString).appendingPathComponent("snn-fuzz-\(getpid()).h5")

    /// The framings that give the asked-for number of frames (those the data set loaders use).
    static let fixedCountFramings: [Framing] = [.spikingJellyByNumber, .spikingJellyByTime, .tonicTimeBins]

    /// Frames a decoded stream the way a data set loader does; a framing refusal (an empty window) is
    /// an `SNNError`, anything else a finding. Streams on sensors beyond a DAVIS346's pixel count
    /// are not framed: that would only measure the allocator.
    /// A decode gives a whole image of 1 or 3 channels or an error naming the file (libpng and
    /// libjpeg report no byte offset). A small file can declare up to 2²⁸ pixels that decompress
    /// from little data, so the float conversion runs only up to 2²⁰ pixels, where it cannot
    /// measure the allocator.
    static func image(_ bytes: [UInt8]) {
        let pixels: ImageFile.Pixels
        do { pixels = try ImageFile.decodePixels(bytes, file: "i.img") } catch {
            require(error.file == "i.img", "image: error without the file: \(error)")
            return
        }
        let (c, h, w) = (pixels.channels, pixels.height, pixels.width)
        require(
            w >= 1 && h >= 1 && (c == 1 || c == 3) && pixels.bytes.count == c * h * w,
            "image: \(pixels.bytes.count) bytes for \(w)×\(h) with \(c) channels")
        guard w * h <= 1 << 20 else { return }
        let image = ImageFile.tensor(pixels)
        require(image.shape == [c, h, w], "image: shape \(image.shape)")
        require(image.scalars.allSatisfy { $0 >= 0 && $0 <= 1 }, "image: values outside [0, 1]")
    }

    static func frame(_ events: EventStream) {
        guard events.count > 0, events.width * events.height <= 346 * 260 else { return }
        for framing in fixedCountFramings {
            let frames = 1 + events.count % 5
            guard let f = try? framing.frames(events, frames: frames) else { continue }
            require(f.shape == [frames, 2, events.height, events.width], "framing \(framing): shape \(f.shape)")
            let total = f.sum().item
            require(
                total <= Float(events.count) && (framing == .tonicTimeBins || total == Float(events.count)),
                "framing \(framing): \(total) events framed of \(events.count)")
        }
    }
}

/// The decoder's result, or nil after an `SNNError` that names `file` and an offset (else a finding).
func clean<R>(_ file: String, _ decode: () throws(SNNError) -> R) -> R? {
    do { return try decode() } catch {
        require(error.file == file && error.offset != nil, "error without its file and offset: \(error)")
        return nil
    }
}

/// A property every input must keep; a violation crashes so that libFuzzer records the input.
func require(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}
