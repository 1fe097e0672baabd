import Foundation
import SNN
import SNNTestSupport
import Testing

/// Channel-blocked storage (what convolutions hand to the next layer): each layout-aware operation
/// must give what the same operation gives on the plain tensor, values and gradients.
@Suite struct LayoutTests {
    /// `x` held in a blocked layout with channel block `block`.
    func blocked(_ x: Tensor, block: Int) -> Tensor {
        let l = BlockedLayout(
            batch: x.shape[0], channels: x.shape[1], height: x.shape[2], width: x.shape[3], block: block)
        let b = x.withUnsafeBufferPointer { BlockedBuffer(plain: $0.baseAddress!, layout: l) }
        return Tensor(blocked: b, shape: x.shape)
    }

    @Test(arguments: [(8, 10), (8, 16), (16, 3), (16, 40)])
    func roundTripKeepsEveryElementAndZeroPadding(_ c: (Int, Int)) {
        let (block, channels) = c
        let x = randomTensor([3, channels, 5, 7], seed: 1)
        let y = blocked(x, block: block)
        let buffer = y.blockedImage!
        #expect(buffer.layout.paddedChannels % block == 0 && buffer.layout.paddedChannels >= channels)
        // Element (n, c, h, w) sits where the layout formula says; padding channels hold zeros.
        let l = buffer.layout, xs = x.scalars
        var worst: Float = 0
        for n in 0..<3 {
            for ch in 0..<l.paddedChannels {
                for p in 0..<35 {
                    let v = buffer.pointer[((n * l.channelBlocks + ch / block) * 35 + p) * block + ch % block]
                    worst = max(worst, abs(v - (ch < channels ? xs[(n * channels + ch) * 35 + p] : 0)))
                }
            }
        }
        #expect(worst == 0)
        #expect(abs(buffer.logicalSum() - Double(x.sum().item)) < 1e-3)
        #expect(y.scalars == xs)  // the first plain read converts back exactly
        #expect(y.blockedBuffer == nil)  // …and drops the blocked form, so in-place writes cannot go stale
    }

