#ifndef SNN_BLAS_H
#define SNN_BLAS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Row-major single-precision matrix product C = alpha * op(A) * op(B) + beta * C, where op
/// transposes when the matching flag is nonzero (the cblas_sgemm contract, row-major only).
///
/// On Linux the BLAS is OpenBLAS, loaded on first use with dlopen *after* OPENBLAS_CORETYPE has been
/// set to the best kernel this CPU supports (unless the user set it already): Debian's OpenBLAS 0.3.21
/// does not recognise recent Intel CPUs and would otherwise silently fall back to its slowest kernels.
/// When no OpenBLAS can be loaded, a portable blocked implementation in C runs instead.
/// On macOS the Accelerate framework is used.
void snn_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc);

/// The name of the BLAS in use and its kernel, e.g. "OpenBLAS 0.3.21 SkylakeX (pthread)",
/// "Accelerate" or "portable C".
const char *snn_blas_description(void);

/// 1 when no optimised BLAS could be loaded and the portable C loops run instead (tens of times slower
/// on large products), else 0.
int snn_blas_is_portable(void);

/// The core name OpenBLAS reports (e.g. "SkylakeX"), or "" when OpenBLAS is not the BLAS.
const char *snn_blas_core_name(void);

/// Sets the number of threads the BLAS uses (no effect with the portable fallback).
void snn_blas_set_threads(int threads);

/// Brackets a fork(): waits until no thread is inside the BLAS and keeps new calls out until
/// snn_blas_allow_calls(). OpenBLAS shuts its thread pool down in a fork handler, and a thread that
/// is inside a BLAS call at that moment hangs with the pool; every BLAS call holds this lock shared.
void snn_blas_hold_calls(void);
void snn_blas_allow_calls(void);

/// 1 when the CPU supports AVX-512F, else 0 (used to detect a regression of the core-type fix).
int snn_cpu_has_avx512(void);

/// 1 when the CPU supports AVX2 and FMA, else 0.
int snn_cpu_has_avx2(void);

/// The OPENBLAS_CORETYPE the loader sets for this CPU when the user has not set one
/// ("SkylakeX", "Haswell"), or "" when OpenBLAS's own detection is trusted.
const char *snn_blas_preferred_core(void);

#ifdef __cplusplus
}
#endif
#endif
