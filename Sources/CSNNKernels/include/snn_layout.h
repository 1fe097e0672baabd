#ifndef SNN_LAYOUT_H
#define SNN_LAYOUT_H

#ifdef __cplusplus
extern "C" {
#endif

/// Channel-blocked layout nChwBc of a [N, C, H, W] tensor: element (n, c, h, w) lives at
/// ((n·CB + c/B)·HW + h·W + w)·B + c mod B with CB = ⌈C/B⌉ and HW = H·W; the channels beyond C are
/// padding (zero).

/// Copies samples [n0, n1) of the blocked tensor `src` into the plain NCHW tensor `dst`.
void snn_blocked_to_plain(const float *src, float *dst, long n0, long n1, long channels, long hw, long block);

/// Copies samples [n0, n1) of the plain NCHW tensor `src` into the blocked tensor `dst`, writing zeros
/// into the padding channels.
void snn_plain_to_blocked(const float *src, float *dst, long n0, long n1, long channels, long hw, long block);

#ifdef __cplusplus
}
#endif

#endif
