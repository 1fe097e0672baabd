import Foundation
import SNNData
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

    /// Whether samples are event recordings (framed into `[T, 2, H, W]`, `--encoding frames`).
    public var isEventData: Bool { self == .nmnist }

    /// Whether `--data-dir` is required.
    public var needsDirectory: Bool { self != .digits }

    /// Loads the training and test splits.
    /// Event data is integrated into `frames` frames with `framing`.
    public func load(directory: String?, frames: Int = 1, framing: Framing = .spikingJellyByNumber) throws(SNNError)
        -> (train: LabeledImages, test: LabeledImages) {
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
        case .cifar10, .cifar100:
            guard let directory else {
                throw SNNError(.invalidArgument, "--data-dir is required for \(rawValue)")
            }
            let variant: CIFAR.Variant = self == .cifar10 ? .cifar10 : .cifar100(coarse: false)
            return (try CIFAR.load(.train, variant: variant, directory: directory), try CIFAR.load(.test, variant: variant, directory: directory))
        case .nmnist:
            guard let directory else {
                throw SNNError(.invalidArgument, "--data-dir is required for \(rawValue)")
            }
            return (try NMNIST.load(.train, directory: directory, frames: frames, framing: framing),
                    try NMNIST.load(.test, directory: directory, frames: frames, framing: framing))
        }
    }
}
