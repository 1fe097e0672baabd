// The fused multi-step IF / LIF / PLIF kernels (snn_neurons.h), written once as always-inline
// bodies and compiled three times: for the baseline ISA, AVX2 and AVX-512 (target attributes, no
// build flags), chosen at run time. Loops are plain C that the vectoriser widens for each target.

#include "snn_neurons.h"

#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <stdatomic.h>

// Swift does not contract a·b + c into an FMA; clang would (per expression) by default. Off, the
// kernels round exactly as the Swift reference does.
#pragma STDC FP_CONTRACT OFF

#define INLINE static inline __attribute__((always_inline))

/// Swift's Float.pi, which is π rounded toward zero (one ulp below the nearest float, M_PI's).
#define SWIFT_FLOAT_PI 0x1.921fb4p+1f

/// Neurons per forward block (the membrane of a block lives in a stack array, L1-resident).
enum { FORWARD_BLOCK = 512, MAX_TILE = 512 };

INLINE float charge_step(const int charge, float v, float x, float k, float vr) {
    switch (charge) {
    case SNN_CHARGE_INTEGRATE: return v + x;
    case SNN_CHARGE_DECAYED_INPUT: return v + k * (x - (v - vr));
    default: return v - k * (v - vr) + x;
    }
}

INLINE float reset_step(const int reset, float h, int fired, float vr, float th) {
    switch (reset) {
    case SNN_RESET_HARD: return fired ? vr : h;
    case SNN_RESET_SOFT: return fired ? h - th : h;
    default: return h;
    }
}

INLINE int mask_bit(unsigned e, unsigned k1, unsigned k2, unsigned threshold) {
    unsigned h = (e ^ k1) * 0x9E3779B1u;
    h ^= h >> 15;
    h *= k2 | 1u;
    h ^= h >> 13;
    return (h >> 8) < threshold;
}

/// g[j] = the surrogate's derivative at h[j] − threshold (the vector forms of Surrogate.swift).
INLINE void surrogate_fill(const int kind, const float a, const float th, const float *restrict h, float *restrict g,
                           long m) {
    switch (kind) {
    case SNN_SURROGATE_QGATE:
        for (long j = 0; j < m; j++) {
            const float x = h[j] - th, g0 = a - a * a * fabsf(x);
            g[j] = g0 < 0 ? 0.0f : g0;
        }
        break;
    case SNN_SURROGATE_ARCTANGENT: {
        const float c = SWIFT_FLOAT_PI / 2 * a, half = a / 2;
        for (long j = 0; j < m; j++) {
            const float u = c * (h[j] - th);
            g[j] = half / (1 + u * u);
        }
        break;
    }
    case SNN_SURROGATE_SIGMOID:
        for (long j = 0; j < m; j++) {
            const float s = 1 / (1 + expf(-a * (h[j] - th)));
            g[j] = a * s * (1 - s);
        }
        break;
    case SNN_SURROGATE_RECTANGULAR: {
        const float w = 1 / (2 * a);
        for (long j = 0; j < m; j++) g[j] = fabsf(h[j] - th) < w ? a : 0.0f;
        break;
    }
    case SNN_SURROGATE_PIECEWISE_LINEAR: {
        const float w = 1 / a, half = a / 2;
        for (long j = 0; j < m; j++) g[j] = fabsf(h[j] - th) < w ? half : 0.01f;
        break;
    }
    case SNN_SURROGATE_SUPERSPIKE:
        for (long j = 0; j < m; j++) {
            const float d = a * fabsf(h[j] - th) + 1;
            g[j] = 1 / (d * d);
        }
        break;
    default: {
        const float scale = a / sqrtf(SWIFT_FLOAT_PI);
        for (long j = 0; j < m; j++) {
            const float ax = a * (h[j] - th);
            g[j] = scale * expf(-ax * ax);
        }
        break;
    }
    }
}

