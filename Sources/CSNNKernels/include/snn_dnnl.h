#ifndef SNN_DNNL_H
#define SNN_DNNL_H

#ifdef __cplusplus
extern "C" {
#endif

/// Shape and hyper-parameters of a 2-D convolution (all values in elements).
///
/// Tensors are plain, row-major float32:
/// - input  `x`      [batch, in_channels, in_height, in_width]            (NCHW)
/// - weight `weight` [out_channels, in_channels / groups, kernel_height, kernel_width] (OIHW)
/// - output `y`      [batch, out_channels, out_height, out_width]          (NCHW)
/// - bias            [out_channels]
///
/// The caller computes the output size:
/// `out = (in + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1` (integer division).
typedef struct {
    int batch, in_channels, in_height, in_width;
    int out_channels, kernel_height, kernel_width;
    /// Strides (>= 1) and symmetric zero padding (>= 0) on both sides of each spatial axis.
    int stride_h, stride_w, pad_h, pad_w;
    /// PyTorch convention: 1 = no dilation (oneDNN itself counts dilation - 1).
    int dilation_h, dilation_w;
    /// Number of groups (>= 1); in_channels and out_channels must be divisible by it.
    /// groups == in_channels == out_channels is a depthwise convolution.
    int groups;
    int out_height, out_width;
} snn_conv2d_params;

/// Return codes of the snn_dnnl_conv2d_* functions (0 = success).
/// No oneDNN 2.x library could be loaded on this machine (see snn_dnnl_available).
#define SNN_DNNL_ERR_UNAVAILABLE 1
/// The parameters are inconsistent (non-positive sizes, groups not dividing the channels,
/// output size not matching the formula above) or a required pointer is NULL.
#define SNN_DNNL_ERR_INVALID 2
/// An internal allocation failed.
#define SNN_DNNL_ERR_NOMEM 3
/// A oneDNN call failed: the code is SNN_DNNL_ERR_DNNL_BASE + dnnl_status_t.
#define SNN_DNNL_ERR_DNNL_BASE 100

/// 1 when oneDNN 2.x was loaded at run time (dlopen "libdnnl.so.2"; no oneDNN header or library is
/// needed to build) and its CPU engine and stream were created, else 0. When 0, every
/// snn_dnnl_conv2d_* call returns SNN_DNNL_ERR_UNAVAILABLE and the caller should use its own
/// convolution. The library is looked up once per process; this call is cheap after the first one
/// and thread-safe.
///
/// oneDNN runs its own OpenMP thread pool: OMP_NUM_THREADS (read by the OpenMP runtime when the
/// library loads) sets its thread count; this component changes no environment variable.
int snn_dnnl_available(void);

/// Forward convolution: y = conv(x, weight) + bias (prop kind forward_training).
/// `bias` may be NULL (no bias). `y` is overwritten, not accumulated into.
///
/// Primitives, layout reorders and scratch space are cached per distinct parameter set (with bias
/// presence and operation), so repeated calls with the same shape only reorder and execute.
/// Calls are thread-safe; concurrent calls are serialised (oneDNN itself uses all its threads).
/// Returns 0 on success, else one of the SNN_DNNL_ERR_* codes (never aborts, never prints).
int snn_dnnl_conv2d_forward(const snn_conv2d_params *p, const float *x, const float *weight,
                            const float *bias, float *y);

/// Gradient with respect to the input: dx = conv_transpose(dy, weight).
/// `dy` has the output shape, `dx` the input shape; `dx` is overwritten, not accumulated into.
/// Returns 0 on success, else one of the SNN_DNNL_ERR_* codes.
int snn_dnnl_conv2d_backward_data(const snn_conv2d_params *p, const float *dy, const float *weight,
                                  float *dx);

/// Gradients with respect to the weight and the bias: dweight = sum over the batch of the
/// correlation of x with dy; dbias[o] = sum of dy over batch and space. `dbias` may be NULL (not
/// computed). `dweight` and `dbias` are overwritten, not accumulated into.
/// Returns 0 on success, else one of the SNN_DNNL_ERR_* codes.
int snn_dnnl_conv2d_backward_weights(const snn_conv2d_params *p, const float *x, const float *dy,
                                     float *dweight, float *dbias);

/// Operations, for snn_dnnl_conv2d_blocks.
#define SNN_DNNL_OP_FORWARD 0
#define SNN_DNNL_OP_BACKWARD_DATA 1
#define SNN_DNNL_OP_BACKWARD_WEIGHTS 2

/// The channel block (8 for nChw8c, 16 for nChw16c) of the layout the primitive of `op` works in for
/// its source-side activation (x, or dx for backward-data) and its destination-side activation
/// (y, or dy), 0 where that layout is plain or another one. Creates and caches the primitive.
/// Blocked layout nChwBc: element (n, c, h, w) at ((n·⌈C/B⌉ + c/B)·H·W + h·W + w)·B + c mod B, the
/// channels padded with zeros up to a multiple of B.
int snn_dnnl_conv2d_blocks(const snn_conv2d_params *p, int op, int has_bias, int *src_block, int *dst_block);

/// Flags of the *_blocked calls: the named activation is passed (or is to be written) in the blocked
/// layout snn_dnnl_conv2d_blocks reported, so no reorder is run for it.
/// SRC: x (forward, backward-weights) or dx (backward-data); DST: y (forward) or dy (backward ops).
#define SNN_DNNL_SRC_BLOCKED 1
#define SNN_DNNL_DST_BLOCKED 2

/// As the plain calls, with activations in blocked layouts where `flags` says so. A flag for an
/// activation whose layout is not blocked returns SNN_DNNL_ERR_INVALID.
int snn_dnnl_conv2d_forward_blocked(const snn_conv2d_params *p, const float *x, const float *weight,
                                    const float *bias, float *y, int flags);
int snn_dnnl_conv2d_backward_data_blocked(const snn_conv2d_params *p, const float *dy, const float *weight,
                                          float *dx, int flags);
int snn_dnnl_conv2d_backward_weights_blocked(const snn_conv2d_params *p, const float *x, const float *dy,
                                             float *dweight, float *dbias, int flags);

#ifdef __cplusplus
}
#endif

#endif
