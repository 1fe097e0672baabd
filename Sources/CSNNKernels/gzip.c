#include "snn_gzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

void snn_gzip_free(uint8_t *buffer) { free(buffer); }

int snn_gunzip(const uint8_t *input, size_t input_count, uint8_t **output, size_t *output_count,
               size_t *error_offset, char *error, size_t error_capacity) {
    *output = NULL;
    *output_count = 0;
    *error_offset = 0;
    size_t capacity = input_count * 4 + 1024, used = 0;
    uint8_t *buffer = malloc(capacity);
    if (!buffer) {
        snprintf(error, error_capacity, "out of memory");
        return 1;
    }
    size_t consumed = 0;
    while (consumed < input_count) {
        z_stream s;
        memset(&s, 0, sizeof s);
        if (inflateInit2(&s, 16 + MAX_WBITS) != Z_OK) {
            snprintf(error, error_capacity, "zlib initialisation failed");
            free(buffer);
            return 1;
        }
        s.next_in = (Bytef *)(input + consumed);
        int status = Z_OK;
        size_t member_start = consumed;
        while (status != Z_STREAM_END) {
            size_t remaining_in = input_count - consumed;
            s.avail_in = (uInt)(remaining_in > (1u << 30) ? (1u << 30) : remaining_in);
            s.next_in = (Bytef *)(input + consumed);
            if (used == capacity) {
                capacity *= 2;
                uint8_t *grown = realloc(buffer, capacity);
                if (!grown) {
                    snprintf(error, error_capacity, "out of memory");
                    inflateEnd(&s);
                    free(buffer);
                    return 1;
                }
                buffer = grown;
            }
            size_t room = capacity - used;
            s.avail_out = (uInt)(room > (1u << 30) ? (1u << 30) : room);
            s.next_out = buffer + used;
            uInt avail_in_before = s.avail_in, avail_out_before = s.avail_out;
            status = inflate(&s, Z_NO_FLUSH);
            consumed += avail_in_before - s.avail_in;
            used += avail_out_before - s.avail_out;
            if (status == Z_STREAM_END) break;
            if (status != Z_OK && status != Z_BUF_ERROR) {
                *error_offset = consumed;
                snprintf(error, error_capacity, "invalid gzip data: %s", s.msg ? s.msg : "corrupt stream");
                inflateEnd(&s);
                free(buffer);
                return 1;
            }
            if (consumed == input_count && s.avail_out != 0) {
                *error_offset = consumed;
                snprintf(error, error_capacity, "truncated gzip stream (member starting at byte %zu)", member_start);
                inflateEnd(&s);
                free(buffer);
                return 1;
            }
        }
        inflateEnd(&s);
        // Trailing zero padding after the last member is tolerated (as gzip does).
        size_t rest = consumed;
        while (rest < input_count && input[rest] == 0) rest++;
        if (rest == input_count) break;
    }
    *output = buffer;
    *output_count = used;
    return 0;
}

int snn_zlib_compress(const uint8_t *input, size_t input_count, int level, uint8_t **output, size_t *output_count) {
    uLongf bound = compressBound((uLong)input_count);
    uint8_t *buffer = malloc(bound ? bound : 1);
    if (!buffer) return 1;
    if (compress2(buffer, &bound, input, (uLong)input_count, level) != Z_OK) {
        free(buffer);
        return 2;
    }
    *output = buffer;
    *output_count = bound;
    return 0;
}

uint32_t snn_crc32(uint32_t crc, const uint8_t *bytes, size_t count) {
    // zlib takes a uInt count: feed buffers of 4 GiB and more in pieces rather than truncate the count.
    uLong value = crc;
    while (count > 0) {
        uInt piece = count > (size_t)1 << 30 ? (uInt)1 << 30 : (uInt)count;
        value = crc32(value, bytes, piece);
        bytes += piece;
        count -= piece;
    }
    return (uint32_t)value;
}

int snn_inflate_raw(const uint8_t *input, size_t input_count, uint8_t *output, size_t output_count) {
    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) return 1;
    size_t in_used = 0, out_used = 0;
    int status = Z_OK;
    while (status == Z_OK) {
        size_t in_left = input_count - in_used, out_left = output_count - out_used;
        s.next_in = (Bytef *)(input + in_used);
        s.avail_in = (uInt)(in_left > (1u << 30) ? (1u << 30) : in_left);
        s.next_out = output + out_used;
        s.avail_out = (uInt)(out_left > (1u << 30) ? (1u << 30) : out_left);
        uInt ai = s.avail_in, ao = s.avail_out;
        status = inflate(&s, Z_NO_FLUSH);
        in_used += ai - s.avail_in;
        out_used += ao - s.avail_out;
        if (status == Z_OK && ai == s.avail_in && ao == s.avail_out) break; // no progress
    }
    inflateEnd(&s);
    return (status == Z_STREAM_END && out_used == output_count) ? 0 : 2;
}