/// One tile row of surrogate derivatives, MSG-masked: elements index0 … index0 + m − 1. (Each variant
/// calls its own copy once per row rather than inlining it into every backward specialisation.)
INLINE void surrogate_row(const snn_neuron_params *p, const float *restrict h, float *restrict g, long m,
                          long index0) {
    surrogate_fill(p->surrogate, p->alpha, p->threshold, h, g, m);
    if (!p->masked) return;
    unsigned char masked[MAX_TILE];
    for (long j = 0; j < m; j++)
        masked[j] = (unsigned char)mask_bit((unsigned)(index0 + j), p->mask_k1, p->mask_k2, p->mask_threshold);
    if (p->substitute < 0) {
        for (long j = 0; j < m; j++) g[j] = masked[j] ? 0.0f : g[j];
    } else {
        float sub[MAX_TILE];
        surrogate_fill(p->substitute, p->substitute_alpha, p->threshold, h, sub, m);
        for (long j = 0; j < m; j++) g[j] = masked[j] ? sub[j] : g[j];
    }
}

INLINE long forward_body(const snn_neuron_params *p, const int charge, const int reset, const int has_membrane,
                         const float *x, long steps, long n, long begin, long end, float *spikes, float *membrane) {
    const float k = p->decay, th = p->threshold, vr = p->resting;
    float v[FORWARD_BLOCK];
    long count = 0;
    for (long start = begin; start < end; start += FORWARD_BLOCK) {
        const long m = end - start < FORWARD_BLOCK ? end - start : FORWARD_BLOCK;
        for (long j = 0; j < m; j++) v[j] = vr;
        for (long t = 0; t < steps; t++) {
            const float *xt = x + t * n + start;
            float *st = spikes + t * n + start;
            float *mt = has_membrane ? membrane + t * n + start : NULL;
            int fired_count = 0;
            for (long j = 0; j < m; j++) {
                const float h = charge_step(charge, v[j], xt[j], k, vr);
                const int fired = h >= th;
                st[j] = fired ? 1.0f : 0.0f;
                const float after = reset_step(reset, h, fired, vr, th);
                if (has_membrane) mt[j] = after;
                v[j] = after;
                fired_count += fired;
            }
            count += fired_count;
        }
    }
    return count;
}

/// The tile width of the backward pass: the recomputed membrane and the surrogate derivatives of
/// `tile` neurons × T steps stay in L2 (≤ 192 KiB), 16-neuron multiples.
static long backward_tile(long steps) {
    long tile = (24576 / (steps > 0 ? steps : 1)) / 16 * 16;
    return tile < 16 ? 16 : tile > MAX_TILE ? MAX_TILE : tile;
}

/// One step of the forward recursion for a tile row, keeping the pre-reset membrane (restrict: see
/// bptt_row).
INLINE void recharge_row(const int charge, const int reset, long m, const float *restrict x, float *restrict h_out,
                         float *restrict v, float k, float vr, float th) {
    for (long j = 0; j < m; j++) {
        const float h = charge_step(charge, v[j], x[j], k, vr);
        h_out[j] = h;
        v[j] = reset_step(reset, h, h >= th, vr, th);
    }
}

/// One step of BPTT for a tile row (restrict parameters: the vectoriser needs to know that the
/// gradient rows, the carried ∂V and the tile do not overlap, which holds).
INLINE void bptt_row(const int reset, const int has_gm, const int want_decay, long m, const float *restrict ht,
                     const float *restrict gt, const float *restrict gs, const float *restrict gm,
                     float *restrict gx, float *restrict carry, float *restrict gh_row, float th, float vr,
                     int detach, float input_scale, float decay_v) {
    for (long j = 0; j < m; j++) {
        const float h = ht[j], sg = gt[j];
        const int fired = h >= th;
        float dvdh;  // ∂V/∂H of the reset, with the reset's own path when attached
        if (reset == SNN_RESET_HARD) {
            const float base = fired ? 0.0f : 1.0f;
            dvdh = detach ? base : base + (vr - h) * sg;
        } else if (reset == SNN_RESET_SOFT) {
            dvdh = detach ? 1.0f : 1.0f - th * sg;
        } else {
            dvdh = 1.0f;
        }
        const float gv = has_gm ? carry[j] + gm[j] : carry[j];
        const float gh = gs[j] * sg + gv * dvdh;
        gx[j] = gh * input_scale;
        carry[j] = gh * decay_v;
        if (want_decay) gh_row[j] = gh;
    }
}

typedef void (*surrogate_row_function)(const snn_neuron_params *, const float *, float *, long, long);

