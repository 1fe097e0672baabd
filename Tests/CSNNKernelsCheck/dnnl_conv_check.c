// `make test` builds and runs this (scripts/check-native.sh). By hand, from the package root:
//   cc -O2 -pthread -I Sources/CSNNKernels/include Tests/CSNNKernelsCheck/dnnl_conv_check.c
//      Sources/CSNNKernels/dnnl_conv.c -lm -ldl -o /tmp/dnnl_check && /tmp/dnnl_check [--bench]
// No oneDNN header is needed: the adapter loads libdnnl.so.2 at run time.
//
// Checks snn_dnnl_conv2d_{forward,backward_data,backward_weights} against naive double-precision
// reference convolutions on many shapes (odd sizes, stride, padding, dilation, groups, depthwise,
// bias on/off, batch 1/3), cache hits, cache eviction, concurrent callers and invalid parameters.
// `--bench` times [32, 64, 32, 32] -> 128, 3x3, pad 1 (median of 10 after 3 warm-ups, plain layouts
// in and out, i.e. including the reorders). Exit status 0 = all checks passed.
// Set ONEDNN_VERBOSE=1 to see which implementations oneDNN picks.
#define _POSIX_C_SOURCE 200809L
#include "snn_dnnl.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned long long rng_state = 0x9E3779B97F4A7C15ULL;
static float frand(void) { // uniform in [-1, 1)
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / 16777216.0) * 2.0 - 1.0);
}
static void fill(float *a, size_t n) { for (size_t i = 0; i < n; i++) a[i] = frand(); }
static void fill_nan(float *a, size_t n) { for (size_t i = 0; i < n; i++) a[i] = NAN; }

static snn_conv2d_params make(int n, int c, int h, int w, int o, int kh, int kw, int s, int pad,
                              int dil, int g) {
    snn_conv2d_params p = {n, c, h, w, o, kh, kw, s, s, pad, pad, dil, dil, g, 0, 0};
    p.out_height = (h + 2 * pad - dil * (kh - 1) - 1) / s + 1;
    p.out_width = (w + 2 * pad - dil * (kw - 1) - 1) / s + 1;
    return p;
}

static size_t x_count(const snn_conv2d_params *p) {
    return (size_t)p->batch * p->in_channels * p->in_height * p->in_width;
}
static size_t y_count(const snn_conv2d_params *p) {
    return (size_t)p->batch * p->out_channels * p->out_height * p->out_width;
}
static size_t w_count(const snn_conv2d_params *p) {
    return (size_t)p->out_channels * (p->in_channels / p->groups) * p->kernel_height * p->kernel_width;
}

// The 7 loops shared by the three references: calls body(xi, wi, yi) for every contributing triple.
#define CONV_LOOPS(p, BODY)                                                                         \
    do {                                                                                            \
        int cg_ = (p)->in_channels / (p)->groups, og_ = (p)->out_channels / (p)->groups;            \
        for (int n = 0; n < (p)->batch; n++)                                                        \
            for (int o = 0; o < (p)->out_channels; o++) {                                           \
                int g_ = o / og_;                                                                   \
                for (int oh = 0; oh < (p)->out_height; oh++)                                        \
                    for (int ow = 0; ow < (p)->out_width; ow++) {                                   \
                        size_t yi = (((size_t)n * (p)->out_channels + o) * (p)->out_height + oh) *  \
                                        (p)->out_width + ow;                                        \
                        for (int c = 0; c < cg_; c++)                                               \
                            for (int kh = 0; kh < (p)->kernel_height; kh++) {                       \
                                int ih = oh * (p)->stride_h - (p)->pad_h + kh * (p)->dilation_h;    \
                                if (ih < 0 || ih >= (p)->in_height) continue;                       \
                                for (int kw = 0; kw < (p)->kernel_width; kw++) {                    \
                                    int iw = ow * (p)->stride_w - (p)->pad_w + kw * (p)->dilation_w;\
                                    if (iw < 0 || iw >= (p)->in_width) continue;                    \
                                    size_t xi = (((size_t)n * (p)->in_channels + g_ * cg_ + c) *    \
                                                     (p)->in_height + ih) * (p)->in_width + iw;     \
                                    size_t wi = (((size_t)o * cg_ + c) * (p)->kernel_height + kh) * \
                                                    (p)->kernel_width + kw;                         \
                                    BODY;                                                           \
                                }                                                                   \
                            }                                                                       \
                    }                                                                               \
            }                                                                                       \
    } while (0)

