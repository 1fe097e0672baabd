// 2-D convolution (forward, backward-data, backward-weights) through oneDNN 2.x, loaded at run time.
//
// oneDNN is opened with dlopen("libdnnl.so.2") on first use and every dnnl_* function is called through
// a pointer obtained with dlsym, so the package has neither a link-time nor a build-time dependency on
// it: the types, constants and prototypes come from dnnl_abi.h, not from oneDNN's headers. A binary
// built on a machine without oneDNN therefore uses it as soon as the library is installed. When no
// 2.x library loads (absent, or another major version, whose structures differ), every function
// reports "unavailable" and the caller runs its own convolution.
//
// Performance design: the convolution primitives are created with format_tag_any so that oneDNN
// picks its preferred (usually blocked, e.g. nChw16c) layouts; the caller's plain NCHW/OIHW/GOIHW
// tensors are reordered to and from those layouts only where they differ. Primitives, reorders and
// memory objects are cached per (params, op, bias presence) in a small LRU cache. The buffers for
// reordered tensors and the scratchpad live in one grow-only arena shared by all cache entries (the
// execution holds the cache mutex, so only one call uses it at a time): memory then scales with the
// largest single convolution, not with the number of cached shapes.

#include "snn_dnnl.h"

#include "dl.h"
#include "dnnl_abi.h"
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// MARK: - Run-time binding

// One pointer per function, typed from the prototype in dnnl_abi.h.
#define SNN_DNNL_DECLARE(result, name, parameters) result(*name) parameters;
static struct { SNN_DNNL_FUNCTIONS(SNN_DNNL_DECLARE) } fn;
#undef SNN_DNNL_DECLARE

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded; // written once inside pthread_once, read only after it
static dnnl_engine_t engine;
static dnnl_stream_t stream;

static void load_dnnl(void) {
    static const char *const names[] = {
#if defined(__APPLE__)
        "libdnnl.2.dylib", "libdnnl.dylib",
#else
        // The 2.x soname first; the unversioned development link last (the version check below
        // refuses it when it leads to another major version).
        "libdnnl.so.2", "libdnnl.so",
#endif
        NULL};
    // oneDNN's OpenMP workers spin after each primitive by default, stealing the cores from the
    // neuron and normalisation kernels that run between convolutions (measured: a training step is
    // ~7 % faster with passive waiting). libgomp reads the variable when it loads, so set it first;
    // a value the user chose is kept.
    setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    void *handle = snn_dlopen_first(names);
    if (!handle) return;

    int ok = 1;
#define SNN_DNNL_LOOKUP(result, name, parameters) SNN_DLSYM(handle, fn.name, #name, ok);
    SNN_DNNL_FUNCTIONS(SNN_DNNL_LOOKUP)
#undef SNN_DNNL_LOOKUP
    if (!ok) return; // keep the library mapped: harmless, and dlclose of OpenMP code is risky

    // The structures in dnnl_abi.h must match the library's: require the major version they were
    // copied from (3.x, for one, lacks the *_desc_init calls and made memory descriptors opaque).
    const dnnl_version_t *v = fn.dnnl_version();
    if (!v || v->major != SNN_DNNL_ABI_MAJOR) return;

    if (fn.dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) return;
    if (fn.dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) return;
    loaded = 1; // engine and stream live for the whole process
}

int snn_dnnl_available(void) {
    pthread_once(&load_once, load_dnnl);
    return loaded;
}

// MARK: - Cache

enum { OP_FORWARD = SNN_DNNL_OP_FORWARD, OP_BACKWARD_DATA = SNN_DNNL_OP_BACKWARD_DATA,
       OP_BACKWARD_WEIGHTS = SNN_DNNL_OP_BACKWARD_WEIGHTS };
enum { CACHE_SIZE = 32, MAX_SLOTS = 4 };
#define ARENA_ALIGN ((size_t)4096)

#define DNNL_ERR(s) (SNN_DNNL_ERR_DNNL_BASE + (int)(s))
#define CHECK(call)                                  \
    do {                                             \
        dnnl_status_t st_ = (call);                  \
        if (st_ != dnnl_success) return DNNL_ERR(st_); \
    } while (0)

