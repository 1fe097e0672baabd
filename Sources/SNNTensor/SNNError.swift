import Foundation

/// An error in a file or in data: what went wrong, where, and why.
///
/// Programmer errors (wrong shapes, out-of-range axes) are preconditions; everything that depends on
/// what a user hands the library (files, checkpoints, data sets) is thrown as this struct so the
/// command line can print one clear line and exit non-zero.
public struct SNNError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of failure, stable across releases so callers can branch on it.
    public enum Code: String, Sendable, Equatable {
        /// The file could not be opened, read or written.
        case io
        /// The bytes do not follow the expected format (bad magic, truncated, inconsistent header).
        case corrupt
        /// The file is valid but holds something this library does not support (a dtype, a version).
        case unsupported
        /// The content is well formed but does not fit what the caller asked for (a missing key,
        /// a shape that differs from the model's).
        case mismatch
        /// A value given by the user is out of range.
        case invalidArgument
        /// A long computation stopped because it was asked to (a signal); its last checkpoint stands.
        case interrupted
    }

    public var code: Code
    public var message: String
    /// The file concerned, if any.
    public var file: String?
    /// The byte offset in `file` where the problem was found, if known.
    public var offset: Int?
    /// A description of the underlying error (for example the system's `errno` text).
    public var underlying: String?

    public init(
        _ code: Code, _ message: String, file: String? = nil, offset: Int? = nil,
        underlying: String? = nil
    ) {
        self.code = code
        self.message = message
        self.file = file
        self.offset = offset
        self.underlying = underlying
    }

    /// One line: `file: offset N: message (underlying)`.
    public var description: String {
        var parts: [String] = []
        if let file { parts.append(file) }
        if let offset { parts.append("offset \(offset)") }
        parts.append(message)
        var line = parts.joined(separator: ": ")
        if let underlying { line += " (\(underlying))" }
        return line
    }
}

extension SNNError {
    /// The system's reason for a Foundation error, as one short phrase: the `strerror` text of its
    /// POSIX code ("No space left on device", "Permission denied") where it has one, otherwise its
    /// localized description, rather than the NSError dump its default description is.
    public static func reason(of error: any Error) -> String {
        let nsError = error as NSError
        for candidate in [nsError, nsError.userInfo[NSUnderlyingErrorKey] as? NSError].compactMap({ $0 })
        where candidate.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(candidate.code)))
        }
        return nsError.localizedDescription
    }
}
