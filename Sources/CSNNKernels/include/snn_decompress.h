// LZ4 frames and Zstandard frames (AEDAT 4.0 packets), through liblz4 / libzstd loaded at run time.
#ifndef SNN_DECOMPRESS_H
#define SNN_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SNN_DECOMPRESS_OK = 0,
    SNN_DECOMPRESS_UNAVAILABLE = -1, // the library could not be loaded
    SNN_DECOMPRESS_CORRUPT = -2,     // the data is not a complete, valid frame (see the message)
    SNN_DECOMPRESS_TOO_LARGE = -3,   // the output would exceed the limit
    SNN_DECOMPRESS_NO_MEMORY = -4,
};

/// Decompresses one LZ4 frame (`kind` 0) or one Zstandard frame (`kind` 1) of `size` bytes into a
/// malloc'd buffer (`*out`, `*out_size`; free it) of at most `limit` bytes. On failure `message`
/// (of `message_size` bytes) holds the library's reason.
int snn_decompress(int kind, const uint8_t *data, size_t size, size_t limit, uint8_t **out, size_t *out_size,
                   char *message, size_t message_size);

#ifdef __cplusplus
}
#endif

#endif