/// One tensor argument of the convolution: the caller's plain memory and, when oneDNN prefers
/// another layout, an internal memory in the arena plus the reorder between the two.
typedef struct {
    int arg;                  // DNNL_ARG_*
    int is_output;            // reorder inner -> user after execution instead of user -> inner before
    dnnl_memory_t user;       // plain layout; handle = the caller's pointer for each call
    dnnl_memory_t inner;      // preferred layout; handle in the arena; NULL when the layouts agree
    dnnl_primitive_t reorder; // NULL when inner is NULL
    size_t inner_size;
    int block;                // channel block of inner when it is nChw8c or nChw16c, else 0
} slot_t;

typedef struct {
    snn_conv2d_params p;
    int op, has_bias;
    unsigned long long last_used;
    dnnl_primitive_desc_t hint_pd; // forward pd used as hint (backward ops); kept alive with pd
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t prim;
    slot_t slots[MAX_SLOTS];
    int nslots;
    dnnl_memory_t scratch; // user-mode scratchpad in the arena; NULL when none is needed
    size_t scratch_size;
} entry_t;

static pthread_mutex_t cache_mutex = PTHREAD_MUTEX_INITIALIZER;
static entry_t *cache[CACHE_SIZE];
static unsigned long long use_clock;
static void *arena;
static size_t arena_size;

static size_t align_up(size_t n) { return (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1); }

static void entry_free(entry_t *e) {
    if (!e) return;
    if (e->prim) fn.dnnl_primitive_destroy(e->prim);
    for (int i = 0; i < e->nslots; i++) {
        slot_t *s = &e->slots[i];
        if (s->reorder) fn.dnnl_primitive_destroy(s->reorder);
        if (s->inner) fn.dnnl_memory_destroy(s->inner);
        if (s->user) fn.dnnl_memory_destroy(s->user);
    }
    if (e->scratch) fn.dnnl_memory_destroy(e->scratch);
    if (e->pd) fn.dnnl_primitive_desc_destroy(e->pd);
    if (e->hint_pd) fn.dnnl_primitive_desc_destroy(e->hint_pd);
    free(e);
}

/// Adds a tensor argument: `plain` is the caller's layout; the primitive's own layout for `arg`
/// is queried from the primitive descriptor.
static int add_slot(entry_t *e, int arg, int is_output, const dnnl_memory_desc_t *plain) {
    slot_t *s = &e->slots[e->nslots++]; // zero-initialised by calloc
    s->arg = arg;
    s->is_output = is_output;
    const dnnl_memory_desc_t *q = fn.dnnl_primitive_desc_query_md(e->pd, dnnl_query_exec_arg_md, arg);
    if (!q) return SNN_DNNL_ERR_DNNL_BASE + (int)dnnl_runtime_error;
    dnnl_memory_desc_t chosen = *q;
    CHECK(fn.dnnl_memory_create(&s->user, plain, engine, NULL));
    if (fn.dnnl_memory_desc_equal(&chosen, plain)) return 0;

    CHECK(fn.dnnl_memory_create(&s->inner, &chosen, engine, NULL));
    s->inner_size = fn.dnnl_memory_desc_get_size(&chosen);
    if (chosen.ndims == 4) {
        static const struct { dnnl_format_tag_t tag; int block; } blocked[] = {{dnnl_nChw8c, 8}, {dnnl_nChw16c, 16}};
        for (int i = 0; i < 2; i++) {
            dnnl_memory_desc_t md;
            if (fn.dnnl_memory_desc_init_by_tag(&md, 4, chosen.dims, dnnl_f32, blocked[i].tag) == dnnl_success &&
                fn.dnnl_memory_desc_equal(&md, &chosen))
                s->block = blocked[i].block;
        }
    }
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_status_t st = is_output
        ? fn.dnnl_reorder_primitive_desc_create(&rpd, &chosen, engine, plain, engine, NULL)
        : fn.dnnl_reorder_primitive_desc_create(&rpd, plain, engine, &chosen, engine, NULL);
    if (st != dnnl_success) return DNNL_ERR(st);
    st = fn.dnnl_primitive_create(&s->reorder, rpd);
    fn.dnnl_primitive_desc_destroy(rpd); // the primitive keeps its own copy
    return st == dnnl_success ? 0 : DNNL_ERR(st);
}

