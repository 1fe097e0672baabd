import Foundation

extension Tensor {
    /// Batch normalisation over one channel axis as a single primitive: statistics (biased variance)
    /// over every other axis, y = (x − μ)/√(σ² + ε)·γ + β. Returns the output and the batch mean and
    /// biased variance (for running statistics). With `statistics` given (inference), those are used
    /// instead and treated as constants.
    ///
    /// Backward (training): with x̂ the normalised input and M the elements per channel,
    /// ∂β = Σ dy, ∂γ = Σ dy·x̂, ∂x = γ/(M·√(σ²+ε)) · (M·dy − ∂β − x̂·∂γ).
    public static func batchNorm(_ input: Tensor, weight: Tensor, bias: Tensor, channelAxis axis: Int, epsilon: Float,
                                 statistics: (mean: Tensor, variance: Tensor)? = nil) -> (output: Tensor, mean: Tensor, variance: Tensor) {
        let a = input.normalizedAxis(axis)
        let c = input.shape[a]
        precondition(weight.shape == [c] && bias.shape == [c],
                     "batchNorm: weight \(weight.shape) and bias \(bias.shape) must be [\(c)] for input \(input.shape) at axis \(axis)")
        let outer = input.shape[..<a].reduce(1, *), inner = input.shape[(a + 1)...].reduce(1, *)
        let m = outer * inner
        precondition(m > 0, "batchNorm: no elements per channel in \(input.shape)")
        if let b = input.blockedBuffer, b.layout.batch == outer, b.layout.channels == c, b.layout.planeSize == inner,
           b.layout.block % 8 == 0 {
            return blockedBatchNorm(input, b, weight: weight, bias: bias, epsilon: epsilon, statistics: statistics)
        }
        let mean = Tensor(uninitializedShape: [c]), variance = Tensor(uninitializedShape: [c])
        let px = input.storage.pointer, pm = mean.storage.pointer, pv = variance.storage.pointer
        if let statistics {
            precondition(statistics.mean.shape == [c] && statistics.variance.shape == [c], "batchNorm: statistics must be [\(c)]")
            pm.update(from: statistics.mean.storage.pointer, count: c)
            pv.update(from: statistics.variance.storage.pointer, count: c)
        } else {
            Parallelism.forEachChunk(c, grain: 1) { channels in
                for ch in channels {
                    var sum = 0.0
                    for o in 0..<outer {
                        let row = px + (o * c + ch) * inner
                        var s: Float = 0
                        for i in 0..<inner { s += row[i] }
                        sum += Double(s)
                    }
                    let mu = Float(sum / Double(m))
                    var sq = 0.0
                    for o in 0..<outer {
                        let row = px + (o * c + ch) * inner
                        var s: Float = 0
                        for i in 0..<inner { let d = row[i] - mu; s += d * d }
                        sq += Double(s)
                    }
                    pm[ch] = mu
                    pv[ch] = Float(sq / Double(m))
                }
            }
        }
        let invStd = variance.map { 1 / ($0 + epsilon).squareRoot() }
        let out = Tensor(uninitializedShape: input.shape)
        let po = out.storage.pointer, pw = weight.storage.pointer, pb = bias.storage.pointer, pi = invStd.storage.pointer
        Parallelism.forEachChunk(outer * c, grain: Swift.max(1, 8192 / Swift.max(inner, 1))) { rows in
            for r in rows {
                let ch = r % c
                let scale = pw[ch] * pi[ch], shift = pb[ch] - pm[ch] * scale
                let src = px + r * inner, dst = po + r * inner
                for i in 0..<inner { dst[i] = src[i] * scale + shift }
            }
        }
        let training = statistics == nil
        let output = Tensor(out, inputs: [input, weight, bias]) { [input, weight, mean, invStd] g, needs in
            // Pointers are taken again here: the captured tensors keep their storage alive.
            let px = input.storage.pointer, pw = weight.storage.pointer, pm = mean.storage.pointer
            let pi = invStd.storage.pointer, pg = g.storage.pointer
            let dWeight = Tensor(zeros: [c]), dBias = Tensor(zeros: [c])
            let pdw = dWeight.storage.pointer, pdb = dBias.storage.pointer
            Parallelism.forEachChunk(c, grain: 1) { channels in
                for ch in channels {
                    var sb = 0.0, sw = 0.0
                    let mu = pm[ch], istd = pi[ch]
                    for o in 0..<outer {
                        let gr = pg + (o * c + ch) * inner, xr = px + (o * c + ch) * inner
                        var b: Float = 0, w: Float = 0
                        for i in 0..<inner { b += gr[i]; w += gr[i] * (xr[i] - mu) }
                        sb += Double(b)
                        sw += Double(w)
                    }
                    pdb[ch] = Float(sb)
                    pdw[ch] = Float(sw) * istd
                }
            }
            var dx: Tensor?
            if needs[0] {
                let t = Tensor(uninitializedShape: input.shape)
                let pd = t.storage.pointer
                let invM = 1 / Float(m)
                Parallelism.forEachChunk(outer * c, grain: Swift.max(1, 8192 / Swift.max(inner, 1))) { rows in
                    for r in rows {
                        let ch = r % c
                        let istd = pi[ch], k = pw[ch] * istd, mu = pm[ch]
                        let gr = pg + r * inner, xr = px + r * inner, dr = pd + r * inner
                        if training {
                            let meanG = pdb[ch] * invM, meanGX = pdw[ch] * invM
                            for i in 0..<inner { dr[i] = k * (gr[i] - meanG - (xr[i] - mu) * istd * meanGX) }
                        } else {
                            for i in 0..<inner { dr[i] = k * gr[i] }
                        }
                    }
                }
                dx = t
            }
            return [dx, needs[1] ? dWeight : nil, needs[2] ? dBias : nil]
        }
        return (output, mean, variance)
    }

