import Foundation
import SNN

/// A JSON fixture written by one of the committed generating scripts.
public struct JSONFixture: @unchecked Sendable {
    public let root: [String: Any]

    public init(url: URL) throws {
        let data = try Data(contentsOf: url)
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw SNNError(.corrupt, "fixture root is not an object", file: url.path)
        }
        root = object
    }

    /// The value at a slash-separated path ("optim_sgd/weight").
    public func value(_ path: String) -> Any? {
        var node: Any? = root
        for part in path.split(separator: "/") {
            if let dict = node as? [String: Any] {
                node = dict[String(part)]
            } else if let array = node as? [Any], let i = Int(part), i < array.count {
                node = array[i]
            } else {
                return nil
            }
        }
        return node
    }

    public func floats(_ path: String) -> [Float] {
        guard let array = value(path) as? [Any] else { preconditionFailure("fixture: no array at \(path)") }
        return array.map { Float(($0 as! NSNumber).doubleValue) }
    }

    public func float(_ path: String) -> Float {
        guard let n = value(path) as? NSNumber else { preconditionFailure("fixture: no number at \(path)") }
        return Float(n.doubleValue)
    }

    public func ints(_ path: String) -> [Int] {
        guard let array = value(path) as? [Any] else { preconditionFailure("fixture: no array at \(path)") }
        return array.map { ($0 as! NSNumber).intValue }
    }

    public func tensor(_ path: String, shape: [Int]) -> Tensor { Tensor(shape: shape, scalars: floats(path)) }
}

/// The shared data folder (`../shared/data` beside the repository), if present.
public func sharedDataDirectory(file: StaticString = #filePath) -> URL? {
    var url = URL(fileURLWithPath: "\(file)")
    for _ in 0..<8 {
        url.deleteLastPathComponent()
        let candidate = url.deletingLastPathComponent().appendingPathComponent("shared/data")
        if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
    }
    return nil
}