INLINE double backward_body(const snn_neuron_params *p, const int charge, const int reset, const int has_gm,
                            const int want_decay, const surrogate_row_function row, const float *x, const float *gs, const float *gm, long steps,
                            long n, long begin, long end, float *gx, float *tile_buffer, long tile) {
    const float k = p->decay, th = p->threshold, vr = p->resting;
    const float decay_v = charge == SNN_CHARGE_INTEGRATE ? 1.0f : 1.0f - k;
    const float input_scale = charge == SNN_CHARGE_DECAYED_INPUT ? k : 1.0f;
    const int detach = p->detach_reset;
    float *H = tile_buffer, *G = tile_buffer + steps * tile;
    float v[MAX_TILE], carry[MAX_TILE], gh_row[MAX_TILE];
    double decay_sum = 0;
    for (long start = begin; start < end; start += tile) {
        const long m = end - start < tile ? end - start : tile;
        // The forward recursion again, from x: the pre-reset membrane and its surrogate derivative.
        for (long j = 0; j < m; j++) v[j] = vr;
        for (long t = 0; t < steps; t++) {
            const float *xt = x + t * n + start;
            float *ht = H + t * tile;
            recharge_row(charge, reset, m, xt, ht, v, k, vr, th);
            row(p, ht, G + t * tile, m, t * n + start);
        }
        for (long j = 0; j < m; j++) carry[j] = 0;
        for (long t = steps - 1; t >= 0; t--) {
            const long o = t * n + start;
            const float *ht = H + t * tile, *gt = G + t * tile;
            bptt_row(reset, has_gm, want_decay, m, ht, gt, gs + o, has_gm ? gm + o : NULL, gx + o, carry, gh_row, th, vr,
                     detach, input_scale, decay_v);
            if (want_decay && charge != SNN_CHARGE_INTEGRATE) {
                // Σ ∂L/∂H·∂H/∂k with v_prev = reset(H[t − 1]) (the resting potential at t = 0); a sum,
                // so its order is free.
                const float *hp = t > 0 ? H + (t - 1) * tile : NULL;
                float acc = 0;
                for (long j = 0; j < m; j++) {
#pragma clang fp reassociate(on)
                    const float vprev = hp ? reset_step(reset, hp[j], hp[j] >= th, vr, th) : vr;
                    const float leak = vprev - vr;
                    const float dhdk = charge == SNN_CHARGE_DECAYED_INPUT ? x[o + j] - leak : -leak;
                    acc += gh_row[j] * dhdk;
                }
                decay_sum += acc;
            }
        }
    }
    return decay_sum;
}

#define FORWARD_CASE(C, R)                                                                            \
    case (C) * 3 + (R):                                                                                 \
        return membrane ? forward_body(p, C, R, 1, x, steps, n, begin, end, spikes, membrane)          \
                        : forward_body(p, C, R, 0, x, steps, n, begin, end, spikes, NULL);
#define BACKWARD_CASE(C, R)                                                                           \
    case (C) * 3 + (R):                                                                                 \
        if (gm) {                                                                                       \
            return want_decay ? backward_body(p, C, R, 1, 1, row, x, gs, gm, steps, n, begin, end, gx, buf, tile) \
                              : backward_body(p, C, R, 1, 0, row, x, gs, gm, steps, n, begin, end, gx, buf, tile); \
        }                                                                                               \
        return want_decay ? backward_body(p, C, R, 0, 1, row, x, gs, NULL, steps, n, begin, end, gx, buf, tile)   \
                          : backward_body(p, C, R, 0, 0, row, x, gs, NULL, steps, n, begin, end, gx, buf, tile);
#define ALL_CASES(CASE)                                                                               \
    CASE(0, 0) CASE(0, 1) CASE(0, 2) CASE(1, 0) CASE(1, 1) CASE(1, 2) CASE(2, 0) CASE(2, 1) CASE(2, 2)

