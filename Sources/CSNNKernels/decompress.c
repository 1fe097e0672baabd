// LZ4 frame and Zstandard decompression through liblz4 / libzstd, opened with dlopen on first use (both
// ship with every Debian system, as dependencies of apt), so the package needs neither to build.

#include "snn_decompress.h"
#include "dl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const void *src;
    size_t size, pos;
} zstd_in;
typedef struct {
    void *dst;
    size_t size, pos;
} zstd_out;

static struct {
    size_t (*LZ4F_createDecompressionContext)(void **, unsigned);
    size_t (*LZ4F_freeDecompressionContext)(void *);
    size_t (*LZ4F_decompress)(void *, void *, size_t *, const void *, size_t *, const void *);
    unsigned (*LZ4F_isError)(size_t);
    const char *(*LZ4F_getErrorName)(size_t);
    void *(*ZSTD_createDStream)(void);
    size_t (*ZSTD_freeDStream)(void *);
    size_t (*ZSTD_initDStream)(void *);
    size_t (*ZSTD_decompressStream)(void *, zstd_out *, zstd_in *);
    unsigned (*ZSTD_isError)(size_t);
    const char *(*ZSTD_getErrorName)(size_t);
} fn;
static int have_lz4, have_zstd;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
#if defined(__APPLE__)
    static const char *const lz4[] = {"liblz4.1.dylib", "/opt/homebrew/lib/liblz4.1.dylib", "/usr/local/lib/liblz4.1.dylib", NULL};
    static const char *const zstd[] = {"libzstd.1.dylib", "/opt/homebrew/lib/libzstd.1.dylib", "/usr/local/lib/libzstd.1.dylib", NULL};
#else
    static const char *const lz4[] = {"liblz4.so.1", "liblz4.so", NULL};
    static const char *const zstd[] = {"libzstd.so.1", "libzstd.so", NULL};
#endif
#define LOOKUP(handle, name, ok) SNN_DLSYM(handle, fn.name, #name, ok);
    void *h = snn_dlopen_first(lz4);
    if (h) {
        int ok = 1;
        LOOKUP(h, LZ4F_createDecompressionContext, ok) LOOKUP(h, LZ4F_freeDecompressionContext, ok)
        LOOKUP(h, LZ4F_decompress, ok) LOOKUP(h, LZ4F_isError, ok) LOOKUP(h, LZ4F_getErrorName, ok)
        have_lz4 = ok;
    }
    h = snn_dlopen_first(zstd);
    if (h) {
        int ok = 1;
        LOOKUP(h, ZSTD_createDStream, ok) LOOKUP(h, ZSTD_freeDStream, ok) LOOKUP(h, ZSTD_initDStream, ok)
        LOOKUP(h, ZSTD_decompressStream, ok) LOOKUP(h, ZSTD_isError, ok) LOOKUP(h, ZSTD_getErrorName, ok)
        have_zstd = ok;
    }
#undef LOOKUP
}

// Makes room for at least `more` bytes after `used` in *buffer (capacity *capacity), within limit.
static int grow(uint8_t **buffer, size_t *capacity, size_t used, size_t more, size_t limit) {
    if (used + more <= *capacity) return SNN_DECOMPRESS_OK;
    if (used + more > limit) return SNN_DECOMPRESS_TOO_LARGE;
    size_t c = *capacity ? *capacity : 4096;
    while (c < used + more) c *= 2;
    if (c > limit) c = limit;
    uint8_t *b = realloc(*buffer, c);
    if (!b) return SNN_DECOMPRESS_NO_MEMORY;
    *buffer = b;
    *capacity = c;
    return SNN_DECOMPRESS_OK;
}

int snn_decompress(int kind, const uint8_t *data, size_t size, size_t limit, uint8_t **out, size_t *out_size,
                   char *message, size_t message_size) {
    pthread_once(&load_once, load);
    *out = NULL;
    *out_size = 0;
    if (message_size) message[0] = 0;
    if (kind == 0 ? !have_lz4 : !have_zstd) {
        snprintf(message, message_size, "%s could not be loaded", kind == 0 ? "liblz4" : "libzstd");
        return SNN_DECOMPRESS_UNAVAILABLE;
    }
    uint8_t *buffer = NULL;
    size_t capacity = 0, used = 0, consumed = 0;
    int status = SNN_DECOMPRESS_OK, done = 0;
    if (kind == 0) {
        void *ctx = NULL;
        if (fn.LZ4F_isError(fn.LZ4F_createDecompressionContext(&ctx, 100))) return SNN_DECOMPRESS_NO_MEMORY;
        while (!done) {
            if ((status = grow(&buffer, &capacity, used, 65536, limit)) != SNN_DECOMPRESS_OK) break;
            size_t dst = capacity - used, src = size - consumed;
            size_t r = fn.LZ4F_decompress(ctx, buffer + used, &dst, data + consumed, &src, NULL);
            if (fn.LZ4F_isError(r)) {
                snprintf(message, message_size, "%s", fn.LZ4F_getErrorName(r));
                status = SNN_DECOMPRESS_CORRUPT;
                break;
            }
            used += dst;
            consumed += src;
            if (r == 0) done = 1;
            else if (consumed == size && dst == 0) {
                snprintf(message, message_size, "the LZ4 frame ends early");
                status = SNN_DECOMPRESS_CORRUPT;
                break;
            }
        }
        fn.LZ4F_freeDecompressionContext(ctx);
    } else {
        void *ctx = fn.ZSTD_createDStream();
        if (!ctx || fn.ZSTD_isError(fn.ZSTD_initDStream(ctx))) {
            if (ctx) fn.ZSTD_freeDStream(ctx);
            return SNN_DECOMPRESS_NO_MEMORY;
        }
        zstd_in in = {data, size, 0};
        while (!done) {
            if ((status = grow(&buffer, &capacity, used, 65536, limit)) != SNN_DECOMPRESS_OK) break;
            zstd_out o = {buffer + used, capacity - used, 0};
            size_t r = fn.ZSTD_decompressStream(ctx, &o, &in);
            if (fn.ZSTD_isError(r)) {
                snprintf(message, message_size, "%s", fn.ZSTD_getErrorName(r));
                status = SNN_DECOMPRESS_CORRUPT;
                break;
            }
            used += o.pos;
            if (r == 0) done = 1;
            else if (in.pos == in.size && o.pos < o.size) {
                snprintf(message, message_size, "the Zstandard frame ends early");
                status = SNN_DECOMPRESS_CORRUPT;
                break;
            }
        }
        consumed = in.pos;
        fn.ZSTD_freeDStream(ctx);
    }
    if (status == SNN_DECOMPRESS_OK && consumed != size) {
        snprintf(message, message_size, "%zu bytes after the end of the frame", size - consumed);
        status = SNN_DECOMPRESS_CORRUPT;
    }
    if (status != SNN_DECOMPRESS_OK) {
        if (status == SNN_DECOMPRESS_TOO_LARGE) snprintf(message, message_size, "more than %zu bytes", limit);
        free(buffer);
        return status;
    }
    *out = buffer;
    *out_size = used;
    return SNN_DECOMPRESS_OK;
}
