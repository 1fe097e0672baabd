// Reading and writing HDF5 files (SHD / SSC, NIR graphs) through the HDF5 C library, loaded at run time.
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
    SNN_H5_WRITE_FAILED = -10,  // the library failed to create a group or dataset, or to write it
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

/// Reads every group and dataset of `path` in a child process (isolated as snn_h5_read is) into
/// `*records` (malloc'd, `*length` bytes; free it with free()): a sequence of records, each a tag
/// byte, then a uint32 path length and the path ("node/nodes/lif/tau"), then
///   'G' a group: nothing more;
///   'N' a numeric dataset: uint32 rank, uint64 dimensions[rank], float64 values (C order);
///   'S' a string dataset: uint32 rank, uint64 dimensions[rank], per string a uint32 length and its bytes;
///   'U' a dataset of another type: int32 its HDF5 type class;
///   'F' a failure at that object: int32 status, uint32 message length, the library's message; last record;
/// and a final tag 'E' when the walk completed. All integers are in the machine's byte order. At
/// most `max_bytes` of values are read (a larger file fails with SNN_H5_NO_MEMORY in an 'F' record).
int snn_h5_read_tree(const char *path, double timeout_seconds, uint64_t max_bytes, uint8_t **records,
                     uint64_t *length, int *signal_number, char *message, size_t message_capacity);

enum { SNN_H5_GROUP = 0, SNN_H5_FLOAT32 = 1, SNN_H5_INT64 = 2, SNN_H5_STRING = 3, SNN_H5_FLOAT64 = 4 };

/// One object to write: a group, or a dataset of `rank` dimensions (0: a scalar) of float32, int64
/// float64 (in `doubles`) or variable-length UTF-8 strings. Parents come before their children.
typedef struct {
    const char *path;
    int kind;
    int rank;
    const uint64_t *dims;
    const float *floats;
    const double *doubles;
    const int64_t *integers;
    const char *const *strings;
} snn_h5_entry;

/// Creates (or truncates) `path` and writes `entries` in order, in this process.
int snn_h5_write(const char *path, const snn_h5_entry *entries, int count, char *message, size_t message_capacity);

#ifdef __cplusplus
}
#endif

#endif
