import CSNNKernels
import Foundation

/// Geometry of a 2-D convolution (PyTorch conventions: symmetric zero padding, dilation 1 = dense).
public struct Conv2DGeometry: Hashable, Sendable, CustomStringConvertible {
    public var batch, inChannels, inHeight, inWidth: Int
    public var outChannels, kernelHeight, kernelWidth: Int
    public var strideH, strideW, paddingH, paddingW, dilationH, dilationW, groups: Int

    public var outHeight: Int { (inHeight + 2 * paddingH - dilationH * (kernelHeight - 1) - 1) / strideH + 1 }
    public var outWidth: Int { (inWidth + 2 * paddingW - dilationW * (kernelWidth - 1) - 1) / strideW + 1 }
    /// Floating-point operations of the forward pass (2 per multiply-add).
    public var forwardFLOPs: Double {
        2 * Double(batch * outChannels * outHeight * outWidth)
            * Double(inChannels / groups * kernelHeight * kernelWidth)
    }

    public var description: String {
        "[\(batch), \(inChannels), \(inHeight), \(inWidth)] → \(outChannels) channels, kernel \(kernelHeight)×\(kernelWidth), "
            + "stride (\(strideH), \(strideW)), padding (\(paddingH), \(paddingW)), dilation (\(dilationH), \(dilationW)), groups \(groups)"
    }

    var cParameters: snn_conv2d_params {
        snn_conv2d_params(
            batch: Int32(batch), in_channels: Int32(inChannels), in_height: Int32(inHeight),
            in_width: Int32(inWidth), out_channels: Int32(outChannels),
            kernel_height: Int32(kernelHeight), kernel_width: Int32(kernelWidth),
            stride_h: Int32(strideH), stride_w: Int32(strideW), pad_h: Int32(paddingH),
            pad_w: Int32(paddingW), dilation_h: Int32(dilationH), dilation_w: Int32(dilationW),
            groups: Int32(groups), out_height: Int32(outHeight), out_width: Int32(outWidth))
    }
}

/// Which implementation runs convolutions.
public enum ConvolutionBackend: Sendable, Equatable {
    /// oneDNN when it can be loaded, otherwise ``reference``.
    case automatic
    /// im2col followed by a BLAS matrix product: simple, portable, the path the tests trust.
    case reference

    /// The backend used by ``Tensor/conv2d(_:weight:bias:stride:padding:dilation:groups:)``:
    /// `.automatic` unless a caller binds another for the work it runs,
    /// `ConvolutionBackend.$current.withValue(.reference) { … }`. A task-local value, so that two
    /// callers at once (tests run in parallel) each get their own choice instead of racing on one
    /// global (ThreadSanitizer reported that race when this was a static variable).
    @TaskLocal public static var current: ConvolutionBackend = .automatic

    /// Whether oneDNN was found and initialised.
    public static var oneDNNAvailable: Bool { snn_dnnl_available() != 0 }

    static var useOneDNN: Bool { current == .automatic && oneDNNAvailable }
}

/// The activation layouts oneDNN's primitive for one operation works in, and the pointers to hand
/// it: a tensor already held in that blocked layout is passed as it is (no reorder); an output is
/// made blocked when ``Tensor/propagatesBlockedLayouts`` is on.
struct OneDNNBlocks {
    /// Channel blocks of the source-side (x or dx) and destination-side (y or dy) activations; 0 = plain.
    let source: Int, destination: Int

    init(_ params: inout snn_conv2d_params, op: Int32, hasBias: Int32) {
        var s: Int32 = 0, d: Int32 = 0
        if Tensor.propagatesBlockedLayouts { _ = snn_dnnl_conv2d_blocks(&params, op, hasBias, &s, &d) }
        source = Int(s)
        destination = Int(d)
    }

    private static func pointer(_ t: Tensor, block: Int, flag: Int32) -> (UnsafePointer<Float>, Int32) {
        if block > 0, let b = t.blockedImage, b.layout.block == block { return (UnsafePointer(b.pointer), flag) }
        return (UnsafePointer(t.storage.pointer), 0)
    }