static int init_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag) {
    dnnl_status_t st = fn.dnnl_memory_desc_init_by_tag(md, ndims, dims, dnnl_f32, tag);
    return st == dnnl_success ? 0 : DNNL_ERR(st);
}

#define TRY(expr)                   \
    do {                            \
        int rc_ = (expr);           \
        if (rc_) return rc_;        \
    } while (0)

/// Creates the primitive descriptors, primitives, reorders and memory objects of `e`
/// (whose p, op and has_bias are set). On failure the caller frees the partial entry.
static int entry_build(entry_t *e) {
    const snn_conv2d_params *p = &e->p;
    const int g = p->groups;
    dnnl_memory_desc_t src_plain, w_plain, dst_plain, bias_plain, src_any, w_any, dst_any;

    dnnl_dims_t src_dims = {p->batch, p->in_channels, p->in_height, p->in_width};
    dnnl_dims_t dst_dims = {p->batch, p->out_channels, p->out_height, p->out_width};
    dnnl_dims_t bias_dims = {p->out_channels};
    TRY(init_md(&src_plain, 4, src_dims, dnnl_nchw));
    TRY(init_md(&dst_plain, 4, dst_dims, dnnl_nchw));
    TRY(init_md(&bias_plain, 1, bias_dims, dnnl_x));
    TRY(init_md(&src_any, 4, src_dims, dnnl_format_tag_any));
    TRY(init_md(&dst_any, 4, dst_dims, dnnl_format_tag_any));
    if (g == 1) {
        dnnl_dims_t w_dims = {p->out_channels, p->in_channels, p->kernel_height, p->kernel_width};
        TRY(init_md(&w_plain, 4, w_dims, dnnl_oihw));
        TRY(init_md(&w_any, 4, w_dims, dnnl_format_tag_any));
    } else {
        // [O, C/g, KH, KW] row-major is exactly goihw with dims [g, O/g, C/g, KH, KW].
        dnnl_dims_t w_dims = {g, p->out_channels / g, p->in_channels / g, p->kernel_height,
                              p->kernel_width};
        TRY(init_md(&w_plain, 5, w_dims, dnnl_goihw));
        TRY(init_md(&w_any, 5, w_dims, dnnl_format_tag_any));
    }

    dnnl_dims_t strides = {p->stride_h, p->stride_w};
    dnnl_dims_t dilates = {p->dilation_h - 1, p->dilation_w - 1};
    dnnl_dims_t pad_l = {p->pad_h, p->pad_w};
    dnnl_dims_t pad_r = {p->pad_h, p->pad_w};

    dnnl_primitive_attr_t attr = NULL;
    CHECK(fn.dnnl_primitive_attr_create(&attr));
    dnnl_status_t st = fn.dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);

    // Forward descriptor: the primitive itself (forward) or the hint (backward ops).
    dnnl_convolution_desc_t fwd_d, bwd_d;
    int fwd_bias = e->has_bias && e->op != OP_BACKWARD_DATA;
    if (st == dnnl_success)
        st = fn.dnnl_dilated_convolution_forward_desc_init(
            &fwd_d, dnnl_forward_training, dnnl_convolution_direct, &src_any, &w_any,
            fwd_bias ? &bias_plain : NULL, &dst_any, strides, dilates, pad_l, pad_r);
    if (st == dnnl_success) {
        if (e->op == OP_FORWARD) {
            st = fn.dnnl_primitive_desc_create(&e->pd, &fwd_d, attr, engine, NULL);
        } else {
            st = fn.dnnl_primitive_desc_create(&e->hint_pd, &fwd_d, NULL, engine, NULL);
            if (st == dnnl_success) {
                if (e->op == OP_BACKWARD_DATA)
                    st = fn.dnnl_dilated_convolution_backward_data_desc_init(
                        &bwd_d, dnnl_convolution_direct, &src_any, &w_any, &dst_any, strides,
                        dilates, pad_l, pad_r);
                else
                    st = fn.dnnl_dilated_convolution_backward_weights_desc_init(
                        &bwd_d, dnnl_convolution_direct, &src_any, &w_any,
                        e->has_bias ? &bias_plain : NULL, &dst_any, strides, dilates, pad_l, pad_r);
            }
            if (st == dnnl_success)
                st = fn.dnnl_primitive_desc_create(&e->pd, &bwd_d, attr, engine, e->hint_pd);
        }
    }
    fn.dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return DNNL_ERR(st);
    CHECK(fn.dnnl_primitive_create(&e->prim, e->pd));

    switch (e->op) {
    case OP_FORWARD:
        TRY(add_slot(e, DNNL_ARG_SRC, 0, &src_plain));
        TRY(add_slot(e, DNNL_ARG_WEIGHTS, 0, &w_plain));
        if (e->has_bias) TRY(add_slot(e, DNNL_ARG_BIAS, 0, &bias_plain));
        TRY(add_slot(e, DNNL_ARG_DST, 1, &dst_plain));
        break;
    case OP_BACKWARD_DATA:
        TRY(add_slot(e, DNNL_ARG_DIFF_DST, 0, &dst_plain));
        TRY(add_slot(e, DNNL_ARG_WEIGHTS, 0, &w_plain));
        TRY(add_slot(e, DNNL_ARG_DIFF_SRC, 1, &src_plain));
        break;
    default:
        TRY(add_slot(e, DNNL_ARG_SRC, 0, &src_plain));
        TRY(add_slot(e, DNNL_ARG_DIFF_DST, 0, &dst_plain));
        TRY(add_slot(e, DNNL_ARG_DIFF_WEIGHTS, 1, &w_plain));
        if (e->has_bias) TRY(add_slot(e, DNNL_ARG_DIFF_BIAS, 1, &bias_plain));
        break;
    }

    const dnnl_memory_desc_t *sq = fn.dnnl_primitive_desc_query_md(e->pd, dnnl_query_scratchpad_md, 0);
    if (sq) {
        dnnl_memory_desc_t smd = *sq;
        e->scratch_size = fn.dnnl_memory_desc_get_size(&smd);
        if (e->scratch_size) CHECK(fn.dnnl_memory_create(&e->scratch, &smd, engine, NULL));
    }
    return 0;
}

