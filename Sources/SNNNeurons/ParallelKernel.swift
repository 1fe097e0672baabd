import Foundation
import SNNTensor

/// The fused kernel of the PSN family: S = Θ(W·X + b) over a `[T, N]` input in one pass, and in the
/// backward pass ∂X = Wᵀ·∂H, ∂W = ∂H·Xᵀ, ∂b = Σ ∂H with ∂H = ∂S ⊙ g(H), also in one pass.
///
/// For the small T of spiking networks (T ≤ 32) the T×T product is done per neuron in SIMD registers
/// while the `[T, block]` tile sits in L1 cache, so each element of X, H and S crosses memory once;
/// a BLAS GEMM with inner dimension T would instead stream the data several times.
enum ParallelNeuronKernel {
    static let lanes = NeuronVector.scalarCount
    /// Neurons per tile: each of the T rows of a tile is one contiguous 2 KiB run, so memory is read
    /// and written in long bursts whatever T is (processing one vector of neurons across all T rows
    /// at a time would open 3·T concurrent streams and defeat the prefetchers beyond T ≈ 4).
    static let tile = 512

    /// Copies rows `0..<t` of columns `j0..<j0+width` of a `[t, n]` matrix into a `[t, tile]` buffer
    /// (zero-padded to whole vectors).
    @inline(__always)
    static func gather(
        _ src: UnsafePointer<Float>, t: Int, n: Int, j0: Int, width: Int, into dst: UnsafeMutablePointer<Float>
    ) {
        let padded = (width + lanes - 1) / lanes * lanes
        for r in 0..<t {
            (dst + r * tile).update(from: src + r * n + j0, count: width)
            if padded > width { (dst + r * tile + width).update(repeating: 0, count: padded - width) }
        }
    }

