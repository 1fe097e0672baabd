import CSNNKernels
import Foundation
import SNN
import SNNTestSupport
import Testing

/// Fast kernels against naive loops, closed forms and hand-computed values.
@Suite struct KernelTests {
    @Test func blasUsesTheFastKernel() {
        // Debian's OpenBLAS falls back to "Prescott" on CPUs it does not know unless the loader sets
        // OPENBLAS_CORETYPE first; on an AVX-512 machine anything else than SkylakeX (or a newer
        // kernel the user chose) means the fix regressed.
        #expect(!BLAS.description.isEmpty)
        if BLAS.cpuHasAVX2 && !BLAS.coreName.isEmpty {
            #expect(
                !BLAS.slowCoreNames.contains(BLAS.coreName.lowercased()),
                "OpenBLAS picked \(BLAS.coreName) on an AVX2 CPU: \(BLAS.description)")
        }
        if BLAS.cpuHasAVX512 && !BLAS.coreName.isEmpty
            && ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil
        {
            #expect(BLAS.coreName == BLAS.preferredCoreName, "OpenBLAS picked \(BLAS.coreName) on an AVX-512 CPU")
        }
    }

    @Test(arguments: [(1, 1, 1), (3, 5, 7), (17, 33, 9), (64, 31, 130), (5, 0, 4)])
    func matmulMatchesNaive(_ dims: (Int, Int, Int)) {
        let (m, k, n) = dims
        let a = randomTensor([m, k], seed: 1), b = randomTensor([k, n], seed: 2)
        #expect(relativeError(Tensor.matmul(a, b), naiveMatmul(a, b)) < 1e-5)
        #expect(relativeError(Tensor.matmul(a.transposed(), b, transposeA: true), naiveMatmul(a, b)) < 1e-5)
        #expect(relativeError(Tensor.matmul(a, b.transposed(), transposeB: true), naiveMatmul(a, b)) < 1e-5)
    }

    @Test func batchedMatmulMatchesPerBatch() {
        let a = randomTensor([3, 4, 5], seed: 3), b = randomTensor([3, 5, 6], seed: 4)
        let c = Tensor.matmul(a, b)
        for i in 0..<3 {
            #expect(relativeError(c.selecting(i), naiveMatmul(a.selecting(i), b.selecting(i))) < 1e-5)
        }
    }

    static let convShapes: [([Int], Int, (Int, Int), (Int, Int), (Int, Int), (Int, Int), Int)] = [
        ([2, 3, 7, 5], 4, (3, 3), (1, 1), (1, 1), (1, 1), 1),
        ([3, 4, 9, 8], 6, (3, 2), (2, 2), (0, 1), (1, 1), 2),
        ([1, 6, 11, 7], 6, (3, 3), (2, 1), (2, 2), (2, 2), 6),
        ([2, 8, 13, 13], 16, (5, 5), (2, 2), (2, 2), (1, 1), 4),
        ([5, 2, 4, 4], 3, (1, 1), (1, 1), (0, 0), (1, 1), 1),
    ]

    @Test(arguments: convShapes)
    func convMatchesNaiveLoops(_ c: ([Int], Int, (Int, Int), (Int, Int), (Int, Int), (Int, Int), Int)) {
        let (input, outChannels, kernel, stride, padding, dilation, groups) = c
        let x = randomTensor(input, seed: 5)
        let w = randomTensor([outChannels, input[1] / groups, kernel.0, kernel.1], seed: 6)
        let b = randomTensor([outChannels], seed: 7)
        let expected = naiveConv2d(x, w, bias: b, stride: stride, padding: padding, dilation: dilation, groups: groups)
        // Gradients of sum(y * r) are, by linearity, convolutions too: compare both backends' pullbacks.
        let r = randomTensor(expected.shape, seed: 8)
        var results: [(Tensor, [Tensor])] = []
        for backend in [ConvolutionBackend.reference, .automatic] {
            ConvolutionBackend.$current.withValue(backend) {
                let y = Tensor.conv2d(
                    x, weight: w, bias: b, stride: stride, padding: padding, dilation: dilation,
                    groups: groups)
                #expect(relativeError(y, expected) < 1e-5, "backend \(backend)")
                let (_, grads) = valueWithGradient(at: [x, w, b]) { t in
                    (Tensor.conv2d(
                        t[0], weight: t[1], bias: t[2], stride: stride, padding: padding,
                        dilation: dilation, groups: groups) * r).sum()
                }
                results.append((y, grads))
            }
        }
        // The bias gradient is the sum of r over all but the channel axis: a closed form.
        #expect(relativeError(results[0].1[2], r.sum(alongAxes: [0, 2, 3])) < 1e-5)
        for k in 0..<3 { #expect(relativeError(results[1].1[k], results[0].1[k]) < 1e-4) }
        // The input gradient is the adjoint: <conv(x), r> = <x, dx> for a bias-free conv.
        let lhs =
            (naiveConv2d(x, w, bias: nil, stride: stride, padding: padding, dilation: dilation, groups: groups) * r)
            .sum().item
        let rhs = (x * results[0].1[0]).sum().item
        #expect(abs(lhs - rhs) <= 1e-4 * max(1, abs(lhs)))
    }

    /// The major version of the oneDNN library this process can load itself, 0 when none loads.
    static let loadableOneDNNMajor: Int32 = {
        #if canImport(Darwin)
        let names = ["libdnnl.2.dylib", "libdnnl.dylib"]
        #else
        let names = ["libdnnl.so.2", "libdnnl.so"]
        #endif
        for name in names {
            guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL), let symbol = dlsym(handle, "dnnl_version") else {
                continue
            }
            // dnnl_version_t starts with `int major` in every oneDNN release.
            let version = unsafeBitCast(symbol, to: (@convention(c) () -> UnsafePointer<Int32>?).self)
            return version()?.pointee ?? 0
        }
        return 0
    }()

    @Test(.enabled(if: loadableOneDNNMajor != 0, "no oneDNN library loads here (install libdnnl-dev: make deps)"))
    func oneDNNIsBoundAtRunTime() {
        // The adapter is compiled without oneDNN's headers and binds the library on first use, so a
        // 2.x library that loads must be in use, whatever was installed when the package was built;
        // another major version (whose structures differ) must be refused.
        #expect(
            ConvolutionBackend.oneDNNAvailable == (Self.loadableOneDNNMajor == 2),
            "oneDNN \(Self.loadableOneDNNMajor) loads, but the adapter says \(ConvolutionBackend.oneDNNAvailable)")
        guard ConvolutionBackend.oneDNNAvailable else { return }
        // And convolutions run through it: the adapter's own entry point (which answers 0 only when
        // oneDNN computed the result) against the naive loop, so that the automatic choice's own
        // fallbacks cannot hide a library that does not work.
        let x = randomTensor([2, 16, 6, 5], seed: 11), w = randomTensor([8, 16, 3, 3], seed: 12)
        let b = randomTensor([8], seed: 13)
        let expected = naiveConv2d(x, w, bias: b, stride: (1, 1), padding: (1, 1), dilation: (1, 1), groups: 1)
        var p = snn_conv2d_params(
            batch: 2, in_channels: 16, in_height: 6, in_width: 5, out_channels: 8,
            kernel_height: 3, kernel_width: 3, stride_h: 1, stride_w: 1, pad_h: 1, pad_w: 1,
            dilation_h: 1, dilation_w: 1, groups: 1, out_height: 6, out_width: 5)
        var y = [Float](repeating: .nan, count: expected.scalars.count)
        let status = snn_dnnl_conv2d_forward(&p, x.scalars, w.scalars, b.scalars, &y)
        #expect(status == 0, "snn_dnnl_conv2d_forward returned \(status)")
        #expect(relativeError(Tensor(shape: expected.shape, scalars: y), expected) < 1e-5)
    }

    /// The backend is chosen for the work a caller runs, not for the whole process. ThreadSanitizer
    /// found the parallel convolution tests racing on what was one static variable, each test's
    /// choice reaching the others' convolutions.
    @Test func backendChoiceStaysWithItsTask() async {
        await ConvolutionBackend.$current.withValue(.reference) {
            #expect(ConvolutionBackend.current == .reference)
            async let child = ConvolutionBackend.current  // structured child tasks inherit it
            #expect(await child == .reference)
            let elsewhere = await Task.detached { ConvolutionBackend.current }.value  // as another test would see
            #expect(elsewhere == .automatic)
        }
        #expect(ConvolutionBackend.current == .automatic)
    }

    @Test func maxPoolMatchesNaive() {
        let x = randomTensor([2, 3, 7, 6], seed: 9)
        let y = x.maxPool2d(kernelSize: (3, 2), stride: (2, 2), padding: (1, 1))
        let xs = x.scalars
        var expected: [Float] = []
        for p in 0..<6 {
            for oy in 0..<4 {
                for ox in 0..<4 {
                    var best = -Float.infinity
                    for dy in 0..<3 {
                        for dx in 0..<2 {
                            let iy = oy * 2 - 1 + dy, ix = ox * 2 - 1 + dx
                            if iy >= 0 && iy < 7 && ix >= 0 && ix < 6 { best = max(best, xs[p * 42 + iy * 6 + ix]) }
                        }
                    }
                    expected.append(best)
                }
            }
        }
        #expect(y.shape == [2, 3, 4, 4])
        #expect(y.scalars == expected)
    }

    @Test func avgPoolFastPathEqualsGeneralPath() {
        // 2×2/stride 2 takes a specialised loop; with an explicit stride of (2, 1) followed by
        // subsampling the general loop computes the same windows.
        let x = randomTensor([2, 3, 7, 9], seed: 12)
        let fast = x.avgPool2d(kernelSize: (2, 2))
        let general = x.avgPool2d(kernelSize: (2, 2), stride: (2, 1))
        let picked = Tensor.stack((0..<4).map { general.selecting(2 * $0, alongAxis: 3) }, alongAxis: 3)
        #expect(fast.scalars == picked.scalars)
    }

    @Test func avgPoolAndAdaptivePoolClosedForms() {
        let x = Tensor(shape: [1, 1, 4, 4], scalars: (0..<16).map(Float.init))
        #expect(x.avgPool2d(kernelSize: (2, 2)).scalars == [2.5, 4.5, 10.5, 12.5])
        // Padding counts in the divisor: the corner window holds only x[0, 0] = 0 yet divides by 4.
        let padded = x.avgPool2d(kernelSize: (2, 2), stride: (2, 2), padding: (1, 1))
        let expectedPadded: [Float] = [0, 0.75, 0.75, 3, 7.5, 4.5, 3, 6.75, 3.75]
        #expect(padded.scalars == expectedPadded)
        // Adaptive 4 → 3 uses windows [0,2), [1,3), [2,4) on each axis.
        let adaptive = x.adaptiveAvgPool2d(outputSize: (3, 3))
        #expect(adaptive.scalars == [2.5, 3.5, 4.5, 6.5, 7.5, 8.5, 10.5, 11.5, 12.5])
        #expect(x.adaptiveAvgPool2d(outputSize: (1, 1)).scalars == [7.5])
    }

    @Test func interpolationClosedForms() {
        let x = Tensor(shape: [1, 1, 2, 2], scalars: [0, 1, 2, 3])
        // PyTorch: F.interpolate(x, size=(4, 4), mode='bilinear', align_corners=False)
        let expected: [Float] = [0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]
        #expect(x.interpolated(size: (4, 4), mode: .bilinear).scalars == expected)
        #expect(x.interpolated(size: (3, 3), mode: .nearest).scalars == [0, 0, 1, 0, 0, 1, 2, 2, 3])
        // Down-sampling by 2 with bilinear averages the centre pair of each 2×2 block.
        let big = Tensor(shape: [1, 4, 4], scalars: (0..<16).map(Float.init))
        #expect(big.interpolated(size: (2, 2), mode: .bilinear).scalars == [2.5, 4.5, 10.5, 12.5])
    }

    @Test func broadcastingValues() {
        let a = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect((a + Tensor([10, 20, 30])).scalars == [11, 22, 33, 14, 25, 36])
        #expect((a * Tensor(shape: [2, 1], scalars: [2, 3])).scalars == [2, 4, 6, 12, 15, 18])
        #expect((Tensor(shape: [2, 1], scalars: [1, 2]) - Tensor([1, 2, 3])).scalars == [0, -1, -2, 1, 0, -1])
        #expect(a.sum(alongAxis: 0).scalars == [5, 7, 9])
        #expect(a.sum(alongAxis: 1).scalars == [6, 15])
        #expect(a.permuted([1, 0]).scalars == [1, 4, 2, 5, 3, 6])
        #expect(a.max(alongAxis: 1).scalars == [3, 6])
        #expect(a.argmax(alongAxis: 0) == [1, 1, 1])
        #expect(a.variance(alongAxis: 1).scalars.map { ($0 * 1000).rounded() } == [667, 667])
        #expect(Tensor.concatenate([a, a], alongAxis: 1).scalars == [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6])
        #expect(a.padded(alongAxis: 1, before: 1, after: 0).scalars == [0, 1, 2, 3, 0, 4, 5, 6])
        #expect(a.slice(1..<3, alongAxis: 1).scalars == [2, 3, 5, 6])
    }

    @Test func largeReductionsAreDeterministicAndAccurate() {
        let x = randomTensor([3, 100_003], seed: 10)
        let s1 = x.sum(alongAxis: 1).scalars, s2 = x.sum(alongAxis: 1).scalars
        #expect(s1 == s2)
        let xs = x.scalars
        for r in 0..<3 {
            let exact = xs[(r * 100_003)..<((r + 1) * 100_003)].reduce(0.0) { $0 + Double($1) }
            #expect(abs(Double(s1[r]) - exact) < 1e-2)
        }
        let column = randomTensor([70_001, 3], seed: 11)
        let cs = column.sum(alongAxis: 0).scalars, colValues = column.scalars
        for c in 0..<3 {
            let exact = stride(from: c, to: colValues.count, by: 3).reduce(0.0) { $0 + Double(colValues[$1]) }
            #expect(abs(Double(cs[c]) - exact) < 1e-2)
        }
    }

    @Test func randomStreamsAreReproducible() {
        var g1 = RandomGenerator(seed: 42), g2 = RandomGenerator(seed: 42), g3 = RandomGenerator(seed: 43)
        let a = Tensor.randomNormal([1000], using: &g1), b = Tensor.randomNormal([1000], using: &g2)
        let c = Tensor.randomNormal([1000], using: &g3)
        #expect(a.scalars == b.scalars)
        #expect(a.scalars != c.scalars)
        // Moments of 10⁵ draws: mean within 5σ/√n, variance within a few percent.
        var g = RandomGenerator(seed: 1)
        let n = Tensor.randomNormal([100_000], mean: 2, standardDeviation: 3, using: &g)
        #expect(abs(n.mean().item - 2) < 5 * 3 / 316)
        #expect(abs(n.variance(alongAxis: 0).item - 9) < 0.3)
        let u = Tensor.randomUniform([100_000], lower: -1, upper: 3, using: &g)
        #expect(u.scalars.allSatisfy { $0 >= -1 && $0 < 3 })
        #expect(abs(u.mean().item - 1) < 0.03)
        let bern = Tensor.bernoulli([100_000], probability: 0.3, using: &g)
        #expect(bern.scalars.allSatisfy { $0 == 0 || $0 == 1 })
        #expect(abs(bern.mean().item - 0.3) < 5 * 0.46 / 316)
        let p = g.permutation(1000)
        #expect(p.sorted() == Array(0..<1000))
        #expect(p != Array(0..<1000))
        // Known values pin the stream across platforms and releases (xoshiro256** seeded by
        // SplitMix64 with seed 0, computed by an independent Python implementation).
        var pinned = RandomGenerator(seed: 0)
        #expect(
            [pinned.next(), pinned.next(), pinned.next()] == [
                11091344671253066420, 13793997310169335082, 1900383378846508768,
            ])
    }
}

