// Reading HDF5 files (SHD / SSC) through the HDF5 C library, loaded at run time.
#ifndef SNN_HDF5_H
#define SNN_HDF5_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SNN_H5_OK = 0,
    SNN_H5_UNAVAILABLE = -1,    // no HDF5 library (1.10 or later) could be loaded
    SNN_H5_OPEN_FAILED = -2,    // not an HDF5 file, truncated, or unreadable
    SNN_H5_NO_DATASET = -3,     // no dataset of that name
    SNN_H5_WRONG_TYPE = -4,     // the dataset's type or rank is not the one asked for
    SNN_H5_READ_FAILED = -5,    // the library failed while reading (corrupt data)
    SNN_H5_NO_MEMORY = -6,
};

/// 1 when the HDF5 library is loaded (it is opened on the first call).
int snn_h5_available(void);
/// The library's version as "1.10.8", or "" when unavailable.
const char *snn_h5_version(void);

/// Opens a file read-only; `*file` is its handle.
int snn_h5_open(const char *path, int64_t *file);
void snn_h5_close(int64_t file);

/// A one-dimensional integer dataset: `*length` receives its number of elements; when `out` is not
/// NULL the elements are read into it (`capacity` must equal that number).
int snn_h5_read_int64(int64_t file, const char *name, int64_t *out, uint64_t capacity, uint64_t *length);

/// Reads a one-dimensional dataset of `count` variable-length sequences of numbers (float or
/// integer): `offsets` (count + 1 entries) receives the start of each sequence in the concatenated
/// values, `*values` a malloc'd array (free it) of doubles.
int snn_h5_read_vlen(int64_t file, const char *name, uint64_t count, uint64_t *offsets, double **values);

#ifdef __cplusplus
}
#endif

#endif