    func source(_ t: Tensor) -> (UnsafePointer<Float>, Int32) {
        Self.pointer(t, block: source, flag: SNN_DNNL_SRC_BLOCKED)
    }
    func destination(_ t: Tensor) -> (UnsafePointer<Float>, Int32) {
        Self.pointer(t, block: destination, flag: SNN_DNNL_DST_BLOCKED)
    }

    /// A fresh `[N, C, H, W]` output: blocked when `block` > 0 (flag DST), plain otherwise.
    func destinationOutput(_ shape: [Int], block: Int) -> (
        tensor: Tensor, pointer: UnsafeMutablePointer<Float>, flag: Int32
    ) {
        if block > 0 {
            let buffer = BlockedBuffer(
                layout: BlockedLayout(
                    batch: shape[0], channels: shape[1], height: shape[2],
                    width: shape[3], block: block))
            return (Tensor(blocked: buffer, shape: shape), buffer.pointer, SNN_DNNL_DST_BLOCKED)
        }
        let t = Tensor(uninitializedShape: shape)
        return (t, t.storage.pointer, 0)
    }
}

/// The im2col + GEMM convolution kernels, on raw row-major buffers. Public so tests and benchmarks
/// can compare them with the fast path.
public enum ReferenceConvolution {
    /// Samples per im2col chunk, bounded so the column buffer stays near 32 MiB.
    static func chunkSize(_ g: Conv2DGeometry) -> Int {
        let perSample = g.inChannels / g.groups * g.kernelHeight * g.kernelWidth * g.outHeight * g.outWidth
        return Swift.max(1, Swift.min(g.batch, (8 << 20) / Swift.max(perSample, 1)))
    }

    /// cols[(c·KH + kh)·KW + kw, s·OH·OW + oh·OW + ow] for channels of group `group`, samples `samples`.
    static func im2col(
        _ g: Conv2DGeometry, _ x: UnsafePointer<Float>, group: Int, samples: Range<Int>,
        _ cols: UnsafeMutablePointer<Float>
    ) {
        let cg = g.inChannels / g.groups, oh = g.outHeight, ow = g.outWidth, hw = oh * ow
        let rows = cg * g.kernelHeight * g.kernelWidth, width = samples.count * hw
        Parallelism.forEachChunk(rows, grain: Swift.max(1, 4096 / Swift.max(width, 1))) { range in
            for r in range {
                let kw = r % g.kernelWidth, kh = (r / g.kernelWidth) % g.kernelHeight,
                    c = r / (g.kernelWidth * g.kernelHeight)
                let dst = cols + r * width
                for (si, s) in samples.enumerated() {
                    let plane = x + (s * g.inChannels + group * cg + c) * g.inHeight * g.inWidth
                    for y in 0..<oh {
                        let iy = y * g.strideH - g.paddingH + kh * g.dilationH
                        let row = dst + si * hw + y * ow
                        if iy < 0 || iy >= g.inHeight {
                            row.update(repeating: 0, count: ow)
                            continue
                        }
                        let src = plane + iy * g.inWidth
                        for xo in 0..<ow {
                            let ix = xo * g.strideW - g.paddingW + kw * g.dilationW
                            row[xo] = (ix >= 0 && ix < g.inWidth) ? src[ix] : 0
                        }
                    }
                }
            }
        }
    }

