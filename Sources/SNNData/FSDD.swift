import Foundation
import SNNTensor

/// Free Spoken Digit Dataset as 13-coefficient MFCC frame sequences (6 speakers × 10 digits × 50
/// recordings; CC BY-SA 4.0), stored as three files in one directory:
/// `fsdd-mfcc13.f32` (all frames concatenated, float32 little-endian, 13 per frame),
/// `fsdd-mfcc13.len.u32` (frames per sample, uint32 little-endian) and `fsdd-mfcc13.labels.u8`.
///
/// Fixed split: sample i (in file order) is a test sample when i % 5 == 0. Each sequence is cut or
/// zero-padded at the end to `frames` frames and every coefficient is standardised with the mean
/// and standard deviation of the training frames, giving `[N, 1, frames, 13]` (one frame per row,
/// for the `rows` encoding).
public enum FSDD {
    public static let coefficients = 13

    /// Loads one split from the three files in `directory`.
    public static func load(_ split: Split, directory: String, frames: Int = 32) throws(SNNError) -> LabeledImages {
        let base = (directory as NSString).appendingPathComponent("fsdd-mfcc13")
        let paths = Files(features: base + ".f32", lengths: base + ".len.u32", labels: base + ".labels.u8")
        return try decode(
            features: try FileBytes.read(paths.features), lengths: try FileBytes.read(paths.lengths),
            labels: try FileBytes.read(paths.labels), split: split, frames: frames, files: paths)
    }

    /// The names of the three files, for errors.
    public struct Files: Sendable, Equatable {
        /// `fsdd-mfcc13.f32`: the coefficients.
        public var features: String
        /// `fsdd-mfcc13.len.u32`: the frames per sequence.
        public var lengths: String
        /// `fsdd-mfcc13.labels.u8`: the digits.
        public var labels: String

        public init(features: String, lengths: String, labels: String) {
            self.features = features
            self.lengths = lengths
            self.labels = labels
        }
    }

    /// Decodes the contents of the three files (see the type's comment) into one split; `files`
    /// names them in errors.
    public static func decode(
        features: [UInt8], lengths lengthBytes: [UInt8], labels: [UInt8], split: Split,
        frames: Int, files: Files
    ) throws(SNNError) -> LabeledImages {
        precondition(frames >= 1, "FSDD.decode: frames must be ≥ 1")
        let featurePath = files.features, lengthPath = files.lengths, labelPath = files.labels
        guard lengthBytes.count % 4 == 0 else {
            throw SNNError(
                .corrupt, "length file of \(lengthBytes.count) bytes is not a whole number of uint32", file: lengthPath,
                offset: lengthBytes.count - lengthBytes.count % 4)
        }
        let count = lengthBytes.count / 4
        guard labels.count == count else {
            throw SNNError(
                .mismatch, "\(labels.count) labels for \(count) sequences", file: labelPath,
                offset: min(labels.count, count))
        }
        var lengths: [Int] = []
        var total = 0
        for i in 0..<count {
            let o = 4 * i
            let n = Int(
                UInt32(lengthBytes[o]) | UInt32(lengthBytes[o + 1]) << 8 | UInt32(lengthBytes[o + 2]) << 16 | UInt32(
                    lengthBytes[o + 3]) << 24)
            guard n >= 1 && n <= 100_000 else {
                throw SNNError(.corrupt, "sequence \(i) has \(n) frames", file: lengthPath, offset: o)
            }
            lengths.append(n)
            total += n
        }
        guard features.count == total * coefficients * 4 else {
            throw SNNError(
                .corrupt, "feature file holds \(features.count) bytes; the lengths need \(total * coefficients * 4)",
                file: featurePath, offset: min(features.count, total * coefficients * 4))
        }
        if let bad = labels.firstIndex(where: { $0 > 9 }) {
            throw SNNError(.corrupt, "label \(labels[bad]) outside 0…9", file: labelPath, offset: bad)
        }
        var values = [Float](repeating: 0, count: total * coefficients)
        features.withUnsafeBytes { raw in
            for i in 0..<values.count {
                values[i] = Float(
                    bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            }
        }
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw SNNError(.corrupt, "non-finite coefficient", file: featurePath, offset: 4 * bad)
        }
        // Standardise with training-set statistics (so test samples do not leak into them).
        var starts: [Int] = []
        var position = 0
        for n in lengths { starts.append(position); position += n }
        let training = (0..<count).filter { $0 % 5 != 0 }
        let trainFrames = Double(training.reduce(0) { $0 + lengths[$1] })
        guard trainFrames > 0 else {
            throw SNNError(
                .corrupt,
                "\(count) sequences and none for training (sequence i is a test one when "
                    + "i % 5 == 0)", file: lengthPath, offset: lengthBytes.count)
        }
        // Two passes (mean, then squared deviations): the one-pass E[v²] − E[v]² can come out negative
        // from rounding and make σ NaN.
        func trainingSums(_ term: (_ coefficient: Int, _ value: Double) -> Double) -> [Double] {
            var sums = [Double](repeating: 0, count: coefficients)
            for i in training {
                for f in 0..<lengths[i] {
                    for c in 0..<coefficients { sums[c] += term(c, Double(values[(starts[i] + f) * coefficients + c])) }
                }
            }
            return sums
        }
        let mu = trainingSums { _, v in v }.map { $0 / trainFrames }
        let sigma = trainingSums { c, v in (v - mu[c]) * (v - mu[c]) }
            .map { Swift.max(($0 / trainFrames).squareRoot(), 1e-6) }
        let indices = (0..<count).filter { split == .test ? $0 % 5 == 0 : $0 % 5 != 0 }
        var out = [Float](repeating: 0, count: indices.count * frames * coefficients)
        for (k, i) in indices.enumerated() {
            for f in 0..<Swift.min(frames, lengths[i]) {
                for c in 0..<coefficients {
                    let at = (starts[i] + f) * coefficients + c
                    let z = Float((Double(values[at]) - mu[c]) / sigma[c])
                    // A finite coefficient so far from the training ones (beyond Float's range in σ)
                    // is damage, not a value to train on.
                    guard z.isFinite else {
                        throw SNNError(
                            .corrupt,
                            "coefficient \(values[at]) lies \(z) training standard deviations "
                                + "from the training mean \(mu[c])", file: featurePath, offset: 4 * at)
                    }
                    out[(k * frames + f) * coefficients + c] = z
                }
            }
        }
        return LabeledImages(
            images: Tensor(shape: [indices.count, 1, frames, coefficients], scalars: out),
            labels: indices.map { Int(labels[$0]) }, classCount: 10)
    }
}
