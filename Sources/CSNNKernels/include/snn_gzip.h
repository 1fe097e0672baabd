#ifndef SNN_GZIP_H
#define SNN_GZIP_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Decompresses a whole gzip stream (concatenated members allowed) with zlib.
/// On success returns 0 and sets *output (free with snn_gzip_free) and *output_count.
/// On failure returns nonzero, sets *error_offset to the input offset reached and copies a message
/// (NUL-terminated) into error (capacity error_capacity).
int snn_gunzip(const uint8_t *input, size_t input_count, uint8_t **output, size_t *output_count,
               size_t *error_offset, char *error, size_t error_capacity);

/// Frees a buffer returned by snn_gunzip.
void snn_gzip_free(uint8_t *buffer);

#ifdef __cplusplus
}
#endif
#endif
