import CSNNKernels

/// Row-major C = op(A)·op(B) (+ beta·C) through the BLAS (see ``BLAS``).
@inline(__always)
func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>,
    beta: Float = 0
) {
    snn_sgemm(
        transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), 1, a,
        Int32(transposeA ? m : k), b, Int32(transposeB ? k : n), beta, c, Int32(n))
}

/// Facts about the BLAS the library runs on.
public enum BLAS {
    /// Library, version and kernel, e.g. "OpenBLAS 0.3.21 ... SkylakeX".
    public static var description: String { String(cString: snn_blas_description()) }
    /// Whether matrix products run on the portable C fallback because no optimised BLAS (OpenBLAS,
    /// Accelerate) could be loaded.
    public static var isPortableFallback: Bool { snn_blas_is_portable() != 0 }
    /// The kernel OpenBLAS chose ("" when the BLAS is not OpenBLAS).
    public static var coreName: String { String(cString: snn_blas_core_name()) }
    /// Sets the BLAS thread count.
    public static func setThreadCount(_ n: Int) { snn_blas_set_threads(Int32(n)) }
    /// Whether the CPU has AVX-512 (then OpenBLAS must not report an older core such as "Prescott").
    public static var cpuHasAVX512: Bool { snn_cpu_has_avx512() != 0 }
    /// Whether the CPU has AVX2 and FMA.
    public static var cpuHasAVX2: Bool { snn_cpu_has_avx2() != 0 }
    /// The kernel the loader asks OpenBLAS for on this CPU ("" = OpenBLAS decides).
    public static var preferredCoreName: String { String(cString: snn_blas_preferred_core()) }
    /// OpenBLAS kernels that predate AVX2: a sign that CPU detection failed on an AVX2 machine.
    public static let slowCoreNames: Set<String> = [
        "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine", "northwood",
        "banias", "opteron", "opteron_sse3", "barcelona", "bobcat", "sandybridge", "bulldozer", "piledriver",
        "steamroller", "excavator", "generic",
    ]
}

extension Tensor {
    /// Matrix product over the last two axes, with optional transposition of either operand.
    ///
    /// `a` is `[..., m, k]` (or `[..., k, m]` transposed), `b` is `[k, n]` or `[..., k, n]` with the same
    /// leading axes as `a` (a 2-D operand is broadcast over the other's leading axes).
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank >= 2 && b.rank >= 2, "matmul: operands need rank ≥ 2, got \(a.shape) and \(b.shape)")
        let m = transposeA ? a.shape[a.rank - 1] : a.shape[a.rank - 2]
        let ka = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1]
        let kb = transposeB ? b.shape[b.rank - 1] : b.shape[b.rank - 2]
        let n = transposeB ? b.shape[b.rank - 2] : b.shape[b.rank - 1]
        precondition(
            ka == kb,
            "matmul: inner dimensions differ: \(a.shape)\(transposeA ? "ᵀ" : "") · \(b.shape)\(transposeB ? "ᵀ" : "")")
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))

        // One GEMM when b is a plain matrix and a's leading axes can fold into its rows.
        if batchB.isEmpty && !transposeA && !batchA.isEmpty {
            let folded = matmul(a.reshaped(to: [-1, ka]), b, transposeB: transposeB)
            return folded.reshaped(to: batchA + [m, n])
        }
        if batchA != batchB {
            let batch = Tensor.broadcastShape(batchA, batchB)
            return matmul(
                a.broadcast(to: batch + Array(a.shape.suffix(2))),
                b.broadcast(to: batch + Array(b.shape.suffix(2))),
                transposeA: transposeA, transposeB: transposeB)
        }
        let batches = batchA.reduce(1, *)
        let out = Tensor(uninitializedShape: batchA + [m, n])
        let pa = a.storage.pointer, pb = b.storage.pointer, po = out.storage.pointer
        for i in 0..<batches {
            sgemm(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: ka,
                pa + i * m * ka, pb + i * ka * n, po + i * m * n)
        }
        return Tensor(out, inputs: [a, b]) { g, needs in
            let da: Tensor?, db: Tensor?
            switch (transposeA, transposeB) {
            case (false, false):
                da = needs[0] ? matmul(g, b, transposeB: true) : nil
                db = needs[1] ? matmul(a, g, transposeA: true) : nil
            case (false, true):
                da = needs[0] ? matmul(g, b) : nil
                db = needs[1] ? matmul(g, a, transposeA: true) : nil
            case (true, false):
                da = needs[0] ? matmul(b, g, transposeB: true) : nil
                db = needs[1] ? matmul(a, g) : nil
            case (true, true):
                da = needs[0] ? matmul(b, g, transposeA: true, transposeB: true) : nil
                db = needs[1] ? matmul(g, a, transposeA: true, transposeB: true) : nil
            }
            return [da, db]
        }
    }
}