#define DEFINE_VARIANT(SUFFIX, ATTRIBUTES)                                                            \
    ATTRIBUTES __attribute__((noinline)) static void surrogate_row_##SUFFIX(                            \
        const snn_neuron_params *p, const float *h, float *g, long m, long index0) {                    \
        surrogate_row(p, h, g, m, index0);                                                              \
    }                                                                                                   \
    ATTRIBUTES static long forward_##SUFFIX(const snn_neuron_params *p, const float *x, long steps, long n,   \
                                            long begin, long end, float *spikes, float *membrane) {    \
        switch (p->charge * 3 + p->reset) { ALL_CASES(FORWARD_CASE) }                                  \
        return -1;                                                                                      \
    }                                                                                                   \
    ATTRIBUTES static double backward_##SUFFIX(const snn_neuron_params *p, const float *x, const float *gs, \
                                               const float *gm, long steps, long n, long begin, long end, \
                                               float *gx, int want_decay, float *buf, long tile) {      \
        const surrogate_row_function row = surrogate_row_##SUFFIX;                                      \
        switch (p->charge * 3 + p->reset) { ALL_CASES(BACKWARD_CASE) }                                 \
        return 0;                                                                                       \
    }                                                                                                   \
    ATTRIBUTES static void triad_##SUFFIX(float *a, const float *b, const float *c, float s, long begin, \
                                          long end) {                                                   \
        for (long i = begin; i < end; i++) a[i] = b[i] + s * c[i];                                      \
    }

DEFINE_VARIANT(baseline, )
#if defined(__x86_64__)
DEFINE_VARIANT(avx2, __attribute__((target("avx2,fma"))))
DEFINE_VARIANT(avx512, __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq"), min_vector_width(512))))
#endif

int snn_neuron_isa_supported(int isa) {
    switch (isa) {
    case SNN_ISA_BASELINE: return 1;
#if defined(__x86_64__)
    case SNN_ISA_AVX2: __builtin_cpu_init(); return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SNN_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
#endif
    default: return 0;
    }
}

int snn_neuron_best_isa(void) {
    static _Atomic int cached = -1;
    int isa = atomic_load(&cached);
    if (isa >= 0) return isa;
    int limit = SNN_ISA_AVX512;
    const char *requested = getenv("SNN_NEURON_ISA");
    if (requested && strcmp(requested, "baseline") == 0) limit = SNN_ISA_BASELINE;
    if (requested && strcmp(requested, "avx2") == 0) limit = SNN_ISA_AVX2;
    isa = SNN_ISA_BASELINE;
    for (int candidate = SNN_ISA_AVX2; candidate <= limit; candidate++)
        if (snn_neuron_isa_supported(candidate)) isa = candidate;
    atomic_store(&cached, isa);
    return isa;
}

long snn_neuron_forward(int isa, const snn_neuron_params *p, const float *x, long steps, long n, long begin,
                        long end, float *spikes, float *membrane) {
    switch (isa) {
#if defined(__x86_64__)
    case SNN_ISA_AVX512: return forward_avx512(p, x, steps, n, begin, end, spikes, membrane);
    case SNN_ISA_AVX2: return forward_avx2(p, x, steps, n, begin, end, spikes, membrane);
#endif
    default: return forward_baseline(p, x, steps, n, begin, end, spikes, membrane);
    }
}

double snn_neuron_backward(int isa, const snn_neuron_params *p, const float *x, const float *grad_spikes,
                           const float *grad_membrane, long steps, long n, long begin, long end,
                           float *grad_input, int want_decay) {
    const long tile = backward_tile(steps);
    float *buffer = malloc((size_t)(2 * steps * tile) * sizeof(float));
    if (!buffer) abort();  // ≤ 192 KiB plus the steps beyond 24 576 / 16
    double r;
    switch (isa) {
#if defined(__x86_64__)
    case SNN_ISA_AVX512:
        r = backward_avx512(p, x, grad_spikes, grad_membrane, steps, n, begin, end, grad_input, want_decay, buffer,
                            tile);
        break;
    case SNN_ISA_AVX2:
        r = backward_avx2(p, x, grad_spikes, grad_membrane, steps, n, begin, end, grad_input, want_decay, buffer,
                          tile);
        break;
#endif
    default:
        r = backward_baseline(p, x, grad_spikes, grad_membrane, steps, n, begin, end, grad_input, want_decay,
                              buffer, tile);
    }
    free(buffer);
    return r;
}

void snn_triad(int isa, float *a, const float *b, const float *c, float s, long begin, long end) {
    switch (isa) {
#if defined(__x86_64__)
    case SNN_ISA_AVX512: triad_avx512(a, b, c, s, begin, end); return;
    case SNN_ISA_AVX2: triad_avx2(a, b, c, s, begin, end); return;
#endif
    default: triad_baseline(a, b, c, s, begin, end);
    }
}