    /// `learnedAlpha`, when given, is the one-element tensor holding `surrogate`'s α: the pullback then
    /// also returns ∂L/∂α = Σ ∂S·∂g_α(H)/∂α over the unmasked elements (the IPSU's learned α).
    static func forward<S: Surrogate>(
        x: Tensor, weight: Tensor, bias: Tensor, surrogate: S, strict: Bool,
        mask: MaskStream? = nil, substitute: SurrogateChoice? = nil, learnedAlpha: Tensor? = nil
    ) -> Tensor {
        let t = x.shape[0], n = x.shape[1]
        precondition(
            weight.shape == [t, t] && bias.shape == [t],
            "parallel neuron: weight \(weight.shape) and bias \(bias.shape) must be [\(t), \(t)] and [\(t)]")
        let spikes = Tensor(uninitializedShape: [t, n]), charged = Tensor(uninitializedShape: [t, n])
        let px = x.unsafeStoragePointer, pw = weight.unsafeStoragePointer, pb = bias.unsafeStoragePointer
        let ps = spikes.unsafeStoragePointer, ph = charged.unsafeStoragePointer
        Parallelism.forEachChunk(n, grain: 4096) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: t * tile) { buffer in
                let xt = buffer.baseAddress!
                var j0 = range.lowerBound
                while j0 < range.upperBound {
                    let width = Swift.min(tile, range.upperBound - j0)
                    gather(px, t: t, n: n, j0: j0, width: width, into: xt)
                    for r in 0..<t {
                        let row = pw + r * t, hOut = ph + r * n + j0, sOut = ps + r * n + j0
                        var j = 0
                        while j < width {
                            let count = Swift.min(lanes, width - j)
                            var acc = NeuronVector(repeating: pb[r])
                            for i in 0..<t { acc += row[i] * loadLanes(xt + i * tile + j) }
                            storeLanes(acc, hOut + j, count)
                            let fired = strict ? acc .> 0 : acc .>= 0
                            storeLanes(NeuronVector(repeating: 0).replacing(with: 1, where: fired), sOut + j, count)
                            j += lanes
                        }
                    }
                    j0 += width
                }
            }
        }
        let inputs = [x, weight, bias] + (learnedAlpha.map { [$0] } ?? [])
        return Tensor(spikes, inputs: inputs) { [x, weight, charged] g, needs in
            withMasking(mask, substitute) { masking in
                backward(
                    x: x, weight: weight, charged: charged, gradSpikes: g, surrogate: surrogate, needs: needs,
                    masking: masking)
            }
        }
    }

    /// `masking` applies MSG: masked elements (index t·N + j) use 0 or the substitute's derivative
    /// (and add nothing to ∂α). `needs` has a fourth entry when α is learned.
    static func backward<S: Surrogate, M: SurrogateMasking>(
        x: Tensor, weight: Tensor, charged: Tensor, gradSpikes: Tensor,
        surrogate: S, needs: [Bool], masking: M
    ) -> [Tensor?] {
        let t = x.shape[0], n = x.shape[1]
        let px = x.unsafeStoragePointer, pw = weight.unsafeStoragePointer, ph = charged.unsafeStoragePointer
        let pg = gradSpikes.unsafeStoragePointer
        let gx = needs[0] ? Tensor(uninitializedShape: [t, n]) : nil
        let pgx = gx?.unsafeStoragePointer
        let wantParameters = needs[1] || needs[2]
        let wantAlpha = needs.count > 3 && needs[3]
        let threads = Swift.max(1, Parallelism.threadCount)
        let chunkSize = (n + threads - 1) / threads
        // Per-chunk partial sums of ∂W (t·t), ∂b (t) and ∂α (1), combined in chunk order (reproducible).
        let slotSize = t * t + t + 1
        var partials = [Double](repeating: 0, count: threads * 4 * slotSize)
        partials.withUnsafeMutableBufferPointer { partialBuffer in
            let base = partialBuffer.baseAddress!
            Parallelism.forEachChunk(n, grain: 4096) { range in
                let slot = range.lowerBound / Swift.max(chunkSize, 1)
                let gw = base + slot * slotSize, gb = gw + t * t, ga = gb + t
                withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * t * tile) { buffer in
                    let ght = buffer.baseAddress!, xt = ght + t * tile
                    var j0 = range.lowerBound
                    while j0 < range.upperBound {
                        let width = Swift.min(tile, range.upperBound - j0)
                        let padded = (width + lanes - 1) / lanes * lanes
                        // ∂H = ∂S ⊙ g(H) for the tile (zero in the padding lanes).
                        gather(ph, t: t, n: n, j0: j0, width: width, into: ght)
                        for r in 0..<t {
                            let gs = pg + r * n + j0, dst = ght + r * tile
                            var j = 0
                            while j < width {
                                let count = Swift.min(lanes, width - j)
                                let h = loadLanes(dst + j), gradient = loadLanes(gs + j, count)
                                let d = masking.apply(surrogate.derivative(h), at: h, index: r * n + j0 + j)
                                let v = gradient * d
                                if wantAlpha {
                                    let masked = masking.maskedLanes(r * n + j0 + j)
                                    for k in 0..<count where !masked[k] {
                                        ga[0] += Double(gradient[k] * surrogate.derivativeWithRespectToAlpha(h[k]))
                                    }
                                }
                                storeLanes(v, dst + j)
                                j += lanes
                            }
                        }
                        if let pgx {
                            for i in 0..<t {
                                let out = pgx + i * n + j0
                                var j = 0
                                while j < width {
                                    var acc = NeuronVector()
                                    for r in 0..<t { acc += pw[r * t + i] * loadLanes(ght + r * tile + j) }
                                    storeLanes(acc, out + j, Swift.min(lanes, width - j))
                                    j += lanes
                                }
                            }
                        }
                        if wantParameters {
                            gather(px, t: t, n: n, j0: j0, width: width, into: xt)
                            for r in 0..<t {
                                let gRow = ght + r * tile
                                var sumB = NeuronVector()
                                var j = 0
                                while j < padded {
                                    sumB += loadLanes(gRow + j)
                                    j += lanes
                                }
                                gb[r] += Double(sumB.sum())
                                for i in 0..<t {
                                    let xRow = xt + i * tile
                                    var acc = NeuronVector()
                                    var k = 0
                                    while k < padded {
                                        acc += loadLanes(gRow + k) * loadLanes(xRow + k)
                                        k += lanes
                                    }
                                    gw[r * t + i] += Double(acc.sum())
                                }
                            }
                        }
                        j0 += width
                    }
                }
            }
        }
        var dWeight: Tensor?, dBias: Tensor?
        if wantParameters {
            var w = [Double](repeating: 0, count: t * t), b = [Double](repeating: 0, count: t)
            for slot in 0..<(threads * 4) {
                let offset = slot * slotSize
                for k in 0..<(t * t) { w[k] += partials[offset + k] }
                for k in 0..<t { b[k] += partials[offset + t * t + k] }
            }
            dWeight = needs[1] ? Tensor(shape: [t, t], scalars: w.map { Float($0) }) : nil
            dBias = needs[2] ? Tensor(shape: [t], scalars: b.map { Float($0) }) : nil
        }
        guard needs.count > 3 else { return [gx, dWeight, dBias] }
        let alpha = (0..<(threads * 4)).reduce(0.0) { $0 + partials[$1 * slotSize + t * t + t] }
        return [gx, dWeight, dBias, wantAlpha ? Tensor(shape: [1], scalars: [Float(alpha)]) : nil]
    }
}

