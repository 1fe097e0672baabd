import CSNNKernels
import Foundation
import SNNTensor

/// A minimal PNG encoder (8-bit RGB, zlib from the system) for looking at data.
public enum PNG {
    /// The largest width or height a PNG header can hold (2³¹ − 1).
    public static let maximumSide = Int(Int32.max)

    /// Encodes `rgb` (row-major, 3 bytes per pixel) as a PNG file.
    ///
    /// - Precondition: `width` and `height` are in 1…``maximumSide`` and `rgb` holds `width × height × 3` bytes.
    public static func encode(rgb: [UInt8], width: Int, height: Int) throws(SNNError) -> [UInt8] {
        precondition(
            (1...maximumSide).contains(width) && (1...maximumSide).contains(height)
                && rgb.count == width * height * 3, "PNG: \(rgb.count) bytes for \(width)×\(height) RGB")
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
        func be32(_ v: Int) -> [UInt8] {
            [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)]
        }
        func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
            let body = Array(type.utf8) + data
            return be32(data.count) + body + be32(Int(CRC32.checksum(body)))
        }
        // 8-bit, RGB, deflate, no filter choice, no interlace.
        let header = be32(width) + be32(height) + [8, 2, 0, 0, 0]
        return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", compressed)
            + chunk("IEND", [])
    }

    /// The width and height in pixels of ``renderFrames(_:scale:)``'s image of frames `[t, 2, h, w]`,
    /// and the bytes of its RGB buffer; `nil` when an axis is empty or a size overflows.
    public static func renderedSize(frames t: Int, height h: Int, width w: Int, scale: Int)
        -> (width: Int, height: Int, rgbBytes: Int)?
    {
        guard t >= 1, h >= 1, w >= 1, scale >= 1, w < Int.max,
            let framesWide = MemoryEstimate.checkedProduct([t, w + 1]).map({ $0 - 1 }),
            let width = MemoryEstimate.checkedProduct([framesWide, scale]),
            let height = MemoryEstimate.checkedProduct([h, scale]),
            let bytes = MemoryEstimate.checkedProduct([width, height, 3])
        else { return nil }
        return (width, height, bytes)
    }

    /// Frames `[T, 2, H, W]` side by side (a 1-pixel grey gap between them): ON counts green, OFF
    /// counts red, each scaled by the largest count; `scale` enlarges every pixel.
    ///
    /// Any values draw: negative ones and NaN as black (no events), +∞ and values above the largest
    /// finite count at full brightness; the largest count is taken over the finite values (at least 1).
    ///
    /// - Throws: `SNNError` `.mismatch` when `frames` is not `[T, 2, H, W]`, `.invalidArgument` when an
    ///   axis is empty (nothing to draw) or the image would be wider or taller than a PNG can be.
    public static func renderFrames(_ frames: Tensor, scale: Int = 4) throws(SNNError) -> [UInt8] {
        precondition(scale >= 1, "PNG.renderFrames: scale must be ≥ 1, got \(scale)")
        guard frames.rank == 4, frames.shape[1] == 2 else {
            throw SNNError(.mismatch, "frames must be [T, 2, H, W], got \(frames.shape)")
        }
        let (t, h, w) = (frames.shape[0], frames.shape[2], frames.shape[3])
        guard t >= 1, h >= 1, w >= 1 else {
            let axis = t < 1 ? "time (T)" : h < 1 ? "height (H)" : "width (W)"
            throw SNNError(
                .invalidArgument,
                "frames \(frames.shape) have an empty \(axis) axis: there is nothing to draw")
        }
        guard let size = renderedSize(frames: t, height: h, width: w, scale: scale),
            size.width <= maximumSide, size.height <= maximumSide
        else {
            throw SNNError(
                .invalidArgument,
                "frames \(frames.shape) at scale \(scale) make an image larger than a PNG "
                    + "can hold (\(maximumSide) pixels a side)")
        }
        let x = frames.scalars
        let peak = max(x.lazy.filter(\.isFinite).max() ?? 1, 1)
        /// 0…255 for a count: NaN and everything below 0 black, everything above the peak full.
        func level(_ count: Float) -> UInt8 {
            guard count > 0 else { return 0 }  // also NaN
            return UInt8(min(255, (count / peak * 255).rounded()))
        }
        let (width, height) = (size.width, size.height)
        var rgb = [UInt8](repeating: 0, count: size.rgbBytes)
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
                    let r = level(x[((f * 2 + 0) * h + y) * w + c]), g = level(x[((f * 2 + 1) * h + y) * w + c])
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
