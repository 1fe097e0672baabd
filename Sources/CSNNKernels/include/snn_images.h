#ifndef SNN_IMAGES_H
#define SNN_IMAGES_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Decodes a PNG (libpng's simplified API) or JPEG (libjpeg) image held in memory into 8-bit pixels,
/// rows top to bottom, channels interleaved: 1 channel for grey images, 3 (RGB) for colour ones.
/// An alpha channel is dropped (as PIL's convert("RGB") / convert("L") do), not composited.
/// On success returns 0 and sets *pixels (free with snn_image_free), *width, *height, *channels.
/// On failure returns nonzero and copies a message (NUL-terminated) into error (capacity
/// error_capacity): 1 not a PNG or JPEG, 2 damaged or unsupported, 3 too large, 4 out of memory,
/// 5 built without the image libraries.
int snn_image_decode(const uint8_t *bytes, size_t count, uint8_t **pixels, int *width, int *height, int *channels,
                     char *error, size_t error_capacity);

/// Frees the pixels of snn_image_decode.
void snn_image_free(uint8_t *pixels);

#ifdef __cplusplus
}
#endif
#endif
