import Foundation

/// Writes files so that readers see either the old content or the new, never a partial file.
///
/// Every write goes to a temporary file beside its destination, is flushed to disk (`fsync`) and
/// only then renamed over the destination; the directory is flushed after the rename so the new
/// name survives a power cut. Failures are reported in one line with the system's reason (for
/// example "No space left on device") and leave no temporary file behind.
public enum AtomicFile {
    /// Writes `data` to `path` atomically. `synchronize: false` skips the `fsync` calls, for many
    /// small files whose durability is settled otherwise (a folder renamed into place once complete).
    public static func write(_ data: Data, to path: String, synchronize: Bool = true) throws(SNNError) {
        try writeAll([(path, data)], synchronize: synchronize)
    }

    /// Writes `bytes` as ``write(_:to:synchronize:)`` writes `Data`.
    public static func write(_ bytes: [UInt8], to path: String, synchronize: Bool = true) throws(SNNError) {
        try writeAll([(path, Data(bytes))], synchronize: synchronize)
    }

    /// Writes several files as one group: every file is first written in full to its temporary
    /// twin, and only when all of them are on disk are they renamed into place, in the order given.
    /// A failure while writing (a full disk, say) leaves every destination as it was.
    ///
    /// Put the file that names a group's generation (a checkpoint's state file) last: a crash
    /// between two renames then leaves a detectable mismatch rather than a silent mix.
    public static func writeAll(_ files: [(path: String, data: Data)], synchronize: Bool = true) throws(SNNError) {
        var staged: [(temporary: String, path: String)] = []
        func discardStaged() { for s in staged { unlink(s.temporary) } }
        for (path, data) in files {
            do {
                staged.append((try stage(data, for: path, synchronize: synchronize), path))
            } catch {
                discardStaged()
                throw error
            }
        }
        for (index, s) in staged.enumerated() where rename(s.temporary, s.path) != 0 {
            let reason = systemError()
            for later in staged[index...] { unlink(later.temporary) }
            throw SNNError(.io, "cannot move the new file into place", file: s.path, underlying: reason)
        }
        // Make the renames durable; a failure here leaves complete files, so it is not an error.
        guard synchronize else { return }
        for directory in Set(staged.map { directoryOf($0.path) }) {
            let descriptor = open(directory, O_RDONLY | O_CLOEXEC)
            if descriptor >= 0 {
                fsync(descriptor)
                close(descriptor)
            }
        }
    }

    /// Writes a JSON object (sorted keys, pretty-printed).
    public static func writeJSON(_ object: Any, to path: String) throws(SNNError) {
        try write(try encodeJSON(object, for: path), to: path)
    }

    /// A JSON object's bytes (sorted keys, pretty-printed); `path` names the destination in errors.
    public static func encodeJSON(_ object: Any, for path: String) throws(SNNError) -> Data {
        guard JSONSerialization.isValidJSONObject(object) else {
            throw SNNError(.invalidArgument, "value is not JSON-serialisable (a NaN or infinite number?)", file: path)
        }
        do {
            return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted])
        } catch {
            throw SNNError(
                .invalidArgument, "value is not JSON-serialisable", file: path,
                underlying: error.localizedDescription)
        }
    }

    /// A JSON object as one line (sorted keys, compact) ending in a newline, for JSON-lines files;
    /// `path` names the destination in errors.
    public static func encodeJSONLine(_ object: Any, for path: String) throws(SNNError) -> Data {
        guard JSONSerialization.isValidJSONObject(object),
            var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        else {
            throw SNNError(.invalidArgument, "value is not JSON-serialisable (a NaN or infinite number?)", file: path)
        }
        data.append(0x0A)
        return data
    }

    /// Reads a JSON object.
    public static func readJSON(_ path: String) throws(SNNError) -> [String: Any] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SNNError(
                .io, FileManager.default.fileExists(atPath: path) ? "cannot read file" : "no such file", file: path)
        }
        do {
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw SNNError(.corrupt, "not a JSON object", file: path, offset: 0)
            }
            return object
        } catch let error as SNNError {
            throw error
        } catch {
            throw SNNError(.corrupt, "invalid JSON", file: path, underlying: error.localizedDescription)
        }
    }

    /// Creates `path` and its missing parents, reporting a failure in one line.
    public static func createDirectory(_ path: String) throws(SNNError) {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            // Foundation's error text is a multi-line dump; find the first component that fails
            // and report the system's reason for it.
            var prefix = path.hasPrefix("/") ? "" : "."
            for component in path.split(separator: "/") {
                prefix += "/" + component
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: prefix, isDirectory: &isDirectory) {
                    if !isDirectory.boolValue {
                        throw SNNError(.io, "cannot create a directory: \(prefix) is a file", file: path)
                    }
                    continue
                }
                if mkdir(prefix, 0o777) != 0 && errno != EEXIST {
                    throw SNNError(.io, "cannot create the directory", file: prefix, underlying: systemError())
                }
            }
        }
    }

    // MARK: - Internals

    /// The text of the current `errno`.
    public static func systemError() -> String { String(cString: strerror(errno)) }

    /// The directory part of `path` ("." when it has none).
    public static func directoryOf(_ path: String) -> String {
        let directory = (path as NSString).deletingLastPathComponent
        return directory.isEmpty ? "." : directory
    }

    /// Writes `data` in full to a new temporary file beside `path` and flushes it; returns its path.
    private static func stage(_ data: Data, for path: String, synchronize: Bool) throws(SNNError) -> String {
        let directory = directoryOf(path)
        let name = (path as NSString).lastPathComponent
        guard !name.isEmpty, name != "." else { throw SNNError(.io, "path names a directory, not a file", file: path) }
        let temporary = directory + "/.\(name).\(UInt64.random(in: 0...UInt64.max)).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
        guard descriptor >= 0 else {
            throw SNNError(.io, "cannot create a file in \(directory)", file: path, underlying: systemError())
        }
        var failure: (message: String, reason: String)?
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var written = 0
            while written < buffer.count {
                let count = posixWrite(descriptor, buffer.baseAddress! + written, buffer.count - written)
                if count >= 0 {
                    written += count
                } else if errno != EINTR {
                    failure = ("write failed after \(written) of \(buffer.count) bytes", systemError())
                    return
                }
            }
        }
        if failure == nil, synchronize, fsync(descriptor) != 0 {
            failure = ("cannot flush the file to disk", systemError())
        }
        if close(descriptor) != 0, failure == nil { failure = ("cannot close the file", systemError()) }
        if let failure {
            unlink(temporary)
            throw SNNError(.io, failure.message, file: path, underlying: failure.reason)
        }
        return temporary
    }
}

/// The C `write`, out of reach inside `AtomicFile`, whose own `write` shadows it.
private func posixWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}
