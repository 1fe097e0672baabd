import Foundation

extension Tensor {
    /// Checks a rank-4 `[N, C, H, W]` input and returns its extents.
    fileprivate func imageExtents(_ function: String) -> (n: Int, c: Int, h: Int, w: Int) {
        precondition(rank == 4, "\(function): input must be [N, C, H, W], got \(shape)")
        return (shape[0], shape[1], shape[2], shape[3])
    }

    /// Max pooling over `[N, C, H, W]` (padding counts as −∞, as in PyTorch). The gradient goes to the
    /// first maximal element of each window.
    public func maxPool2d(kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        let (n, c, h, w) = imageExtents("maxPool2d")
        let (kh, kw) = kernelSize, (sh, sw) = stride ?? kernelSize, (ph, pw) = padding
        precondition(
            kh >= 1 && kw >= 1 && sh >= 1 && sw >= 1 && ph >= 0 && pw >= 0 && ph * 2 <= kh && pw * 2 <= kw,
            "maxPool2d: kernel \(kernelSize), stride \(stride ?? kernelSize), padding \(padding) invalid (padding ≤ kernel/2)"
        )
        let oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1
        precondition(oh >= 1 && ow >= 1, "maxPool2d: kernel \(kernelSize) larger than padded input \(shape)")
        if (kh, kw, sh, sw, ph, pw) == (2, 2, 2, 2, 0, 0), h % 2 == 0, w % 2 == 0, let b = blockedImage,
            b.layout.block % 8 == 0
        {
            return blockedMaxPool2x2(b)
        }
        let out = Tensor(uninitializedShape: [n, c, oh, ow])
        var argmax = [Int32](repeating: 0, count: out.count)
        let pi = storage.pointer, po = out.storage.pointer
        argmax.withUnsafeMutableBufferPointer { arg in
            let pa = arg.baseAddress!
            Parallelism.forEachChunk(n * c, grain: 1) { planes in
                for plane in planes {
                    let src = pi + plane * h * w
                    for y in 0..<oh {
                        for x in 0..<ow {
                            var best = -Float.infinity, bestIndex = -1
                            for dy in 0..<kh {
                                let iy = y * sh - ph + dy
                                if iy < 0 || iy >= h { continue }
                                for dx in 0..<kw {
                                    let ix = x * sw - pw + dx
                                    if ix < 0 || ix >= w { continue }
                                    let v = src[iy * w + ix]
                                    // NaN wins, as in PyTorch; otherwise the first maximum.
                                    if bestIndex < 0 || v > best || (v.isNaN && !best.isNaN) {
                                        best = v; bestIndex = iy * w + ix
                                    }
                                }
                            }
                            po[(plane * oh + y) * ow + x] = best
                            pa[(plane * oh + y) * ow + x] = Int32(bestIndex)
                        }
                    }
                }
            }
        }
        let shapeBefore = shape
        return Tensor(out, input: self) { g in
            let dx = Tensor(zeros: shapeBefore)
            let pg = g.storage.pointer, pd = dx.storage.pointer
            argmax.withUnsafeBufferPointer { arg in
                Parallelism.forEachChunk(n * c, grain: 1) { planes in
                    for plane in planes {
                        for j in 0..<(oh * ow) {
                            let k = plane * oh * ow + j
                            pd[plane * h * w + Int(arg[k])] += pg[k]
                        }
                    }
                }
            }
            return dx
        }
    }

