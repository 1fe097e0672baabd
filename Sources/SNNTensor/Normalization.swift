import Foundation

/// Batch normalisation as one primitive, in three parts per layout — statistics, normalise, backward —
/// with the per-channel coefficients shared by both layouts:
///
///     y = (x − μ)/√(σ² + ε)·γ + β = x·scale + shift,  scale = γ/√(σ² + ε),  shift = β − μ·scale
///
/// Backward (training), with x̂ the normalised input and M the elements per channel:
/// ∂β = Σ dy, ∂γ = Σ dy·x̂, ∂x = γ/(M·√(σ²+ε)) · (M·dy − ∂β − x̂·∂γ); in inference (statistics given,
/// treated as constants) ∂x = dy·scale.
struct BatchNormCoefficients {
    /// Per channel, padded with zeros past the real channels (so padding channels come out 0).
    var mean: [Float], invStd: [Float], scale: [Float], shift: [Float]

    /// The coefficients of the first `channels` entries of each array; those past it stay zero.
    init(mean: [Float], variance: [Float], weight: [Float], bias: [Float], epsilon: Float, channels: Int) {
        self.mean = mean
        invStd = [Float](repeating: 0, count: mean.count)
        scale = invStd
        shift = invStd
        for i in 0..<channels {
            invStd[i] = 1 / (variance[i] + epsilon).squareRoot()
            scale[i] = weight[i] * invStd[i]
            shift[i] = bias[i] - mean[i] * scale[i]
        }
    }
}

extension Tensor {
    /// Batch normalisation over one channel axis as a single primitive: statistics (biased variance)
    /// over every other axis, y = (x − μ)/√(σ² + ε)·γ + β (see ``BatchNormCoefficients``). Returns the
    /// output and the batch mean and biased variance (for running statistics). With `statistics`
    /// given (inference), those are used instead and treated as constants.
    public static func batchNorm(
        _ input: Tensor, weight: Tensor, bias: Tensor, channelAxis axis: Int, epsilon: Float,
        statistics: (mean: Tensor, variance: Tensor)? = nil
    )
        -> (output: Tensor, mean: Tensor, variance: Tensor)
    {
        let a = input.normalizedAxis(axis)
        let c = input.shape[a]
        precondition(
            weight.shape == [c] && bias.shape == [c],
            "batchNorm: weight \(weight.shape) and bias \(bias.shape) must be [\(c)] "
                + "for input \(input.shape) at axis \(axis)")
        let outer = input.shape[..<a].reduce(1, *), inner = input.shape[(a + 1)...].reduce(1, *)
        precondition(outer * inner > 0, "batchNorm: no elements per channel in \(input.shape)")
        if let statistics {
            precondition(
                statistics.mean.shape == [c] && statistics.variance.shape == [c],
                "batchNorm: statistics must be [\(c)]")
        }
        if let b = input.blockedBuffer, b.layout.batch == outer, b.layout.channels == c, b.layout.planeSize == inner,
            b.layout.block % 8 == 0
        {
            return blockedBatchNorm(input, b, weight: weight, bias: bias, epsilon: epsilon, statistics: statistics)
        }
        let geometry = ChannelGeometry(outer: outer, channels: c, inner: inner)
        let (mean, variance) =
            statistics.map { ($0.mean.scalars, $0.variance.scalars) }
            ?? geometry.statistics(input.storage.pointer)
        let k = BatchNormCoefficients(
            mean: mean, variance: variance, weight: weight.scalars, bias: bias.scalars,
            epsilon: epsilon, channels: c)
        let out = Tensor(uninitializedShape: input.shape)
        geometry.normalize(input.storage.pointer, k, into: out.storage.pointer)
        let training = statistics == nil
        let output = Tensor(out, inputs: [input, weight, bias]) { [input] g, needs in
            // Pointers are taken here: the captured tensors keep their storage alive.
            geometry.backward(
                input.storage.pointer, gradient: g.storage.pointer, k, training: training, needs: needs,
                shape: input.shape)
        }
        return (output, Tensor(shape: [c], scalars: mean), Tensor(shape: [c], scalars: variance))
    }
}

/// A plain (row-major) tensor seen as `[outer, channels, inner]`.
private struct ChannelGeometry {
    let outer: Int, channels: Int, inner: Int

