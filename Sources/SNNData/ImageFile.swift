import CSNNKernels
import Foundation
import SNNTensor

/// PNG and JPEG files decoded by the system's libpng and libjpeg (libjpeg-turbo), 8 bits a channel.
public enum ImageFile {
    /// The file name endings read as images (compared in lower case).
    public static let suffixes = [".png", ".jpg", ".jpeg"]

    /// A decoded image's bytes, 8 bits a channel, interleaved row by row (`[H, W, C]`).
    public struct Pixels: Sendable, Equatable {
        public var bytes: [UInt8]
        public var width: Int, height: Int
        /// 1 for grey images, 3 (RGB) for colour ones.
        public var channels: Int
    }

    /// Decodes a PNG or JPEG file's bytes into its 8-bit pixels (an alpha channel dropped, as PIL's
    /// `convert("RGB")` drops it); `file` names the file in errors. The decoders return a whole image
    /// or an error, never part of one.
    public static func decodePixels(_ bytes: [UInt8], file: String) throws(SNNError) -> Pixels {
        var pixels: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { input in
            message.withUnsafeMutableBufferPointer { text in
                snn_image_decode(
                    input.baseAddress, input.count, &pixels, &width, &height, &channels,
                    text.baseAddress, text.count)
            }
        }
        guard status == 0, let pixels else {
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw SNNError(
                status == 1 || status == 5 ? .unsupported : .corrupt, "unreadable image: \(reason)",
                file: file)
        }
        defer { snn_image_free(pixels) }
        let (c, h, w) = (Int(channels), Int(height), Int(width))
        return Pixels(
            bytes: Array(UnsafeBufferPointer(start: pixels, count: c * h * w)), width: w, height: h,
            channels: c)
    }

    /// Decodes a PNG or JPEG file's bytes into pixel values `[C, H, W]` scaled to [0, 1] (each byte
    /// divided by 255): C = 1 for grey images, 3 (RGB) for colour ones (see ``decodePixels(_:file:)``).
    public static func decode(_ bytes: [UInt8], file: String) throws(SNNError) -> Tensor {
        tensor(try decodePixels(bytes, file: file))
    }

    /// Pixels as values `[C, H, W]` in [0, 1].
    public static func tensor(_ pixels: Pixels) -> Tensor {
        let (c, h, w) = (pixels.channels, pixels.height, pixels.width)
        // Interleaved rows (HWC) to planes (CHW).
        let image = Tensor(uninitializedShape: [c, h, w])
        let out = image.unsafeStoragePointer
        pixels.bytes.withUnsafeBufferPointer { p in
            for y in 0..<h {
                for x in 0..<w {
                    for k in 0..<c { out[(k * h + y) * w + x] = Float(p[(y * w + x) * c + k]) / 255 }
                }
            }
        }
        return image
    }

    /// Reads and decodes a PNG or JPEG file (see ``decode(_:file:)``).
    public static func read(_ path: String) throws(SNNError) -> Tensor {
        try decode(try FileBytes.read(path), file: path)
    }
}
