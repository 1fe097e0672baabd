// The BLAS loader. See snn_blas.h for the why.
#define _GNU_SOURCE
#include "snn_blas.h"

#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#if defined(__APPLE__)
#include <Accelerate/Accelerate.h>

void snn_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
const char *snn_blas_description(void) { return "Accelerate"; }
int snn_blas_is_portable(void) { return 0; }
const char *snn_blas_core_name(void) { return ""; }
void snn_blas_set_threads(int threads) { (void)threads; }
int snn_cpu_has_avx512(void) { return 0; }
int snn_cpu_has_avx2(void) { return 0; }
const char *snn_blas_preferred_core(void) { return ""; }
void snn_blas_hold_calls(void) {}
void snn_blas_allow_calls(void) {}

#else
#include "dl.h"
#include <pthread.h>

// cblas enum values (identical in every CBLAS): RowMajor = 101, NoTrans = 111, Trans = 112.
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                         float, float *, int);
typedef char *(*corename_fn)(void);
typedef char *(*config_fn)(void);
typedef void (*threads_fn)(int);

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static sgemm_fn blas_sgemm = NULL;
static corename_fn blas_corename = NULL;
static config_fn blas_config = NULL;
static threads_fn blas_threads = NULL;
static char description[256] = "portable C";

int snn_cpu_has_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
#else
    return 0;
#endif
}

int snn_cpu_has_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
#else
    return 0;
#endif
}

static const char *best_core_type(void);

const char *snn_blas_preferred_core(void) {
    const char *core = best_core_type();
    return core ? core : "";
}

static const char *best_core_type(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;  // let OpenBLAS decide
}

static void load_blas(void) {
    // The kernel choice happens in OpenBLAS's load-time constructor, so the variable must be set
    // before the library is loaded. A value the user chose is kept.
    const char *core = best_core_type();
    if (core && getenv("OPENBLAS_CORETYPE") == NULL) setenv("OPENBLAS_CORETYPE", core, 0);
    const char *names[] = {"libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0", NULL};
    void *handle = snn_dlopen_first(names);
    if (!handle) return;
    blas_sgemm = (sgemm_fn)dlsym(handle, "cblas_sgemm");
    blas_corename = (corename_fn)dlsym(handle, "openblas_get_corename");
    blas_config = (config_fn)dlsym(handle, "openblas_get_config");
    blas_threads = (threads_fn)dlsym(handle, "openblas_set_num_threads");
    if (!blas_sgemm) return;
    snprintf(description, sizeof description, "%s %s",
             blas_config ? blas_config() : "OpenBLAS", blas_corename ? blas_corename() : "");
}

const char *snn_blas_description(void) {
    pthread_once(&load_once, load_blas);
    return description;
}

int snn_blas_is_portable(void) {
    pthread_once(&load_once, load_blas);
    return blas_sgemm ? 0 : 1;
}

const char *snn_blas_core_name(void) {
    pthread_once(&load_once, load_blas);
    return (blas_sgemm && blas_corename) ? blas_corename() : "";
}



// Portable fallback: a cache-blocked triple loop. Slow, but correct and dependency-free.
static void portable_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a,
                           int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        if (beta == 0.0f) memset(ci, 0, sizeof(float) * (size_t)n);
        else if (beta != 1.0f) for (int j = 0; j < n; j++) ci[j] *= beta;
        for (int p = 0; p < k; p++) {
            float aip = alpha * (transA ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p]);
            if (aip == 0.0f) continue;
            if (!transB) {
                const float *bp = b + (size_t)p * ldb;
                for (int j = 0; j < n; j++) ci[j] += aip * bp[j];
            } else {
                for (int j = 0; j < n; j++) ci[j] += aip * b[(size_t)j * ldb + p];
            }
        }
    }
}

// Shared by BLAS calls, exclusive around a fork (snn_blas.h); writers first, so that a stream of
// calls from other threads cannot keep a fork waiting (glibc; elsewhere a fork may wait for a gap).
static pthread_rwlock_t fork_lock;
static pthread_once_t fork_lock_once = PTHREAD_ONCE_INIT;
static void init_fork_lock(void) {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
#if defined(__GLIBC__)
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
#endif
    pthread_rwlock_init(&fork_lock, &attr);
    pthread_rwlockattr_destroy(&attr);
}

void snn_blas_hold_calls(void) {
    pthread_once(&fork_lock_once, init_fork_lock);
    pthread_rwlock_wrlock(&fork_lock);
}

void snn_blas_allow_calls(void) { pthread_rwlock_unlock(&fork_lock); }

void snn_blas_set_threads(int threads) {
    pthread_once(&load_once, load_blas);
    if (!blas_threads) return;
    pthread_once(&fork_lock_once, init_fork_lock);
    pthread_rwlock_rdlock(&fork_lock);
    blas_threads(threads);
    pthread_rwlock_unlock(&fork_lock);
}

void snn_sgemm(int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc) {
    pthread_once(&load_once, load_blas);
    if (m == 0 || n == 0) return;
    if (k == 0) {  // C = beta * C, which some BLAS builds reject
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) c[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[(size_t)i * ldc + j];
        return;
    }
    if (blas_sgemm) {
        pthread_once(&fork_lock_once, init_fork_lock);
        pthread_rwlock_rdlock(&fork_lock);
        blas_sgemm(101, transA ? 112 : 111, transB ? 112 : 111, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        pthread_rwlock_unlock(&fork_lock);
    } else
        portable_sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
#endif
