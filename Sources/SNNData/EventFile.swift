import Foundation
import SNNTensor

/// The event-recording file formats the library reads, told apart by their first bytes (and, for the
/// two formats without a header, by the file's extension).
public enum EventFileFormat: String, Sendable, CaseIterable {
    /// AEDAT 2.0: `#!AER-DAT2.0` header lines, or a headerless `.aedat` file (jAER's oldest files).
    case aedat20 = "aedat-2.0"
    /// AEDAT 3.1: `#!AER-DAT3.1` header lines.
    case aedat31 = "aedat-3.1"
    /// AEDAT 4.0: `#!AER-DAT4.0` and a Flatbuffers stream.
    case aedat40 = "aedat-4.0"
    /// The N-MNIST / N-Caltech101 40-bit `.bin` records.
    case nmnistBinary = "nmnist-bin"

    /// The formats in words, for help texts and error messages.
    public static let summary = "AEDAT 2.0 / 3.1 / 4.0, or an N-MNIST / N-Caltech101 .bin"

    /// The format of a file whose bytes begin with `bytes`, named `path`.
    ///
    /// - Throws: `.unsupported` for another AEDAT version or an unknown format, at offset 0.
    public static func detect(_ bytes: some Collection<UInt8>, path: String) throws(SNNError) -> EventFileFormat {
        if bytes.starts(with: Array("#!AER-DAT3.1".utf8)) { return .aedat31 }
        if bytes.starts(with: Array("#!AER-DAT2.0".utf8))
            || (path.hasSuffix(".aedat") && bytes.first != UInt8(ascii: "#"))
        {
            return .aedat20
        }
        if bytes.starts(with: AEDAT40.magic) { return .aedat40 }
        if bytes.starts(with: Array("#!AER-DAT".utf8)) {
            throw SNNError(
                .unsupported, "this AEDAT version is not read (AEDAT 2.0, 3.1 and 4.0 are)", file: path, offset: 0)
        }
        if path.hasSuffix(".bin") { return .nmnistBinary }
        throw SNNError(.unsupported, "unknown event file format (expected \(summary))", file: path, offset: 0)
    }

    /// Reads the event file at `path` in the format its bytes say. `width` and `height` are the
    /// sensor's for the formats that do not record it (AEDAT 3.1 without a known camera, `.bin`);
    /// AEDAT 2.0 and 4.0 give their own.
    public static func read(_ path: String, width: Int? = nil, height: Int? = nil)
        throws(SNNError) -> (format: EventFileFormat, events: EventStream)
    {
        let bytes = try FileBytes.read(path)
        let format = try detect(bytes, path: path)
        switch format {
        case .aedat31: return (format, try AEDAT31.decode(bytes, file: path, width: width, height: height))
        case .aedat20: return (format, try AEDAT20.decode(bytes, file: path))
        case .aedat40: return (format, try AEDAT40.decode(bytes, file: path))
        case .nmnistBinary: return (format, try NMNISTBinary.decode(bytes, file: path, width: width, height: height))
        }
    }
}