    var elementsPerChannel: Int { outer * inner }
    /// Rows of `inner` elements per parallel chunk: about 8k elements.
    var rowGrain: Int { Swift.max(1, 8192 / Swift.max(inner, 1)) }

    /// Mean and biased variance per channel, in two passes (the squared deviations from the mean),
    /// each summed in float per row and in double across rows.
    func statistics(_ px: UnsafePointer<Float>) -> (mean: [Float], variance: [Float]) {
        let c = channels, m = Double(elementsPerChannel)
        var mean = [Float](repeating: 0, count: c), variance = [Float](repeating: 0, count: c)
        mean.withUnsafeMutableBufferPointer { pm in
            variance.withUnsafeMutableBufferPointer { pv in
                Parallelism.forEachChunk(c, grain: 1) { channelRange in
                    for ch in channelRange {
                        var sum = 0.0
                        for o in 0..<outer {
                            let row = px + (o * c + ch) * inner
                            var s: Float = 0
                            for i in 0..<inner { s += row[i] }
                            sum += Double(s)
                        }
                        let mu = Float(sum / m)
                        var sq = 0.0
                        for o in 0..<outer {
                            let row = px + (o * c + ch) * inner
                            var s: Float = 0
                            for i in 0..<inner { let d = row[i] - mu; s += d * d }
                            sq += Double(s)
                        }
                        pm[ch] = mu
                        pv[ch] = Float(sq / m)
                    }
                }
            }
        }
        return (mean, variance)
    }

    /// y = x·scale + shift, row by row.
    func normalize(_ px: UnsafePointer<Float>, _ k: BatchNormCoefficients, into po: UnsafeMutablePointer<Float>) {
        let c = channels
        k.scale.withUnsafeBufferPointer { scale in
            k.shift.withUnsafeBufferPointer { shift in
                Parallelism.forEachChunk(outer * c, grain: rowGrain) { rows in
                    for r in rows {
                        let ch = r % c, a = scale[ch], b = shift[ch]
                        let src = px + r * inner, dst = po + r * inner
                        for i in 0..<inner { dst[i] = src[i] * a + b }
                    }
                }
            }
        }
    }

    /// [∂x, ∂γ, ∂β] from the output gradient `pg` at input `px`.
    func backward(
        _ px: UnsafePointer<Float>, gradient pg: UnsafePointer<Float>, _ k: BatchNormCoefficients,
        training: Bool, needs: [Bool], shape: [Int]
    ) -> [Tensor?] {
        let c = channels
        let dWeight = Tensor(zeros: [c]), dBias = Tensor(zeros: [c])
        let pdw = dWeight.storage.pointer, pdb = dBias.storage.pointer
        k.mean.withUnsafeBufferPointer { pm in
            k.invStd.withUnsafeBufferPointer { pi in
                Parallelism.forEachChunk(c, grain: 1) { channelRange in
                    for ch in channelRange {
                        var sb = 0.0, sw = 0.0
                        let mu = pm[ch]
                        for o in 0..<outer {
                            let gr = pg + (o * c + ch) * inner, xr = px + (o * c + ch) * inner
                            var b: Float = 0, w: Float = 0
                            for i in 0..<inner { b += gr[i]; w += gr[i] * (xr[i] - mu) }
                            sb += Double(b)
                            sw += Double(w)
                        }
                        pdb[ch] = Float(sb)
                        pdw[ch] = Float(sw) * pi[ch]
                    }
                }
            }
        }
        var dx: Tensor?
        if needs[0] {
            let t = Tensor(uninitializedShape: shape)
            let pd = t.storage.pointer
            let invM = 1 / Float(elementsPerChannel)
            k.mean.withUnsafeBufferPointer { pm in
                k.invStd.withUnsafeBufferPointer { pi in
                    k.scale.withUnsafeBufferPointer { scale in
                        Parallelism.forEachChunk(outer * c, grain: rowGrain) { rows in
                            for r in rows {
                                let ch = r % c
                                let istd = pi[ch], factor = scale[ch], mu = pm[ch]
                                let gr = pg + r * inner, xr = px + r * inner, dr = pd + r * inner
                                if training {
                                    let meanG = pdb[ch] * invM, meanGX = pdw[ch] * invM
                                    for i in 0..<inner {
                                        dr[i] = factor * (gr[i] - meanG - (xr[i] - mu) * istd * meanGX)
                                    }
                                } else {
                                    for i in 0..<inner { dr[i] = factor * gr[i] }
                                }
                            }
                        }
                    }
                }
            }
            dx = t
        }
        return [dx, needs[1] ? dWeight : nil, needs[2] ? dBias : nil]
    }
}

