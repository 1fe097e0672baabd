import CSNNKernels
import Foundation
import SNNTensor

/// NumPy `.npy` arrays and `.npz` archives (stored or deflated entries), read into Float32 tensors —
/// SpikingJelly caches its integrated frames as `.npz`.
public enum NumPy {
    /// An array as stored: its values and the dtype they had in the file.
    public struct StoredArray: Sendable {
        /// The values, converted to Float32.
        public var values: Tensor
        /// NumPy's type string: byte order, kind and size (`<f4`, `|u1`, `<i8`).
        public var dtype: String

        /// The dtype's kind: `f` float, `i` signed, `u` unsigned integer, `b` bool.
        public var kind: Character { dtype.dropFirst().first ?? " " }
        /// The dtype's size in bytes.
        public var itemSize: Int { Int(dtype.dropFirst(2)) ?? 0 }
        /// Whether the values were integers (signed or unsigned) in the file.
        public var isInteger: Bool { kind == "i" || kind == "u" }
    }

    /// Decodes one `.npy` file; `file` names it in errors.
    public static func decodeNPY(_ b: [UInt8], file: String) throws(SNNError) -> Tensor {
        try decodeStoredNPY(b, file: file).values
    }

    /// Decodes one `.npy` file with its dtype; `file` names it in errors.
    public static func decodeStoredNPY(_ b: [UInt8], file: String) throws(SNNError) -> StoredArray {
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \\x93NUMPY
        guard b.count >= 10, Array(b[0..<6]) == magic else {
            throw SNNError(.corrupt, "not a .npy file (bad magic)", file: file, offset: 0)
        }
        let major = Int(b[6])
        guard (1...3).contains(major) else {
            throw SNNError(.unsupported, ".npy version \(major) is not supported", file: file, offset: 6)
        }
        let lengthBytes = major == 1 ? 2 : 4
        guard b.count >= 8 + lengthBytes else {
            throw SNNError(.corrupt, "truncated header length", file: file, offset: 8)
        }
        var headerLength = 0
        for k in 0..<lengthBytes { headerLength |= Int(b[8 + k]) << (8 * k) }
        let headerStart = 8 + lengthBytes
        guard headerLength <= b.count - headerStart else {
            throw SNNError(.corrupt, "header of \(headerLength) bytes runs past the end", file: file, offset: 8)
        }
        let header = String(decoding: b[headerStart..<(headerStart + headerLength)], as: UTF8.self)
        func value(_ key: String) -> String? {
            guard let r = header.range(of: "'\(key)':") else { return nil }
            return String(header[r.upperBound...]).trimmingCharacters(in: .whitespaces)
        }
        guard let descrField = value("descr"), descrField.hasPrefix("'"),
            let descr = descrField.dropFirst().split(separator: "'").first.map(String.init)
        else {
            throw SNNError(.corrupt, "header without a 'descr'", file: file, offset: headerStart)
        }
        let fortran = value("fortran_order")?.hasPrefix("True") ?? false
        guard let shapeField = value("shape"), shapeField.hasPrefix("("), let close = shapeField.firstIndex(of: ")")
        else {
            throw SNNError(.corrupt, "header without a 'shape'", file: file, offset: headerStart)
        }
        let dims = shapeField[shapeField.index(after: shapeField.startIndex)..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var shape: [Int] = []
        for d in dims {
            guard let v = Int(d), v >= 0 else {
                throw SNNError(.corrupt, "bad shape entry '\(d)'", file: file, offset: headerStart)
            }
            shape.append(v)
        }
        let (count, overflow) = shape.reduce((1, false)) { acc, d in
            let (m, o) = acc.0.multipliedReportingOverflow(by: d)
            return (m, acc.1 || o)
        }
        guard !overflow else {
            throw SNNError(.corrupt, "shape \(shape) is too large", file: file, offset: headerStart)
        }
        // dtype: byte order, kind, size.
        let order = descr.first!, kind = descr.dropFirst().first ?? " ", sizeText = String(descr.dropFirst(2))
        guard let size = Int(sizeText), ["<", ">", "|", "="].contains(order) else {
            throw SNNError(.unsupported, "dtype '\(descr)' is not supported", file: file, offset: headerStart)
        }
        let big = order == ">"
        let dataStart = headerStart + headerLength
        let (bytes, o2) = count.multipliedReportingOverflow(by: size)
        guard !o2, bytes <= b.count - dataStart else {
            throw SNNError(
                .corrupt, "\(count) elements of \(size) bytes run past the end of the file", file: file,
                offset: dataStart)
        }
        func raw(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            let o = dataStart + i * size
            for k in 0..<size { v |= UInt64(b[o + (big ? size - 1 - k : k)]) << (8 * k) }
            return v
        }
        let convert: (Int) -> Float
        switch (kind, size) {
        case ("f", 4): convert = { Float(bitPattern: UInt32(truncatingIfNeeded: raw($0))) }
        case ("f", 8): convert = { Float(Double(bitPattern: raw($0))) }
        case ("f", 2): convert = { Float(halfPrecisionBits: UInt16(truncatingIfNeeded: raw($0))) }
        case ("u", 1), ("u", 2), ("u", 4), ("u", 8), ("b", 1): convert = { Float(raw($0)) }
        case ("i", 1), ("i", 2), ("i", 4), ("i", 8):
            let shift = UInt64(64 - 8 * size)
            convert = { Float(Int64(bitPattern: raw($0) << shift) >> Int64(shift)) }
        default:
            throw SNNError(
                .unsupported, "dtype '\(descr)' is not supported (floats, signed and unsigned integers, bool are)",
                file: file, offset: headerStart)
        }
        let values = (0..<count).map(convert)
        if fortran && shape.count > 1 {
            // Column-major: the reversed shape in C order, then the axes reversed back.
            let t = Tensor(shape: Array(shape.reversed()), scalars: values)
            return StoredArray(values: t.permuted(Array((0..<shape.count).reversed())), dtype: descr)
        }
        return StoredArray(values: Tensor(shape: shape, scalars: values), dtype: descr)
    }

    /// Reads a `.npy` file.
    public static func readNPY(_ path: String) throws(SNNError) -> Tensor {
        try decodeNPY(try FileBytes.read(path), file: path)
    }

    /// The arrays of a `.npz` archive by name (without `.npy`).
    public static func decodeNPZ(_ b: [UInt8], file: String) throws(SNNError) -> [String: Tensor] {
        try decodeStoredNPZ(b, file: file).mapValues(\.values)
    }

    /// The arrays of a `.npz` archive by name (without `.npy`), with their dtypes.
    public static func decodeStoredNPZ(_ b: [UInt8], file: String) throws(SNNError) -> [String: StoredArray] {
        func u16(_ o: Int) -> Int { Int(b[o]) | Int(b[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        // End of central directory: the last "PK\\x05\\x06" within the final 64 KiB + 22 bytes.
        var eocd = -1
        var o = b.count - 22
        while o >= max(0, b.count - 22 - 65_535) {
            if b[o] == 0x50 && b[o + 1] == 0x4B && b[o + 2] == 5 && b[o + 3] == 6 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else {
            throw SNNError(
                .corrupt, "not a zip archive (no end of central directory)", file: file, offset: max(0, b.count - 22))
        }
        let entries = u16(eocd + 10), directorySize = u32(eocd + 12), directoryOffset = u32(eocd + 16)
        guard entries != 0xFFFF, directoryOffset != 0xFFFF_FFFF else {
            throw SNNError(.unsupported, "zip64 archives are not supported", file: file, offset: eocd)
        }
        guard directoryOffset + directorySize <= eocd else {
            throw SNNError(.corrupt, "central directory outside the archive", file: file, offset: eocd + 16)
        }
        var arrays: [String: StoredArray] = [:]
        var p = directoryOffset
        for _ in 0..<entries {
            guard p + 46 <= eocd, u32(p) == 0x0201_4B50 else {
                throw SNNError(.corrupt, "bad central directory entry", file: file, offset: p)
            }
            let method = u16(p + 10), compressed = u32(p + 20), size = u32(p + 24)
            let nameLength = u16(p + 28), extraLength = u16(p + 30), commentLength = u16(p + 32), local = u32(p + 42)
            guard p + 46 + nameLength <= eocd else {
                throw SNNError(.corrupt, "entry name runs past the directory", file: file, offset: p)
            }
            let name = String(decoding: b[(p + 46)..<(p + 46 + nameLength)], as: UTF8.self)
            guard local + 30 <= b.count, u32(local) == 0x0403_4B50 else {
                throw SNNError(.corrupt, "bad local header for \(name)", file: file, offset: local)
            }
            let dataStart = local + 30 + u16(local + 26) + u16(local + 28)
            guard dataStart + compressed <= b.count else {
                throw SNNError(.corrupt, "entry \(name) runs past the end of the archive", file: file, offset: local)
            }
            let payload: [UInt8]
            switch method {
            case 0:
                payload = Array(b[dataStart..<(dataStart + compressed)])
            case 8:
                // Deflate expands at most 1032:1, so a larger size is a damaged directory entry, not a
                // reason to allocate gigabytes.
                guard size <= (compressed + 1) * 1032 else {
                    throw SNNError(
                        .corrupt,
                        "entry \(name): \(size) bytes cannot come from \(compressed) deflated "
                            + "bytes", file: file, offset: p + 24)
                }
                var out = [UInt8](repeating: 0, count: size)
                let status = b.withUnsafeBufferPointer { input in
                    out.withUnsafeMutableBufferPointer {
                        snn_inflate_raw(input.baseAddress! + dataStart, compressed, $0.baseAddress!, size)
                    }
                }
                guard status == 0 else {
                    throw SNNError(.corrupt, "entry \(name): corrupt deflate data", file: file, offset: dataStart)
                }
                payload = out
            default:
                throw SNNError(
                    .unsupported, "entry \(name): compression method \(method) (stored and deflate are read)",
                    file: file, offset: local + 8)
            }
            let key = name.hasSuffix(".npy") ? String(name.dropLast(4)) : name
            arrays[key] = try decodeStoredNPY(payload, file: "\(file)[\(name)]")
            p += 46 + nameLength + extraLength + commentLength
        }
        return arrays
    }

    public static func readNPZ(_ path: String) throws(SNNError) -> [String: Tensor] {
        try decodeNPZ(try FileBytes.read(path), file: path)
    }

    /// Reads a `.npz` archive with its arrays' dtypes.
    public static func readStoredNPZ(_ path: String) throws(SNNError) -> [String: StoredArray] {
        try decodeStoredNPZ(try FileBytes.read(path), file: path)
    }
}
