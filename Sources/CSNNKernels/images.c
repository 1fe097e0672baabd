// PNG and JPEG decoding for the image-folder data set. libpng is used through its simplified png_image
// API (the classic one reports errors by longjmp, which must not cross Swift frames); libjpeg's errors
// also arrive by longjmp, so its whole use stays inside this C function, which returns a status.

#include "snn_images.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/// The most pixels one image may have (a 16384 × 16384 image): beyond it a header is more likely
/// damaged than real, and the buffer would not be worth allocating.
#define SNN_IMAGE_MAX_PIXELS ((size_t)1 << 28)

void snn_image_free(uint8_t *pixels) { free(pixels); }

#if __has_include(<png.h>) && __has_include(<jpeglib.h>)
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

static int decode_png(const uint8_t *bytes, size_t count, uint8_t **pixels, int *width, int *height, int *channels,
                      char *error, size_t error_capacity) {
    png_image image;
    memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&image, bytes, count)) {
        snprintf(error, error_capacity, "damaged PNG: %s", image.message);
        png_image_free(&image);
        return 2;
    }
    if ((size_t)image.width * image.height > SNN_IMAGE_MAX_PIXELS) {
        snprintf(error, error_capacity, "a PNG of %u × %u pixels is larger than the %zu pixels allowed", image.width,
                 image.height, SNN_IMAGE_MAX_PIXELS);
        png_image_free(&image);
        return 3;
    }
    int colour = (image.format & PNG_FORMAT_FLAG_COLOR) != 0, alpha = (image.format & PNG_FORMAT_FLAG_ALPHA) != 0;
    // 8-bit sRGB output keeps the alpha channel unassociated, so dropping it leaves the colours as stored.
    image.format = colour ? (alpha ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB) : (alpha ? PNG_FORMAT_GA : PNG_FORMAT_GRAY);
    size_t stored = PNG_IMAGE_PIXEL_CHANNELS(image.format), kept = colour ? 3 : 1;
    uint8_t *buffer = malloc((size_t)image.width * image.height * stored);
    if (!buffer) {
        snprintf(error, error_capacity, "out of memory for a %u × %u PNG", image.width, image.height);
        png_image_free(&image);
        return 4;
    }
    if (!png_image_finish_read(&image, NULL, buffer, 0, NULL)) {
        snprintf(error, error_capacity, "damaged PNG: %s", image.message);
        free(buffer);
        png_image_free(&image);
        return 2;
    }
    size_t n = (size_t)image.width * image.height;
    if (stored != kept) {
        for (size_t i = 0; i < n; i++) memmove(buffer + i * kept, buffer + i * stored, kept);
    }
    *pixels = buffer;
    *width = (int)image.width;
    *height = (int)image.height;
    *channels = (int)kept;
    return 0;
}

struct jpeg_failure {
    struct jpeg_error_mgr manager;
    jmp_buf jump;
};

static void jpeg_fail(j_common_ptr info) {
    struct jpeg_failure *failure = (struct jpeg_failure *)info->err;
    longjmp(failure->jump, 1);
}

/// A truncated file ("premature end of JPEG file") is damage: libjpeg would fill the missing rows with
/// grey, and a partly grey image is not a training sample. Other warnings (extraneous bytes before a
/// marker) are ignored, as PIL ignores them.
static void jpeg_warn(j_common_ptr info, int level) {
    if (level < 0 && info->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(info);
}

static int decode_jpeg(const uint8_t *bytes, size_t count, uint8_t **pixels, int *width, int *height, int *channels,
                       char *error, size_t error_capacity) {
    struct jpeg_decompress_struct info;
    struct jpeg_failure failure;
    // volatile: changed after setjmp and read after the longjmp back.
    uint8_t *volatile buffer = NULL;
    info.err = jpeg_std_error(&failure.manager);
    failure.manager.error_exit = jpeg_fail;
    failure.manager.emit_message = jpeg_warn;
    if (setjmp(failure.jump)) {
        char message[JMSG_LENGTH_MAX];
        failure.manager.format_message((j_common_ptr)&info, message);
        snprintf(error, error_capacity, "damaged or unsupported JPEG: %s", message);
        jpeg_destroy_decompress(&info);
        free(buffer);
        return 2;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, bytes, (unsigned long)count);
    jpeg_read_header(&info, TRUE);
    if (info.num_components != 1 && info.jpeg_color_space != JCS_YCbCr && info.jpeg_color_space != JCS_RGB) {
        snprintf(error, error_capacity, "a JPEG with %d colour components (CMYK or YCCK) is not supported",
                 info.num_components);
        jpeg_destroy_decompress(&info);
        return 2;
    }
    info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    if ((size_t)info.image_width * info.image_height > SNN_IMAGE_MAX_PIXELS) {
        snprintf(error, error_capacity, "a JPEG of %u × %u pixels is larger than the %zu pixels allowed",
                 info.image_width, info.image_height, SNN_IMAGE_MAX_PIXELS);
        jpeg_destroy_decompress(&info);
        return 3;
    }
    jpeg_start_decompress(&info);
    size_t row = (size_t)info.output_width * info.output_components;
    buffer = malloc(row * info.output_height);
    if (!buffer) {
        snprintf(error, error_capacity, "out of memory for a %u × %u JPEG", info.output_width, info.output_height);
        jpeg_destroy_decompress(&info);
        return 4;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW line = buffer + row * info.output_scanline;
        jpeg_read_scanlines(&info, &line, 1);
    }
    jpeg_finish_decompress(&info);
    *pixels = buffer;
    *width = (int)info.output_width;
    *height = (int)info.output_height;
    *channels = info.output_components;
    jpeg_destroy_decompress(&info);
    return 0;
}

int snn_image_decode(const uint8_t *bytes, size_t count, uint8_t **pixels, int *width, int *height, int *channels,
                     char *error, size_t error_capacity) {
    *pixels = NULL;
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
    if (count >= 8 && memcmp(bytes, png_magic, 8) == 0) {
        return decode_png(bytes, count, pixels, width, height, channels, error, error_capacity);
    }
    if (count >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) {
        return decode_jpeg(bytes, count, pixels, width, height, channels, error, error_capacity);
    }
    snprintf(error, error_capacity, "not a PNG or JPEG file (its first bytes are neither signature)");
    return 1;
}

#else

int snn_image_decode(const uint8_t *bytes, size_t count, uint8_t **pixels, int *width, int *height, int *channels,
                     char *error, size_t error_capacity) {
    (void)bytes; (void)count; (void)width; (void)height; (void)channels;
    *pixels = NULL;
    snprintf(error, error_capacity, "built without libpng and libjpeg (scripts/install-deps.sh installs them)");
    return 5;
}

#endif