/// The checked sizes commands compute before allocating from user input.
@Suite struct MemoryEstimateTests {
    @Test func productsAndSumsReportOverflowInsteadOfTrapping() {
        #expect(MemoryEstimate.checkedProduct([]) == 1)
        #expect(MemoryEstimate.checkedProduct([100_000, 2, 260, 346, 4]) == 71_968_000_000)
        #expect(MemoryEstimate.checkedProduct([Int.max, 2]) == nil)
        #expect(MemoryEstimate.checkedProduct([1 << 32, 1 << 31]) == nil)
        #expect(MemoryEstimate.checkedProduct([1 << 31, 1 << 31]) == 1 << 62)
        #expect(MemoryEstimate.checkedProduct([Int.max, 0]) == 0)  // nothing to allocate
        #expect(MemoryEstimate.checkedProduct([3, -1]) == nil)
        #expect(MemoryEstimate.checkedSum([1, 2, 3]) == 6)
        #expect(MemoryEstimate.checkedSum([Int.max, 1]) == nil)
        #expect(MemoryEstimate.checkedSum([1, nil]) == nil)
        #expect(MemoryEstimate.checkedSum([-1]) == nil)
    }

    @Test func sizesAreComparedWithThePhysicalMemory() {
        let memory = MemoryEstimate.physicalMemory
        #expect(memory == Int(clamping: ProcessInfo.processInfo.physicalMemory) && memory > 0)
        #expect(MemoryEstimate.excess(memory) == nil)
        let excess = MemoryEstimate.excess(memory + 1)
        #expect(excess?.hasPrefix("would take ") == true && excess?.contains("of memory of this machine") == true)
        let sizes = [0, 512, 999, 1000, 1500, 999_499, 35_433_480_128, 71_968_000_000, Int.max]
        #expect(
            sizes.map(MemoryEstimate.formatted)
                == ["0 B", "512 B", "999 B", "1.00 kB", "1.50 kB", "999 kB", "35.4 GB", "72.0 GB", "9.22 EB"])
    }
}
