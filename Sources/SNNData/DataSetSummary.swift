import Foundation
import SNNTensor

/// What a folder of your own data holds, as `snn data inspect DIR` prints it before training: the
/// layout, the classes, the samples per class and split, the sample shapes and the value range.
///
/// Every file is read as training would read it, so a file training would refuse is reported here
/// with the same error.
public struct DataSetSummary: Sendable, Equatable {
    /// The folder layouts of the `--dataset` values for your own data.
    public enum Layout: String, Sendable {
        case npz
        case imageFolder = "image-folder"
        case eventFolder = "event-folder"
    }

    public var directory: String
    public var layout: Layout
    /// The classes in label order (npz: the labels as numbers).
    public var classNames: [String]
    /// Samples per class (in label order) of each split present: "train", and "test" when there is one.
    public var counts: [String: [Int]]
    /// The shape of one sample as training sees it (npz, image folders of one size), or nil.
    public var sampleShape: [Int]?
    /// Image folders: the smallest and the largest height and width, and the channel counts found.
    public var heights: ClosedRange<Int>?
    public var widths: ClosedRange<Int>?
    public var channels: Set<Int> = []
    /// The smallest and largest value of every sample (after scaling bytes to [0, 1]); nil for
    /// event folders, whose values come from framing.
    public var minimum: Float?
    public var maximum: Float?
    /// Event folders: the frame size the recordings give (``EventFolder``).
    public var sensor: SensorSize?

    /// Summarises `directory`: `train.npz` and `test.npz` make it an npz data set, anything else is
    /// read as class folders of images, or of event recordings when they hold no image.
    public static func inspect(directory: String) throws(SNNError) -> DataSetSummary {
        let train = (directory as NSString).appendingPathComponent("train.npz")
        if FileManager.default.fileExists(atPath: train) {
            let (training, test) = try NPZDataset.load(directory: directory)
            let values = training.images.scalars + test.images.scalars
            return DataSetSummary(
                directory: directory, layout: .npz,
                classNames: (0..<training.classCount).map(String.init),
                counts: [
                    "train": perClass(training.labels, training.classCount),
                    "test": perClass(test.labels, test.classCount),
                ],
                sampleShape: Array(training.images.shape.dropFirst()),
                minimum: values.min() ?? 0, maximum: values.max() ?? 0)
        }
        let folders: ClassFolders
        do {
            folders = try ClassFolders(directory: directory, suffixes: ImageFile.suffixes, kind: "PNG or JPEG images")
        } catch {
            guard (try? ClassFolders(directory: directory, suffixes: EventFolder.suffixes, kind: "")) != nil else {
                throw error
            }
            return try inspectEvents(directory: directory)
        }
        var counts = ["train": folders.train.map(\.count)]
        if let test = folders.test { counts["test"] = test.map(\.count) }
        var summary = DataSetSummary(
            directory: directory, layout: .imageFolder, classNames: folders.classNames,
            counts: counts)
        for file in (folders.train + (folders.test ?? [])).joined() {
            let image = try ImageFile.read(file)
            let (c, h, w) = (image.shape[0], image.shape[1], image.shape[2])
            summary.channels.insert(c)
            summary.heights = min(summary.heights?.lowerBound ?? h, h)...max(summary.heights?.upperBound ?? h, h)
            summary.widths = min(summary.widths?.lowerBound ?? w, w)...max(summary.widths?.upperBound ?? w, w)
            let scalars = image.scalars
            summary.minimum = min(summary.minimum ?? .infinity, scalars.min() ?? .infinity)
            summary.maximum = max(summary.maximum ?? -.infinity, scalars.max() ?? -.infinity)
        }
        if let heights = summary.heights, let widths = summary.widths, heights.count == 1, widths.count == 1 {
            summary.sampleShape = [summary.channels.max() ?? 1, heights.lowerBound, widths.lowerBound]
        }
        return summary
    }

    /// Summarises class folders of event recordings: classes, counts and the frame size.
    static func inspectEvents(directory: String) throws(SNNError) -> DataSetSummary {
        let folders = try ClassFolders(directory: directory, suffixes: EventFolder.suffixes, kind: "event recordings")
        var counts = ["train": folders.train.map(\.count)]
        if let test = folders.test { counts["test"] = test.map(\.count) }
        let files = (folders.train + (folders.test ?? [])).flatMap { $0 }
        return DataSetSummary(
            directory: directory, layout: .eventFolder, classNames: folders.classNames,
            counts: counts, sensor: try EventFolder.sensorSize(of: files, option: nil))
    }

    static func perClass(_ labels: [Int], _ classes: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for label in labels { counts[label] += 1 }
        return counts
    }

    /// The splits present, training first.
    public var splits: [String] { ["train", "test"].filter { counts[$0] != nil } }

    /// The JSON form (`snn data inspect DIR --json`).
    public var dictionary: [String: Any] {
        var d: [String: Any] = [
            "directory": directory, "layout": layout.rawValue, "classes": classNames,
            "counts": counts,
        ]
        if let minimum, let maximum {
            d["min"] = Double(minimum)
            d["max"] = Double(maximum)
        }
        if let sensor { d["sensor_size"] = [sensor.width, sensor.height] }
        if let sampleShape { d["sample_shape"] = sampleShape }
        if let heights, let widths {
            d["heights"] = [heights.lowerBound, heights.upperBound]
            d["widths"] = [widths.lowerBound, widths.upperBound]
            d["channels"] = channels.sorted()
        }
        return d
    }

    /// The text form: a heading, the shapes and values, then one row per class.
    public var lines: [String] {
        let totals = splits.map { "\(counts[$0, default: []].reduce(0, +)) \($0)" }.joined(separator: " + ")
        var out = ["\(directory): \(layout.rawValue), \(classNames.count) classes, \(totals) samples"]
        if let heights, let widths {
            let kinds = channels.sorted().map { $0 == 1 ? "grey" : $0 == 3 ? "colour" : "\($0) channels" }
            let size =
                heights.count == 1 && widths.count == 1
                ? "all \(heights.lowerBound)×\(widths.lowerBound)"
                : "heights \(heights.lowerBound)…\(heights.upperBound), "
                    + "widths \(widths.lowerBound)…\(widths.upperBound) (give --image-size H[,W])"
            out.append("  images: \(kinds.joined(separator: " and ")), \(size) (height×width)")
        }
        if let sampleShape { out.append("  sample shape: \(sampleShape)") }
        if let minimum, let maximum { out.append("  values: \(minimum) … \(maximum)") }
        if let sensor {
            out.append(
                "  frames: \(sensor.width)×\(sensor.height) (width×height: recordings' own sizes, else their "
                    + "largest coordinates; --sensor-size sizes .bin and .npz)")
        }
        if counts["test"] == nil { out.append("  no test folder: train with --validation-fraction F") }
        let width = max(5, classNames.map(\.count).max() ?? 0)
        func padded(_ text: String, _ n: Int) -> String { text + String(repeating: " ", count: max(0, n - text.count)) }
        out.append("  " + padded("class", width) + splits.map { " " + padded($0, 7) }.joined())
        for (label, name) in classNames.enumerated() {
            let cells = splits.map { " " + padded(String(counts[$0, default: []][label]), 7) }
            out.append("  " + padded(name, width) + cells.joined())
        }
        return out
    }
}
