import Foundation
import SNNTensor

/// Framed event data sets kept on disk, so that decoding and framing happen once per set of
/// parameters, not once per run.
///
/// A cache file is named by a hash of its key: the data set, the split, every parameter that
/// changes the frames, and a fingerprint of the source folder (every file's relative path, size
/// and modification time), so editing, adding or removing a recording makes a new entry. The file
/// holds the full key (a hash collision is detected), the shape, the labels and the frames —
/// 16-bit counts when every value is a whole number below 65 536 (plain framing), else 32-bit
/// floats (resized frames) — and a CRC-32 of everything after the header. A file that does not
/// read back exactly is reported and rebuilt. Files are written atomically.
public struct FrameCache: Sendable {
    public let directory: String

    /// What ``load(key:build:)`` did.
    public enum Outcome: String, Sendable, Equatable { case hit, built, rebuilt }

    public init(directory: String) {
        self.directory = directory
    }

    /// `$SNN_CACHE_DIR`, else `$XDG_CACHE_HOME/snn/frames`, else `~/.cache/snn/frames`.
    public static var defaultDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let d = env["SNN_CACHE_DIR"], !d.isEmpty { return d }
        let base =
            env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache")
        return (base as NSString).appendingPathComponent("snn/frames")
    }

    static let magic = Array("SNNFRAMES\u{1}".utf8)

    /// A fingerprint of every regular file under `directory` (relative path, size, modification time).
    public static func fingerprint(_ directory: String) throws(SNNError) -> String {
        guard let walker = FileManager.default.enumerator(atPath: directory) else {
            throw SNNError(.io, "cannot list the folder", file: directory)
        }
        var entries: [String] = []
        while let relative = walker.nextObject() as? String {
            var info = stat()
            let path = (directory as NSString).appendingPathComponent(relative)
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            entries.append("\(relative)\t\(info.st_size)\t\(info.st_mtim.tv_sec).\(info.st_mtim.tv_nsec)")
        }
        entries.sort()
        return String(format: "%016llx-%d", fnv1a(entries.joined(separator: "\n")), entries.count)
    }

    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x0000_0100_0000_01b3
        }
        return h
    }

    /// The cache file of `key`.
    public func path(for key: String) -> String {
        (directory as NSString).appendingPathComponent(String(format: "%016llx.frames", Self.fnv1a(key)))
    }

    /// The cached data of `key`, or `build()`'s, which is then stored. A cache that cannot be
    /// written (read-only, full disk) is reported once on standard error and the data returned.
    public func load(key: String, build: () throws(SNNError) -> LabeledImages) throws(SNNError) -> (
        LabeledImages, Outcome
    ) {
        let file = path(for: key)
        var outcome = Outcome.built
        if FileManager.default.fileExists(atPath: file) {
            do {
                return (try Self.read(file, key: key), .hit)
            } catch {
                FileHandle.standardError.write(
                    Data("snn: frame cache \(file) is unusable (\(error.message)); rebuilding it\n".utf8))
                outcome = .rebuilt
            }
        }
        let data = try build()
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try AtomicFile.write(try Self.encode(data, key: key), to: file)
        } catch {
            FileHandle.standardError.write(
                Data("snn: cannot write the frame cache in \(directory) (\(error)); going on without it\n".utf8))
        }
        return (data, outcome)
    }

    static func encode(_ data: LabeledImages, key: String) throws -> Data {
        let count = data.images.count, n = data.count
        let whole = data.images.withUnsafeBufferPointer { v in
            v.allSatisfy { $0 >= 0 && $0 < 65536 && $0 == $0.rounded() }
        }
        let header: [String: Any] = [
            "key": key, "shape": data.images.shape, "classes": data.classCount,
            "dtype": whole ? "u16" : "f32",
        ]
        let json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
        let bodyStart = magic.count + 4 + json.count + 4, bodyLength = 4 * n + count * (whole ? 2 : 4)
        // One buffer, filled in place: the frames of a large set run to gigabytes.
        var out = Data(count: bodyStart + bodyLength)
        out.withUnsafeMutableBytes { raw in
            let o = raw.bindMemory(to: UInt8.self).baseAddress!
            func put32(_ v: UInt32, _ at: Int) {
                for k in 0..<4 { o[at + k] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
            }
            o.update(from: magic, count: magic.count)
            put32(UInt32(json.count), magic.count)
            (o + magic.count + 4).update(from: json, count: json.count)
            for (i, l) in data.labels.enumerated() { put32(UInt32(bitPattern: Int32(l)), bodyStart + 4 * i) }
            let start = bodyStart + 4 * n
            data.images.withUnsafeBufferPointer { v in
                if whole {
                    for i in 0..<count {
                        let u = UInt16(v[i])
                        o[start + 2 * i] = UInt8(truncatingIfNeeded: u)
                        o[start + 2 * i + 1] = UInt8(truncatingIfNeeded: u >> 8)
                    }
                } else {
                    for i in 0..<count { put32(v[i].bitPattern, start + 4 * i) }
                }
            }
            put32(CRC32.checksum(UnsafeRawBufferPointer(start: o + bodyStart, count: bodyLength)), bodyStart - 4)
        }
        return out
    }

    static func read(_ file: String, key: String) throws(SNNError) -> LabeledImages {
        try decode(try FileBytes.read(file), key: key, file: file)
    }

    /// Decodes the bytes of a cache file written for `key`; `file` names it in errors.
    static func decode(_ b: [UInt8], key: String, file: String) throws(SNNError) -> LabeledImages {
        guard b.starts(with: magic), b.count >= magic.count + 4 else {
            throw SNNError(.corrupt, "not a frame cache file", file: file, offset: 0)
        }
        func u32(_ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * $1) } }
        let jsonLength = Int(u32(magic.count)), jsonStart = magic.count + 4
        guard jsonStart + jsonLength + 4 <= b.count,
            let header = try? JSONSerialization.jsonObject(with: Data(b[jsonStart..<(jsonStart + jsonLength)]))
                as? [String: Any],
            let storedKey = header["key"] as? String, let shape = header["shape"] as? [Int],
            let classes = header["classes"] as? Int,
            let dtype = header["dtype"] as? String, dtype == "u16" || dtype == "f32", shape.count >= 1,
            shape.allSatisfy({ $0 >= 0 })
        else { throw SNNError(.corrupt, "damaged header", file: file, offset: magic.count) }
        guard storedKey == key else { throw SNNError(.mismatch, "holds another key (a hash collision)", file: file) }
        let crcAt = jsonStart + jsonLength, bodyStart = crcAt + 4
        let n = shape[0], count = shape.reduce(1, *), width = dtype == "u16" ? 2 : 4
        guard b.count - bodyStart == 4 * n + width * count else {
            throw SNNError(
                .corrupt, "\(b.count - bodyStart) bytes of data, expected \(4 * n + width * count)", file: file,
                offset: bodyStart)
        }
        let crc = b.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[bodyStart...])) }
        guard crc == u32(crcAt) else { throw SNNError(.corrupt, "checksum mismatch", file: file, offset: crcAt) }
        let labels = (0..<n).map { Int(Int32(bitPattern: u32(bodyStart + 4 * $0))) }
        guard labels.allSatisfy({ $0 >= 0 && $0 < classes }) else {
            throw SNNError(.corrupt, "label outside the classes", file: file, offset: bodyStart)
        }
        let images = Tensor(uninitializedShape: shape)
        let out = images.unsafeStoragePointer
        let start = bodyStart + 4 * n
        b.withUnsafeBufferPointer { p in
            if width == 2 {
                for i in 0..<count { out[i] = Float(UInt16(p[start + 2 * i]) | UInt16(p[start + 2 * i + 1]) << 8) }
            } else {
                for i in 0..<count { out[i] = Float(bitPattern: u32(start + 4 * i)) }
            }
        }
        return LabeledImages(images: images, labels: labels, classCount: classes)
    }
}