    /// Value and gradients of sum(f(x, params) · r) for plain and blocked x.
    func compare(
        _ x: Tensor, params: [Tensor], block: Int, tolerance: Float = 1e-5,
        _ f: @escaping (Tensor, [Tensor]) -> Tensor
    ) {
        let r = randomTensor(f(x, params).shape, seed: 99)
        func run(_ input: Tensor) -> (Tensor, [Tensor]) {
            let y = f(input, params)
            let (_, g) = valueWithGradient(at: [input] + params) { t in (f(t[0], Array(t.dropFirst())) * r).sum() }
            return (y, g)
        }
        let (yPlain, gPlain) = run(x)
        let (yBlocked, gBlocked) = run(blocked(x, block: block))
        #expect(relativeError(yBlocked, yPlain) < tolerance)
        for k in gPlain.indices { #expect(relativeError(gBlocked[k], gPlain[k]) < tolerance, "gradient \(k)") }
    }

    @Test(arguments: [(8, 16), (8, 12), (16, 20)])
    func batchNormTrainingAndInference(_ c: (Int, Int)) {
        let (block, channels) = c
        let x = randomTensor([6, channels, 5, 4], seed: 2, scale: 2) + 0.5
        let w = randomTensor([channels], seed: 3), b = randomTensor([channels], seed: 4)
        compare(x, params: [w, b], block: block) { x, p in
            Tensor.batchNorm(x, weight: p[0], bias: p[1], channelAxis: 1, epsilon: 1e-5).output
        }
        let stats = (mean: randomTensor([channels], seed: 5), variance: randomTensor([channels], seed: 6).abs() + 0.1)
        compare(x, params: [w, b], block: block) { x, p in
            Tensor.batchNorm(x, weight: p[0], bias: p[1], channelAxis: 1, epsilon: 1e-5, statistics: stats).output
        }
        // The batch statistics themselves.
        let plain = Tensor.batchNorm(x, weight: w, bias: b, channelAxis: 1, epsilon: 1e-5)
        let fromBlocked = Tensor.batchNorm(blocked(x, block: block), weight: w, bias: b, channelAxis: 1, epsilon: 1e-5)
        #expect(relativeError(fromBlocked.mean, plain.mean) < 1e-5)
        #expect(relativeError(fromBlocked.variance, plain.variance) < 1e-5)
    }

    @Test func batchNormStatisticsSurviveALargeOffset() {
        // Mean 100, standard deviation 0.1: a one-pass E[x²] − E[x]² would lose every digit.
        let x = randomTensor([16, 8, 6, 6], seed: 12, scale: 0.1) + 100
        let w = Tensor(ones: [8]), b = Tensor(zeros: [8])
        let plain = Tensor.batchNorm(x, weight: w, bias: b, channelAxis: 1, epsilon: 1e-5)
        let fromBlocked = Tensor.batchNorm(blocked(x, block: 8), weight: w, bias: b, channelAxis: 1, epsilon: 1e-5)
        #expect(relativeError(fromBlocked.variance, plain.variance) < 1e-3)
        #expect(relativeError(fromBlocked.mean, plain.mean) < 1e-6)
    }

    @Test(arguments: [8, 16])
    func averagePooling(_ block: Int) {
        let x = randomTensor([3, 10, 6, 8], seed: 7)
        compare(x, params: [], block: block) { x, _ in x.avgPool2d(kernelSize: (2, 2)) }
        #expect(blocked(x, block: block).avgPool2d(kernelSize: (2, 2)).blockedImage != nil)
    }

    @Test(arguments: [8, 16])
    func maxPooling(_ block: Int) {
        let x = distinctTensor([3, 10, 6, 8], seed: 13)
        compare(x, params: [], block: block) { x, _ in x.maxPool2d(kernelSize: (2, 2)) }
        // Ties: the first maximum of the window (row-major) gets the gradient, in both paths.
        let ties = Tensor(shape: [1, 8, 2, 2], scalars: (0..<32).map { Float($0 / 4 % 2) })
        compare(ties, params: [], block: block) { x, _ in x.maxPool2d(kernelSize: (2, 2)) }
        #expect(blocked(x, block: block).maxPool2d(kernelSize: (2, 2)).blockedImage != nil)
    }

    @Test func convolutionReadsAndWritesBlocked() throws {
        try #require(ConvolutionBackend.oneDNNAvailable, "oneDNN is not installed")
        let x = randomTensor([4, 16, 9, 7], seed: 8), w = randomTensor([24, 16, 3, 3], seed: 9, scale: 0.2)
        let conv: (Tensor, [Tensor]) -> Tensor = { x, p in Tensor.conv2d(x, weight: p[0], padding: (1, 1)) }
        // Against the im2col reference, for a blocked input (the layout oneDNN picks on this CPU).
        let expected = naiveConv2d(x, w, bias: nil, stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1)
        let plainOut = Tensor.conv2d(x, weight: w, padding: (1, 1))
        if BLAS.cpuHasAVX2 { #expect(plainOut.blockedImage != nil, "oneDNN on an AVX2 CPU should work in nChw8c/16c") }
        if let block = plainOut.blockedImage?.layout.block {
            #expect(relativeError(Tensor.conv2d(blocked(x, block: block), weight: w, padding: (1, 1)), expected) < 1e-5)
            compare(x, params: [w], block: block, tolerance: 1e-4, conv)
        }
        #expect(relativeError(plainOut, expected) < 1e-5)
        // With propagation off, nothing comes out blocked.
        Tensor.$propagatesBlockedLayouts.withValue(false) {
            #expect(Tensor.conv2d(x, weight: w, padding: (1, 1)).blockedImage == nil)
        }
    }
}