extension Tensor {
    /// Θ(W·X + b) for X `[T, N]`, W `[T, T]`, b `[T]` (firing at ≥ 0, or > 0 when `strict`), with the
    /// surrogate gradient, as one fused primitive (see ``ParallelNeuronKernel``).
    /// `mask` applies masked surrogate gradients (MSG) in the backward pass.
    public static func parallelSpikes<S: Surrogate>(
        _ x: Tensor, weight: Tensor, bias: Tensor, surrogate: S,
        strict: Bool = false, mask: MaskStream? = nil,
        substitute: SurrogateChoice? = nil
    ) -> Tensor {
        precondition(x.rank == 2, "parallelSpikes: input must be [T, N], got \(x.shape)")
        return ParallelNeuronKernel.forward(
            x: x, weight: weight, bias: bias, surrogate: surrogate, strict: strict,
            mask: mask, substitute: substitute)
    }
}

/// The fused kernel of the PSU (the variant without learnable matrices): per 512-neuron tile,
/// H = A·X, σ = sigmoid(H), V = H − V_th·R·σ, S = [V − V_th > 0]; backward with the surrogate g:
/// ∂V = ∂S ⊙ g(V − V_th), ∂σ = −V_th·Rᵀ∂V, ∂H = ∂V + ∂σ ⊙ σ(1 − σ), ∂X = Aᵀ∂H, and for a learned α
/// (the arctangent) ∂α = Σ ∂S ⊙ ∂g_α/∂α(V − V_th). `ParallelSpikingUnit.membrane` is its composed twin.
enum PSUKernel {
    static let lanes = NeuronVector.scalarCount
    static let tile = ParallelNeuronKernel.tile

    @inline(__always)
    static func sigmoid(_ x: NeuronVector) -> NeuronVector {
        var r = NeuronVector()
        for k in 0..<lanes { r[k] = 1 / (1 + Foundation.exp(-x[k])) }
        return r
    }