static void ref_forward(const snn_conv2d_params *p, const float *x, const float *w, const float *b,
                        double *y) {
    for (size_t i = 0; i < y_count(p); i++) {
        int o = (int)((i / ((size_t)p->out_height * p->out_width)) % (size_t)p->out_channels);
        y[i] = b ? b[o] : 0.0;
    }
    CONV_LOOPS(p, y[yi] += (double)x[xi] * (double)w[wi]);
}
static void ref_backward_data(const snn_conv2d_params *p, const float *dy, const float *w, double *dx) {
    memset(dx, 0, x_count(p) * sizeof(double));
    CONV_LOOPS(p, dx[xi] += (double)dy[yi] * (double)w[wi]);
}
static void ref_backward_weights(const snn_conv2d_params *p, const float *x, const float *dy,
                                 double *dw, double *db) {
    memset(dw, 0, w_count(p) * sizeof(double));
    CONV_LOOPS(p, dw[wi] += (double)x[xi] * (double)dy[yi]);
    memset(db, 0, (size_t)p->out_channels * sizeof(double));
    for (size_t i = 0; i < y_count(p); i++)
        db[(i / ((size_t)p->out_height * p->out_width)) % (size_t)p->out_channels] += dy[i];
}

// max |got - ref| / max |ref| (NaN if any output was left unwritten)
static double rel_err(const float *got, const double *ref, size_t n) {
    double maxref = 0, maxerr = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(got[i])) return NAN;
        double e = fabs(got[i] - ref[i]);
        if (e > maxerr) maxerr = e;
        if (fabs(ref[i]) > maxref) maxref = fabs(ref[i]);
    }
    return maxref > 0 ? maxerr / maxref : maxerr;
}

static const double TOL = 1e-5;
static int failures;
static double worst;
static pthread_mutex_t report_mutex = PTHREAD_MUTEX_INITIALIZER;

static void expect(int cond, const char *what, const snn_conv2d_params *p) {
    if (cond) return;
    pthread_mutex_lock(&report_mutex);
    failures++;
    printf("FAIL %s  [N%d C%d %dx%d -> O%d k%dx%d s%d p%d d%d g%d]\n", what, p->batch, p->in_channels,
           p->in_height, p->in_width, p->out_channels, p->kernel_height, p->kernel_width, p->stride_h,
           p->pad_h, p->dilation_h, p->groups);
    pthread_mutex_unlock(&report_mutex);
}

static void note(double e, const char *what, const snn_conv2d_params *p) {
    if (!(e <= TOL)) expect(0, what, p);
    pthread_mutex_lock(&report_mutex);
    if (e > worst || isnan(e)) worst = e;
    pthread_mutex_unlock(&report_mutex);
}

