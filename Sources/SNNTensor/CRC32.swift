import CSNNKernels

/// CRC-32 as zlib, PNG, gzip and Python's `zlib.crc32` compute it (polynomial 0xEDB88320, reflected,
/// initial value and final XOR 0xFFFFFFFF): the one checksum of the project's files (frame caches,
/// safetensors checkpoints, PNG chunks), computed by zlib.
public enum CRC32 {
    /// The CRC-32 of `bytes`; pass a previous result as `initial` to continue it over more bytes.
    public static func checksum(_ bytes: UnsafeRawBufferPointer, continuing initial: UInt32 = 0) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return initial }
        return snn_crc32(initial, base.assumingMemoryBound(to: UInt8.self), bytes.count)
    }

    /// The CRC-32 of `bytes`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { checksum($0) }
    }
}