extension Tensor {
    /// ``batchNorm(_:weight:bias:channelAxis:epsilon:statistics:)`` on an input held in a blocked
    /// layout (`buffer`, block a multiple of 8): the same coefficients, eight channels per SIMD vector;
    /// the output and the input gradient stay blocked, padding channels zero.
    static func blockedBatchNorm(
        _ input: Tensor, _ buffer: BlockedBuffer, weight: Tensor, bias: Tensor, epsilon: Float,
        statistics: (mean: Tensor, variance: Tensor)?
    )
        -> (output: Tensor, mean: Tensor, variance: Tensor)
    {
        let l = buffer.layout, c = l.channels
        let geometry = BlockedChannelGeometry(layout: l)
        let (meanP, varP) =
            statistics.map { (geometry.padded($0.mean), geometry.padded($0.variance)) }
            ?? geometry.statistics(UnsafePointer(buffer.pointer))
        let k = BatchNormCoefficients(
            mean: meanP, variance: varP, weight: geometry.padded(weight),
            bias: geometry.padded(bias), epsilon: epsilon, channels: c)
        let out = BlockedBuffer(layout: l)
        geometry.normalize(UnsafePointer(buffer.pointer), k, into: out.pointer)
        let training = statistics == nil
        let output = Tensor(blocked: out, shape: input.shape)
        let result = Tensor(output, inputs: [input, weight, bias]) { [input, buffer] g, needs in
            // The gradient arrives blocked when the next layer kept the layout; otherwise convert it.
            let gb = g.blocked(as: l)
            return geometry.backward(
                UnsafePointer(buffer.pointer), gradient: UnsafePointer(gb.pointer), k,
                training: training, needs: needs, shape: input.shape)
        }
        return (result, Tensor(shape: [c], scalars: Array(meanP[..<c])), Tensor(shape: [c], scalars: Array(varP[..<c])))
    }
}

/// A channel-blocked buffer: samples × channel blocks × plane × block lanes, eight channels per vector.
private struct BlockedChannelGeometry {
    let layout: BlockedLayout

    var channels: Int { layout.channels }
    var block: Int { layout.block }
    var channelBlocks: Int { layout.channelBlocks }
    var plane: Int { layout.planeSize }
    var batch: Int { layout.batch }
    /// Vectors of eight channels per block.
    var vectorsPerBlock: Int { layout.block / 8 }
    var elementsPerChannel: Double { Double(layout.batch * layout.planeSize) }
    var rowGrain: Int { Swift.max(1, 8192 / Swift.max(plane * block, 1)) }

    /// Per-channel values padded to the padded channel count with zeros.
    func padded(_ t: Tensor) -> [Float] {
        var a = [Float](repeating: 0, count: layout.paddedChannels)
        for i in 0..<channels { a[i] = t.storage.pointer[i] }
        return a
    }

    /// Mean and biased variance per channel (padded), in one pass: sums of (x − k) and (x − k)² with
    /// k a sample of the channel, so the variance does not cancel catastrophically when |mean| ≫ std.
    func statistics(_ px: UnsafePointer<Float>) -> (mean: [Float], variance: [Float]) {
        let bs = block, hw = plane, cbs = channelBlocks, lanes = vectorsPerBlock, n = batch, m = elementsPerChannel
        var meanP = [Float](repeating: 0, count: layout.paddedChannels), varP = meanP
        meanP.withUnsafeMutableBufferPointer { pm in
            varP.withUnsafeMutableBufferPointer { pv in
                Parallelism.forEachChunk(cbs * lanes, grain: 1) { units in
                    for u in units {
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
                        let shiftMean = sum / m, variance = sq / m - shiftMean * shiftMean
                        let at = cb * bs + lane
                        for j in 0..<8 {
                            pm[at + j] = Float(Double(k[j]) + shiftMean[j])
                            pv[at + j] = Float(variance[j] < 0 ? 0 : variance[j])
                        }
                    }
                }
            }
        }
        for i in channels..<layout.paddedChannels { meanP[i] = 0; varP[i] = 0 }
        return (meanP, varP)
    }

