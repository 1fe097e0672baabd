// HDF5 through the C library, opened with dlopen on first use, so that the package builds and runs
// without it and only the SHD / SSC readers need it. No HDF5 header is used: the few types are those
// of HDF5 ≥ 1.10 (hid_t is 64-bit there), and the native type ids, which are macros over global
// variables, are read from those variables after H5open().

#include "snn_hdf5.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int64_t hid_t;
typedef int herr_t;
typedef unsigned long long hsize_t;
typedef struct {
    size_t len;
    void *p;
} hvl_t;

enum { H5T_INTEGER = 0, H5T_FLOAT = 1, H5T_VLEN = 9 };
#define H5P_DEFAULT ((hid_t)0)
#define H5S_ALL ((hid_t)0)
#define H5E_DEFAULT ((hid_t)0)
#define H5F_ACC_RDONLY 0u

static struct {
    herr_t (*H5open)(void);
    herr_t (*H5get_libversion)(unsigned *, unsigned *, unsigned *);
    herr_t (*H5Eset_auto2)(hid_t, void *, void *);
    hid_t (*H5Fopen)(const char *, unsigned, hid_t);
    herr_t (*H5Fclose)(hid_t);
    hid_t (*H5Dopen2)(hid_t, const char *, hid_t);
    herr_t (*H5Dclose)(hid_t);
    hid_t (*H5Dget_space)(hid_t);
    hid_t (*H5Dget_type)(hid_t);
    herr_t (*H5Dread)(hid_t, hid_t, hid_t, hid_t, hid_t, void *);
    herr_t (*H5Dvlen_reclaim)(hid_t, hid_t, hid_t, void *);
    int (*H5Sget_simple_extent_ndims)(hid_t);
    int (*H5Sget_simple_extent_dims)(hid_t, hsize_t *, hsize_t *);
    herr_t (*H5Sclose)(hid_t);
    int (*H5Tget_class)(hid_t);
    hid_t (*H5Tget_super)(hid_t);
    hid_t (*H5Tvlen_create)(hid_t);
    herr_t (*H5Tclose)(hid_t);
    int (*H5Lexists)(hid_t, const char *, hid_t);
} h5;
static hid_t native_double, native_int64;
static int loaded;
static char version[32];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
// The library is built thread-safe or not; calls are serialised here either way. A thread-safe build
// keeps the error-printing setting per thread, so it is switched off on every call.
static pthread_mutex_t lock_ = PTHREAD_MUTEX_INITIALIZER;
static void lock(void) {
    pthread_mutex_lock(&lock_);
    h5.H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void unlock(void) { pthread_mutex_unlock(&lock_); }

static void load_hdf5(void) {
    static const char *const names[] = {
#if defined(__APPLE__)
        "libhdf5.dylib", "/opt/homebrew/lib/libhdf5.dylib", "/usr/local/lib/libhdf5.dylib",
#else
        "libhdf5_serial.so.103", "libhdf5.so.103", "libhdf5_serial.so.200", "libhdf5.so.200", "libhdf5_serial.so",
        "libhdf5.so", "libhdf5.so.310", "libhdf5.so.320",
#endif
        NULL};
    void *handle = NULL;
    for (int i = 0; names[i] && !handle; i++) handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) return;
    int ok = 1;
#define LOOKUP(name)                                  \
    {                                                 \
        void *sym = dlsym(handle, #name);             \
        if (!sym) ok = 0;                             \
        memcpy(&h5.name, &sym, sizeof h5.name);       \
    }
    LOOKUP(H5open) LOOKUP(H5get_libversion) LOOKUP(H5Eset_auto2) LOOKUP(H5Fopen) LOOKUP(H5Fclose)
    LOOKUP(H5Dopen2) LOOKUP(H5Dclose) LOOKUP(H5Dget_space) LOOKUP(H5Dget_type) LOOKUP(H5Dread)
    LOOKUP(H5Dvlen_reclaim) LOOKUP(H5Sget_simple_extent_ndims) LOOKUP(H5Sget_simple_extent_dims)
    LOOKUP(H5Sclose) LOOKUP(H5Tget_class) LOOKUP(H5Tget_super) LOOKUP(H5Tvlen_create) LOOKUP(H5Tclose)
    LOOKUP(H5Lexists)
#undef LOOKUP
    if (!ok || h5.H5open() < 0) return;
    unsigned major = 0, minor = 0, release = 0;
    h5.H5get_libversion(&major, &minor, &release);
    if (major < 1 || (major == 1 && minor < 10)) return; // hid_t was 32-bit before 1.10
    hid_t *d = (hid_t *)dlsym(handle, "H5T_NATIVE_DOUBLE_g");
    hid_t *l = (hid_t *)dlsym(handle, "H5T_NATIVE_LLONG_g");
    if (!d || !l) return;
    native_double = *d;
    native_int64 = *l;
    h5.H5Eset_auto2(H5E_DEFAULT, NULL, NULL); // errors are reported by return codes, not printed
    snprintf(version, sizeof version, "%u.%u.%u", major, minor, release);
    loaded = 1;
}

int snn_h5_available(void) {
    pthread_once(&load_once, load_hdf5);
    return loaded;
}

const char *snn_h5_version(void) { return snn_h5_available() ? version : ""; }

int snn_h5_open(const char *path, int64_t *file) {
    if (!snn_h5_available()) return SNN_H5_UNAVAILABLE;
    lock();
    hid_t f = h5.H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    unlock();
    if (f < 0) return SNN_H5_OPEN_FAILED;
    *file = f;
    return SNN_H5_OK;
}

void snn_h5_close(int64_t file) {
    if (!snn_h5_available()) return;
    lock();
    h5.H5Fclose(file);
    unlock();
}

// Opens a one-dimensional dataset; *length its size. Caller holds the lock.
static int open_1d(hid_t file, const char *name, hid_t *dataset, hsize_t *length) {
    if (h5.H5Lexists(file, name, H5P_DEFAULT) <= 0) return SNN_H5_NO_DATASET;
    hid_t d = h5.H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) return SNN_H5_NO_DATASET;
    hid_t space = h5.H5Dget_space(d);
    int rank = space < 0 ? -1 : h5.H5Sget_simple_extent_ndims(space);
    hsize_t dims[1] = {0};
    int status = SNN_H5_OK;
    if (rank != 1) status = rank < 0 ? SNN_H5_READ_FAILED : SNN_H5_WRONG_TYPE;
    else if (h5.H5Sget_simple_extent_dims(space, dims, NULL) < 0) status = SNN_H5_READ_FAILED;
    if (space >= 0) h5.H5Sclose(space);
    if (status != SNN_H5_OK) {
        h5.H5Dclose(d);
        return status;
    }
    *dataset = d;
    *length = dims[0];
    return SNN_H5_OK;
}

