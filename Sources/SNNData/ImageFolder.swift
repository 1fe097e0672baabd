import Foundation
import SNNTensor

/// The height and width images are resized to.
public struct ImageSize: Sendable, Equatable, CustomStringConvertible {
    public var height: Int
    public var width: Int

    public init(height: Int, width: Int) {
        self.height = height
        self.width = width
    }

    /// "H" (square) or "H,W", as `--image-size` takes it; nil for anything else.
    public init?(_ text: String) {
        guard let sides = commaSeparatedIntegers(text), (1...2).contains(sides.count) else { return nil }
        self.init(height: sides[0], width: sides[sides.count - 1])
    }

    /// "H,W".
    public var description: String { "\(height),\(width)" }
}

/// Your own images (`--dataset image-folder`): `DIR/train/<class>/*` and `DIR/test/<class>/*`, or
/// class folders without a test split (see ``ClassFolders``), of PNG and JPEG files (``ImageFile``).
///
/// Classes are the training class folders in name order (their names are kept); samples are
/// class-interleaved (the first image of each class, then the second, …) so that every prefix is
/// class-balanced. Grey images become RGB (the value in all three channels) when any image of the
/// set is in colour. With `size`, every image is resized to it by bilinear interpolation with
/// half-pixel centres (PyTorch's `interpolate(mode="bilinear", align_corners=False)`, i.e.
/// torchvision's `Resize(antialias=False)`, without antialiasing when shrinking); without it, all
/// images must have one size.
public enum ImageFolder {
    /// Loads both splits; `validation` holds out a share of each class when there is no test folder.
    public static func load(directory: String, size: ImageSize?, validation: ValidationSplit?) throws(SNNError)
        -> (train: LabeledImages, test: LabeledImages)
    {
        let folders = try ClassFolders(directory: directory, suffixes: ImageFile.suffixes, kind: "PNG or JPEG images")
        let (train, test) = try folders.split(validation: validation)
        let parts = try assemble([train, test], classNames: folders.classNames, size: size)
        return (parts[0], parts[1])
    }

    /// Loads the training images only: `DIR/train`'s, or every image of class folders without a
    /// `train` folder (the static side of static-to-event transfer, where no test split is needed).
    public static func loadTraining(directory: String, size: ImageSize?) throws(SNNError) -> LabeledImages {
        let folders = try ClassFolders(directory: directory, suffixes: ImageFile.suffixes, kind: "PNG or JPEG images")
        return try assemble([folders.train], classNames: folders.classNames, size: size)[0]
    }

    /// The images of each part's files (per class), with one channel count and size for all parts.
    static func assemble(_ parts: [[[String]]], classNames: [String], size: ImageSize?) throws(SNNError)
        -> [LabeledImages]
    {
        var decoded: [(images: [Tensor], labels: [Int], paths: [String])] = []
        for files in parts { decoded.append(try decode(files, size: size)) }
        let all = decoded.flatMap(\.images), paths = decoded.flatMap(\.paths)
        let channels = all.contains { $0.shape[0] == 3 } ? 3 : 1
        let (height, width) = (all[0].shape[1], all[0].shape[2])
        if let other = all.firstIndex(where: { $0.shape[1] != height || $0.shape[2] != width }) {
            throw SNNError(
                .mismatch,
                "images differ in size: \(paths[0]) is \(height)×\(width) (height×width), this "
                    + "one \(all[other].shape[1])×\(all[other].shape[2]); give --image-size H[,W] to resize "
                    + "them", file: paths[other])
        }
        return decoded.map { part in
            let plane = height * width
            let images = Tensor(uninitializedShape: [part.images.count, channels, height, width])
            let out = images.unsafeStoragePointer
            for (i, image) in part.images.enumerated() {
                image.withUnsafeBufferPointer { source in
                    guard let base = source.baseAddress else { return }  // empty images cannot be decoded
                    // A grey image fills every channel, as PIL's convert("RGB") does.
                    for k in 0..<channels {
                        let from = image.shape[0] == 1 ? 0 : k
                        (out + (i * channels + k) * plane).update(from: base + from * plane, count: plane)
                    }
                }
            }
            return LabeledImages(
                images: images, labels: part.labels, classCount: classNames.count,
                classNames: classNames)
        }
    }

    /// The images of `files` (per class) decoded in parallel, class-interleaved, each resized to `size`.
    static func decode(_ files: [[String]], size: ImageSize?) throws(SNNError)
        -> (images: [Tensor], labels: [Int], paths: [String])
    {
        let order = EventFraming.interleaved(files.enumerated().map { label, paths in paths.map { (label, $0) } })
        let images = try mapInParallel(order.count, grain: 8, placeholder: Tensor(zeros: [1])) { i throws(SNNError) in
            let image = try ImageFile.read(order[i].1)
            guard let size, image.shape[1] != size.height || image.shape[2] != size.width else { return image }
            return image.interpolated(size: (size.height, size.width), mode: .bilinear)
        }
        return (images, order.map(\.0), order.map(\.1))
    }
}
