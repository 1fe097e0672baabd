import CSNNKernels
import Foundation

/// Writes whole folders so that their path holds either the old folder or the complete new one,
/// never a half-written or mixed one.
///
/// The content is written into a hidden folder beside the target (`.<name>.partial-<random>`), which
/// is renamed to the target only once complete. A failure removes it; a killed process leaves only
/// that hidden folder, never a partial target.
///
/// ```swift
/// try AtomicDirectory.write(to: "emulated", replacing: overwrite) { folder throws(SNNError) in
///     try AtomicFile.write(bytes, to: folder + "/Train/0/0.bin", synchronize: false)
/// }
/// ```
public enum AtomicDirectory {
    /// Whether `path` is a folder with at least one entry (hidden ones included).
    public static func isNonEmptyFolder(_ path: String) -> Bool {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
            return false
        }
        // A folder that cannot be listed counts as holding something: never replace it unasked.
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: path) else { return true }
        return !entries.isEmpty
    }

    /// Builds the folder `path`: `fill` receives an empty temporary folder beside `path` and writes
    /// the content there; when it returns, the temporary folder takes the place of `path`.
    ///
    /// - Parameters:
    ///   - path: The folder to make. It may be absent or an empty folder; a folder with content is
    ///     replaced only when `replacing` is true, in one atomic swap where the system offers one
    ///     (Linux, macOS), the old content being deleted afterwards.
    ///   - replacing: Whether a non-empty folder at `path` may be replaced.
    ///   - fill: Writes the content into the folder it is given.
    /// - Throws: `SNNError` `.invalidArgument` when `path` is a file, or a non-empty folder and
    ///   `replacing` is false; `.io` when a folder cannot be made, moved or swapped; anything `fill`
    ///   throws. In every case the temporary folder is removed and `path` is left as it was.
    public static func write(
        to path: String, replacing: Bool,
        _ fill: (String) throws(SNNError) -> Void
    ) throws(SNNError) {
        let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
        let target = (trimmed as NSString).standardizingPath
        let parent = (target as NSString).deletingLastPathComponent, name = (target as NSString).lastPathComponent
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: target, isDirectory: &isFolder)
        if exists && !isFolder.boolValue {
            throw SNNError(.invalidArgument, "is a file, not a folder", file: path)
        }
        let occupied = exists && isNonEmptyFolder(target)
        if occupied && !replacing {
            throw SNNError(.invalidArgument, "the folder is not empty", file: path)
        }
        let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let staging = (parent.isEmpty ? "." : parent) + "/.\(name).partial-" + suffix
        guard mkdir(staging, 0o777) == 0 else {
            throw SNNError(
                .io, "cannot create a folder in \(parent.isEmpty ? "." : parent)", file: path,
                underlying: String(cString: strerror(errno)))
        }
        do {
            try fill(staging)
        } catch {
            try? FileManager.default.removeItem(atPath: staging)
            throw error
        }
        if !occupied {
            // rename(2) replaces an empty folder, and makes the new one appear complete in one step.
            guard rename(staging, target) == 0 else {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(atPath: staging)
                throw SNNError(.io, "cannot move the new folder into place", file: path, underlying: reason)
            }
            return
        }
        // A folder with content: swap the two in one step, then delete the old content (now at the
        // staging path). Where the file system cannot swap, two renames leave a moment without `path`.
        if snn_exchange_paths(staging, target) != 0 {
            let old = staging + "-old"
            guard rename(target, old) == 0 else {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(atPath: staging)
                throw SNNError(.io, "cannot move the old folder aside", file: path, underlying: reason)
            }
            guard rename(staging, target) == 0 else {
                let reason = String(cString: strerror(errno))
                _ = rename(old, target)
                try? FileManager.default.removeItem(atPath: staging)
                throw SNNError(.io, "cannot move the new folder into place", file: path, underlying: reason)
            }
            try? FileManager.default.removeItem(atPath: old)
            return
        }
        try? FileManager.default.removeItem(atPath: staging)
    }
}
