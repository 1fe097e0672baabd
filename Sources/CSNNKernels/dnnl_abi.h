// The part of oneDNN 2.x's C interface that dnnl_conv.c calls, declared here so that building the
// package needs no oneDNN headers: the library itself is opened at run time (dlopen), and a binary
// built before libdnnl-dev was installed uses oneDNN as soon as the library is there.
// Internal to this target (not under include/).
//
// Every name, value and layout below is copied from oneDNN 2.6's dnnl_types.h / dnnl.h. oneDNN keeps
// its ABI stable within a major version, so they hold for any 2.x library; the loader refuses other
// major versions (3.x changed dnnl_memory_desc_t from this struct into an opaque pointer).
// Tests/CSNNKernelsCheck/dnnl_abi_check.c compares every size, offset and constant used here with the
// installed headers and redeclares each function of SNN_DNNL_FUNCTIONS against the real prototype
// (`make test` runs it when libdnnl-dev is installed).
//
// With SNN_DNNL_FUNCTION_LIST_ONLY defined, only the function list is provided (for that check,
// which includes the real headers for the types).
#ifndef SNN_DNNL_ABI_H
#define SNN_DNNL_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifndef SNN_DNNL_FUNCTION_LIST_ONLY

// MARK: - Constants

/// The major version whose layouts are declared here.
#define SNN_DNNL_ABI_MAJOR 2

typedef enum {
    dnnl_success = 0,
    dnnl_out_of_memory = 1,
    dnnl_invalid_arguments = 2,
    dnnl_unimplemented = 3,
    dnnl_iterator_ends = 4,
    dnnl_runtime_error = 5,
    dnnl_not_required = 6,
} dnnl_status_t;

typedef enum { dnnl_data_type_undef = 0, dnnl_f32 = 3 } dnnl_data_type_t;

typedef enum {
    dnnl_format_kind_undef = 0,
    dnnl_format_kind_any = 1,
    dnnl_blocked = 2,
    dnnl_format_kind_wino = 3,
    dnnl_format_kind_rnn_packed = 4,
} dnnl_format_kind_t;

/// The format tags used here, by their values in the (much longer) oneDNN enum; the aliases
/// (x = a, nchw = oihw = abcd, goihw = abcde, nChw8c = aBcd8b, nChw16c = aBcd16b) are oneDNN's.
typedef enum {
    dnnl_format_tag_undef = 0,
    dnnl_format_tag_any = 1,
    dnnl_x = 2,
    dnnl_nchw = 5,
    dnnl_oihw = 5,
    dnnl_goihw = 7,
    dnnl_nChw16c = 69,
    dnnl_nChw8c = 93,
} dnnl_format_tag_t;

typedef enum { dnnl_prop_kind_undef = 0, dnnl_forward_training = 64 } dnnl_prop_kind_t;

/// Only the size of this enum matters here (it is a field of dnnl_convolution_desc_t).
typedef enum { dnnl_undefined_primitive = 0 } dnnl_primitive_kind_t;

typedef enum { dnnl_alg_kind_undef = 0, dnnl_convolution_direct = 1 } dnnl_alg_kind_t;

typedef enum { dnnl_any_engine = 0, dnnl_cpu = 1, dnnl_gpu = 2 } dnnl_engine_kind_t;

typedef enum { dnnl_stream_in_order = 1, dnnl_stream_default_flags = dnnl_stream_in_order } dnnl_stream_flags_t;

typedef enum { dnnl_scratchpad_mode_library = 0, dnnl_scratchpad_mode_user = 1 } dnnl_scratchpad_mode_t;

typedef enum {
    dnnl_query_undef = 0,
    dnnl_query_scratchpad_md = 136,
    dnnl_query_exec_arg_md = 255,
    dnnl_query_max = 0x7fff, // as in oneDNN: keeps the enum's range (and so its size) the library's
} dnnl_query_t;

#define DNNL_ARG_SRC 1
#define DNNL_ARG_FROM 1
#define DNNL_ARG_DST 17
#define DNNL_ARG_TO 17
#define DNNL_ARG_WEIGHTS 33
#define DNNL_ARG_BIAS 41
#define DNNL_ARG_SCRATCHPAD 80
#define DNNL_ARG_DIFF_SRC 129
#define DNNL_ARG_DIFF_DST 145
#define DNNL_ARG_DIFF_WEIGHTS 161
#define DNNL_ARG_DIFF_BIAS 169

// MARK: - Memory descriptors (a struct passed by pointer and copied by value in 2.x)

#define DNNL_MAX_NDIMS 12
#define DNNL_RNN_MAX_N_PARTS 4

