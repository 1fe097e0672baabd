import Foundation
import SNNTensor

/// Turns still images into event-camera recordings the way N-MNIST was made — the sensor looks at
/// the image while it moves along three saccades (a triangle) — with an ESIM / v2e-style pixel model:
/// each pixel keeps the log intensity of its last event and fires one event per threshold crossing
/// of the change (timestamps interpolated within a simulation step), with a per-pixel threshold
/// mismatch, a refractory period and Poisson shot noise. Seeded: a sample's events depend only on
/// (seed, sample index, image).
public struct EventEmulator: Sendable, Equatable {
    /// Sensor size (N-MNIST: 34×34 for 28×28 digits).
    public var width = 34, height = 34
    /// Contrast threshold in log-intensity units (ON and OFF alike).
    public var threshold: Float = 0.25
    /// Per-pixel threshold mismatch: θ·(1 + σ·N(0, 1)), at least θ/4.
    public var thresholdSigma: Float = 0.03
    /// A pixel emits no event within this many µs of its previous one.
    public var refractoryMicroseconds: Int64 = 500
    /// Noise events per pixel and second (random polarity).
    public var shotNoiseRate: Double = 0.2
    /// Intensity = floor + (1 − floor)·pixel; the log of 0 does not exist and real scenes are never black.
    public var intensityFloor: Float = 0.1
    /// Duration of each of the three saccades.
    public var saccadeMicroseconds: Int64 = 100_000
    /// Simulation step; events inside a step get interpolated times.
    public var stepMicroseconds: Int64 = 2_000
    /// Image offsets (sensor pixels, for its top-left corner) at the saccades' corners.
    public var path: [(Float, Float)] { [(1, 1), (5, 3), (3, 5), (1, 1)] }

    public init() {}

    public static func == (a: EventEmulator, b: EventEmulator) -> Bool {
        a.width == b.width && a.height == b.height && a.threshold == b.threshold && a.thresholdSigma == b.thresholdSigma
            && a.refractoryMicroseconds == b.refractoryMicroseconds && a.shotNoiseRate == b.shotNoiseRate
            && a.intensityFloor == b.intensityFloor && a.saccadeMicroseconds == b.saccadeMicroseconds
            && a.stepMicroseconds == b.stepMicroseconds
    }

    /// The event stream of one `[H, W]` image with values in [0, 1].
    public func events(image: UnsafePointer<Float>, imageHeight ih: Int, imageWidth iw: Int, seed: UInt64)
        -> EventStream
    {
        var rng = RandomGenerator(seed: seed)
        let pixels = width * height
        // Log intensity of the image padded with the background on every side far enough that the
        // moving image's bilinear samples need no bounds checks.
        let logFloor = log(intensityFloor)
        let pad = max(width, height) + 8, pw = iw + 2 * pad
        var padded = [Float](repeating: logFloor, count: (ih + 2 * pad) * pw)
        for y in 0..<ih {
            for x in 0..<iw {
                padded[(y + pad) * pw + x + pad] = log(
                    intensityFloor + (1 - intensityFloor) * min(max(image[y * iw + x], 0), 1))
            }
        }
        func sample(_ ox: Float, _ oy: Float, into out: inout [Float]) {
            padded.withUnsafeBufferPointer { p in
                out.withUnsafeMutableBufferPointer { o in
                    for v in 0..<height {
                        let fy = Float(v) - oy
                        let y0 = Int(fy.rounded(.down)), ay = fy - Float(y0)
                        let row0 = (y0 + pad) * pw + pad, row1 = row0 + pw
                        for u in 0..<width {
                            let fx = Float(u) - ox
                            let x0 = Int(fx.rounded(.down)), ax = fx - Float(x0)
                            let top = p[row0 + x0] * (1 - ax) + p[row0 + x0 + 1] * ax
                            let bottom = p[row1 + x0] * (1 - ax) + p[row1 + x0 + 1] * ax
                            o[v * width + u] = top * (1 - ay) + bottom * ay
                        }
                    }
                }
            }
        }
        // Per-pixel thresholds.
        var theta = [Float](repeating: threshold, count: pixels)
        for i in 0..<pixels {
            let z = Float(rng.nextGaussian())
            theta[i] = max(threshold * (1 + thresholdSigma * z), threshold / 4)
        }
        let corners = path
        func offset(at t: Int64) -> (Float, Float) {
            let segment = min(Int(t / saccadeMicroseconds), corners.count - 2)
            let f = Float(t - Int64(segment) * saccadeMicroseconds) / Float(saccadeMicroseconds)
            let a = corners[segment], b = corners[segment + 1]
            return (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f)
        }
        var reference = [Float](repeating: 0, count: pixels), current = [Float](repeating: 0, count: pixels)
        var previous = [Float](repeating: 0, count: pixels)
        let start = offset(at: 0)
        sample(start.0, start.1, into: &reference)
        previous = reference
        var lastEvent = [Int64](repeating: -1 << 40, count: pixels)
        let total = saccadeMicroseconds * Int64(corners.count - 1)
        var stream = EventStream(width: width, height: height)
        var pending: [(t: Int64, i: Int, p: UInt8)] = []
        // Shot noise: Poisson counts per step over the whole sensor, uniform pixel, time and polarity.
        let noisePerStep = shotNoiseRate * Double(pixels) * Double(stepMicroseconds) / 1e6
        var t0: Int64 = 0
        while t0 < total {
            let t1 = min(t0 + stepMicroseconds, total)
            let o = offset(at: t1)
            sample(o.0, o.1, into: &current)
            pending.removeAll(keepingCapacity: true)
            for i in 0..<pixels {
                let delta = current[i] - reference[i]
                let th = theta[i]
                // A relative 1e-4 of slack: a pixel back at its starting intensity sits exactly one
                // threshold from its reference, which float rounding must not turn into "not quite".
                let crossings = Int(abs(delta) / th + 1e-4)
                guard crossings > 0 else { continue }
                let sign: Float = delta > 0 ? 1 : -1
                // The log intensity moved linearly from previous[i] to current[i] during the step:
                // crossing k happens where it passes reference + k·θ.
                let span = current[i] - previous[i]
                for k in 1...crossings {
                    let level = reference[i] + sign * Float(k) * th
                    var f = span != 0 ? (level - previous[i]) / span : 1
                    f = min(max(f, 0), 1)
                    let t = t0 + Int64((f * Float(t1 - t0)).rounded())
                    if t - lastEvent[i] >= refractoryMicroseconds {
                        pending.append((t, i, delta > 0 ? 1 : 0))
                        lastEvent[i] = t
                    }
                }
                reference[i] += sign * Float(crossings) * th
            }
            if noisePerStep > 0 {
                var k = 0
                if noisePerStep > 30 {  // normal approximation; Knuth's product would underflow
                    k = max(0, Int((noisePerStep + noisePerStep.squareRoot() * rng.nextGaussian()).rounded()))
                } else {
                    let limit = exp(-noisePerStep)
                    var prod = Double(rng.nextUniform())
                    while prod > limit { k += 1; prod *= Double(rng.nextUniform()) }
                }
                for _ in 0..<k {
                    let i = Int(rng.next() % UInt64(pixels))
                    let t = t0 + Int64(rng.next() % UInt64(max(t1 - t0, 1)))
                    pending.append((t, i, UInt8(rng.next() & 1)))
                }
            }
            pending.sort { $0.t < $1.t || ($0.t == $1.t && $0.i < $1.i) }
            for e in pending { stream.append(t: e.t, x: UInt16(e.i % width), y: UInt16(e.i / width), p: e.p) }
            swap(&previous, &current)
            t0 = t1
        }
        return stream
    }