    /// Adds columns back into the image (the adjoint of ``im2col``).
    static func col2im(
        _ g: Conv2DGeometry, _ cols: UnsafePointer<Float>, group: Int, samples: Range<Int>,
        _ dx: UnsafeMutablePointer<Float>
    ) {
        let cg = g.inChannels / g.groups, oh = g.outHeight, ow = g.outWidth, hw = oh * ow
        let width = samples.count * hw, kk = g.kernelHeight * g.kernelWidth
        // Parallel over channels: each channel's plane is written by one thread only.
        Parallelism.forEachChunk(cg, grain: 1) { range in
            for c in range {
                for (si, s) in samples.enumerated() {
                    let plane = dx + (s * g.inChannels + group * cg + c) * g.inHeight * g.inWidth
                    for k in 0..<kk {
                        let kh = k / g.kernelWidth, kw = k % g.kernelWidth
                        let src = cols + (c * kk + k) * width + si * hw
                        for y in 0..<oh {
                            let iy = y * g.strideH - g.paddingH + kh * g.dilationH
                            if iy < 0 || iy >= g.inHeight { continue }
                            let dst = plane + iy * g.inWidth, row = src + y * ow
                            for xo in 0..<ow {
                                let ix = xo * g.strideW - g.paddingW + kw * g.dilationW
                                if ix >= 0 && ix < g.inWidth { dst[ix] += row[xo] }
                            }
                        }
                    }
                }
            }
        }
    }

    /// y = conv(x, w) + bias.
    public static func forward(
        _ g: Conv2DGeometry, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>
    ) {
        let cg = g.inChannels / g.groups, og = g.outChannels / g.groups, hw = g.outHeight * g.outWidth
        let kdim = cg * g.kernelHeight * g.kernelWidth, chunk = chunkSize(g)
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: kdim * chunk * hw)
        let tmp = UnsafeMutablePointer<Float>.allocate(capacity: og * chunk * hw)
        defer { cols.deallocate(); tmp.deallocate() }
        for start in stride(from: 0, to: g.batch, by: chunk) {
            let samples = start..<Swift.min(g.batch, start + chunk), width = samples.count * hw
            for group in 0..<g.groups {
                im2col(g, x, group: group, samples: samples, cols)
                sgemm(
                    transposeA: false, transposeB: false, m: og, n: width, k: kdim,
                    weight + group * og * kdim, cols, tmp)
                for (si, s) in samples.enumerated() {
                    for o in 0..<og {
                        let oc = group * og + o
                        let dst = y + (s * g.outChannels + oc) * hw, src = tmp + o * width + si * hw
                        let b = bias?[oc] ?? 0
                        for p in 0..<hw { dst[p] = src[p] + b }
                    }
                }
            }
        }
    }

    /// Gathers dy[s, group channels, :] into [og, samples·hw] (the GEMM layout).
    private static func gatherOutputGradient(
        _ g: Conv2DGeometry, _ dy: UnsafePointer<Float>, group: Int,
        samples: Range<Int>, _ dst: UnsafeMutablePointer<Float>
    ) {
        let og = g.outChannels / g.groups, hw = g.outHeight * g.outWidth, width = samples.count * hw
        for (si, s) in samples.enumerated() {
            for o in 0..<og {
                (dst + o * width + si * hw).update(from: dy + (s * g.outChannels + group * og + o) * hw, count: hw)
            }
        }
    }

    /// dx = convᵀ(dy, w). Overwrites `dx`.
    public static func backwardData(
        _ g: Conv2DGeometry, dy: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        dx: UnsafeMutablePointer<Float>
    ) {
        let cg = g.inChannels / g.groups, og = g.outChannels / g.groups, hw = g.outHeight * g.outWidth
        let kdim = cg * g.kernelHeight * g.kernelWidth, chunk = chunkSize(g)
        dx.update(repeating: 0, count: g.batch * g.inChannels * g.inHeight * g.inWidth)
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: kdim * chunk * hw)
        let dyg = UnsafeMutablePointer<Float>.allocate(capacity: og * chunk * hw)
        defer { cols.deallocate(); dyg.deallocate() }
        for start in stride(from: 0, to: g.batch, by: chunk) {
            let samples = start..<Swift.min(g.batch, start + chunk), width = samples.count * hw
            for group in 0..<g.groups {
                gatherOutputGradient(g, dy, group: group, samples: samples, dyg)
                sgemm(
                    transposeA: true, transposeB: false, m: kdim, n: width, k: og,
                    weight + group * og * kdim, dyg, cols)
                col2im(g, cols, group: group, samples: samples, dx)
            }
        }
    }

    /// dw = Σ dy ⊗ cols, dbias = Σ dy. Overwrites both.
    public static func backwardWeights(
        _ g: Conv2DGeometry, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
        dweight: UnsafeMutablePointer<Float>, dbias: UnsafeMutablePointer<Float>?
    ) {
        let cg = g.inChannels / g.groups, og = g.outChannels / g.groups, hw = g.outHeight * g.outWidth
        let kdim = cg * g.kernelHeight * g.kernelWidth, chunk = chunkSize(g)
        let cols = UnsafeMutablePointer<Float>.allocate(capacity: kdim * chunk * hw)
        let dyg = UnsafeMutablePointer<Float>.allocate(capacity: og * chunk * hw)
        defer { cols.deallocate(); dyg.deallocate() }
        for start in stride(from: 0, to: g.batch, by: chunk) {
            let samples = start..<Swift.min(g.batch, start + chunk), width = samples.count * hw
            for group in 0..<g.groups {
                im2col(g, x, group: group, samples: samples, cols)
                gatherOutputGradient(g, dy, group: group, samples: samples, dyg)
                sgemm(
                    transposeA: false, transposeB: true, m: og, n: kdim, k: width, dyg, cols,
                    dweight + group * og * kdim, beta: start == 0 ? 0 : 1)
            }
        }
        if let dbias {
            for o in 0..<g.outChannels {
                var s: Float = 0
                for n in 0..<g.batch {
                    let p = dy + (n * g.outChannels + o) * hw
                    for i in 0..<hw { s += p[i] }
                }
                dbias[o] = s
            }
        }
    }
}