    /// Average pooling over `[N, C, H, W]`; padded zeros count in the divisor (PyTorch's default).
    public func avgPool2d(kernelSize: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0)) -> Tensor {
        let (n, c, h, w) = imageExtents("avgPool2d")
        let (kh, kw) = kernelSize, (sh, sw) = stride ?? kernelSize, (ph, pw) = padding
        precondition(
            kh >= 1 && kw >= 1 && sh >= 1 && sw >= 1 && ph >= 0 && pw >= 0 && ph * 2 <= kh && pw * 2 <= kw,
            "avgPool2d: kernel \(kernelSize), stride \(stride ?? kernelSize), padding \(padding) invalid (padding ≤ kernel/2)"
        )
        let oh = (h + 2 * ph - kh) / sh + 1, ow = (w + 2 * pw - kw) / sw + 1
        precondition(oh >= 1 && ow >= 1, "avgPool2d: kernel \(kernelSize) larger than padded input \(shape)")
        let scale = 1 / Float(kh * kw)
        if (kh, kw, sh, sw, ph, pw) == (2, 2, 2, 2, 0, 0), h % 2 == 0, w % 2 == 0, let b = blockedImage,
            b.layout.block % 8 == 0
        {
            return blockedAvgPool2x2(b)
        }
        let out = Tensor(uninitializedShape: [n, c, oh, ow])
        let pi = storage.pointer, po = out.storage.pointer
        let shapeBefore = shape
        if (kh, kw, sh, sw, ph, pw) == (2, 2, 2, 2, 0, 0) {
            // The common 2×2 case: no bounds checks, each output reads two adjacent row pairs.
            Parallelism.forEachChunk(n * c, grain: 8) { planes in
                for plane in planes {
                    let src = pi + plane * h * w, dst = po + plane * oh * ow
                    for y in 0..<oh {
                        let r0 = src + 2 * y * w, r1 = r0 + w, o = dst + y * ow
                        for x in 0..<ow { o[x] = (r0[2 * x] + r0[2 * x + 1] + r1[2 * x] + r1[2 * x + 1]) * 0.25 }
                    }
                }
            }
            return Tensor(out, input: self) { g in
                let dx = Tensor(zeros: shapeBefore)
                let pg = g.storage.pointer, pd = dx.storage.pointer
                Parallelism.forEachChunk(n * c, grain: 8) { planes in
                    for plane in planes {
                        let src = pg + plane * oh * ow, dst = pd + plane * h * w
                        for y in 0..<oh {
                            let r0 = dst + 2 * y * w, r1 = r0 + w, gr = src + y * ow
                            for x in 0..<ow {
                                let v = gr[x] * 0.25
                                r0[2 * x] = v; r0[2 * x + 1] = v; r1[2 * x] = v; r1[2 * x + 1] = v
                            }
                        }
                    }
                }
                return dx
            }
        }
        Parallelism.forEachChunk(n * c, grain: 1) { planes in
            for plane in planes {
                let src = pi + plane * h * w
                for y in 0..<oh {
                    for x in 0..<ow {
                        var s: Float = 0
                        for dy in 0..<kh {
                            let iy = y * sh - ph + dy
                            if iy < 0 || iy >= h { continue }
                            for dx in 0..<kw {
                                let ix = x * sw - pw + dx
                                if ix >= 0 && ix < w { s += src[iy * w + ix] }
                            }
                        }
                        po[(plane * oh + y) * ow + x] = s * scale
                    }
                }
            }
        }
        return Tensor(out, input: self) { g in
            let dx = Tensor(zeros: shapeBefore)
            let pg = g.storage.pointer, pd = dx.storage.pointer
            Parallelism.forEachChunk(n * c, grain: 1) { planes in
                for plane in planes {
                    let dst = pd + plane * h * w
                    for y in 0..<oh {
                        for x in 0..<ow {
                            let v = pg[(plane * oh + y) * ow + x] * scale
                            for dy in 0..<kh {
                                let iy = y * sh - ph + dy
                                if iy < 0 || iy >= h { continue }
                                for dx in 0..<kw {
                                    let ix = x * sw - pw + dx
                                    if ix >= 0 && ix < w { dst[iy * w + ix] += v }
                                }
                            }
                        }
                    }
                }
            }
            return dx
        }
    }

    /// Adaptive average pooling of `[N, C, H, W]` to `[N, C, outputSize.0, outputSize.1]`, with
    /// PyTorch's windows: start = ⌊i·H/OH⌋, end = ⌈(i+1)·H/OH⌉.
    public func adaptiveAvgPool2d(outputSize: (Int, Int)) -> Tensor {
        let (n, c, h, w) = imageExtents("adaptiveAvgPool2d")
        let (oh, ow) = outputSize
        precondition(oh >= 1 && ow >= 1, "adaptiveAvgPool2d: output size \(outputSize) must be positive")
        func window(_ i: Int, _ inSize: Int, _ outSize: Int) -> Range<Int> {
            (i * inSize / outSize)..<(((i + 1) * inSize + outSize - 1) / outSize)
        }
        let out = Tensor(uninitializedShape: [n, c, oh, ow])
        let pi = storage.pointer, po = out.storage.pointer
        Parallelism.forEachChunk(n * c, grain: 1) { planes in
            for plane in planes {
                let src = pi + plane * h * w
                for y in 0..<oh {
                    let ry = window(y, h, oh)
                    for x in 0..<ow {
                        let rx = window(x, w, ow)
                        var s: Float = 0
                        for iy in ry { for ix in rx { s += src[iy * w + ix] } }
                        po[(plane * oh + y) * ow + x] = s / Float(ry.count * rx.count)
                    }
                }
            }
        }
        let shapeBefore = shape
        return Tensor(out, input: self) { g in
            let dx = Tensor(zeros: shapeBefore)
            let pg = g.storage.pointer, pd = dx.storage.pointer
            Parallelism.forEachChunk(n * c, grain: 1) { planes in
                for plane in planes {
                    let dst = pd + plane * h * w
                    for y in 0..<oh {
                        let ry = window(y, h, oh)
                        for x in 0..<ow {
                            let rx = window(x, w, ow)
                            let v = pg[(plane * oh + y) * ow + x] / Float(ry.count * rx.count)
                            for iy in ry { for ix in rx { dst[iy * w + ix] += v } }
                        }
                    }
                }
            }
            return dx
        }
    }
}