    /// y = x·scale + shift, eight channels at a time.
    func normalize(_ px: UnsafePointer<Float>, _ k: BatchNormCoefficients, into po: UnsafeMutablePointer<Float>) {
        let bs = block, hw = plane, cbs = channelBlocks
        k.scale.withUnsafeBufferPointer { sc in
            k.shift.withUnsafeBufferPointer { sh in
                guard let sc = sc.baseAddress, let sh = sh.baseAddress else { return }
                Parallelism.forEachChunk(batch * cbs, grain: rowGrain) { rows in
                    for r in rows {
                        let cb = r % cbs, base = r * hw * bs
                        for lane in stride(from: 0, to: bs, by: 8) {
                            let a = loadLanes(sc + cb * bs + lane), b = loadLanes(sh + cb * bs + lane)
                            for p in 0..<hw {
                                let o = base + p * bs + lane
                                storeLanes(loadLanes(px + o) * a + b, po + o)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Σ dy and Σ dy·(x − μ) per channel (padded).
    func gradientSums(_ px: UnsafePointer<Float>, _ pg: UnsafePointer<Float>, mean: [Float])
        -> (g: [Float], gx: [Float])
    {
        let bs = block, hw = plane, cbs = channelBlocks, lanes = vectorsPerBlock, n = batch
        var sumG = [Float](repeating: 0, count: layout.paddedChannels), sumGX = sumG
        sumG.withUnsafeMutableBufferPointer { sg in
            sumGX.withUnsafeMutableBufferPointer { sgx in
                mean.withUnsafeBufferPointer { pm in
                    guard let sg = sg.baseAddress, let sgx = sgx.baseAddress, let pm = pm.baseAddress else { return }
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
        return (sumG, sumGX)
    }

    /// [∂x (blocked), ∂γ, ∂β] from the blocked output gradient `pg` at the blocked input `px`.
    func backward(
        _ px: UnsafePointer<Float>, gradient pg: UnsafePointer<Float>, _ k: BatchNormCoefficients,
        training: Bool, needs: [Bool], shape: [Int]
    ) -> [Tensor?] {
        let c = channels, pc = layout.paddedChannels
        let (sumG, sumGX) = gradientSums(px, pg, mean: k.mean)
        let dBias = Tensor(shape: [c], scalars: Array(sumG[..<c]))
        let dWeight = Tensor(shape: [c], scalars: (0..<c).map { sumGX[$0] * k.invStd[$0] })
        guard needs[0] else { return [nil, needs[1] ? dWeight : nil, needs[2] ? dBias : nil] }
        // dx = scale·(dy − meanG − (x − μ)·istd·meanGX) = scale·(dy − a − (x − μ)·q)
        let invM = Float(1 / elementsPerChannel)
        var a = [Float](repeating: 0, count: pc), q = a
        if training {
            for i in 0..<c {
                q[i] = k.invStd[i] * k.invStd[i] * sumGX[i] * invM
                a[i] = sumG[i] * invM
            }
        }
        let t = BlockedBuffer(layout: layout)
        let pd = t.pointer, bs = block, hw = plane, cbs = channelBlocks
        k.scale.withUnsafeBufferPointer { kp in
            a.withUnsafeBufferPointer { ap in
                q.withUnsafeBufferPointer { qp in
                    k.mean.withUnsafeBufferPointer { pm in
                        guard let kp = kp.baseAddress, let ap = ap.baseAddress, let qp = qp.baseAddress,
                            let pm = pm.baseAddress
                        else { return }
                        Parallelism.forEachChunk(batch * cbs, grain: rowGrain) { rows in
                            for r in rows {
                                let cb = r % cbs, base = r * hw * bs
                                for lane in stride(from: 0, to: bs, by: 8) {
                                    let ci = cb * bs + lane
                                    let kv = loadLanes(kp + ci), av = loadLanes(ap + ci), qv = loadLanes(qp + ci)
                                    let mu = loadLanes(pm + ci)
                                    for p in 0..<hw {
                                        let o = base + p * bs + lane
                                        let dy = loadLanes(pg + o), x = loadLanes(px + o)
                                        storeLanes(kv * (dy - av - (x - mu) * qv), pd + o)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return [Tensor(blocked: t, shape: shape), needs[1] ? dWeight : nil, needs[2] ? dBias : nil]
    }
}