    /// `learnedAlpha`, when given, is the one-element tensor holding `surrogate`'s α: the pullback then
    /// also returns ∂L/∂α.
    static func spikes<S: Surrogate>(
        _ x: Tensor, a: Tensor, r: Tensor, threshold: Float, surrogate: S,
        learnedAlpha: Tensor? = nil, mask: MaskStream? = nil,
        substitute: SurrogateChoice? = nil
    ) -> Tensor {
        let t = x.shape[0], n = x.shape[1]
        let membrane = Tensor(uninitializedShape: [t, n]), gate = Tensor(uninitializedShape: [t, n])
        let spikes = Tensor(uninitializedShape: [t, n])
        let px = x.unsafeStoragePointer, pa = a.unsafeStoragePointer, pr = r.unsafeStoragePointer
        let pv = membrane.unsafeStoragePointer, pg = gate.unsafeStoragePointer, ps = spikes.unsafeStoragePointer
        Parallelism.forEachChunk(n, grain: 4096) { range in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * t * tile) { buffer in
                let xt = buffer.baseAddress!, ht = xt + t * tile, st = ht + t * tile
                var j0 = range.lowerBound
                while j0 < range.upperBound {
                    let width = Swift.min(tile, range.upperBound - j0)
                    ParallelNeuronKernel.gather(px, t: t, n: n, j0: j0, width: width, into: xt)
                    var j = 0
                    while j < width {
                        for row in 0..<t {
                            var h = NeuronVector()
                            for i in 0...row { h += pa[row * t + i] * loadLanes(xt + i * tile + j) }
                            storeLanes(h, ht + row * tile + j)
                            storeLanes(sigmoid(h), st + row * tile + j)
                        }
                        j += lanes
                    }
                    for row in 0..<t {
                        var j = 0
                        while j < width {
                            let count = Swift.min(lanes, width - j)
                            var reset = NeuronVector()
                            for i in 0..<row { reset += pr[row * t + i] * loadLanes(st + i * tile + j) }
                            let v = loadLanes(ht + row * tile + j) - threshold * reset
                            storeLanes(v, pv + row * n + j0 + j, count)
                            storeLanes(loadLanes(st + row * tile + j), pg + row * n + j0 + j, count)
                            storeLanes(
                                NeuronVector(repeating: 0).replacing(with: 1, where: v - threshold .> 0),
                                ps + row * n + j0 + j, count)
                            j += lanes
                        }
                    }
                    j0 += width
                }
            }
        }
        return Tensor(spikes, inputs: [x] + (learnedAlpha.map { [$0] } ?? [])) { [a, r, membrane, gate] g, needs in
            withMasking(mask, substitute) { masking in
                backward(
                    a: a, r: r, membrane: membrane, gate: gate, gradSpikes: g, threshold: threshold,
                    surrogate: surrogate,
                    learnsAlpha: learnedAlpha != nil, needs: needs, masking: masking)
            }
        }
    }

    /// ∂V = ∂S ⊙ g(V − V_th) for the T steps of the neurons j ..< j + count (lanes past `count` are
    /// zero), MSG-masked, into `gv[0 ..< steps]`; adds the learned α's terms Σ ∂S·∂g_α/∂α of the
    /// unmasked elements to `alphaSum` when `wantAlpha`. Shared by the PSU and RPSU kernels.
    @inline(__always)
    static func membraneGradients<S: Surrogate, M: SurrogateMasking>(
        into gv: UnsafeMutablePointer<NeuronVector>, membrane pv: UnsafePointer<Float>,
        gradSpikes pgs: UnsafePointer<Float>, steps t: Int, neurons n: Int, column j: Int, count: Int,
        threshold: Float, surrogate: S, masking: M, wantAlpha: Bool, alphaSum: inout Double
    ) {
        for row in 0..<t {
            let x = loadLanes(pv + row * n + j, count) - threshold
            let gs = loadLanes(pgs + row * n + j, count)
            gv[row] = gs * masking.apply(surrogate.derivative(x), at: x, index: row * n + j)
            if wantAlpha {
                let masked = masking.maskedLanes(row * n + j)
                for k in 0..<count where !masked[k] {
                    alphaSum += Double(gs[k] * surrogate.derivativeWithRespectToAlpha(x[k]))
                }
            }
        }
    }

    /// `masking` applies MSG: masked elements (index t·N + j) use 0 or the substitute's derivative and
    /// add nothing to ∂α. Returns [∂X, ∂α] when `learnsAlpha`, else [∂X].
    static func backward<S: Surrogate, M: SurrogateMasking>(
        a: Tensor, r: Tensor, membrane: Tensor, gate: Tensor,
        gradSpikes: Tensor, threshold: Float, surrogate: S,
        learnsAlpha: Bool, needs: [Bool], masking: M
    ) -> [Tensor?] {
        let t = membrane.shape[0], n = membrane.shape[1]
        let pa = a.unsafeStoragePointer, pr = r.unsafeStoragePointer
        let pv = membrane.unsafeStoragePointer, pgate = gate.unsafeStoragePointer, pgs = gradSpikes.unsafeStoragePointer
        let gx = Tensor(uninitializedShape: [t, n])
        let pgx = gx.unsafeStoragePointer
        let threads = Swift.max(1, Parallelism.threadCount)
        let chunkSize = (n + threads - 1) / threads
        var alphaPartials = [Double](repeating: 0, count: threads * 4)
        let wantAlpha = learnsAlpha && needs[1]
        alphaPartials.withUnsafeMutableBufferPointer { partial in
            Parallelism.forEachChunk(n, grain: 4096) { range in
                let slot = range.lowerBound / Swift.max(chunkSize, 1)
                var alphaSum = 0.0
                withUnsafeTemporaryAllocation(of: NeuronVector.self, capacity: 2 * t) { buffer in
                    let gv = buffer.baseAddress!, gh = gv + t
                    var j = range.lowerBound
                    while j < range.upperBound {
                        let count = Swift.min(lanes, range.upperBound - j)
                        membraneGradients(
                            into: gv, membrane: pv, gradSpikes: pgs, steps: t, neurons: n, column: j, count: count,
                            threshold: threshold, surrogate: surrogate, masking: masking, wantAlpha: wantAlpha,
                            alphaSum: &alphaSum)
                        for i in 0..<t {
                            var gsigma = NeuronVector()
                            for row in (i + 1)..<Swift.max(i + 1, t) { gsigma += pr[row * t + i] * gv[row] }
                            let s = loadLanes(pgate + i * n + j, count)
                            gh[i] = gv[i] - threshold * gsigma * s * (1 - s)
                        }
                        for i in 0..<t {
                            var acc = NeuronVector()
                            for row in i..<t { acc += pa[row * t + i] * gh[row] }
                            storeLanes(acc, pgx + i * n + j, count)
                        }
                        j += lanes
                    }
                }
                partial[slot] += alphaSum
            }
        }
        guard learnsAlpha else { return [needs[0] ? gx : nil] }
        let dAlpha = wantAlpha ? Tensor(shape: [1], scalars: [Float(alphaPartials.reduce(0, +))]) : nil
        return [needs[0] ? gx : nil, dAlpha]
    }
}