    /// ``batchNorm(_:weight:bias:channelAxis:epsilon:statistics:)`` on an input held in a blocked
    /// layout (`buffer`, block a multiple of 8): the same arithmetic, eight channels per SIMD vector;
    /// the output and the input gradient stay blocked, padding channels zero.
    static func blockedBatchNorm(_ input: Tensor, _ buffer: BlockedBuffer, weight: Tensor, bias: Tensor, epsilon: Float,
                                 statistics: (mean: Tensor, variance: Tensor)?) -> (output: Tensor, mean: Tensor, variance: Tensor) {
        let l = buffer.layout
        let c = l.channels, hw = l.planeSize, bs = l.block, cbs = l.channelBlocks, n = l.batch
        let lanes = bs / 8, pc = l.paddedChannels
        let m = Double(n * hw)
        let px = UnsafePointer(buffer.pointer)
        // Per-channel values padded to pc with zeros (so padding channels come out 0).
        func padded(_ t: Tensor?) -> [Float] {
            var a = [Float](repeating: 0, count: pc)
            if let t { for i in 0..<c { a[i] = t.storage.pointer[i] } }
            return a
        }

        var meanP = [Float](repeating: 0, count: pc), varP = [Float](repeating: 0, count: pc)
        if let statistics {
            precondition(statistics.mean.shape == [c] && statistics.variance.shape == [c], "batchNorm: statistics must be [\(c)]")
            meanP = padded(statistics.mean)
            varP = padded(statistics.variance)
        } else {
            meanP.withUnsafeMutableBufferPointer { pm in
                varP.withUnsafeMutableBufferPointer { pv in
                    let pm = pm.baseAddress!, pv = pv.baseAddress!
                    Parallelism.forEachChunk(cbs * lanes, grain: 1) { units in
                        for u in units {
                            // One pass: sums of (x − k) and (x − k)² with k a sample of the channel, so the
                            // variance does not cancel catastrophically when |mean| ≫ std.
                            let cb = u / lanes, lane = (u % lanes) * 8
                            let k = loadLanes(px + cb * hw * bs + lane)
                            var sum = SIMD8<Double>(repeating: 0), sq = SIMD8<Double>(repeating: 0)
                            for s in 0..<n {
                                let base = px + (s * cbs + cb) * hw * bs + lane
                                var a = SIMD8<Float>(repeating: 0), b = SIMD8<Float>(repeating: 0)
                                for p in 0..<hw { let d = loadLanes(base + p * bs) - k; a += d; b += d * d }
                                sum += SIMD8<Double>(a)
                                sq += SIMD8<Double>(b)
                            }
                            let shiftMean = sum / m
                            storeLanes(SIMD8<Float>(SIMD8<Double>(k) + shiftMean), pm + cb * bs + lane)
                            storeLanes(SIMD8<Float>((sq / m - shiftMean * shiftMean).replacing(with: 0, where: sq / m - shiftMean * shiftMean .< 0)),
                                  pv + cb * bs + lane)
                        }
                    }
                }
            }
            for i in c..<pc { meanP[i] = 0; varP[i] = 0 }
        }
        let mean = Tensor(shape: [c], scalars: Array(meanP[..<c])), variance = Tensor(shape: [c], scalars: Array(varP[..<c]))
        let w = padded(weight), bb = padded(bias)
        var invStd = [Float](repeating: 0, count: pc), scale = [Float](repeating: 0, count: pc), shift = [Float](repeating: 0, count: pc)
        for i in 0..<c {
            invStd[i] = 1 / (varP[i] + epsilon).squareRoot()
            scale[i] = w[i] * invStd[i]
            shift[i] = bb[i] - meanP[i] * scale[i]
        }
        let out = BlockedBuffer(layout: l)
        let po = out.pointer
        scale.withUnsafeBufferPointer { sc in
            shift.withUnsafeBufferPointer { sh in
                let sc = sc.baseAddress!, sh = sh.baseAddress!
                Parallelism.forEachChunk(n * cbs, grain: Swift.max(1, 8192 / Swift.max(hw * bs, 1))) { rows in
                    for r in rows {
                        let cb = r % cbs, base = r * hw * bs
                        for lane in stride(from: 0, to: bs, by: 8) {
                            let k = loadLanes(sc + cb * bs + lane), t = loadLanes(sh + cb * bs + lane)
                            for p in 0..<hw { storeLanes(loadLanes(px + base + p * bs + lane) * k + t, po + base + p * bs + lane) }
                        }
                    }
                }
            }
        }
        let training = statistics == nil
        let result = Tensor(Tensor(blocked: out, shape: input.shape), inputs: [input, weight, bias]) { [input, buffer, meanP, invStd, w] g, needs in
            // The gradient arrives blocked when the next layer kept the layout; otherwise convert it.
            let gb = g.blocked(as: l)
            let pg = UnsafePointer(gb.pointer)
            var sumG = [Float](repeating: 0, count: pc), sumGX = [Float](repeating: 0, count: pc)
            sumG.withUnsafeMutableBufferPointer { sg in
                sumGX.withUnsafeMutableBufferPointer { sgx in
                    meanP.withUnsafeBufferPointer { pm in
                        let sg = sg.baseAddress!, sgx = sgx.baseAddress!, pm = pm.baseAddress!
                        Parallelism.forEachChunk(cbs * lanes, grain: 1) { units in
                            for u in units {
                                let cb = u / lanes, lane = (u % lanes) * 8
                                let mu = loadLanes(pm + cb * bs + lane)
                                var sb = SIMD8<Double>(repeating: 0), sw = SIMD8<Double>(repeating: 0)
                                for s in 0..<n {
                                    let off = (s * cbs + cb) * hw * bs + lane
                                    var ab = SIMD8<Float>(repeating: 0), aw = SIMD8<Float>(repeating: 0)
                                    for p in 0..<hw {
                                        let gv = loadLanes(pg + off + p * bs)
                                        ab += gv
                                        aw += gv * (loadLanes(px + off + p * bs) - mu)
                                    }
                                    sb += SIMD8<Double>(ab)
                                    sw += SIMD8<Double>(aw)
                                }
                                storeLanes(SIMD8<Float>(sb), sg + cb * bs + lane)
                                storeLanes(SIMD8<Float>(sw), sgx + cb * bs + lane)
                            }
                        }
                    }
                }
            }
            _ = buffer  // the input's blocked buffer stays alive with this closure
            let dBias = Tensor(shape: [c], scalars: Array(sumG[..<c]))
            let dWeight = Tensor(shape: [c], scalars: (0..<c).map { sumGX[$0] * invStd[$0] })
            var dx: Tensor?
            if needs[0] {
                let invM = Float(1 / m)
                var k = [Float](repeating: 0, count: pc), a = [Float](repeating: 0, count: pc), q = [Float](repeating: 0, count: pc)
                for i in 0..<c {
                    // dx = k·(dy − meanG − (x − μ)·istd·meanGX) = k·dy − k·q·(x − μ) − k·meanG
                    k[i] = w[i] * invStd[i]
                    if training {
                        q[i] = invStd[i] * invStd[i] * sumGX[i] * invM
                        a[i] = sumG[i] * invM
                    }
                }
                let t = BlockedBuffer(layout: l)
                let pd = t.pointer
                k.withUnsafeBufferPointer { kp in
                    a.withUnsafeBufferPointer { ap in
                        q.withUnsafeBufferPointer { qp in
                            meanP.withUnsafeBufferPointer { pm in
                                let kp = kp.baseAddress!, ap = ap.baseAddress!, qp = qp.baseAddress!, pm = pm.baseAddress!
                                Parallelism.forEachChunk(n * cbs, grain: Swift.max(1, 8192 / Swift.max(hw * bs, 1))) { rows in
                                    for r in rows {
                                        let cb = r % cbs, base = r * hw * bs
                                        for lane in stride(from: 0, to: bs, by: 8) {
                                            let ci = cb * bs + lane
                                            let kv = loadLanes(kp + ci), av = loadLanes(ap + ci), qv = loadLanes(qp + ci), mu = loadLanes(pm + ci)
                                            for p in 0..<hw {
                                                let o = base + p * bs + lane
                                                storeLanes(kv * (loadLanes(pg + o) - av - (loadLanes(px + o) - mu) * qv), pd + o)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                dx = Tensor(blocked: t, shape: input.shape)
            }
            return [dx, needs[1] ? dWeight : nil, needs[2] ? dBias : nil]
        }
        return (result, mean, variance)
    }
}
