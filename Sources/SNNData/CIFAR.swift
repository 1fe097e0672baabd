import Foundation
import SNNTensor

/// CIFAR-10 / CIFAR-100, binary version (FORMATS.md): records of a label byte (CIFAR-100: coarse
/// and fine) and 3×32×32 pixels, plane by plane. Images come out `[N, 3, 32, 32]` in [0, 1].
public enum CIFAR {
    public enum Variant: Sendable, Equatable {
        case cifar10
        /// CIFAR-100 with its 100 fine labels (or the 20 coarse ones).
        case cifar100(coarse: Bool)

        var recordSize: Int { self == .cifar10 ? 3073 : 3074 }
        var classes: Int {
            switch self {
            case .cifar10: 10
            case .cifar100(let coarse): coarse ? 20 : 100
            }
        }
    }

    /// Decodes the records in `bytes`; `file` names it in errors.
    public static func decode(_ bytes: [UInt8], variant: Variant, file: String) throws(SNNError) -> LabeledImages {
        let r = variant.recordSize
        guard !bytes.isEmpty, bytes.count % r == 0 else {
            throw SNNError(
                .corrupt, "\(bytes.count) bytes is not a whole number of \(r)-byte records", file: file,
                offset: bytes.count - bytes.count % r)
        }
        let n = bytes.count / r, pixels = 3 * 32 * 32, labelBytes = r - pixels
        var labels = [Int](repeating: 0, count: n)
        var values = [Float](repeating: 0, count: n * pixels)
        for i in 0..<n {
            let o = i * r
            let label: Int
            switch variant {
            case .cifar10: label = Int(bytes[o])
            case .cifar100(let coarse): label = Int(bytes[o + (coarse ? 0 : 1)])
            }
            guard label < variant.classes else {
                throw SNNError(.corrupt, "label \(label) outside 0…\(variant.classes - 1)", file: file, offset: o)
            }
            labels[i] = label
            for k in 0..<pixels { values[i * pixels + k] = Float(bytes[o + labelBytes + k]) / 255 }
        }
        return LabeledImages(
            images: Tensor(shape: [n, 3, 32, 32], scalars: values), labels: labels, classCount: variant.classes)
    }

    /// The files of a split in the standard folder (`cifar-10-batches-bin/` or `cifar-100-binary/`,
    /// or `directory` itself).
    public static func files(_ split: Split, variant: Variant, directory: String) throws(SNNError) -> [String] {
        let names: [String]
        switch (variant, split) {
        case (.cifar10, .train): names = (1...5).map { "data_batch_\($0).bin" }
        case (.cifar10, .test): names = ["test_batch.bin"]
        case (.cifar100, .train): names = ["train.bin"]
        case (.cifar100, .test): names = ["test.bin"]
        }
        let folder = variant == .cifar10 ? "cifar-10-batches-bin" : "cifar-100-binary"
        for base in [(directory as NSString).appendingPathComponent(folder), directory] {
            let paths = names.map { (base as NSString).appendingPathComponent($0) }
            if paths.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) { return paths }
        }
        throw SNNError(
            .io, "missing \(names.joined(separator: ", ")) (in \(folder)/ or the directory itself)", file: directory)
    }

    public static func load(_ split: Split, variant: Variant, directory: String) throws(SNNError) -> LabeledImages {
        let parts = try files(split, variant: variant, directory: directory).map { (path) throws(SNNError) in
            try decode(try FileBytes.read(path), variant: variant, file: path)
        }
        if parts.count == 1 { return parts[0] }
        let images = Tensor.concatenate(parts.map(\.images), alongAxis: 0)
        return LabeledImages(images: images, labels: parts.flatMap(\.labels), classCount: variant.classes)
    }
}