/// The fused kernel of the RPSU (reset-aware): per 8-neuron vector across all T steps,
/// G = W′·X + b (W′ = W ⊙ M, causal), σ = sigmoid(G), V = A·X − R·σ, S = [V − V_th > 0]; backward with
/// the surrogate g: ∂V = ∂S ⊙ g(V − V_th), ∂σ = −Rᵀ∂V, ∂G = ∂σ ⊙ σ(1 − σ), ∂X = Aᵀ∂V + W′ᵀ∂G,
/// ∂W′ = ∂G·Xᵀ (masked to the causal band by the caller's W ⊙ M), ∂b = Σ ∂G, and for a learned α
/// ∂α = Σ ∂S ⊙ ∂g_α/∂α(V − V_th). Saved between the passes: V and σ. `ParallelSpikingUnit.membrane`
/// is its composed twin.
enum RPSUKernel {
    static let lanes = NeuronVector.scalarCount

    /// `weight` is W′ = W ⊙ M (on the tape), `bias` b; `learnedAlpha` as in ``PSUKernel``.
    static func spikes<S: Surrogate>(
        _ x: Tensor, a: Tensor, r: Tensor, weight: Tensor, bias: Tensor, threshold: Float, surrogate: S,
        learnedAlpha: Tensor? = nil, mask: MaskStream? = nil, substitute: SurrogateChoice? = nil
    ) -> Tensor {
        let t = x.shape[0], n = x.shape[1]
        let membrane = Tensor(uninitializedShape: [t, n]), gate = Tensor(uninitializedShape: [t, n])
        let spikes = Tensor(uninitializedShape: [t, n])
        let px = x.unsafeStoragePointer, pa = a.unsafeStoragePointer, pr = r.unsafeStoragePointer
        let pw = weight.unsafeStoragePointer, pb = bias.unsafeStoragePointer
        let pv = membrane.unsafeStoragePointer, pg = gate.unsafeStoragePointer, ps = spikes.unsafeStoragePointer
        Parallelism.forEachChunk(n, grain: 4096) { range in
            withUnsafeTemporaryAllocation(of: NeuronVector.self, capacity: 2 * t) { buffer in
                guard let xs = buffer.baseAddress else { return }
                let sigma = xs + t
                var j = range.lowerBound
                while j < range.upperBound {
                    let count = Swift.min(lanes, range.upperBound - j)
                    for i in 0..<t { xs[i] = loadLanes(px + i * n + j, count) }
                    for row in 0..<t {
                        var g = NeuronVector(repeating: pb[row])
                        for i in 0...row { g += pw[row * t + i] * xs[i] }
                        sigma[row] = PSUKernel.sigmoid(g)
                        storeLanes(sigma[row], pg + row * n + j, count)
                    }
                    for row in 0..<t {
                        var v = NeuronVector()
                        for i in 0...row { v += pa[row * t + i] * xs[i] }
                        var reset = NeuronVector()
                        for i in 0..<row { reset += pr[row * t + i] * sigma[i] }
                        v -= reset
                        storeLanes(v, pv + row * n + j, count)
                        storeLanes(
                            NeuronVector(repeating: 0).replacing(with: 1, where: v - threshold .> 0), ps + row * n + j,
                            count)
                    }
                    j += lanes
                }
            }
        }
        let inputs = [x, weight, bias] + (learnedAlpha.map { [$0] } ?? [])
        return Tensor(spikes, inputs: inputs) { [x, a, r, weight, membrane, gate] g, needs in
            withMasking(mask, substitute) { masking in
                backward(
                    x: x, a: a, r: r, weight: weight, membrane: membrane, gate: gate, gradSpikes: g,
                    threshold: threshold, surrogate: surrogate, needs: needs, masking: masking)
            }
        }
    }