/// How ``Tensor/interpolated(size:mode:)`` samples between pixels.
public enum InterpolationMode: Sendable, Equatable {
    /// PyTorch's `nearest`: source index ⌊dst · in/out⌋.
    case nearest
    /// PyTorch's `bilinear` with `align_corners = False` (half-pixel centres, clamped at the border).
    case bilinear
}

extension Tensor {
    /// Resizes the last two axes of `[..., H, W]` to `size` (used to resize event frames).
    public func interpolated(size: (Int, Int), mode: InterpolationMode) -> Tensor {
        precondition(rank >= 2, "interpolated: input needs at least 2 axes, got \(shape)")
        let h = shape[rank - 2], w = shape[rank - 1], (oh, ow) = size
        precondition(oh >= 1 && ow >= 1 && h >= 1 && w >= 1, "interpolated: cannot resize \(shape) to \(size)")
        let planes = count / (h * w)
        // Each output pixel is a weighted sum of at most 4 input pixels: (index, weight) pairs per axis.
        func taps(_ outSize: Int, _ inSize: Int) -> [(Int, Int, Float)] {  // (i0, i1, weight of i1)
            (0..<outSize).map { o in
                switch mode {
                case .nearest:
                    let i = Swift.min(Int((Float(inSize) / Float(outSize) * Float(o)).rounded(.down)), inSize - 1)
                    return (i, i, 0)
                case .bilinear:
                    let scale = Float(inSize) / Float(outSize)
                    let src = Swift.max((Float(o) + 0.5) * scale - 0.5, 0)
                    let i0 = Swift.min(Int(src), inSize - 1), i1 = Swift.min(i0 + 1, inSize - 1)
                    return (i0, i1, src - Float(i0))
                }
            }
        }
        let ty = taps(oh, h), tx = taps(ow, w)
        let out = Tensor(uninitializedShape: Array(shape.dropLast(2)) + [oh, ow])
        let pi = storage.pointer, po = out.storage.pointer
        Parallelism.forEachChunk(planes, grain: 1) { range in
            for p in range {
                let src = pi + p * h * w, dst = po + p * oh * ow
                for y in 0..<oh {
                    let (y0, y1, wy) = ty[y]
                    for x in 0..<ow {
                        let (x0, x1, wx) = tx[x]
                        let top = src[y0 * w + x0] * (1 - wx) + src[y0 * w + x1] * wx
                        let bottom = src[y1 * w + x0] * (1 - wx) + src[y1 * w + x1] * wx
                        dst[y * ow + x] = top * (1 - wy) + bottom * wy
                    }
                }
            }
        }
        let shapeBefore = shape
        return Tensor(out, input: self) { g in
            let dx = Tensor(zeros: shapeBefore)
            let pg = g.storage.pointer, pd = dx.storage.pointer
            Parallelism.forEachChunk(planes, grain: 1) { range in
                for p in range {
                    let src = pg + p * oh * ow, dst = pd + p * h * w
                    for y in 0..<oh {
                        let (y0, y1, wy) = ty[y]
                        for x in 0..<ow {
                            let (x0, x1, wx) = tx[x]
                            let v = src[y * ow + x]
                            dst[y0 * w + x0] += v * (1 - wy) * (1 - wx)
                            dst[y0 * w + x1] += v * (1 - wy) * wx
                            dst[y1 * w + x0] += v * wy * (1 - wx)
                            dst[y1 * w + x1] += v * wy * wx
                        }
                    }
                }
            }
            return dx
        }
    }