    /// Emulates every image of `split` and writes the N-MNIST layout under `directory`:
    /// `Train/<label>/<index>.bin` or `Test/<label>/<index>.bin`. Returns the number of events written.
    /// Files are written to a temporary name and renamed, so an interrupted run leaves no partial file.
    @discardableResult
    public func writeNMNIST(
        _ data: LabeledImages, split: Split, directory: String, seed: UInt64,
        progress: ((Int) -> Void)? = nil
    ) throws(SNNError) -> Int {
        precondition(data.images.rank == 4 && data.images.shape[1] == 1, "writeNMNIST: images must be [N, 1, H, W]")
        let n = data.count, ih = data.images.shape[2], iw = data.images.shape[3]
        let folder = (directory as NSString).appendingPathComponent(split == .train ? "Train" : "Test")
        do {
            for c in Set(data.labels) {
                try FileManager.default.createDirectory(
                    atPath: (folder as NSString).appendingPathComponent(String(c)),
                    withIntermediateDirectories: true)
            }
        } catch {
            throw SNNError(
                .io, "cannot create the N-MNIST folders", file: folder,
                underlying: SNNError.reason(of: error))
        }
        let lock = NSLock()
        nonisolated(unsafe) var failure: SNNError?
        nonisolated(unsafe) var eventCount = 0, done = 0
        let pixels = data.images.unsafeStoragePointer
        let splitSalt: UInt64 = split == .train ? 0 : 0x7E57_0000_0000
        Parallelism.forEachChunk(n, grain: 64) { range in
            var local = 0
            for i in range {
                let events = self.events(
                    image: pixels + i * ih * iw, imageHeight: ih, imageWidth: iw,
                    seed: seed ^ splitSalt ^ (UInt64(i) &* 0x9E37_79B9_7F4A_7C15))  // fixed: the files depend on it
                let path = (folder as NSString).appendingPathComponent("\(data.labels[i])/\(i).bin")
                do throws(SNNError) {
                    // Temporary file + rename (no fsync per sample: 70,000 of them would dominate).
                    try AtomicFile.write(try NMNISTBinary.encode(events), to: path, synchronize: false)
                } catch {
                    lock.lock(); failure = failure ?? error; lock.unlock()
                    return
                }
                local += events.count
            }
            lock.lock()
            eventCount += local
            done += range.count
            let d = done
            lock.unlock()
            progress?(d)
        }
        if let failure { throw failure }
        return eventCount
    }
}

extension RandomGenerator {
    /// A standard normal draw (Box–Muller).
    mutating func nextGaussian() -> Double {
        let u1 = max(Double(nextUniform()), 1e-12), u2 = Double(nextUniform())
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}
