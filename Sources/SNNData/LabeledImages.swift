import Foundation
import SNNTensor

/// Images and integer labels held in memory.
public struct LabeledImages: Sendable {
    /// `[N, C, H, W]` pixel values scaled to [0, 1].
    public var images: Tensor
    public var labels: [Int]
    public var classCount: Int
    /// The classes' names in label order, for data sets whose classes are named (class folders).
    public var classNames: [String]?
    /// The sensor size event frames were made at, for event folders (whose size comes from the files).
    public var sensorSize: SensorSize?

    public init(images: Tensor, labels: [Int], classCount: Int, classNames: [String]? = nil) {
        precondition(
            images.shape.first == labels.count, "LabeledImages: \(images.shape) images vs \(labels.count) labels")
        precondition(
            classNames.map { $0.count == classCount } ?? true,
            "LabeledImages: \(classNames?.count ?? 0) class names for \(classCount) classes")
        self.images = images
        self.labels = labels
        self.classCount = classCount
        self.classNames = classNames
    }

    public var count: Int { labels.count }

    /// The samples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> LabeledImages {
        let per = images.count / max(count, 1)
        let out = Tensor(uninitializedShape: [indices.count] + Array(images.shape.dropFirst()))
        var copy = out
        images.withUnsafeBufferPointer { src in
            copy.withUnsafeMutableBufferPointer { dst in
                for (k, i) in indices.enumerated() {
                    precondition(i >= 0 && i < count, "subset: index \(i) outside 0..<\(count)")
                    for j in 0..<per { dst[k * per + j] = src[i * per + j] }
                }
            }
        }
        var result = LabeledImages(
            images: copy, labels: indices.map { labels[$0] }, classCount: classCount,
            classNames: classNames)
        result.sensorSize = sensorSize
        return result
    }
}

/// Which part of a data set.
public enum Split: String, Sendable, CaseIterable { case train, test }