typedef int64_t dnnl_dim_t;
typedef dnnl_dim_t dnnl_dims_t[DNNL_MAX_NDIMS];

typedef struct {
    dnnl_dims_t strides;
    int inner_nblks;
    dnnl_dims_t inner_blks;
    dnnl_dims_t inner_idxs;
} dnnl_blocking_desc_t;

typedef struct {
    int wino_format; // dnnl_wino_memory_format_t
    int r;
    int alpha;
    int ic;
    int oc;
    int ic_block;
    int oc_block;
    int ic2_block;
    int oc2_block;
    float adj_scale;
    size_t size;
} dnnl_wino_desc_t;

typedef struct {
    int format; // dnnl_rnn_packed_memory_format_t
    int n_parts;
    int n;
    int ldb;
    int parts[DNNL_RNN_MAX_N_PARTS];
    size_t part_pack_size[DNNL_RNN_MAX_N_PARTS];
    unsigned pack_part[DNNL_RNN_MAX_N_PARTS];
    size_t offset_compensation;
    size_t size;
    char reserved[200];
} dnnl_rnn_packed_desc_t;

typedef struct {
    uint64_t flags;
    int compensation_mask;
    float scale_adjust;
    int asymm_compensation_mask;
    char reserved[60];
} dnnl_memory_extra_desc_t;

typedef struct {
    int ndims;
    dnnl_dims_t dims;
    dnnl_data_type_t data_type;
    dnnl_dims_t padded_dims;
    dnnl_dims_t padded_offsets;
    dnnl_dim_t offset0;
    dnnl_format_kind_t format_kind;
    union {
        dnnl_blocking_desc_t blocking;
        dnnl_wino_desc_t wino_desc;
        dnnl_rnn_packed_desc_t rnn_packed_desc;
    } format_desc;
    dnnl_memory_extra_desc_t extra;
} dnnl_memory_desc_t;

typedef struct {
    dnnl_primitive_kind_t primitive_kind;
    dnnl_prop_kind_t prop_kind;
    dnnl_alg_kind_t alg_kind;
    dnnl_memory_desc_t src_desc;
    dnnl_memory_desc_t diff_src_desc;
    dnnl_memory_desc_t weights_desc;
    dnnl_memory_desc_t diff_weights_desc;
    dnnl_memory_desc_t bias_desc;
    dnnl_memory_desc_t diff_bias_desc;
    dnnl_memory_desc_t dst_desc;
    dnnl_memory_desc_t diff_dst_desc;
    dnnl_dims_t strides;
    dnnl_dims_t dilates;
    dnnl_dims_t padding[2];
    dnnl_data_type_t accum_data_type;
} dnnl_convolution_desc_t;

// The sizes oneDNN 2.6's headers give on every 64-bit (LP64) platform: a mismatch here means a field
// above was mistyped. dnnl_abi_check.c compares every offset as well, against the installed headers.
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(dnnl_memory_desc_t) == 696, "dnnl_memory_desc_t differs from oneDNN 2.x");
_Static_assert(sizeof(dnnl_convolution_desc_t) == 5976, "dnnl_convolution_desc_t differs from oneDNN 2.x");
#endif
_Static_assert(sizeof(dnnl_format_tag_t) == sizeof(int) && sizeof(dnnl_query_t) == sizeof(int),
               "oneDNN's enums are int-sized");

// MARK: - Handles and small structs

typedef struct dnnl_engine *dnnl_engine_t;
typedef struct dnnl_stream *dnnl_stream_t;
typedef struct dnnl_memory *dnnl_memory_t;
typedef struct dnnl_primitive_desc *dnnl_primitive_desc_t;
typedef const struct dnnl_primitive_desc *const_dnnl_primitive_desc_t;
typedef struct dnnl_primitive_attr *dnnl_primitive_attr_t;
typedef const struct dnnl_primitive_attr *const_dnnl_primitive_attr_t;
typedef struct dnnl_primitive *dnnl_primitive_t;
typedef const struct dnnl_primitive *const_dnnl_primitive_t;
typedef const void *const_dnnl_op_desc_t;

typedef struct {
    int arg;
    dnnl_memory_t memory;
} dnnl_exec_arg_t;

typedef struct {
    int major;
    int minor;
    int patch;
    const char *hash;
    unsigned cpu_runtime;
    unsigned gpu_runtime;
} dnnl_version_t;

#endif // SNN_DNNL_FUNCTION_LIST_ONLY

// MARK: - Functions

