import Foundation
import SNNTensor

/// The data sets `snn train --dataset` accepts.
public enum DatasetName: String, Sendable, CaseIterable {
    case digits
    case mnist
    case fashionMNIST = "fashion-mnist"
    /// Spoken digits as MFCC sequences (32 frames of 13 coefficients; use `--encoding rows --time-steps 32`).
    case fsddMFCC = "fsdd-mfcc"
    /// CIFAR-10 / CIFAR-100 (fine labels), binary version.
    case cifar10
    case cifar100
    /// N-MNIST event recordings (or an emulated set, `snn data emulate`), framed at load time.
    case nmnist
    /// DVS128 Gesture (AEDAT 3.1 recordings cut by their label CSVs, the official trial lists).
    case dvsGesture = "dvs-gesture"
    /// CIFAR10-DVS (AEDAT 2.0, class folders; 90 / 10 split per class).
    case cifar10DVS = "cifar10-dvs"
    /// N-Caltech101 (class folders of `.bin` recordings; 90 / 10 split per class).
    case nCaltech101 = "n-caltech101"
    /// Spiking Heidelberg Digits (`shd_train.h5`, `shd_test.h5`; HDF5), 700 channels framed per step.
    case shd
    /// Spiking Speech Commands (`ssc_train.h5`, `ssc_test.h5`; HDF5).
    case ssc
    /// Your own arrays: `train.npz` and `test.npz` with `x` and `y` (see ``NPZDataset``).
    case npz
    /// Your own images: class folders of PNG and JPEG files (see ``ImageFolder``).
    case imageFolder = "image-folder"
    /// Your own event recordings: class folders of event files (see ``EventFolder``).
    case eventFolder = "event-folder"

    /// Whether samples are event recordings (framed into `[T, 2, H, W]`, `--encoding frames`).
    public var isEventData: Bool {
        [.nmnist, .dvsGesture, .cifar10DVS, .nCaltech101, .shd, .ssc, .eventFolder].contains(self)
    }

    /// Whether the data set is read from class folders (and can be split by `--validation-fraction`).
    public var hasClassFolders: Bool { self == .imageFolder || self == .eventFolder }

    /// Whether samples are speech: channels per time step (SHD, SSC) or MFCC frames (FSDD), the sets
    /// `--encoding speech-grid` takes.
    public var isSpeech: Bool { [.shd, .ssc, .fsddMFCC].contains(self) }

    /// Whether what a sample is (an image, a feature sequence, a frame sequence) is known only from
    /// the files, so that the encoding is checked against the loaded samples rather than the name.
    public var hasFileDefinedSamples: Bool { self == .npz }

    /// Whether the event frames are images (resizable with `--event-size`), not channel vectors.
    public var hasEventImages: Bool { isEventData && self != .shd && self != .ssc }

    /// The shape of one event frame `[C, H, W]` (`[F]` for the speech sets) at the sensor's size, or
    /// at `eventSize` × `eventSize` when resized; empty for image sets. N-Caltech101's recordings vary
    /// in size: its largest (240 × 180) is given.
    public func nominalFrameShape(eventSize: Int?) -> [Int] {
        switch self {
        case .shd, .ssc: return [700]
        case .digits, .mnist, .fashionMNIST, .fsddMFCC, .cifar10, .cifar100, .npz, .imageFolder: return []
        case .nmnist, .dvsGesture, .cifar10DVS, .nCaltech101, .eventFolder:
            if let eventSize { return [2, eventSize, eventSize] }
            switch self {
            case .nmnist: return [2, 34, 34]
            case .nCaltech101: return [2, 180, 240]
            case .eventFolder: return [2, 1, 1]  // known once the recordings are read; checked then
            default: return [2, 128, 128]
            }
        }
    }

    /// Whether `--data-dir` is required.
    public var needsDirectory: Bool { self != .digits }

