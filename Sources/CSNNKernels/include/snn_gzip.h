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

/// Frees a buffer returned by snn_gunzip or snn_zlib_compress.
void snn_gzip_free(uint8_t *buffer);

/// Compresses `input` as one zlib stream (RFC 1950, what PNG's IDAT holds) at `level` (0…9).
/// Returns 0 and sets *output (free with snn_gzip_free) and *output_count, or nonzero on failure.
int snn_zlib_compress(const uint8_t *input, size_t input_count, int level, uint8_t **output, size_t *output_count);

/// Inflates a raw deflate stream (as in zip entries) of exactly `output_count` bytes into `output`.
/// Returns 0 on success, nonzero when the data is corrupt or does not produce exactly that many bytes.
int snn_inflate_raw(const uint8_t *input, size_t input_count, uint8_t *output, size_t output_count);

/// CRC-32 (zlib's, as PNG chunks use it) of `count` bytes, continuing from `crc` (0 to start).
uint32_t snn_crc32(uint32_t crc, const uint8_t *bytes, size_t count);

#ifdef __cplusplus
}
#endif
#endif
