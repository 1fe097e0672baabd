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
}