/// Runs all three ops on `p` (with and without bias) and compares them with the reference.
/// With `repeat`, each op is called twice and the two results must be bitwise identical.
/// Returns the worst relative error. `quiet` suppresses the per-shape line.
static double check_shape(const snn_conv2d_params *p, int repeat, int quiet) {
    size_t nx = x_count(p), ny = y_count(p), nw = w_count(p), no = (size_t)p->out_channels;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(no * 4), *dy = malloc(ny * 4);
    float *y = malloc(ny * 4), *dx = malloc(nx * 4), *dw = malloc(nw * 4), *db = malloc(no * 4);
    float *y2 = malloc(ny * 4), *dx2 = malloc(nx * 4), *dw2 = malloc(nw * 4), *db2 = malloc(no * 4);
    double *ry = malloc(ny * 8), *rdx = malloc(nx * 8), *rdw = malloc(nw * 8), *rdb = malloc(no * 8);
    fill(x, nx); fill(w, nw); fill(b, no); fill(dy, ny);
    double e_f = 0, e_fb = 0, e_d = 0, e_w = 0, e_wb = 0, e_b = 0;

    // forward with bias, then without
    fill_nan(y, ny);
    expect(snn_dnnl_conv2d_forward(p, x, w, b, y) == 0, "forward+bias rc", p);
    ref_forward(p, x, w, b, ry);
    note(e_fb = rel_err(y, ry, ny), "forward+bias error", p);
    if (repeat) {
        fill_nan(y2, ny);
        expect(snn_dnnl_conv2d_forward(p, x, w, b, y2) == 0, "forward+bias rc (2nd)", p);
        expect(memcmp(y, y2, ny * 4) == 0, "forward+bias repeat identical", p);
    }
    fill_nan(y, ny);
    expect(snn_dnnl_conv2d_forward(p, x, w, NULL, y) == 0, "forward rc", p);
    ref_forward(p, x, w, NULL, ry);
    note(e_f = rel_err(y, ry, ny), "forward error", p);

    // backward data
    fill_nan(dx, nx);
    expect(snn_dnnl_conv2d_backward_data(p, dy, w, dx) == 0, "backward_data rc", p);
    ref_backward_data(p, dy, w, rdx);
    note(e_d = rel_err(dx, rdx, nx), "backward_data error", p);
    if (repeat) {
        fill_nan(dx2, nx);
        expect(snn_dnnl_conv2d_backward_data(p, dy, w, dx2) == 0, "backward_data rc (2nd)", p);
        expect(memcmp(dx, dx2, nx * 4) == 0, "backward_data repeat identical", p);
    }

    // backward weights with bias gradient, then without
    ref_backward_weights(p, x, dy, rdw, rdb);
    fill_nan(dw, nw); fill_nan(db, no);
    expect(snn_dnnl_conv2d_backward_weights(p, x, dy, dw, db) == 0, "backward_weights+bias rc", p);
    note(e_wb = rel_err(dw, rdw, nw), "backward_weights(+bias) error", p);
    note(e_b = rel_err(db, rdb, no), "backward bias error", p);
    if (repeat) {
        fill_nan(dw2, nw); fill_nan(db2, no);
        expect(snn_dnnl_conv2d_backward_weights(p, x, dy, dw2, db2) == 0, "backward_weights rc (2nd)", p);
        expect(memcmp(dw, dw2, nw * 4) == 0 && memcmp(db, db2, no * 4) == 0,
               "backward_weights repeat identical", p);
    }
    fill_nan(dw, nw);
    expect(snn_dnnl_conv2d_backward_weights(p, x, dy, dw, NULL) == 0, "backward_weights rc", p);
    note(e_w = rel_err(dw, rdw, nw), "backward_weights error", p);

    double m = fmax(fmax(fmax(e_f, e_fb), fmax(e_d, e_w)), fmax(e_wb, e_b));
    if (!quiet)
        printf("N%d C%-3d %3dx%-3d -> O%-3d k%dx%d s%d/%d p%d/%d d%d/%d g%-3d out %2dx%-2d | fwd %.1e "
               "fwd+b %.1e bwd_d %.1e bwd_w %.1e bwd_w+b %.1e db %.1e\n",
               p->batch, p->in_channels, p->in_height, p->in_width, p->out_channels, p->kernel_height,
               p->kernel_width, p->stride_h, p->stride_w, p->pad_h, p->pad_w, p->dilation_h,
               p->dilation_w, p->groups, p->out_height, p->out_width, e_f, e_fb, e_d, e_w, e_wb, e_b);
    free(x); free(w); free(b); free(dy); free(y); free(dx); free(dw); free(db);
    free(y2); free(dx2); free(dw2); free(db2); free(ry); free(rdx); free(rdw); free(rdb);
    return m;
}

