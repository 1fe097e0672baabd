import CSNNKernels
import Foundation
import SNNTensor

/// A minimal PNG encoder (8-bit RGB, zlib from the system) for looking at data.
public enum PNG {
    /// Encodes `rgb` (row-major, 3 bytes per pixel) as a PNG file.
    public static func encode(rgb: [UInt8], width: Int, height: Int) throws(SNNError) -> [UInt8] {
        precondition(width >= 1 && height >= 1 && rgb.count == width * height * 3, "PNG: \(rgb.count) bytes for \(width)×\(height) RGB")
        var raw = [UInt8]()
        raw.reserveCapacity(height * (1 + 3 * width))
        for y in 0..<height {
            raw.append(0)  // filter type None
            raw += rgb[(y * width * 3)..<((y + 1) * width * 3)]
        }
        var out: UnsafeMutablePointer<UInt8>?
        var count = 0
        guard snn_zlib_compress(raw, raw.count, 6, &out, &count) == 0, let out else {
            throw SNNError(.io, "zlib could not compress the image")
        }
        let compressed = Array(UnsafeBufferPointer(start: out, count: count))
        snn_gzip_free(out)
        func be32(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return be32(data.count) + body + be32(Int(CRC32.checksum(body)))
        }
        let header = be32(width) + be32(height) + [8, 2, 0, 0, 0]  // 8-bit, RGB, deflate, no filter choice, no interlace
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", compressed) + chunk("IEND", [])
    }

    /// Frames `[T, 2, H, W]` side by side (a 1-pixel grey gap between them): ON counts green, OFF
    /// counts red, each scaled by the largest count; `scale` enlarges every pixel.
    public static func renderFrames(_ frames: Tensor, scale: Int = 4) throws(SNNError) -> [UInt8] {
        guard frames.rank == 4, frames.shape[1] == 2 else {
            throw SNNError(.mismatch, "frames must be [T, 2, H, W], got \(frames.shape)")
        }
        let (t, h, w) = (frames.shape[0], frames.shape[2], frames.shape[3])
        let x = frames.scalars, peak = max(x.max() ?? 1, 1)
        let width = (t * (w + 1) - 1) * scale, height = h * scale
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for f in 0..<t {
            if f > 0 {  // the gap before frame f
                for yy in 0..<height {
                    for s in 0..<scale {
                        let o = (yy * width + (f * (w + 1) - 1) * scale + s) * 3
                        rgb[o] = 96; rgb[o + 1] = 96; rgb[o + 2] = 96
                    }
                }
            }
            for y in 0..<h {
                for c in 0..<w {
                    let off = x[((f * 2 + 0) * h + y) * w + c], on = x[((f * 2 + 1) * h + y) * w + c]
                    let r = UInt8(min(255, (off / peak * 255).rounded())), g = UInt8(min(255, (on / peak * 255).rounded()))
                    for dy in 0..<scale {
                        for dx in 0..<scale {
                            let o = ((y * scale + dy) * width + (f * (w + 1) + c) * scale + dx) * 3
                            rgb[o] = r
                            rgb[o + 1] = g
                        }
                    }
                }
            }
        }
        return try encode(rgb: rgb, width: width, height: height)
    }
}
