import SNN
import SNNTestSupport
import Testing

/// Every primitive's pullback against central finite differences.
@Suite struct GradientTests {
    static let tolerance: Float = 1e-2

    @Test(arguments: [
        ([3, 4], [3, 4]), ([3, 4], [4]), ([2, 3, 4], [3, 1]), ([1, 4], [3, 1]), ([2, 1, 3], [4, 1]), ([5], []),
    ])
    func arithmetic(shapes: ([Int], [Int])) {
        let a = randomTensor(shapes.0, seed: 1), b = randomTensorAwayFromZero(shapes.1, seed: 2, margin: 0.5)
        #expect(gradientError(at: [a, b]) { $0[0] + $0[1] } < Self.tolerance)
        #expect(gradientError(at: [a, b]) { $0[0] - $0[1] } < Self.tolerance)
        #expect(gradientError(at: [a, b]) { $0[0] * $0[1] } < Self.tolerance)
        #expect(gradientError(at: [a, b]) { $0[0] / $0[1] } < Self.tolerance)
        #expect(gradientError(at: [b, a]) { -$0[0] * 2 + 1 - $0[1] / 3 } < Self.tolerance)
    }

    @Test func unaryMath() {
        let x = randomTensor([2, 3, 5], seed: 3)
        let positive = (randomTensor([2, 3, 5], seed: 4).abs() + 0.5)
        let away = randomTensorAwayFromZero([2, 3, 5], seed: 5)
        #expect(gradientError(at: [x]) { $0[0].exp() } < Self.tolerance)
        #expect(gradientError(at: [positive]) { $0[0].log() } < Self.tolerance)
        #expect(gradientError(at: [positive]) { $0[0].sqrt() } < Self.tolerance)
        #expect(gradientError(at: [positive]) { $0[0].pow(1.5) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].squared() } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].tanh() } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].sigmoid() } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].gelu() } < Self.tolerance)
        #expect(gradientError(at: [away]) { $0[0].relu() } < Self.tolerance)
        #expect(gradientError(at: [away]) { $0[0].leakyRelu(negativeSlope: 0.1) } < Self.tolerance)
        #expect(gradientError(at: [away]) { $0[0].abs() } < Self.tolerance)
        #expect(gradientError(at: [away]) { $0[0].clamped(min: -0.05, max: 0.05) } < Self.tolerance)
    }

    @Test func selection() {
        let a = distinctTensor([3, 4], seed: 6), b = distinctTensor([3, 4], seed: 7, spacing: 0.13)
        let condition = randomTensor([3, 1], seed: 8) .> Tensor(0)
        #expect(gradientError(at: [a, b]) { Tensor.select(condition, $0[0], $0[1]) } < Self.tolerance)
        #expect(gradientError(at: [a, b]) { Tensor.maximum($0[0], $0[1]) } < Self.tolerance)
        #expect(gradientError(at: [a, b]) { Tensor.minimum($0[0], $0[1]) } < Self.tolerance)
    }