    /// Loads the training and test splits.
    /// Event data is integrated into `frames` frames with `framing`.
    ///
    /// `limits` bound how many samples of each split a reader must decode at least (nil: all); a
    /// reader that decodes per sample (the event folders) stops there, the others load everything —
    /// the caller cuts the splits to their final size.
    /// Event frames are resized to `eventSize` × `eventSize` as each recording is framed (when given),
    /// and kept in `cache` (when given) for the next load with the same parameters and sources.
    /// Image folders are resized to `imageSize` (when given); class folders are split by `validation`
    /// when they have no test folder; event folders take `sensorSize` for recordings without a size.
    public func load(
        directory: String?, frames: Int = 1, framing: Framing = .spikingJellyByNumber,
        limits: (train: Int?, test: Int?) = (nil, nil), eventSize: Int? = nil, cache: FrameCache? = nil,
        imageSize: ImageSize? = nil, validation: ValidationSplit? = nil, sensorSize: SensorSize? = nil
    )
        throws(SNNError)
        -> (train: LabeledImages, test: LabeledImages)
    {
        switch self {
        case .digits:
            let url = directory.map { URL(fileURLWithPath: $0) }
            return (try Digits.load(.train, directory: url), try Digits.load(.test, directory: url))
        case .mnist, .fashionMNIST:
            guard let directory else {
                throw SNNError(.invalidArgument, "--data-dir is required for \(rawValue)")
            }
            return (try MNIST.load(.train, directory: directory), try MNIST.load(.test, directory: directory))
        case .fsddMFCC:
            guard let directory else {
                throw SNNError(.invalidArgument, "--data-dir is required for \(rawValue)")
            }
            return (try FSDD.load(.train, directory: directory), try FSDD.load(.test, directory: directory))
        case .npz:
            guard let directory else {
                throw SNNError(.invalidArgument, "--data-dir is required for \(rawValue)")
            }
            return try NPZDataset.load(directory: directory)
        case .imageFolder:
            guard let directory else {
                throw SNNError(.invalidArgument, "--data-dir is required for \(rawValue)")
            }
            return try ImageFolder.load(directory: directory, size: imageSize, validation: validation)
        case .cifar10, .cifar100:
            guard let directory else {
                throw SNNError(.invalidArgument, "--data-dir is required for \(rawValue)")
            }
            let variant: CIFAR.Variant = self == .cifar10 ? .cifar10 : .cifar100(coarse: false)
            return (
                try CIFAR.load(.train, variant: variant, directory: directory),
                try CIFAR.load(.test, variant: variant, directory: directory)
            )
        case .nmnist, .dvsGesture, .cifar10DVS, .nCaltech101, .shd, .ssc, .eventFolder:
            guard let directory else {
                throw SNNError(.invalidArgument, "--data-dir is required for \(rawValue)")
            }
            let source = cache == nil ? "" : try FrameCache.fingerprint(directory)
            // Event folders: the files, the split and the frame size come first (the size is part of the key).
            let plan =
                self == .eventFolder
                ? try EventFolder.plan(directory: directory, sensor: sensorSize, validation: validation) : nil
            func split(_ split: Split, _ limit: Int?) throws(SNNError) -> LabeledImages {
                func build() throws(SNNError) -> LabeledImages {
                    switch self {
                    case .nmnist:
                        try NMNIST.load(
                            split, directory: directory, frames: frames, framing: framing, size: eventSize, limit: limit
                        )
                    case .dvsGesture:
                        try DVSGesture.load(
                            split, directory: directory, frames: frames, framing: framing, size: eventSize, limit: limit
                        )
                    case .cifar10DVS:
                        try CIFAR10DVS.load(
                            split, directory: directory, frames: frames, framing: framing, size: eventSize, limit: limit
                        )
                    case .nCaltech101:
                        try NCaltech101.load(
                            split, directory: directory, frames: frames, framing: framing, size: eventSize, limit: limit
                        )
                    case .eventFolder:
                        try EventFolder.load(
                            plan, split, frames: frames, framing: framing, size: eventSize,
                            limit: limit)
                    default:
                        try SpikingSpeech.load(
                            self == .shd ? .shd : .ssc, split, directory: directory, frames: frames, framing: framing,
                            limit: limit)
                    }
                }
                guard let cache else { return try build() }
                let key =
                    "v1 \(rawValue) \(split.rawValue) frames=\(frames) framing=\(framing) size=\(eventSize.map(String.init) ?? "-") "
                    + "limit=\(limit.map(String.init) ?? "all") source=\(source)"
                    + (plan.map {
                        " sensor=\($0.sensor) option=\($0.sensorOption?.description ?? "-") "
                            + "validation=\(validation.map { "\($0.fraction),\($0.seed)" } ?? "-")"
                    } ?? "")
                return try cache.load(key: key, build: build).0
            }
            var (train, test) = (try split(.train, limits.train), try split(.test, limits.test))
            if self == .nCaltech101 {
                // Named classes, for pairing with a static set's class folders (the cache keeps no names).
                train.classNames = try NCaltech101.classes(directory: directory)
                test.classNames = train.classNames
            }
            if let plan {
                train.classNames = plan.classNames
                test.classNames = plan.classNames
                train.sensorSize = plan.sensor
            }
            return (train, test)
        }
    }
}
