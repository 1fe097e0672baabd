import Foundation
import SNNTensor

/// CIFAR-10 / CIFAR-100, binary version (FORMATS.md): records of a label byte (CIFAR-100: coarse
/// and fine) and 3×32×32 pixels, plane by plane. Images come out `[N, 3, 32, 32]` in [0, 1].
public enum CIFAR {
    public enum Variant: Sendable, Equatable {
        case cifar10
        /// CIFAR-100 with its 100 fine labels (or the 20 coarse ones).
        case cifar100(coarse: Bool)

        var recordSize: Int { self == .cifar10 ? 3073 : 3074 }
        var classes: Int {
            switch self {
            case .cifar10: 10
            case .cifar100(let coarse): coarse ? 20 : 100
            }
        }
    }

    /// Decodes the records in `bytes`; `file` names it in errors.
    public static func decode(_ bytes: [UInt8], variant: Variant, file: String) throws(SNNError) -> LabeledImages {
        let r = variant.recordSize
        guard !bytes.isEmpty, bytes.count % r == 0 else {
            throw SNNError(.corrupt, "\(bytes.count) bytes is not a whole number of \(r)-byte records", file: file,
                           offset: bytes.count - bytes.count % r)
        }
        let n = bytes.count / r, pixels = 3 * 32 * 32, labelBytes = r - pixels
        var labels = [Int](repeating: 0, count: n)
        var values = [Float](repeating: 0, count: n * pixels)
        for i in 0..<n {
            let o = i * r
            let label: Int
            switch variant {
            case .cifar10: label = Int(bytes[o])
            case .cifar100(let coarse): label = Int(bytes[o + (coarse ? 0 : 1)])
            }
            guard label < variant.classes else {
                throw SNNError(.corrupt, "label \(label) outside 0…\(variant.classes - 1)", file: file, offset: o)
            }
            labels[i] = label
            for k in 0..<pixels { values[i * pixels + k] = Float(bytes[o + labelBytes + k]) / 255 }
        }
        return LabeledImages(images: Tensor(shape: [n, 3, 32, 32], scalars: values), labels: labels, classCount: variant.classes)
    }

    /// The files of a split in the standard folder (`cifar-10-batches-bin/` or `cifar-100-binary/`,
    /// or `directory` itself).
    public static func files(_ split: Split, variant: Variant, directory: String) throws(SNNError) -> [String] {
        let names: [String]
        switch (variant, split) {
        case (.cifar10, .train): names = (1...5).map { "data_batch_\($0).bin" }
        case (.cifar10, .test): names = ["test_batch.bin"]
        case (.cifar100, .train): names = ["train.bin"]
        case (.cifar100, .test): names = ["test.bin"]
        }
        let folder = variant == .cifar10 ? "cifar-10-batches-bin" : "cifar-100-binary"
        for base in [(directory as NSString).appendingPathComponent(folder), directory] {
            let paths = names.map { (base as NSString).appendingPathComponent($0) }
            if paths.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) { return paths }
        }
        throw SNNError(.io, "missing \(names.joined(separator: ", ")) (in \(folder)/ or the directory itself)", file: directory)
    }

    public static func load(_ split: Split, variant: Variant, directory: String) throws(SNNError) -> LabeledImages {
        let parts = try files(split, variant: variant, directory: directory).map { (path) throws(SNNError) in
            try decode(try FileBytes.read(path), variant: variant, file: path)
        }
        if parts.count == 1 { return parts[0] }
        let images = Tensor.concatenate(parts.map(\.images), alongAxis: 0)
        return LabeledImages(images: images, labels: parts.flatMap(\.labels), classCount: variant.classes)
    }
}

/// AEDAT 2.0 (jAER; the original CIFAR10-DVS): optional `#` header lines, then 8-byte big-endian
/// events `int32 address, int32 timestamp µs`; DVS128 addresses (bit 0 polarity, bits 1–7 x,
/// bits 8–14 y, origin lower-left).
public enum AEDAT20 {
    public enum Orientation: Sendable, Equatable {
        /// The address fields as stored.
        case raw
        /// SpikingJelly's CIFAR10-DVS mapping for upright images: x' = 127 − y, y' = 127 − x, p' = 1 − p.
        case cifar10DVS
    }

    public static func decode(_ bytes: [UInt8], file: String, orientation: Orientation = .raw) throws(SNNError) -> EventStream {
        var i = 0
        if bytes.first == UInt8(ascii: "#") {
            guard bytes.starts(with: Array("#!AER-DAT2.0".utf8)) else {
                throw SNNError(.corrupt, "not an AEDAT 2.0 file (expected \"#!AER-DAT2.0\")", file: file, offset: 0)
            }
            while i < bytes.count && bytes[i] == UInt8(ascii: "#") {
                guard let nl = bytes[i...].firstIndex(of: UInt8(ascii: "\n")) else {
                    throw SNNError(.corrupt, "header line without an end", file: file, offset: i)
                }
                i = nl + 1
            }
        }
        let payload = bytes.count - i
        guard payload % 8 == 0 else {
            throw SNNError(.corrupt, "truncated event data: \(payload) bytes is not a whole number of 8-byte events", file: file,
                           offset: i + payload - payload % 8)
        }
        var s = EventStream(width: 128, height: 128)
        s.reserve(payload / 8)
        var last = Int64.min
        func be32(_ o: Int) -> UInt32 { UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8 | UInt32(bytes[o + 3]) }
        while i < bytes.count {
            let address = be32(i), t = Int64(Int32(bitPattern: be32(i + 4)))
            guard address >> 15 == 0 else {
                throw SNNError(.corrupt, "address 0x\(String(address, radix: 16)) is not a DVS128 polarity event", file: file, offset: i)
            }
            guard t >= last else {
                throw SNNError(.corrupt, "timestamp \(t) µs goes back in time (previous \(last) µs)", file: file, offset: i + 4)
            }
            last = t
            let p = UInt8(address & 1), x = UInt16((address >> 1) & 0x7F), y = UInt16((address >> 8) & 0x7F)
            switch orientation {
            case .raw: s.append(t: t, x: x, y: y, p: p)
            case .cifar10DVS: s.append(t: t, x: 127 - y, y: 127 - x, p: 1 - p)
            }
            i += 8
        }
        return s
    }

    public static func read(_ path: String, orientation: Orientation = .raw) throws(SNNError) -> EventStream {
        try decode(try FileBytes.read(path), file: path, orientation: orientation)
    }
}