    /// 2×2 average pooling (stride 2) of an even-sized image held in a blocked layout; the output
    /// and the input gradient stay blocked.
    func blockedAvgPool2x2(_ buffer: BlockedBuffer) -> Tensor {
        let l = buffer.layout, bs = l.block, w = l.width, oh = l.height / 2, ow = l.width / 2
        let outLayout = l.with(batch: l.batch, height: oh, width: ow)
        let out = BlockedBuffer(layout: outLayout)
        let pi = UnsafePointer(buffer.pointer), po = out.pointer
        let planes = l.batch * l.channelBlocks
        Parallelism.forEachChunk(planes, grain: 4) { range in
            for plane in range {
                let src = pi + plane * l.planeSize * bs, dst = po + plane * oh * ow * bs
                for y in 0..<oh {
                    for x in 0..<ow {
                        let a = src + ((2 * y) * w + 2 * x) * bs, b = a + w * bs
                        for lane in stride(from: 0, to: bs, by: 8) {
                            let v =
                                loadLanes(a + lane) + loadLanes(a + bs + lane) + loadLanes(b + lane)
                                + loadLanes(b + bs + lane)
                            storeLanes(v * 0.25, dst + (y * ow + x) * bs + lane)
                        }
                    }
                }
            }
        }
        return Tensor(Tensor(blocked: out, shape: [l.batch, l.channels, oh, ow]), input: self) { g in
            let gb = g.blocked(as: outLayout)
            let pg = UnsafePointer(gb.pointer)
            let dx = BlockedBuffer(layout: l)
            let pd = dx.pointer
            Parallelism.forEachChunk(planes, grain: 4) { range in
                for plane in range {
                    let src = pg + plane * oh * ow * bs, dst = pd + plane * l.planeSize * bs
                    for y in 0..<oh {
                        for x in 0..<ow {
                            let a = dst + ((2 * y) * w + 2 * x) * bs, b = a + w * bs
                            for lane in stride(from: 0, to: bs, by: 8) {
                                let v = loadLanes(src + (y * ow + x) * bs + lane) * 0.25
                                storeLanes(v, a + lane); storeLanes(v, a + bs + lane); storeLanes(v, b + lane);
                                storeLanes(v, b + bs + lane)
                            }
                        }
                    }
                }
            }
            return Tensor(blocked: dx, shape: [l.batch, l.channels, l.height, l.width])
        }
    }

    /// 2×2 max pooling (stride 2) of an even-sized image held in a blocked layout: the first maximum
    /// of each window in row-major order gets the gradient (NaN wins), as in the plain path.
    func blockedMaxPool2x2(_ buffer: BlockedBuffer) -> Tensor {
        let l = buffer.layout, bs = l.block, w = l.width, oh = l.height / 2, ow = l.width / 2
        let outLayout = l.with(batch: l.batch, height: oh, width: ow)
        let out = BlockedBuffer(layout: outLayout)
        // The winning window position (0…3) of every output element, for the backward pass.
        var winner = [UInt8](repeating: 0, count: outLayout.storageCount)
        let pi = UnsafePointer(buffer.pointer), po = out.pointer
        let planes = l.batch * l.channelBlocks
        winner.withUnsafeMutableBufferPointer { wb in
            let pw = wb.baseAddress!
            Parallelism.forEachChunk(planes, grain: 4) { range in
                for plane in range {
                    let src = pi + plane * l.planeSize * bs, o = plane * oh * ow * bs
                    for y in 0..<oh {
                        for x in 0..<ow {
                            let a = src + ((2 * y) * w + 2 * x) * bs
                            let candidates = [a, a + bs, a + w * bs, a + w * bs + bs]
                            for lane in 0..<bs {
                                var best = candidates[0][lane], which: UInt8 = 0
                                for q in 1..<4 {
                                    let v = candidates[q][lane]
                                    if v > best || (v.isNaN && !best.isNaN) { best = v; which = UInt8(q) }
                                }
                                let k = o + (y * ow + x) * bs + lane
                                po[k] = best
                                pw[k] = which
                            }
                        }
                    }
                }
            }
        }
        return Tensor(Tensor(blocked: out, shape: [l.batch, l.channels, oh, ow]), input: self) { g in
            let gb = g.blocked(as: outLayout)
            let pg = UnsafePointer(gb.pointer)
            let dx = BlockedBuffer(layout: l)
            let pd = dx.pointer
            pd.update(repeating: 0, count: l.storageCount)
            winner.withUnsafeBufferPointer { wb in
                Parallelism.forEachChunk(planes, grain: 4) { range in
                    for plane in range {
                        let dst = pd + plane * l.planeSize * bs, o = plane * oh * ow * bs
                        for y in 0..<oh {
                            for x in 0..<ow {
                                for lane in 0..<bs {
                                    let k = o + (y * ow + x) * bs + lane, q = Int(wb[k])
                                    dst[((2 * y + q / 2) * w + 2 * x + q % 2) * bs + lane] = pg[k]
                                }
                            }
                        }
                    }
                }
            }
            return Tensor(blocked: dx, shape: [l.batch, l.channels, l.height, l.width])
        }
    }
}
