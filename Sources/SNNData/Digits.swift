import Foundation
import SNNTensor

/// The UCI optical handwritten digits (1,797 greyscale 8×8 images, 10 classes; CC BY 4.0,
/// Alpaydin & Kaynak), embedded in the library.
///
/// Fixed split: sample i is in the test set when i % 5 == 0 (360 images), otherwise in the
/// training set (1,437 images). Pixel values 0…16 are scaled to [0, 1].
public enum Digits {
    /// The embedded IDX files.
    public static var resourceDirectory: URL {
        Bundle.module.url(forResource: "Resources", withExtension: nil)!
    }

    /// Loads one split from the embedded copy (or from `directory` holding the same two files).
    public static func load(_ split: Split, directory: URL? = nil) throws(SNNError) -> LabeledImages {
        let dir = directory ?? resourceDirectory
        let images = try IDXArray.read(contentsOf: dir.appendingPathComponent("digits-images-idx3-ubyte").path)
        let labelsPath = dir.appendingPathComponent("digits-labels-idx1-ubyte").path
        let labels = try IDXArray.read(contentsOf: labelsPath)
        guard images.shape.count == 3, images.shape[1] == 8, images.shape[2] == 8 else {
            throw SNNError(.mismatch, "digits images must be [N, 8, 8], found \(images.shape)", file: dir.path)
        }
        guard labels.shape == [images.shape[0]] else {
            throw SNNError(.mismatch, "\(labels.shape) labels for \(images.shape[0]) images", file: labelsPath)
        }
        if let bad = labels.values.firstIndex(where: { $0 < 0 || $0 > 9 }) {
            throw SNNError(.corrupt, "label \(labels.values[bad]) outside 0…9", file: labelsPath, offset: 8 + bad)
        }
        let all = LabeledImages(
            images: Tensor(shape: [images.shape[0], 1, 8, 8], scalars: images.values.map { $0 / 16 }),
            labels: labels.values.map { Int($0) }, classCount: 10)
        let indices = (0..<all.count).filter { split == .test ? $0 % 5 == 0 : $0 % 5 != 0 }
        return all.subset(indices)
    }
}
