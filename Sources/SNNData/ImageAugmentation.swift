import Foundation
import SNNTensor

/// Random augmentation of image batches `[N, C, H, W]`.
public struct ImageAugmentation: Sendable, Equatable {
    /// Zero padding on every side before a random crop back to the original size (0 = off).
    public var cropPadding: Int
    /// Whether to flip each image horizontally with probability ½.
    public var horizontalFlip: Bool
    /// Rotation by an angle drawn uniformly from ±this many degrees (0 = off): counter-clockwise
    /// for positive angles, about the image centre, nearest pixel, zeros outside — torchvision's
    /// `RandomRotation(degrees)` with its defaults.
    public var maxRotation: Float
    /// For event frames of spike counts: each counted event is dropped with this probability (0 = off),
    /// which gives exactly the frames of the recording after tonic's `DropEvent(p)`, since framing
    /// counts events (a count c becomes a Binomial(c, 1 − p) draw). On such frames the crop with
    /// padding is likewise exact: it shifts every event of the sample by the same (dx, dy), and those
    /// that leave the sensor are dropped.
    public var eventDropProbability: Float

    public init(
        cropPadding: Int = 0, horizontalFlip: Bool = false, maxRotation: Float = 0, eventDropProbability: Float = 0
    ) {
        precondition(cropPadding >= 0, "ImageAugmentation: crop padding must be ≥ 0")
        precondition(maxRotation >= 0 && maxRotation <= 180, "ImageAugmentation: rotation must be in 0…180 degrees")
        precondition(
            eventDropProbability >= 0 && eventDropProbability < 1,
            "ImageAugmentation: event drop probability must be in [0, 1)")
        self.cropPadding = cropPadding
        self.horizontalFlip = horizontalFlip
        self.maxRotation = maxRotation
        self.eventDropProbability = eventDropProbability
    }

    public var isIdentity: Bool { cropPadding == 0 && !horizontalFlip && maxRotation == 0 && eventDropProbability == 0 }

    /// Augments every sample of `images` — `[N, C, H, W]`, or `[N, T, C, H, W]` event frames, whose
    /// planes all move together — drawing from `generator`.
    public func apply(_ images: Tensor, using generator: inout RandomGenerator) -> Tensor {
        if isIdentity { return images }
        if eventDropProbability > 0 {
            let moved = ImageAugmentation(
                cropPadding: cropPadding, horizontalFlip: horizontalFlip, maxRotation: maxRotation
            )
            .apply(images, using: &generator)
            return Self.dropEvents(moved, probability: eventDropProbability, using: &generator)
        }
        precondition(images.rank >= 3, "ImageAugmentation: images must be [N, …, H, W], got \(images.shape)")
        let r = images.rank
        let (n, h, w) = (images.shape[0], images.shape[r - 2], images.shape[r - 1])
        let c = images.count / max(n * h * w, 1)
        var out = Tensor(zeros: images.shape)
        let p = cropPadding
        images.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let rotated = UnsafeMutableBufferPointer<Float>.allocate(capacity: maxRotation > 0 ? c * h * w : 0)
                defer { rotated.deallocate() }
                for i in 0..<n {
                    let dy = p > 0 ? Int(generator.next() % UInt64(2 * p + 1)) - p : 0
                    let dx = p > 0 ? Int(generator.next() % UInt64(2 * p + 1)) - p : 0
                    let flip = horizontalFlip && generator.next() & 1 == 1
                    var source = UnsafeBufferPointer(rebasing: src[(i * c * h * w)..<((i + 1) * c * h * w)])
                    if maxRotation > 0 {
                        let u = Float(generator.next() >> 40) / Float(1 << 24)
                        Self.rotate(
                            source, into: rotated, planes: c, height: h, width: w, degrees: (2 * u - 1) * maxRotation)
                        source = UnsafeBufferPointer(rotated)
                    }
                    for ch in 0..<c {
                        let plane = ch * h * w, target = (i * c + ch) * h * w
                        for y in 0..<h {
                            let sy = y + dy
                            if sy < 0 || sy >= h { continue }
                            for x in 0..<w {
                                let ox = flip ? w - 1 - x : x
                                let sx = ox + dx
                                if sx >= 0 && sx < w { dst[target + y * w + x] = source[plane + sy * w + sx] }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Every count c of `frames` replaced by the number of its c events that survive an independent
    /// drop with `probability`. Counts must be whole numbers (frames of counted events, not resized).
    public static func dropEvents(_ frames: Tensor, probability: Float, using generator: inout RandomGenerator)
        -> Tensor
    {
        var out = frames
        let keep = UInt64((1 - Double(probability)) * 0x1p53)
        out.withUnsafeMutableBufferPointer { p in
            for i in p.indices where p[i] != 0 {
                let count = p[i]
                precondition(
                    count > 0 && count == count.rounded() && count < 1e7,
                    "ImageAugmentation: event drop needs frames of event counts, found \(count)")
                var kept = 0
                for _ in 0..<Int(count) where generator.next() >> 11 < keep { kept += 1 }
                p[i] = Float(kept)
            }
        }
        return out
    }

    /// `planes` planes of `height` × `width` rotated by `degrees` counter-clockwise about the centre
    /// ((width − 1) / 2, (height − 1) / 2), nearest pixel, zeros where the source falls outside.
    public static func rotate(
        _ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableBufferPointer<Float>, planes: Int, height h: Int,
        width w: Int, degrees: Float
    ) {
        let theta = Double(degrees) * .pi / 180, cosT = cos(theta), sinT = sin(theta)
        let cx = Double(w - 1) / 2, cy = Double(h - 1) / 2
        for y in 0..<h {
            for x in 0..<w {
                let ddx = Double(x) - cx, ddy = Double(y) - cy
                let sx = (cx + cosT * ddx - sinT * ddy).rounded(), sy = (cy + sinT * ddx + cosT * ddy).rounded()
                let inside = sx >= 0 && sx < Double(w) && sy >= 0 && sy < Double(h)
                let from = inside ? Int(sy) * w + Int(sx) : 0
                for p in 0..<planes { dst[p * h * w + y * w + x] = inside ? src[p * h * w + from] : 0 }
            }
        }
    }
}