// The type class of a dataset, and for a variable-length type the class of its elements.
static void type_classes(hid_t dataset, int *outer, int *inner) {
    *outer = *inner = -1;
    hid_t t = h5.H5Dget_type(dataset);
    if (t < 0) return;
    *outer = h5.H5Tget_class(t);
    if (*outer == H5T_VLEN) {
        hid_t s = h5.H5Tget_super(t);
        if (s >= 0) {
            *inner = h5.H5Tget_class(s);
            h5.H5Tclose(s);
        }
    }
    h5.H5Tclose(t);
}

int snn_h5_read_int64(int64_t file, const char *name, int64_t *out, uint64_t capacity, uint64_t *length) {
    if (!snn_h5_available()) return SNN_H5_UNAVAILABLE;
    lock();
    hid_t d;
    hsize_t n;
    int status = open_1d(file, name, &d, &n);
    if (status == SNN_H5_OK) {
        int outer, inner;
        type_classes(d, &outer, &inner);
        *length = n;
        if (outer != H5T_INTEGER) status = SNN_H5_WRONG_TYPE;
        else if (out && n != capacity) status = SNN_H5_WRONG_TYPE;
        else if (out && h5.H5Dread(d, native_int64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) status = SNN_H5_READ_FAILED;
        h5.H5Dclose(d);
    }
    unlock();
    return status;
}

int snn_h5_read_vlen(int64_t file, const char *name, uint64_t count, uint64_t *offsets, double **values) {
    if (!snn_h5_available()) return SNN_H5_UNAVAILABLE;
    *values = NULL;
    lock();
    hid_t d;
    hsize_t n;
    int status = open_1d(file, name, &d, &n);
    if (status != SNN_H5_OK) goto done;
    int outer, inner;
    type_classes(d, &outer, &inner);
    if (outer != H5T_VLEN || (inner != H5T_FLOAT && inner != H5T_INTEGER) || n != count) {
        status = SNN_H5_WRONG_TYPE;
        goto close_dataset;
    }
    hvl_t *seqs = calloc(count ? count : 1, sizeof(hvl_t));
    hid_t memtype = h5.H5Tvlen_create(native_double);
    hid_t space = h5.H5Dget_space(d);
    if (!seqs || memtype < 0 || space < 0) {
        status = seqs ? SNN_H5_READ_FAILED : SNN_H5_NO_MEMORY;
    } else if (h5.H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, seqs) < 0) {
        status = SNN_H5_READ_FAILED;
    } else {
        uint64_t total = 0;
        offsets[0] = 0;
        for (uint64_t i = 0; i < count; i++) {
            total += seqs[i].len;
            offsets[i + 1] = total;
        }
        double *v = malloc((total ? total : 1) * sizeof(double));
        if (!v) {
            status = SNN_H5_NO_MEMORY;
        } else {
            for (uint64_t i = 0; i < count; i++)
                if (seqs[i].len) memcpy(v + offsets[i], seqs[i].p, seqs[i].len * sizeof(double));
            *values = v;
        }
        h5.H5Dvlen_reclaim(memtype, space, H5P_DEFAULT, seqs);
    }
    if (space >= 0) h5.H5Sclose(space);
    if (memtype >= 0) h5.H5Tclose(memtype);
    free(seqs);
close_dataset:
    h5.H5Dclose(d);
done:
    unlock();
    return status;
}