extension Tensor {
    /// 2-D convolution (cross-correlation, as in PyTorch) of `input` `[N, C, H, W]` with `weight`
    /// `[O, C/groups, KH, KW]` and an optional `bias` `[O]`; returns `[N, O, OH, OW]`.
    public static func conv2d(
        _ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: (Int, Int) = (1, 1),
        padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) -> Tensor {
        precondition(input.rank == 4, "conv2d: input must be [N, C, H, W], got \(input.shape)")
        precondition(weight.rank == 4, "conv2d: weight must be [O, C/groups, KH, KW], got \(weight.shape)")
        precondition(
            groups >= 1 && input.shape[1] % groups == 0 && weight.shape[0] % groups == 0,
            "conv2d: groups \(groups) must divide input channels \(input.shape[1]) and output channels \(weight.shape[0])"
        )
        precondition(
            weight.shape[1] * groups == input.shape[1],
            "conv2d: weight \(weight.shape) expects \(weight.shape[1] * groups) input channels, input \(input.shape) has \(input.shape[1])"
        )
        precondition(
            stride.0 >= 1 && stride.1 >= 1 && dilation.0 >= 1 && dilation.1 >= 1 && padding.0 >= 0 && padding.1 >= 0,
            "conv2d: stride \(stride) and dilation \(dilation) must be ≥ 1, padding \(padding) ≥ 0")
        if let bias {
            precondition(bias.shape == [weight.shape[0]], "conv2d: bias \(bias.shape) must be [\(weight.shape[0])]")
        }
        let g = Conv2DGeometry(
            batch: input.shape[0], inChannels: input.shape[1], inHeight: input.shape[2],
            inWidth: input.shape[3], outChannels: weight.shape[0], kernelHeight: weight.shape[2],
            kernelWidth: weight.shape[3], strideH: stride.0, strideW: stride.1,
            paddingH: padding.0, paddingW: padding.1, dilationH: dilation.0,
            dilationW: dilation.1, groups: groups)
        precondition(
            g.outHeight >= 1 && g.outWidth >= 1,
            "conv2d: kernel \(weight.shape[2])×\(weight.shape[3]) (dilation \(dilation)) does not fit input \(input.shape) with padding \(padding)"
        )
        let outShape = [g.batch, g.outChannels, g.outHeight, g.outWidth]
        var params = g.cParameters
        let hasBias: Int32 = bias == nil ? 0 : 1
        let b = bias.map { UnsafePointer($0.storage.pointer) }
        var out: Tensor?
        if ConvolutionBackend.useOneDNN {
            let blocks = OneDNNBlocks(&params, op: SNN_DNNL_OP_FORWARD, hasBias: hasBias)
            let (x, srcFlag) = blocks.source(input)
            let y = blocks.destinationOutput(outShape, block: blocks.destination)
            if snn_dnnl_conv2d_forward_blocked(&params, x, weight.storage.pointer, b, y.pointer, srcFlag | y.flag) == 0
            {
                out = y.tensor
            }
        }
        let output =
            out
            ?? {
                let t = Tensor(uninitializedShape: outShape)
                ReferenceConvolution.forward(
                    g, x: input.storage.pointer, weight: weight.storage.pointer, bias: b, y: t.storage.pointer)
                return t
            }()
        let inputs = bias.map { [input, weight, $0] } ?? [input, weight]
        return Tensor(output, inputs: inputs) { [input, weight] grad, needs in
            var params = g.cParameters
            var dx: Tensor?, dw: Tensor?, db: Tensor?
            if needs[0] {
                if ConvolutionBackend.useOneDNN {
                    let blocks = OneDNNBlocks(&params, op: SNN_DNNL_OP_BACKWARD_DATA, hasBias: 0)
                    let (dy, dyFlag) = blocks.destination(grad)
                    let t = blocks.destinationOutput(input.shape, block: blocks.source)
                    if snn_dnnl_conv2d_backward_data_blocked(
                        &params, dy, weight.storage.pointer, t.pointer,
                        dyFlag | (t.flag != 0 ? SNN_DNNL_SRC_BLOCKED : 0)) == 0
                    {
                        dx = t.tensor
                    }
                }
                if dx == nil {
                    let t = Tensor(uninitializedShape: input.shape)
                    ReferenceConvolution.backwardData(
                        g, dy: grad.storage.pointer, weight: weight.storage.pointer, dx: t.storage.pointer)
                    dx = t
                }
            }
            let wantBias = needs.count > 2 && needs[2]
            if needs[1] || wantBias {
                let tw = Tensor(uninitializedShape: weight.shape)
                let tb = Tensor(uninitializedShape: [g.outChannels])
                var done = false
                if ConvolutionBackend.useOneDNN {
                    let blocks = OneDNNBlocks(&params, op: SNN_DNNL_OP_BACKWARD_WEIGHTS, hasBias: 1)
                    let (x, xFlag) = blocks.source(input)
                    let (dy, dyFlag) = blocks.destination(grad)
                    done =
                        snn_dnnl_conv2d_backward_weights_blocked(
                            &params, x, dy, tw.storage.pointer, tb.storage.pointer,
                            xFlag | dyFlag) == 0
                }
                if !done {
                    ReferenceConvolution.backwardWeights(
                        g, x: input.storage.pointer, dy: grad.storage.pointer,
                        dweight: tw.storage.pointer, dbias: tb.storage.pointer)
                }
                dw = needs[1] ? tw : nil
                db = wantBias ? tb : nil
            }
            return bias == nil ? [dx, dw] : [dx, dw, db]
        }
    }

    /// 1-D convolution of `input` `[N, C, L]` with `weight` `[O, C/groups, K]`; returns `[N, O, L']`.
    public static func conv1d(
        _ input: Tensor, weight: Tensor, bias: Tensor? = nil, stride: Int = 1,
        padding: Int = 0, dilation: Int = 1, groups: Int = 1
    ) -> Tensor {
        precondition(input.rank == 3, "conv1d: input must be [N, C, L], got \(input.shape)")
        precondition(weight.rank == 3, "conv1d: weight must be [O, C/groups, K], got \(weight.shape)")
        let y = conv2d(
            input.expandingShape(at: 2), weight: weight.expandingShape(at: 2), bias: bias,
            stride: (1, stride), padding: (0, padding), dilation: (1, dilation), groups: groups)
        return y.squeezingShape(at: 2)
    }
}
