import CSNNKernels
import Foundation
import SNNTensor

/// Reads whole files as bytes, transparently decompressing gzip (magic 1f 8b).
public enum FileBytes {
    /// The raw bytes of `path`.
    public static func read(_ path: String) throws(SNNError) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot open file for reading" : "no such file"
            throw SNNError(.io, reason, file: path)
        }
        defer { try? handle.close() }
        do {
            let data = try handle.readToEnd() ?? Data()
            return [UInt8](data)
        } catch {
            throw SNNError(.io, "read failed", file: path, underlying: "\(error)")
        }
    }

    /// The bytes of `path`, gunzipped when the file starts with the gzip magic.
    public static func readDecompressing(_ path: String) throws(SNNError) -> [UInt8] {
        let bytes = try read(path)
        guard bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B else { return bytes }
        return try gunzip(bytes, file: path)
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
