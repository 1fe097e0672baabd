import CSNNKernels
import Foundation
import SNNTensor

/// Reads whole files as bytes, transparently decompressing gzip (magic 1f 8b).
public enum FileBytes {
    /// The raw bytes of `path`.
    public static func read(_ path: String) throws(SNNError) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot open file for reading" : "no such file"
            throw SNNError(.io, reason, file: path, underlying: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw SNNError(.io, "cannot stat the file", file: path, underlying: String(cString: strerror(errno)))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw SNNError(.io, "is a directory, not a file", file: path) }
        // Read straight into the array (no intermediate Data); keep reading if the file grows or
        // the size was unknown (pipes, /proc).
        var bytes = [UInt8](unsafeUninitializedCapacity: max(Int(info.st_size), 0)) { buffer, count in
            count = 0
            while count < buffer.count {
                let got = Foundation.read(fd, buffer.baseAddress! + count, buffer.count - count)
                if got <= 0 { break }
                count += got
            }
        }
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress!, $0.count) }
            if got < 0 {
                throw SNNError(
                    .io, "read failed", file: path, offset: bytes.count, underlying: String(cString: strerror(errno)))
            }
            if got == 0 { break }
            bytes += chunk[0..<got]
        }
        return bytes
    }

    /// The bytes of `path`, gunzipped when the file starts with the gzip magic.
    public static func readDecompressing(_ path: String) throws(SNNError) -> [UInt8] {
        try decompressing(try read(path), file: path)
    }

    /// `bytes` gunzipped when they start with the gzip magic, else unchanged; `file` names them in errors.
    public static func decompressing(_ bytes: [UInt8], file: String) throws(SNNError) -> [UInt8] {
        guard bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B else { return bytes }
        return try gunzip(bytes, file: file)
    }

    /// Decompresses a gzip stream.
    public static func gunzip(_ bytes: [UInt8], file: String) throws(SNNError) -> [UInt8] {
        var output: UnsafeMutablePointer<UInt8>?
        var count = 0, errorOffset = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { input in
            snn_gunzip(input.baseAddress, input.count, &output, &count, &errorOffset, &message, message.count)
        }
        guard status == 0, let output else {
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw SNNError(.corrupt, text, file: file, offset: errorOffset)
        }
        defer { snn_gzip_free(output) }
        return Array(UnsafeBufferPointer(start: output, count: count))
    }
}