/// Finds or creates the entry for (p, op, has_bias). Call with cache_mutex held.
static int cache_get(const snn_conv2d_params *p, int op, int has_bias, entry_t **out) {
    int victim = 0;
    for (int i = 0; i < CACHE_SIZE; i++) {
        entry_t *e = cache[i];
        if (e && e->op == op && e->has_bias == has_bias && memcmp(&e->p, p, sizeof *p) == 0) {
            e->last_used = ++use_clock;
            *out = e;
            return 0;
        }
        if (!cache[victim]) continue; // an empty slot stays the victim
        if (!e || e->last_used < cache[victim]->last_used) victim = i;
    }
    entry_t *e = calloc(1, sizeof *e);
    if (!e) return SNN_DNNL_ERR_NOMEM;
    e->p = *p;
    e->op = op;
    e->has_bias = has_bias;
    int rc = entry_build(e);
    if (rc) {
        entry_free(e);
        return rc;
    }
    entry_free(cache[victim]);
    e->last_used = ++use_clock;
    cache[victim] = e;
    *out = e;
    return 0;
}

/// Makes the arena at least `need` bytes. Call with cache_mutex held.
static int arena_reserve(size_t need) {
    if (need <= arena_size) return 0;
    free(arena);
    arena = NULL;
    arena_size = 0;
    void *mem = aligned_alloc(ARENA_ALIGN, need); // need is a multiple of ARENA_ALIGN
    if (!mem) return SNN_DNNL_ERR_NOMEM;
    arena = mem;
    arena_size = need;
    return 0;
}

static int execute_prim(dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *args) {
    CHECK(fn.dnnl_primitive_execute(prim, stream, nargs, args));
    return 0;
}

/// Whether the caller passes slot `s` already in its blocked layout (`flags`: SNN_DNNL_*_BLOCKED).
static int slot_prelaid(const slot_t *s, int flags) {
    if ((flags & SNN_DNNL_SRC_BLOCKED) && (s->arg == DNNL_ARG_SRC || s->arg == DNNL_ARG_DIFF_SRC)) return 1;
    if ((flags & SNN_DNNL_DST_BLOCKED) && (s->arg == DNNL_ARG_DST || s->arg == DNNL_ARG_DIFF_DST)) return 1;
    return 0;
}