    /// Returns [∂X, ∂W′, ∂b] and ∂α when α is learned (a fourth entry in `needs`).
    static func backward<S: Surrogate, M: SurrogateMasking>(
        x: Tensor, a: Tensor, r: Tensor, weight: Tensor, membrane: Tensor, gate: Tensor, gradSpikes: Tensor,
        threshold: Float, surrogate: S, needs: [Bool], masking: M
    ) -> [Tensor?] {
        let t = membrane.shape[0], n = membrane.shape[1]
        let px = x.unsafeStoragePointer, pa = a.unsafeStoragePointer, pr = r.unsafeStoragePointer
        let pw = weight.unsafeStoragePointer
        let pv = membrane.unsafeStoragePointer, pgate = gate.unsafeStoragePointer, pgs = gradSpikes.unsafeStoragePointer
        let gx = needs[0] ? Tensor(uninitializedShape: [t, n]) : nil
        let pgx = gx?.unsafeStoragePointer
        let wantParameters = needs[1] || needs[2], wantAlpha = needs.count > 3 && needs[3]
        let threads = Swift.max(1, Parallelism.threadCount)
        let chunkSize = (n + threads - 1) / threads
        // Per-chunk partial sums of ∂W′ (t·t), ∂b (t) and ∂α (1), combined in chunk order.
        let slotSize = t * t + t + 1
        var partials = [Double](repeating: 0, count: threads * 4 * slotSize)
        partials.withUnsafeMutableBufferPointer { partialBuffer in
            guard let base = partialBuffer.baseAddress else { return }
            Parallelism.forEachChunk(n, grain: 4096) { range in
                let slot = range.lowerBound / Swift.max(chunkSize, 1)
                let gwOut = base + slot * slotSize, gbOut = gwOut + t * t, gaOut = gbOut + t
                // Vector accumulators of ∂W′ and ∂b over the chunk, then the per-lane values, then
                // ∂V, ∂G and the inputs of the current vector of neurons.
                withUnsafeTemporaryAllocation(of: NeuronVector.self, capacity: t * t + 4 * t) { buffer in
                    guard let gw = buffer.baseAddress else { return }
                    let gb = gw + t * t, gv = gb + t, gg = gv + t, xs = gg + t
                    for k in 0..<(t * t + t) { gw[k] = NeuronVector() }
                    var alphaSum = 0.0
                    var j = range.lowerBound
                    while j < range.upperBound {
                        let count = Swift.min(lanes, range.upperBound - j)
                        PSUKernel.membraneGradients(
                            into: gv, membrane: pv, gradSpikes: pgs, steps: t, neurons: n, column: j, count: count,
                            threshold: threshold, surrogate: surrogate, masking: masking, wantAlpha: wantAlpha,
                            alphaSum: &alphaSum)
                        for i in 0..<t {
                            var gsigma = NeuronVector()
                            for row in (i + 1)..<Swift.max(i + 1, t) { gsigma += pr[row * t + i] * gv[row] }
                            let s = loadLanes(pgate + i * n + j, count)
                            gg[i] = -gsigma * s * (1 - s)
                        }
                        if let pgx {
                            for i in 0..<t {
                                var acc = NeuronVector()
                                for row in i..<t { acc += pa[row * t + i] * gv[row] + pw[row * t + i] * gg[row] }
                                storeLanes(acc, pgx + i * n + j, count)
                            }
                        }
                        if wantParameters {
                            // Lanes past `count` load as zero, so they add nothing.
                            for i in 0..<t { xs[i] = loadLanes(px + i * n + j, count) }
                            for row in 0..<t {
                                gb[row] += gg[row]
                                for i in 0...row { gw[row * t + i] += gg[row] * xs[i] }
                            }
                        }
                        j += lanes
                    }
                    if wantParameters {
                        for k in 0..<(t * t) { gwOut[k] += Double(gw[k].sum()) }
                        for k in 0..<t { gbOut[k] += Double(gb[k].sum()) }
                    }
                    gaOut[0] += alphaSum
                }
            }
        }
        var dWeight: Tensor?, dBias: Tensor?, alpha = 0.0
        var w = [Double](repeating: 0, count: t * t), b = [Double](repeating: 0, count: t)
        for slot in 0..<(threads * 4) {
            let offset = slot * slotSize
            for k in 0..<(t * t) { w[k] += partials[offset + k] }
            for k in 0..<t { b[k] += partials[offset + t * t + k] }
            alpha += partials[offset + t * t + t]
        }
        if needs[1] { dWeight = Tensor(shape: [t, t], scalars: w.map { Float($0) }) }
        if needs[2] { dBias = Tensor(shape: [t], scalars: b.map { Float($0) }) }
        guard needs.count > 3 else { return [gx, dWeight, dBias] }
        return [gx, dWeight, dBias, wantAlpha ? Tensor(shape: [1], scalars: [Float(alpha)]) : nil]
    }
}
