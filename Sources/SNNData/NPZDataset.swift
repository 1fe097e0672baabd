import Foundation
import SNNTensor

/// A data set of NumPy arrays (`--dataset npz`): a folder with `train.npz` and `test.npz`, each
/// holding `x` (the samples) and `y` (integer class labels, 0-based), and optionally `lengths`.
///
/// `x` may be
/// - images `[N, H, W]` (read as `[N, 1, H, W]`) or `[N, C, H, W]`, for the direct, Poisson or
///   latency encodings as MNIST is;
/// - frame sequences `[N, T, C, H, W]`, for `--encoding frames` with `--time-steps T`;
/// - feature sequences `[N, T, F]` (read as `[N, 1, T, F]`, one step per row, as `fsdd-mfcc` is),
///   for `--encoding rows` with `--time-steps T`. Padded ragged sequences give their true lengths
///   in `lengths` `[N]` (1…T): the steps past a sequence's length are set to zero, as the
///   `fsdd-mfcc` reader zero-pads its shorter sequences at the end.
///
/// float32, float64 and integer arrays are read; `uint8` samples are divided by 255 (pixels to
/// [0, 1], as torchvision's `ToTensor` does), all others are taken as they are. The class count is
/// the largest label + 1 over both splits, and every class needs a training sample. Samples keep
/// the order of the file (so `--train-samples N` takes the first N).
public enum NPZDataset {
    /// The arrays one split's archive may hold.
    public static let arrayNames: Set<String> = ["x", "y", "lengths"]

    /// Loads `train.npz` and `test.npz` from `directory`.
    public static func load(directory: String) throws(SNNError) -> (train: LabeledImages, test: LabeledImages) {
        func read(_ split: Split) throws(SNNError) -> (samples: Tensor, labels: [Int], file: String) {
            let path = (directory as NSString).appendingPathComponent("\(split.rawValue).npz")
            guard FileManager.default.fileExists(atPath: path) else {
                throw SNNError(
                    .io,
                    "missing \(split.rawValue).npz (an npz data set is a folder with train.npz and "
                        + "test.npz, each holding x and y)", file: path)
            }
            let (samples, labels) = try decode(try NumPy.readStoredNPZ(path), file: path)
            return (samples, labels, path)
        }
        let train = try read(.train), test = try read(.test)
        guard Array(train.samples.shape.dropFirst()) == Array(test.samples.shape.dropFirst()) else {
            throw SNNError(
                .mismatch,
                "test samples are \(Array(test.samples.shape.dropFirst())), training samples "
                    + "\(Array(train.samples.shape.dropFirst())): x must have the same sample shape in both",
                file: test.file)
        }
        let classCount = try classCount(train: train.labels, test: test.labels, trainFile: train.file)
        return (
            LabeledImages(images: train.samples, labels: train.labels, classCount: classCount),
            LabeledImages(images: test.samples, labels: test.labels, classCount: classCount)
        )
    }

    /// The class count of two splits' labels: the largest label + 1, every class with a training sample.
    static func classCount(train: [Int], test: [Int], trainFile: String) throws(SNNError) -> Int {
        let classCount = max(train.max() ?? 0, test.max() ?? 0) + 1
        var seen = [Bool](repeating: false, count: classCount)
        for label in train { seen[label] = true }
        if let missing = seen.firstIndex(of: false) {
            throw SNNError(
                .mismatch,
                "class \(missing) has no training sample (the labels go up to \(classCount - 1), "
                    + "and every class below needs one)", file: trainFile)
        }
        return classCount
    }

    /// The samples and labels of one split's arrays; `file` names the archive in errors.
    public static func decode(_ arrays: [String: NumPy.StoredArray], file: String) throws(SNNError)
        -> (samples: Tensor, labels: [Int])
    {
        func bad(_ message: String) -> SNNError { SNNError(.mismatch, message, file: file) }
        guard let x = arrays["x"], let y = arrays["y"] else {
            let missing = ["x", "y"].filter { arrays[$0] == nil }.joined(separator: " and ")
            throw bad("no array \(missing) (found \(arrays.keys.sorted().joined(separator: ", ")))")
        }
        guard x.kind == "i" || x.kind == "u" || (x.kind == "f" && (x.itemSize == 4 || x.itemSize == 8)) else {
            throw bad("x has dtype '\(x.dtype)': float32, float64, uint8 or another integer type is expected")
        }
        let shape = x.values.shape
        guard (3...5).contains(shape.count) else {
            throw bad(
                "x has shape \(shape): images [N, H, W] or [N, C, H, W], frame sequences [N, T, C, H, W] or "
                    + "feature sequences [N, T, F] are expected")
        }
        let n = shape[0]
        guard n >= 1, !shape.contains(0) else { throw bad("x has shape \(shape): no samples") }
        guard y.isInteger else { throw bad("y has dtype '\(y.dtype)': integer class labels are expected") }
        guard y.values.shape == [n] else {
            throw bad(
                "y has shape \(y.values.shape) for the \(n) samples of x: one label per sample, [\(n)], is "
                    + "expected")
        }
        let labels = y.values.scalars.map { Int($0) }
        if let i = labels.firstIndex(where: { $0 < 0 }) {
            throw bad("y[\(i)] = \(labels[i]): labels are class indices 0, 1, 2, …")
        }
        var values = x.values.scalars
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw bad("x holds a non-finite value at flat index \(i)")
        }
        // Pixels as bytes are scaled to [0, 1] as every image set of the project is.
        if x.kind == "u" && x.itemSize == 1 { values = values.map { $0 / 255 } }
        if let lengths = arrays["lengths"] {
            guard shape.count == 3 else {
                throw bad("lengths applies to feature sequences x [N, T, F]; x has shape \(shape)")
            }
            guard lengths.isInteger, lengths.values.shape == [n] else {
                throw bad(
                    "lengths has dtype '\(lengths.dtype)' and shape \(lengths.values.shape): integers [\(n)] "
                        + "(each sequence's steps) are expected")
            }
            let steps = shape[1], features = shape[2]
            for (i, length) in lengths.values.scalars.map({ Int($0) }).enumerated() {
                guard length >= 1 && length <= steps else {
                    throw bad("lengths[\(i)] = \(length): each sequence needs 1…\(steps) steps (x's T)")
                }
                // The padding past a sequence's end is zero, whatever the file holds there.
                for k in (i * steps + length) * features..<((i + 1) * steps * features) { values[k] = 0 }
            }
        }
        let samples = shape.count == 3 ? [n, 1, shape[1], shape[2]] : shape
        return (Tensor(shape: samples, scalars: values), labels)
    }
}
