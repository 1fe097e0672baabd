import Foundation
import SNNTensor

/// N-MNIST (or a set emulated by ``EventEmulator``) in its folder layout: `Train/<label>/*.bin` and
/// `Test/<label>/*.bin`, 34×34 ATIS events. Samples are integrated into `frames` frames with
/// `framing` as they are loaded: images `[N, T, 2, 34, 34]` of event counts.
public enum NMNIST {
    public static let size = 34

    /// The `.bin` files of one split with their labels, class-interleaved: the first file of each
    /// class in label order, then the second of each, and so on (files of a class in numeric name
    /// order), so that every prefix of the list is class-balanced — the folders themselves are
    /// grouped by class, and a prefix of a grouped list would hold a class or two.
    public static func files(_ split: Split, directory: String) throws(SNNError) -> [(path: String, label: Int)] {
        let root = (directory as NSString).appendingPathComponent(split == .train ? "Train" : "Test")
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SNNError(.io, "missing the N-MNIST folder \(split == .train ? "Train" : "Test")", file: directory)
        }
        let fm = FileManager.default
        var byClass: [[(String, Int)]] = []
        let labels: [String]
        do { labels = try fm.contentsOfDirectory(atPath: root) } catch {
            throw SNNError(.io, "cannot list the folder", file: root, underlying: error.localizedDescription)
        }
        for name in labels.sorted() where !name.hasPrefix(".") {
            guard let label = Int(name), label >= 0 else {
                throw SNNError(
                    .corrupt, "class folders must be named by their label number, found \"\(name)\"", file: root)
            }
            let folder = (root as NSString).appendingPathComponent(name)
            let entries: [String]
            do { entries = try fm.contentsOfDirectory(atPath: folder) } catch {
                throw SNNError(.io, "cannot list the folder", file: folder, underlying: error.localizedDescription)
            }
            let bins = entries.filter { $0.hasSuffix(".bin") && !$0.hasPrefix(".") }
                .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
            byClass.append(bins.map { ((folder as NSString).appendingPathComponent($0), label) })
        }
        byClass.sort { $0.first?.1 ?? 0 < $1.first?.1 ?? 0 }
        let result = EventFraming.interleaved(byClass)
        guard !result.isEmpty else { throw SNNError(.io, "no .bin files", file: root) }
        return result
    }

    /// Loads and frames one split (resized to `size` × `size` when given), or its first `limit`
    /// samples in the order of ``files(_:directory:)``.
    public static func load(
        _ split: Split, directory: String, frames: Int, framing: Framing, size resized: Int? = nil,
        limit: Int? = nil
    ) throws(SNNError) -> LabeledImages {
        precondition(limit.map { $0 >= 0 } ?? true, "NMNIST.load: limit must be ≥ 0")
        var list = try files(split, directory: directory)
        if let limit, limit < list.count { list.removeLast(list.count - limit) }
        let classCount = max(10, (list.map(\.label).max() ?? 0) + 1)
        return try EventFraming.load(
            list.map { EventSample(path: $0.path, label: $0.label) }, classCount: classCount, frames: frames,
            framing: framing, size: resized, sensor: (size, size)
        ) { (path) throws(SNNError) in
            try NMNISTBinary.read(path, width: size, height: size)
        }
    }
}
