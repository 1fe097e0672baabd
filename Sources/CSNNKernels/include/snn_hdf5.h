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
    SNN_H5_READ_FAILED = -5,    // the library failed while reading (damaged metadata or data)
    SNN_H5_NO_MEMORY = -6,
    SNN_H5_CRASHED = -7,        // the library crashed on the file (damaged metadata)
    SNN_H5_TIMEOUT = -8,        // the library did not finish in time (damaged metadata)
    SNN_H5_SYSTEM = -9,         // no pipe or process could be made (errno in *signal_number)
};

/// 1 when the HDF5 library is loaded (it is opened on the first call).
int snn_h5_available(void);
/// The library's version as "1.10.8", or "" when unavailable.
const char *snn_h5_version(void);

/// One dataset to read: a one-dimensional integer dataset (`vlen` = 0) into `integers`, or a
/// one-dimensional dataset of variable-length sequences of numbers, float or integer (`vlen` = 1), into
/// `offsets` (length + 1 entries: where each sequence starts in `values`) and `values` (doubles).
typedef struct {
    const char *name;   // in: the dataset's path in the file ("spikes/times")
    int vlen;           // in
    int status;         // out: SNN_H5_OK or why this dataset failed
    uint64_t length;    // out: elements, or sequences
    int64_t *integers;  // out (malloc'd)
    uint64_t *offsets;  // out (malloc'd)
    double *values;     // out (malloc'd)
} snn_h5_request;

/// Opens `path` read-only and reads the requested datasets, in a child process: damaged metadata that
/// makes the library crash gives SNN_H5_CRASHED (`*signal_number` the signal, 0 if it exited) and one
/// that makes it run past `timeout_seconds` gives SNN_H5_TIMEOUT, instead of taking the caller down.
/// On SNN_H5_OK free the results with snn_h5_free; on failure nothing is left allocated, a dataset's
/// own failure is both returned and left in its `status`, and `message` receives the library's
/// description of the error when it gave one.
int snn_h5_read(const char *path, snn_h5_request *requests, int count, double timeout_seconds, int *signal_number,
                char *message, size_t message_capacity);
void snn_h5_free(snn_h5_request *requests, int count);

#ifdef __cplusplus
}
#endif

#endif