/// Runs entry `e` on the caller's buffers (`ptrs[i]` belongs to slot i). Slots named by `flags` are
/// in the primitive's own blocked layout already: no reorder, no arena space. Call with cache_mutex held.
static int entry_run(entry_t *e, void *const *ptrs, int flags) {
    size_t need = align_up(e->scratch_size);
    for (int i = 0; i < e->nslots; i++) {
        const slot_t *s = &e->slots[i];
        if (slot_prelaid(s, flags)) {
            if (!s->inner || s->block == 0) return SNN_DNNL_ERR_INVALID; // the layout the caller assumed is not this one
        } else {
            need += align_up(s->inner_size);
        }
    }
    if (need) TRY(arena_reserve(need));

    char *cursor = arena;
    dnnl_exec_arg_t args[MAX_SLOTS + 1];
    int nargs = 0;
    int skip[MAX_SLOTS] = {0};
    for (int i = 0; i < e->nslots; i++) {
        slot_t *s = &e->slots[i];
        dnnl_memory_t m = s->user;
        if (s->inner && slot_prelaid(s, flags)) {
            CHECK(fn.dnnl_memory_set_data_handle(s->inner, ptrs[i]));
            skip[i] = 1;
            m = s->inner;
        } else {
            CHECK(fn.dnnl_memory_set_data_handle(s->user, ptrs[i]));
            if (s->inner) {
                CHECK(fn.dnnl_memory_set_data_handle(s->inner, cursor));
                cursor += align_up(s->inner_size);
                m = s->inner;
            }
        }
        args[nargs++] = (dnnl_exec_arg_t){s->arg, m};
    }
    if (e->scratch) {
        CHECK(fn.dnnl_memory_set_data_handle(e->scratch, cursor));
        args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, e->scratch};
    }

    for (int i = 0; i < e->nslots; i++) {
        slot_t *s = &e->slots[i];
        if (!s->reorder || s->is_output || skip[i]) continue;
        dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, s->user}, {DNNL_ARG_TO, s->inner}};
        TRY(execute_prim(s->reorder, 2, r));
    }
    TRY(execute_prim(e->prim, nargs, args));
    for (int i = 0; i < e->nslots; i++) {
        slot_t *s = &e->slots[i];
        if (!s->reorder || !s->is_output || skip[i]) continue;
        dnnl_exec_arg_t r[2] = {{DNNL_ARG_FROM, s->inner}, {DNNL_ARG_TO, s->user}};
        TRY(execute_prim(s->reorder, 2, r));
    }
    CHECK(fn.dnnl_stream_wait(stream));
    return 0;
}

// MARK: - Public API

static int params_valid(const snn_conv2d_params *p) {
    if (!p) return 0;
    if (p->batch < 0 || p->in_channels < 1 || p->in_height < 1 || p->in_width < 1) return 0;
    if (p->out_channels < 1 || p->kernel_height < 1 || p->kernel_width < 1) return 0;
    if (p->stride_h < 1 || p->stride_w < 1 || p->pad_h < 0 || p->pad_w < 0) return 0;
    if (p->dilation_h < 1 || p->dilation_w < 1 || p->groups < 1) return 0;
    if (p->in_channels % p->groups || p->out_channels % p->groups) return 0;
    long long oh = ((long long)p->in_height + 2LL * p->pad_h -
                    (long long)p->dilation_h * (p->kernel_height - 1) - 1);
    long long ow = ((long long)p->in_width + 2LL * p->pad_w -
                    (long long)p->dilation_w * (p->kernel_width - 1) - 1);
    if (oh < 0 || ow < 0) return 0;
    return p->out_height == oh / p->stride_h + 1 && p->out_width == ow / p->stride_w + 1;
}

/// Common path of the three operations: validation, cache lookup and execution under the mutex.
static int run_op(const snn_conv2d_params *p, int op, int has_bias, void *const *ptrs, int flags) {
    if (!snn_dnnl_available()) return SNN_DNNL_ERR_UNAVAILABLE;
    pthread_mutex_lock(&cache_mutex);
    entry_t *e = NULL;
    int rc = cache_get(p, op, has_bias, &e);
    if (!rc) rc = entry_run(e, ptrs, flags);
    pthread_mutex_unlock(&cache_mutex);
    return rc;
}