    @Test func layout() {
        let x = randomTensor([2, 3, 4], seed: 9)
        #expect(gradientError(at: [x]) { $0[0].reshaped(to: [4, -1]) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].permuted([2, 0, 1]) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].transposed() } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].slice(1..<3, alongAxis: 1) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].selecting(1, alongAxis: -1) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].padded([(1, 2), (0, 1)]) } < Self.tolerance)
        #expect(
            gradientError(at: [x]) { $0[0].reshaped(to: [2, 1, 3, 4]).broadcast(to: [2, 5, 3, 4]) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].repeated(3) } < Self.tolerance)
        let y = randomTensor([2, 2, 4], seed: 10)
        #expect(gradientError(at: [x, y]) { Tensor.concatenate([$0[0], $0[1]], alongAxis: 1) } < Self.tolerance)
        #expect(gradientError(at: [x, x * 2]) { Tensor.stack([$0[0], $0[1]], alongAxis: 1) } < Self.tolerance)
    }

    @Test func reductions() {
        let x = randomTensor([3, 4, 5], seed: 11)
        #expect(gradientError(at: [x]) { $0[0].sum() } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].sum(alongAxes: [0, 2]) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].sum(alongAxis: 1, keepingDimensions: true) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].mean(alongAxis: -1) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].mean() } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].variance(alongAxes: [0, 2]) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].variance(alongAxis: 1, unbiased: true) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].logSoftmax(alongAxis: 1) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].softmax(alongAxis: -1) } < Self.tolerance)
        let d = distinctTensor([3, 4, 5], seed: 12)
        #expect(gradientError(at: [d]) { $0[0].max(alongAxis: 1) } < Self.tolerance)
        #expect(gradientError(at: [d]) { $0[0].max() } < Self.tolerance)
    }

    @Test func matmul() {
        let a = randomTensor([3, 4], seed: 13), b = randomTensor([4, 5], seed: 14)
        #expect(gradientError(at: [a, b]) { Tensor.matmul($0[0], $0[1]) } < Self.tolerance)
        #expect(
            gradientError(at: [a, b.transposed()]) { Tensor.matmul($0[0], $0[1], transposeB: true) } < Self.tolerance)
        #expect(
            gradientError(at: [a.transposed(), b]) { Tensor.matmul($0[0], $0[1], transposeA: true) } < Self.tolerance)
        #expect(
            gradientError(at: [a.transposed(), b.transposed()]) {
                Tensor.matmul($0[0], $0[1], transposeA: true, transposeB: true)
            } < Self.tolerance)
        let batched = randomTensor([2, 3, 3, 4], seed: 15), rhs = randomTensor([2, 3, 4, 2], seed: 16)
        #expect(gradientError(at: [batched, b]) { Tensor.matmul($0[0], $0[1]) } < Self.tolerance)
        #expect(gradientError(at: [batched, rhs]) { Tensor.matmul($0[0], $0[1]) } < Self.tolerance)
        #expect(
            gradientError(at: [batched, rhs.transposed()]) { Tensor.matmul($0[0], $0[1], transposeB: true) }
                < Self.tolerance)
        #expect(
            gradientError(at: [a, randomTensor([2, 4, 5], seed: 17)]) { Tensor.matmul($0[0], $0[1]) } < Self.tolerance)
    }

    struct ConvCase: Sendable, CustomTestStringConvertible {
        var input: [Int], outChannels: Int, kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)
        var dilation: (Int, Int), groups: Int, bias: Bool
        var testDescription: String {
            "\(input)→\(outChannels) k\(kernel) s\(stride) p\(padding) d\(dilation) g\(groups)"
        }
    }

    static let convCases: [ConvCase] = [
        ConvCase(
            input: [2, 3, 5, 6], outChannels: 4, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1),
            groups: 1, bias: true),
        ConvCase(
            input: [1, 2, 7, 5], outChannels: 3, kernel: (3, 2), stride: (2, 2), padding: (0, 1), dilation: (1, 1),
            groups: 1, bias: false),
        ConvCase(
            input: [2, 4, 6, 6], outChannels: 6, kernel: (3, 3), stride: (1, 2), padding: (2, 1), dilation: (2, 1),
            groups: 2, bias: true),
        ConvCase(
            input: [2, 3, 5, 5], outChannels: 3, kernel: (3, 3), stride: (1, 1), padding: (1, 1), dilation: (1, 1),
            groups: 3, bias: true),
    ]

    @Test(arguments: convCases)
    func conv2d(_ c: ConvCase) {
        for backend in [ConvolutionBackend.reference, .automatic] {
            let x = randomTensor(c.input, seed: 18)
            let w = randomTensor([c.outChannels, c.input[1] / c.groups, c.kernel.0, c.kernel.1], seed: 19, scale: 0.5)
            let b = randomTensor([c.outChannels], seed: 20)
            let error = ConvolutionBackend.$current.withValue(backend) {
                gradientError(at: c.bias ? [x, w, b] : [x, w]) { t in
                    Tensor.conv2d(
                        t[0], weight: t[1], bias: c.bias ? t[2] : nil, stride: c.stride, padding: c.padding,
                        dilation: c.dilation, groups: c.groups)
                }
            }
            #expect(error < Self.tolerance, "backend \(backend)")
        }
    }

    @Test func conv1d() {
        let x = randomTensor([2, 4, 9], seed: 21), w = randomTensor([6, 2, 3], seed: 22),
            b = randomTensor([6], seed: 23)
        #expect(
            gradientError(at: [x, w, b]) {
                Tensor.conv1d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1, dilation: 1, groups: 2)
            } < Self.tolerance)
    }

    @Test func pooling() {
        let x = distinctTensor([2, 3, 7, 6], seed: 24)
        #expect(gradientError(at: [x]) { $0[0].maxPool2d(kernelSize: (2, 2)) } < Self.tolerance)
        #expect(
            gradientError(at: [x]) { $0[0].maxPool2d(kernelSize: (3, 3), stride: (2, 1), padding: (1, 1)) }
                < Self.tolerance)
        #expect(
            gradientError(at: [x]) { $0[0].avgPool2d(kernelSize: (2, 3), stride: (2, 2), padding: (1, 1)) }
                < Self.tolerance)
        // The 2×2 fast path, odd sizes.
        #expect(gradientError(at: [x]) { $0[0].avgPool2d(kernelSize: (2, 2)) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].adaptiveAvgPool2d(outputSize: (3, 4)) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].adaptiveAvgPool2d(outputSize: (1, 1)) } < Self.tolerance)
    }

    @Test func interpolation() {
        let x = randomTensor([2, 2, 5, 4], seed: 25)
        #expect(gradientError(at: [x]) { $0[0].interpolated(size: (7, 3), mode: .bilinear) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].interpolated(size: (3, 9), mode: .bilinear) } < Self.tolerance)
        #expect(gradientError(at: [x]) { $0[0].interpolated(size: (8, 3), mode: .nearest) } < Self.tolerance)
    }

    @Test func batchNorm() {
        let x = randomTensor([3, 4, 2, 5], seed: 30), w = randomTensor([4], seed: 31), b = randomTensor([4], seed: 32)
        #expect(
            gradientError(at: [x, w, b]) {
                Tensor.batchNorm($0[0], weight: $0[1], bias: $0[2], channelAxis: 1, epsilon: 1e-5).output
            } < Self.tolerance)
        let stats = (mean: randomTensor([5], seed: 33), variance: randomTensor([5], seed: 34).abs() + 0.5)
        let x2 = randomTensor([2, 3, 5], seed: 35), w2 = randomTensor([5], seed: 36), b2 = randomTensor([5], seed: 37)
        #expect(
            gradientError(at: [x2, w2, b2]) {
                Tensor.batchNorm($0[0], weight: $0[1], bias: $0[2], channelAxis: -1, epsilon: 1e-5, statistics: stats)
                    .output
            } < Self.tolerance)
    }

    @Test func broadcastCoalescing() {
        // Shapes whose axes merge in different ways, against an element-by-element reference.
        for (sa, sb) in [
            ([2, 3, 4, 5], [1, 3, 1, 1]), ([2, 3, 4, 5], [3, 4, 1]), ([4, 1, 5], [1, 3, 1]), ([2, 3, 4], [2, 1, 4]),
        ] {
            let a = randomTensor(sa, seed: 40), b = randomTensor(sb, seed: 41)
            let out = a - b
            let shape = Tensor.broadcastShape(sa, sb)
            let av = a.scalars, bv = b.scalars, ov = out.scalars
            for flat in 0..<ov.count {
                var rem = flat, ia = 0, ib = 0, strideA = 1, strideB = 1
                for d in stride(from: shape.count - 1, through: 0, by: -1) {
                    let q = rem % shape[d]
                    rem /= shape[d]
                    let da = d - (shape.count - sa.count), db = d - (shape.count - sb.count)
                    if da >= 0 { if sa[da] != 1 { ia += q * strideA }; strideA *= sa[da] }
                    if db >= 0 { if sb[db] != 1 { ib += q * strideB }; strideB *= sb[db] }
                }
                #expect(ov[flat] == av[ia] - bv[ib], "\(sa) - \(sb) at \(flat)")
            }
        }
    }

    @Test func gradientAccumulatesOverReuse() {
        // f(x) = x·x + x uses x three times; df/dx = 2x + 1.
        let x = randomTensor([4], seed: 26)
        let g = gradient(at: x) { ($0 * $0 + $0).sum() }
        #expect(g.isClose(to: x * 2 + 1))
    }
}
