import Foundation

/// Writes files so that readers see either the old content or the new, never a partial file.
public enum AtomicFile {
    /// Writes `data` to a temporary file beside `path`, flushes it to disk, then renames it over `path`.
    public static func write(_ data: Data, to path: String) throws(SNNError) {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory.isEmpty ? "." : directory) + "/.\((path as NSString).lastPathComponent).\(UUID().uuidString).tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
            throw SNNError(.io, "cannot create a file in \(directory.isEmpty ? "." : directory)", file: path,
                           underlying: String(cString: strerror(errno)))
        }
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            try handle.synchronize()
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw SNNError(.io, "write failed", file: path, underlying: "\(error)")
        }
        if rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw SNNError(.io, "cannot move the new file into place", file: path, underlying: reason)
        }
    }

    /// Writes a JSON object (sorted keys, pretty-printed).
    public static func writeJSON(_ object: Any, to path: String) throws(SNNError) {
        let data: Data
        do {
            data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        } catch {
            throw SNNError(.invalidArgument, "value is not JSON-serialisable", file: path, underlying: "\(error)")
        }
        try write(data, to: path)
    }

    /// Reads a JSON object.
    public static func readJSON(_ path: String) throws(SNNError) -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SNNError(.io, FileManager.default.fileExists(atPath: path) ? "cannot read file" : "no such file", file: path)
        }
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw SNNError(.corrupt, "not a JSON object", file: path, offset: 0)
            }
            return object
        } catch let error as SNNError {
            throw error
        } catch {
            throw SNNError(.corrupt, "invalid JSON", file: path, underlying: "\(error)")
        }
    }
}
