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

    /// Whether `--data-dir` is required.
    public var needsDirectory: Bool { self != .digits }

    /// Loads the training and test splits.
    public func load(directory: String?) throws(SNNError) -> (train: LabeledImages, test: LabeledImages) {
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
        }
    }
}
