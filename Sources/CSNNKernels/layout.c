// Reorders between plain NCHW and the channel-blocked nChwBc layout oneDNN's convolutions use.

#include "snn_layout.h"

#include <string.h>

void snn_blocked_to_plain(const float *src, float *dst, long n0, long n1, long channels, long hw, long block) {
    const long cb_count = (channels + block - 1) / block;
    for (long n = n0; n < n1; n++) {
        for (long cb = 0; cb < cb_count; cb++) {
            const float *s = src + (n * cb_count + cb) * hw * block;
            const long c0 = cb * block, width = channels - c0 < block ? channels - c0 : block;
            for (long ci = 0; ci < width; ci++) {
                float *d = dst + (n * channels + c0 + ci) * hw;
                for (long p = 0; p < hw; p++) d[p] = s[p * block + ci];
            }
        }
    }
}

void snn_plain_to_blocked(const float *src, float *dst, long n0, long n1, long channels, long hw, long block) {
    const long cb_count = (channels + block - 1) / block;
    for (long n = n0; n < n1; n++) {
        for (long cb = 0; cb < cb_count; cb++) {
            float *d = dst + (n * cb_count + cb) * hw * block;
            const long c0 = cb * block, width = channels - c0 < block ? channels - c0 : block;
            if (width < block) memset(d, 0, (size_t)(hw * block) * sizeof(float));
            for (long ci = 0; ci < width; ci++) {
                const float *s = src + (n * channels + c0 + ci) * hw;
                for (long p = 0; p < hw; p++) d[p * block + ci] = s[p];
            }
        }
    }
}