/// X(return type, name, parameter list) for every oneDNN function dnnl_conv.c calls; the prototypes
/// are dnnl.h's, parameter names dropped.
#define SNN_DNNL_FUNCTIONS(X)                                                                               \
    X(const dnnl_version_t *, dnnl_version, (void))                                                         \
    X(dnnl_status_t, dnnl_engine_create, (dnnl_engine_t *, dnnl_engine_kind_t, size_t))                     \
    X(dnnl_status_t, dnnl_stream_create, (dnnl_stream_t *, dnnl_engine_t, unsigned))                        \
    X(dnnl_status_t, dnnl_stream_wait, (dnnl_stream_t))                                                     \
    X(dnnl_status_t, dnnl_memory_desc_init_by_tag,                                                          \
      (dnnl_memory_desc_t *, int, const dnnl_dims_t, dnnl_data_type_t, dnnl_format_tag_t))                  \
    X(int, dnnl_memory_desc_equal, (const dnnl_memory_desc_t *, const dnnl_memory_desc_t *))                \
    X(size_t, dnnl_memory_desc_get_size, (const dnnl_memory_desc_t *))                                      \
    X(dnnl_status_t, dnnl_memory_create, (dnnl_memory_t *, const dnnl_memory_desc_t *, dnnl_engine_t, void *)) \
    X(dnnl_status_t, dnnl_memory_destroy, (dnnl_memory_t))                                                  \
    X(dnnl_status_t, dnnl_memory_set_data_handle, (dnnl_memory_t, void *))                                  \
    X(dnnl_status_t, dnnl_dilated_convolution_forward_desc_init,                                            \
      (dnnl_convolution_desc_t *, dnnl_prop_kind_t, dnnl_alg_kind_t, const dnnl_memory_desc_t *,            \
       const dnnl_memory_desc_t *, const dnnl_memory_desc_t *, const dnnl_memory_desc_t *, const dnnl_dims_t, \
       const dnnl_dims_t, const dnnl_dims_t, const dnnl_dims_t))                                            \
    X(dnnl_status_t, dnnl_dilated_convolution_backward_data_desc_init,                                      \
      (dnnl_convolution_desc_t *, dnnl_alg_kind_t, const dnnl_memory_desc_t *, const dnnl_memory_desc_t *,  \
       const dnnl_memory_desc_t *, const dnnl_dims_t, const dnnl_dims_t, const dnnl_dims_t, const dnnl_dims_t)) \
    X(dnnl_status_t, dnnl_dilated_convolution_backward_weights_desc_init,                                   \
      (dnnl_convolution_desc_t *, dnnl_alg_kind_t, const dnnl_memory_desc_t *, const dnnl_memory_desc_t *,  \
       const dnnl_memory_desc_t *, const dnnl_memory_desc_t *, const dnnl_dims_t, const dnnl_dims_t,        \
       const dnnl_dims_t, const dnnl_dims_t))                                                               \
    X(dnnl_status_t, dnnl_primitive_attr_create, (dnnl_primitive_attr_t *))                                 \
    X(dnnl_status_t, dnnl_primitive_attr_destroy, (dnnl_primitive_attr_t))                                  \
    X(dnnl_status_t, dnnl_primitive_attr_set_scratchpad_mode, (dnnl_primitive_attr_t, dnnl_scratchpad_mode_t)) \
    X(dnnl_status_t, dnnl_primitive_desc_create,                                                            \
      (dnnl_primitive_desc_t *, const_dnnl_op_desc_t, const_dnnl_primitive_attr_t, dnnl_engine_t,           \
       const_dnnl_primitive_desc_t))                                                                        \
    X(dnnl_status_t, dnnl_primitive_desc_destroy, (dnnl_primitive_desc_t))                                  \
    X(const dnnl_memory_desc_t *, dnnl_primitive_desc_query_md, (const_dnnl_primitive_desc_t, dnnl_query_t, int)) \
    X(dnnl_status_t, dnnl_reorder_primitive_desc_create,                                                    \
      (dnnl_primitive_desc_t *, const dnnl_memory_desc_t *, dnnl_engine_t, const dnnl_memory_desc_t *,      \
       dnnl_engine_t, const_dnnl_primitive_attr_t))                                                         \
    X(dnnl_status_t, dnnl_primitive_create, (dnnl_primitive_t *, const_dnnl_primitive_desc_t))              \
    X(dnnl_status_t, dnnl_primitive_destroy, (dnnl_primitive_t))                                            \
    X(dnnl_status_t, dnnl_primitive_execute, (const_dnnl_primitive_t, dnnl_stream_t, int, const dnnl_exec_arg_t *))

#endif
