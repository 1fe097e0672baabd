import CSNNKernels
import Foundation
import SNNTensor

/// PNG and JPEG files decoded by the system's libpng and libjpeg (libjpeg-turbo), 8 bits a channel.
public enum ImageFile {
    /// The file name endings read as images (compared in lower case).
    public static let suffixes = [".png", ".jpg", ".jpeg"]

    /// Decodes a PNG or JPEG file's bytes into pixel values `[C, H, W]` scaled to [0, 1] (each byte
    /// divided by 255): C = 1 for grey images, 3 (RGB) for colour ones. An alpha channel is dropped,
    /// as PIL's `convert("RGB")` drops it. `file` names the file in errors.
    public static func decode(_ bytes: [UInt8], file: String) throws(SNNError) -> Tensor {
        var pixels: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0, channels: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBufferPointer { input in
            message.withUnsafeMutableBufferPointer { text in
                snn_image_decode(input.baseAddress, input.count, &pixels, &width, &height, &channels,
                                 text.baseAddress, text.count)
            }
        }
        guard status == 0, let pixels else {
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw SNNError(status == 1 || status == 5 ? .unsupported : .corrupt, "unreadable image: \(reason)",
                           file: file)
        }
        defer { snn_image_free(pixels) }
        let (c, h, w) = (Int(channels), Int(height), Int(width))
        // Interleaved rows (HWC) to planes (CHW).
        let image = Tensor(uninitializedShape: [c, h, w])
        let out = image.unsafeStoragePointer
        for y in 0..<h {
            for x in 0..<w {
                for k in 0..<c { out[(k * h + y) * w + x] = Float(pixels[(y * w + x) * c + k]) / 255 }
            }
        }
        return image
    }

    /// Reads and decodes a PNG or JPEG file (see ``decode(_:file:)``).
    public static func read(_ path: String) throws(SNNError) -> Tensor {
        try decode(try FileBytes.read(path), file: path)
    }
}
