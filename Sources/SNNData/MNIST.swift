import Foundation
import SNNTensor

/// MNIST and Fashion-MNIST from a directory holding the four standard IDX files (plain or `.gz`):
/// `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
/// `t10k-labels-idx1-ubyte`. Pixels are scaled to [0, 1]; images come as `[N, 1, 28, 28]`.
public enum MNIST {
    /// Loads one split from `directory`.
    public static func load(_ split: Split, directory: String) throws(SNNError) -> LabeledImages {
        let prefix = split == .train ? "train" : "t10k"
        let imagesPath = try locate("\(prefix)-images-idx3-ubyte", in: directory)
        let labelsPath = try locate("\(prefix)-labels-idx1-ubyte", in: directory)
        let images = try IDXArray.read(contentsOf: imagesPath)
        let labels = try IDXArray.read(contentsOf: labelsPath)
        guard images.elementType == .uint8, images.shape.count == 3 else {
            throw SNNError(
                .mismatch, "expected uint8 images [N, H, W], found \(images.elementType) \(images.shape)",
                file: imagesPath)
        }
        guard labels.shape == [images.shape[0]] else {
            throw SNNError(.mismatch, "\(labels.shape) labels for \(images.shape[0]) images", file: labelsPath)
        }
        if let bad = labels.values.firstIndex(where: { $0 < 0 || $0 > 9 }) {
            throw SNNError(.corrupt, "label \(Int(labels.values[bad])) outside 0…9", file: labelsPath, offset: 8 + bad)
        }
        let (n, h, w) = (images.shape[0], images.shape[1], images.shape[2])
        return LabeledImages(
            images: Tensor(shape: [n, 1, h, w], scalars: images.values.map { $0 / 255 }),
            labels: labels.values.map { Int($0) }, classCount: 10)
    }

    /// The path of `name` or `name.gz` in `directory`.
    static func locate(_ name: String, in directory: String) throws(SNNError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SNNError(.io, "data directory does not exist", file: directory)
        }
        for candidate in [name, name + ".gz"] {
            let path = (directory as NSString).appendingPathComponent(candidate)
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        throw SNNError(.io, "missing \(name) (or \(name).gz)", file: directory)
    }
}