static void *thread_main(void *arg) {
    int id = (int)(size_t)arg;
    for (int it = 0; it < 6; it++) {
        snn_conv2d_params p = make(1 + id % 2, 4 + 4 * (id % 3), 9 + id, 8, 8 + 8 * (it % 2), 3, 3,
                                   1 + it % 2, 1, 1, 1 + (id % 2));
        check_shape(&p, 0, 1);
    }
    return NULL;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int bench(void) {
    snn_conv2d_params p = make(32, 64, 32, 32, 128, 3, 3, 1, 1, 1, 1);
    size_t nx = x_count(&p), ny = y_count(&p), nw = w_count(&p);
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(128 * 4), *dy = malloc(ny * 4);
    float *y = malloc(ny * 4), *dx = malloc(nx * 4), *dw = malloc(nw * 4), *db = malloc(128 * 4);
    fill(x, nx); fill(w, nw); fill(b, 128); fill(dy, ny);
    double flops = 2.0 * p.batch * p.out_channels * p.out_height * p.out_width * p.in_channels * 9;
    const char *names[3] = {"forward (+bias)", "backward data", "backward weights (+bias)"};
    double total = 0;
    for (int op = 0; op < 3; op++) {
        double t[13];
        for (int r = 0; r < 13; r++) {
            double t0 = now_ms();
            int rc = op == 0 ? snn_dnnl_conv2d_forward(&p, x, w, b, y)
                   : op == 1 ? snn_dnnl_conv2d_backward_data(&p, dy, w, dx)
                             : snn_dnnl_conv2d_backward_weights(&p, x, dy, dw, db);
            t[r] = now_ms() - t0;
            if (rc) { printf("bench %s failed: %d\n", names[op], rc); return 1; }
        }
        qsort(t + 3, 10, sizeof(double), cmp_double);
        double med = 0.5 * (t[3 + 4] + t[3 + 5]);
        total += med;
        printf("%-26s first call %7.1f ms, median %6.1f ms (min %6.1f, max %6.1f) = %5.0f GFLOP/s\n",
               names[op], t[0], med, t[3], t[12], flops / med * 1e-6);
    }
    printf("total of the three medians: %.1f ms (OMP_NUM_THREADS=%s)\n", total,
           getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "unset");
    free(x); free(w); free(b); free(dy); free(y); free(dx); free(dw); free(db);
    return 0;
}

int main(int argc, char **argv) {
    if (!snn_dnnl_available()) {
        printf("oneDNN unavailable: every call must report unavailable\n");
        snn_conv2d_params p = make(1, 1, 3, 3, 1, 1, 1, 1, 0, 1, 1);
        float v = 0;
        return snn_dnnl_conv2d_forward(&p, &v, &v, NULL, &v) == SNN_DNNL_ERR_UNAVAILABLE ? 0 : 1;
    }
    if (argc > 1 && strcmp(argv[1], "--bench") == 0) return bench();

    // 1. Accuracy on assorted shapes (each op twice: the second call is a cache hit).
    snn_conv2d_params shapes[] = {
        make(1, 3, 7, 5, 4, 3, 3, 1, 1, 1, 1),      // odd sizes, pad 1
        make(3, 3, 7, 5, 4, 3, 3, 1, 0, 1, 1),      // batch 3, pad 0
        make(3, 5, 9, 7, 6, 3, 3, 2, 1, 1, 1),      // stride 2
        make(1, 4, 11, 10, 5, 5, 5, 1, 2, 1, 1),    // 5x5 kernel, pad 2
        make(3, 4, 12, 11, 6, 3, 3, 1, 2, 2, 1),    // dilation 2
        make(3, 6, 10, 9, 8, 3, 3, 2, 1, 2, 2),     // groups 2 + stride 2 + dilation 2
        make(1, 8, 9, 9, 8, 3, 3, 1, 1, 1, 8),      // depthwise
        make(3, 16, 13, 7, 16, 3, 3, 2, 1, 1, 16),  // depthwise, stride 2
        make(3, 32, 8, 8, 64, 3, 3, 1, 1, 1, 1),    // blocked layouts likely
        make(3, 64, 16, 16, 64, 3, 3, 1, 1, 1, 2),  // groups 2, 32 channels per group
        make(1, 64, 15, 17, 128, 1, 1, 1, 0, 1, 1), // 1x1
        make(3, 32, 14, 14, 32, 3, 3, 1, 1, 1, 32), // depthwise, blocked
        make(1, 2, 16, 16, 8, 7, 7, 2, 3, 1, 1),    // 7x7 stem, stride 2, pad 3
        make(3, 1, 28, 28, 16, 5, 5, 1, 0, 1, 1),   // single input channel
        make(1, 3, 1, 1, 2, 1, 1, 1, 0, 1, 1),      // 1x1 image
        make(3, 12, 6, 4, 9, 3, 2, 1, 1, 1, 3),     // 3x2 kernel, groups 3, odd channels
    };
    int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    printf("== accuracy (max |err| / max |ref|, tolerance %.0e) ==\n", TOL);
    for (int i = 0; i < nshapes; i++) check_shape(&shapes[i], 1, 0);
    {   // anisotropic stride / padding / dilation
        snn_conv2d_params p = {2, 6, 11, 13, 4, 3, 5, 2, 1, 1, 2, 1, 2, 2, 0, 0};
        p.out_height = (p.in_height + 2 * p.pad_h - p.dilation_h * (p.kernel_height - 1) - 1) / p.stride_h + 1;
        p.out_width = (p.in_width + 2 * p.pad_w - p.dilation_w * (p.kernel_width - 1) - 1) / p.stride_w + 1;
        check_shape(&p, 1, 0);
    }
    printf("worst relative error: %.2e\n", worst);

    // 2. Eviction: more distinct shapes than the cache holds, then the first shapes again.
    int ev = 0;
    for (int i = 0; i < 40; i++) {
        snn_conv2d_params p = make(1 + i % 3, 2 + i % 5, 6 + i % 7, 5 + i % 4, 3 + i % 6, 1 + 2 * (i % 2),
                                   1 + 2 * (i % 2), 1 + i % 2, i % 2, 1, 1);
        check_shape(&p, 0, 1);
        ev++;
    }
    for (int i = 0; i < nshapes; i++) check_shape(&shapes[i], 1, 1);
    printf("eviction: %d extra shapes (x5 cache entries each) then all shapes again: %s\n", ev,
           failures ? "FAILED" : "ok");

    // 3. Concurrent callers (calls are serialised internally).
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, thread_main, (void *)(size_t)i);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    printf("4 concurrent threads: %s\n", failures ? "FAILED" : "ok");

    // 4. Invalid parameters are rejected without aborting; an empty batch is a no-op.
    {
        float buf[64] = {0};
        snn_conv2d_params p = make(1, 4, 5, 5, 4, 3, 3, 1, 1, 1, 1);
        snn_conv2d_params bad = p;
        bad.out_height = 6;
        expect(snn_dnnl_conv2d_forward(&bad, buf, buf, NULL, buf) == SNN_DNNL_ERR_INVALID, "bad out size", &p);
        bad = p; bad.groups = 3;
        expect(snn_dnnl_conv2d_backward_data(&bad, buf, buf, buf) == SNN_DNNL_ERR_INVALID, "bad groups", &p);
        bad = p; bad.dilation_h = 0;
        expect(snn_dnnl_conv2d_backward_weights(&bad, buf, buf, buf, NULL) == SNN_DNNL_ERR_INVALID, "bad dilation", &p);
        expect(snn_dnnl_conv2d_forward(NULL, buf, buf, NULL, buf) == SNN_DNNL_ERR_INVALID, "NULL params", &p);
        expect(snn_dnnl_conv2d_forward(&p, NULL, buf, NULL, buf) == SNN_DNNL_ERR_INVALID, "NULL x", &p);
        bad = make(0, 2, 5, 5, 2, 3, 3, 1, 1, 1, 1); // 36 weights, 2 biases
        for (int i = 0; i < 64; i++) buf[i] = 1;
        expect(snn_dnnl_conv2d_backward_weights(&bad, buf, buf, buf, buf + 40) == 0 && buf[0] == 0 &&
                   buf[35] == 0 && buf[36] == 1 && buf[40] == 0 && buf[41] == 0 && buf[42] == 1,
               "empty batch zeroes the weight gradient", &p);
        printf("invalid parameters: %s\n", failures ? "FAILED" : "ok");
    }

    printf("%s (%d failures)\n", failures ? "FAILED" : "ALL PASSED", failures);
    return failures ? 1 : 0;
}