int snn_dnnl_conv2d_blocks(const snn_conv2d_params *p, int op, int has_bias, int *src_block, int *dst_block) {
    if (src_block) *src_block = 0;
    if (dst_block) *dst_block = 0;
    if (!snn_dnnl_available()) return SNN_DNNL_ERR_UNAVAILABLE;
    if (!params_valid(p) || op < OP_FORWARD || op > OP_BACKWARD_WEIGHTS) return SNN_DNNL_ERR_INVALID;
    if (p->batch == 0) return 0;
    pthread_mutex_lock(&cache_mutex);
    entry_t *e = NULL;
    int rc = cache_get(p, op, has_bias != 0, &e);
    if (!rc) {
        for (int i = 0; i < e->nslots; i++) {
            const slot_t *s = &e->slots[i];
            if ((s->arg == DNNL_ARG_SRC || s->arg == DNNL_ARG_DIFF_SRC) && src_block) *src_block = s->block;
            if ((s->arg == DNNL_ARG_DST || s->arg == DNNL_ARG_DIFF_DST) && dst_block) *dst_block = s->block;
        }
    }
    pthread_mutex_unlock(&cache_mutex);
    return rc;
}

int snn_dnnl_conv2d_forward(const snn_conv2d_params *p, const float *x, const float *weight,
                            const float *bias, float *y) {
    return snn_dnnl_conv2d_forward_blocked(p, x, weight, bias, y, 0);
}

int snn_dnnl_conv2d_forward_blocked(const snn_conv2d_params *p, const float *x, const float *weight,
                                    const float *bias, float *y, int flags) {
    if (!snn_dnnl_available()) return SNN_DNNL_ERR_UNAVAILABLE;
    if (!params_valid(p) || !x || !weight || !y) return SNN_DNNL_ERR_INVALID;
    if (p->batch == 0) return 0;
    void *ptrs[4];
    int n = 0;
    ptrs[n++] = (void *)x;
    ptrs[n++] = (void *)weight;
    if (bias) ptrs[n++] = (void *)bias;
    ptrs[n++] = y;
    return run_op(p, OP_FORWARD, bias != NULL, ptrs, flags);
}

int snn_dnnl_conv2d_backward_data(const snn_conv2d_params *p, const float *dy, const float *weight,
                                  float *dx) {
    return snn_dnnl_conv2d_backward_data_blocked(p, dy, weight, dx, 0);
}

int snn_dnnl_conv2d_backward_data_blocked(const snn_conv2d_params *p, const float *dy, const float *weight,
                                          float *dx, int flags) {
    if (!snn_dnnl_available()) return SNN_DNNL_ERR_UNAVAILABLE;
    if (!params_valid(p) || !dy || !weight || !dx) return SNN_DNNL_ERR_INVALID;
    if (p->batch == 0) return 0;
    void *ptrs[3] = {(void *)dy, (void *)weight, dx};
    return run_op(p, OP_BACKWARD_DATA, 0, ptrs, flags);
}

int snn_dnnl_conv2d_backward_weights(const snn_conv2d_params *p, const float *x, const float *dy,
                                     float *dweight, float *dbias) {
    return snn_dnnl_conv2d_backward_weights_blocked(p, x, dy, dweight, dbias, 0);
}

int snn_dnnl_conv2d_backward_weights_blocked(const snn_conv2d_params *p, const float *x, const float *dy,
                                             float *dweight, float *dbias, int flags) {
    if (!snn_dnnl_available()) return SNN_DNNL_ERR_UNAVAILABLE;
    if (!params_valid(p) || !x || !dy || !dweight) return SNN_DNNL_ERR_INVALID;
    if (p->batch == 0) { // empty batch: the gradients are zero
        size_t wn = (size_t)p->out_channels * (size_t)(p->in_channels / p->groups) *
                    (size_t)p->kernel_height * (size_t)p->kernel_width;
        memset(dweight, 0, wn * sizeof(float));
        if (dbias) memset(dbias, 0, (size_t)p->out_channels * sizeof(float));
        return 0;
    }
    void *ptrs[4] = {(void *)x, (void *)dy, dweight, dbias};
    return run_op(p, OP_BACKWARD_WEIGHTS, dbias != NULL, ptrs, flags);
}
