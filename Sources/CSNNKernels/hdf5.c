// HDF5 through the C library, opened with dlopen on first use, so that the package builds and runs
// without it and only the SHD / SSC readers need it. No HDF5 header is used: the few types are those
// of HDF5 ≥ 1.10 (hid_t is 64-bit there), and the native type ids, which are macros over global
// variables, are read from those variables after H5open().

#define _GNU_SOURCE  // pipe2
#include "snn_hdf5.h"
#include "snn_blas.h"
#include "dl.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/syscall.h>
#endif

/// In the forked child, closes every descriptor above stderr but `keep` (the result pipe). Without
/// exec nothing is closed on its own, and the child would hold the parent's files for as long as it
/// lives: a run directory's lock among them (an flock belongs to the open file, which the child's
/// copy keeps open), so a run the parent had finished and unlocked could still look locked.
static void close_inherited_descriptors(int keep) {
#if defined(__linux__) && defined(SYS_close_range)
    if (keep > 3) syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u);
    if (syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0) return;
#endif
    // No close_range (macOS, old kernels): the descriptor table's size bounds the loop.
    long limit = sysconf(_SC_OPEN_MAX);
    if (limit < 0 || limit > 65536) limit = 65536;
    for (int fd = 3; fd < (int)limit; fd++) {
        if (fd != keep) close(fd);
    }
}

typedef int64_t hid_t;
typedef int herr_t;
typedef unsigned long long hsize_t;
typedef struct {
    size_t len;
    void *p;
} hvl_t;

enum { H5T_INTEGER = 0, H5T_FLOAT = 1, H5T_STRING = 3, H5T_VLEN = 9 };
enum { H5I_GROUP = 2, H5I_DATASET = 5 };
#define H5P_DEFAULT ((hid_t)0)
#define H5S_ALL ((hid_t)0)
#define H5S_SCALAR 0
#define H5E_DEFAULT ((hid_t)0)
#define H5F_ACC_RDONLY 0u
#define H5F_ACC_TRUNC 2u
#define H5T_VARIABLE ((size_t)-1)
#define H5T_CSET_UTF8 1
typedef herr_t (*h5l_iterate)(hid_t group, const char *name, const void *info, void *data);

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
    herr_t (*H5PLset_loading_state)(unsigned);  // optional
    herr_t (*H5Ewalk2)(hid_t, int, void *, void *);  // optional
    // Writing, and reading a whole tree of groups and datasets (NIR files).
    hid_t (*H5Fcreate)(const char *, unsigned, hid_t, hid_t);
    hid_t (*H5Gcreate2)(hid_t, const char *, hid_t, hid_t, hid_t);
    herr_t (*H5Gclose)(hid_t);
    hid_t (*H5Dcreate2)(hid_t, const char *, hid_t, hid_t, hid_t, hid_t, hid_t);
    herr_t (*H5Dwrite)(hid_t, hid_t, hid_t, hid_t, hid_t, const void *);
    hid_t (*H5Screate)(int);
    hid_t (*H5Screate_simple)(int, const hsize_t *, const hsize_t *);
    long long (*H5Sget_simple_extent_npoints)(hid_t);
    hid_t (*H5Tcopy)(hid_t);
    herr_t (*H5Tset_size)(hid_t, size_t);
    herr_t (*H5Tset_cset)(hid_t, int);
    int (*H5Tis_variable_str)(hid_t);
    size_t (*H5Tget_size)(hid_t);
    hid_t (*H5Oopen)(hid_t, const char *, hid_t);
    herr_t (*H5Oclose)(hid_t);
    int (*H5Iget_type)(hid_t);
    herr_t (*H5Literate)(hid_t, int, int, hsize_t *, h5l_iterate, void *);  // H5Literate2 from 1.12 on
} h5;
static hid_t native_double, native_int64, native_float, c_string;
static int loaded;
static char version[32];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
// The library is built thread-safe or not; every use is in a child process (below), and the fork is
// serialised here so that no thread of the parent is inside the library when it is copied.
static pthread_mutex_t lock_ = PTHREAD_MUTEX_INITIALIZER;

static void load_hdf5(void) {
    static const char *const names[] = {
#if defined(__APPLE__)
        "libhdf5.dylib", "/opt/homebrew/lib/libhdf5.dylib", "/usr/local/lib/libhdf5.dylib",
#else
        "libhdf5_serial.so.103", "libhdf5.so.103", "libhdf5_serial.so.200", "libhdf5.so.200", "libhdf5_serial.so",
        "libhdf5.so", "libhdf5.so.310", "libhdf5.so.320",
#endif
        NULL};
    void *handle = snn_dlopen_first(names);
    if (!handle) return;
    int ok = 1, optional = 1;
#define LOOKUP(name) SNN_DLSYM(handle, h5.name, #name, ok);
    LOOKUP(H5open) LOOKUP(H5get_libversion) LOOKUP(H5Eset_auto2) LOOKUP(H5Fopen) LOOKUP(H5Fclose)
    LOOKUP(H5Dopen2) LOOKUP(H5Dclose) LOOKUP(H5Dget_space) LOOKUP(H5Dget_type) LOOKUP(H5Dread)
    LOOKUP(H5Dvlen_reclaim) LOOKUP(H5Sget_simple_extent_ndims) LOOKUP(H5Sget_simple_extent_dims)
    LOOKUP(H5Sclose) LOOKUP(H5Tget_class) LOOKUP(H5Tget_super) LOOKUP(H5Tvlen_create) LOOKUP(H5Tclose)
    LOOKUP(H5Lexists) LOOKUP(H5Fcreate) LOOKUP(H5Gcreate2) LOOKUP(H5Gclose) LOOKUP(H5Dcreate2) LOOKUP(H5Dwrite)
    LOOKUP(H5Screate) LOOKUP(H5Screate_simple) LOOKUP(H5Sget_simple_extent_npoints) LOOKUP(H5Tcopy)
    LOOKUP(H5Tset_size) LOOKUP(H5Tset_cset) LOOKUP(H5Tis_variable_str) LOOKUP(H5Tget_size) LOOKUP(H5Oopen)
    LOOKUP(H5Oclose) LOOKUP(H5Iget_type)
#undef LOOKUP
    // 1.12 renamed the link iteration H5Literate2 (H5Literate became a macro); the signature is the
    // same, and the link-info argument that changed between them is not used here.
    int iterate = 1;
    SNN_DLSYM(handle, h5.H5Literate, "H5Literate2", iterate);
    if (!iterate) {
        iterate = 1;
        SNN_DLSYM(handle, h5.H5Literate, "H5Literate", iterate);
    }
    if (!iterate) ok = 0;
    SNN_DLSYM(handle, h5.H5PLset_loading_state, "H5PLset_loading_state", optional);
    SNN_DLSYM(handle, h5.H5Ewalk2, "H5Ewalk2", optional);
    if (!ok || h5.H5open() < 0) return;
    unsigned major = 0, minor = 0, release = 0;
    h5.H5get_libversion(&major, &minor, &release);
    if (major < 1 || (major == 1 && minor < 10)) return; // hid_t was 32-bit before 1.10
    hid_t *d = (hid_t *)dlsym(handle, "H5T_NATIVE_DOUBLE_g");
    hid_t *l = (hid_t *)dlsym(handle, "H5T_NATIVE_LLONG_g");
    hid_t *f = (hid_t *)dlsym(handle, "H5T_NATIVE_FLOAT_g");
    hid_t *c = (hid_t *)dlsym(handle, "H5T_C_S1_g");
    if (!d || !l || !f || !c) return;
    native_double = *d;
    native_int64 = *l;
    native_float = *f;
    c_string = *c;
    h5.H5Eset_auto2(H5E_DEFAULT, NULL, NULL); // errors are reported by return codes, not printed
    snprintf(version, sizeof version, "%u.%u.%u", major, minor, release);
    loaded = 1;
}

int snn_h5_available(void) {
    pthread_once(&load_once, load_hdf5);
    return loaded;
}

const char *snn_h5_version(void) { return snn_h5_available() ? version : ""; }

// The library's own description of its most specific error, kept by note_error() right after a
// failing call (the next call clears the library's error stack).
typedef struct {
    hid_t cls_id, maj_num, min_num;
    unsigned line;
    const char *func_name, *file_name, *desc;
} h5e_error2;
static char last_error[240];
static herr_t first_error(unsigned n, const h5e_error2 *e, void *data) {
    (void)data;
    if (n == 0 && e && e->desc) snprintf(last_error, sizeof last_error, "%s", e->desc);
    return 0;
}
static void note_error(void) {
    last_error[0] = 0;
    if (h5.H5Ewalk2) h5.H5Ewalk2(H5E_DEFAULT, 0 /* H5E_WALK_UPWARD: most specific first */, (void *)first_error, NULL);
}

// Opens a one-dimensional dataset; *length its size.
static int open_1d(hid_t file, const char *name, hid_t *dataset, hsize_t *length) {
    int exists = h5.H5Lexists(file, name, H5P_DEFAULT);
    if (exists < 0) note_error();
    if (exists <= 0) return exists < 0 ? SNN_H5_READ_FAILED : SNN_H5_NO_DATASET;
    hid_t d = h5.H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) {
        note_error();
        return SNN_H5_READ_FAILED;
    }
    hid_t space = h5.H5Dget_space(d);
    if (space < 0) note_error();
    int rank = space < 0 ? -1 : h5.H5Sget_simple_extent_ndims(space);
    hsize_t dims[1] = {0};
    int status = SNN_H5_OK;
    if (rank != 1) status = rank < 0 ? SNN_H5_READ_FAILED : SNN_H5_WRONG_TYPE;
    else if (h5.H5Sget_simple_extent_dims(space, dims, NULL) < 0) status = SNN_H5_READ_FAILED, note_error();
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

// A one-dimensional integer dataset into a malloc'd array.
static int read_int64(hid_t file, const char *name, uint64_t *length, int64_t **out) {
    hid_t d;
    hsize_t n;
    int status = open_1d(file, name, &d, &n);
    if (status != SNN_H5_OK) return status;
    int outer, inner;
    type_classes(d, &outer, &inner);
    *length = n;
    if (outer != H5T_INTEGER) status = SNN_H5_WRONG_TYPE;
    else if (!(*out = malloc((n ? n : 1) * sizeof(int64_t)))) status = SNN_H5_NO_MEMORY;
    else if (h5.H5Dread(d, native_int64, H5S_ALL, H5S_ALL, H5P_DEFAULT, *out) < 0) status = SNN_H5_READ_FAILED, note_error();
    h5.H5Dclose(d);
    return status;
}

// A one-dimensional dataset of variable-length sequences of numbers: malloc'd offsets (length + 1)
// and concatenated values.
static int read_vlen(hid_t file, const char *name, uint64_t *length, uint64_t **offsets_out, double **values) {
    hid_t d;
    hsize_t n;
    int status = open_1d(file, name, &d, &n);
    if (status != SNN_H5_OK) return status;
    uint64_t count = n, *offsets = NULL;
    *length = n;
    int outer, inner;
    type_classes(d, &outer, &inner);
    if (outer != H5T_VLEN || (inner != H5T_FLOAT && inner != H5T_INTEGER)) {
        status = SNN_H5_WRONG_TYPE;
        goto close_dataset;
    }
    if (!(offsets = *offsets_out = malloc((count + 1) * sizeof(uint64_t)))) {
        status = SNN_H5_NO_MEMORY;
        goto close_dataset;
    }
    hvl_t *seqs = calloc(count ? count : 1, sizeof(hvl_t));
    hid_t memtype = h5.H5Tvlen_create(native_double);
    hid_t space = h5.H5Dget_space(d);
    if (!seqs || memtype < 0 || space < 0) {
        status = seqs ? SNN_H5_READ_FAILED : SNN_H5_NO_MEMORY;
    } else if (h5.H5Dread(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, seqs) < 0) {
        note_error();
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
    return status;
}

// ---- Isolation: the library runs in a child process -------------------------------------------
// Damaged metadata can make libhdf5 dereference wild pointers or loop. The reads therefore run in a
// forked child that streams the results through a pipe; the parent survives a crash (reported with
// its signal) and stops a child that runs past the deadline. The child only calls C: malloc (made
// fork-safe by the C library), the already loaded HDF5 functions (no other thread is inside them:
// the parent holds the lock across fork), write and _exit. The fork also waits for BLAS calls of
// other threads to end (snn_blas_hold_calls): OpenBLAS's fork handler would otherwise hang them.

static int write_all(int fd, const void *data, size_t size) {
    const char *p = data;
    while (size > 0) {
        ssize_t w = write(fd, p, size > (1u << 20) ? (1u << 20) : size);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        size -= (size_t)w;
    }
    return 0;
}

// After a failure status: the length of the library's message, then the message.
static void write_message(int fd) {
    uint32_t n = (uint32_t)strlen(last_error);
    if (!write_all(fd, &n, sizeof n)) write_all(fd, last_error, n);
}

static void child_reads(const char *path, snn_h5_request *requests, int count, int fd) {
    hid_t f = h5.H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) note_error();
    int32_t status = f < 0 ? SNN_H5_OPEN_FAILED : SNN_H5_OK;
    if (write_all(fd, &status, sizeof status) || status != SNN_H5_OK) {
        write_message(fd);
        return;
    }
    for (int i = 0; i < count; i++) {
        uint64_t length = 0, *offsets = NULL;
        int64_t *integers = NULL;
        double *values = NULL;
        status = requests[i].vlen ? read_vlen(f, requests[i].name, &length, &offsets, &values)
                                  : read_int64(f, requests[i].name, &length, &integers);
        if (write_all(fd, &status, sizeof status) || status != SNN_H5_OK) {
            write_message(fd);
            return;
        }
        if (write_all(fd, &length, sizeof length)) return;
        if (requests[i].vlen) {
            if (write_all(fd, offsets, (length + 1) * sizeof(uint64_t)) ||
                write_all(fd, values, offsets[length] * sizeof(double)))
                return;
        } else if (write_all(fd, integers, length * sizeof(int64_t))) {
            return;
        }
        free(offsets);
        free(integers);
        free(values);
    }
    // No H5Fclose: on damaged metadata it can loop or crash too, and the process ends here anyway.
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

// Reads exactly `size` bytes before `deadline`: 0, or 1 at end of stream, -1 on error, -2 on timeout.
static int read_all(int fd, void *data, size_t size, double deadline) {
    char *p = data;
    while (size > 0) {
        double left = deadline - now_seconds();
        if (left <= 0) return -2;
        struct pollfd pfd = {fd, POLLIN, 0};
        int r = poll(&pfd, 1, (int)(left * 1000) + 1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) return -2;
        ssize_t got = read(fd, p, size > (1u << 20) ? (1u << 20) : size);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return -1;
        if (got == 0) return 1;
        p += got;
        size -= (size_t)got;
    }
    return 0;
}

// The message that follows a failure status, into `message` (best effort).
static void read_message(int fd, char *message, size_t capacity, double deadline) {
    uint32_t n = 0;
    if (capacity == 0 || read_all(fd, &n, sizeof n, deadline) || n >= sizeof last_error) return;
    char text[sizeof last_error];
    if (read_all(fd, text, n, deadline)) return;
    text[n] = 0;
    snprintf(message, capacity, "%s", text);
}

static int parent_reads(int fd, snn_h5_request *requests, int count, double deadline, char *message, size_t capacity) {
    int32_t status = 0;
    int r = read_all(fd, &status, sizeof status, deadline);
    if (r) return r == -2 ? SNN_H5_TIMEOUT : SNN_H5_CRASHED;
    if (status != SNN_H5_OK) {
        read_message(fd, message, capacity, deadline);
        return status;
    }
    for (int i = 0; i < count; i++) {
        snn_h5_request *q = &requests[i];
        if ((r = read_all(fd, &status, sizeof status, deadline))) return r == -2 ? SNN_H5_TIMEOUT : SNN_H5_CRASHED;
        q->status = status;
        if (status != SNN_H5_OK) {
            read_message(fd, message, capacity, deadline);
            return status;
        }
        if ((r = read_all(fd, &q->length, sizeof q->length, deadline))) return r == -2 ? SNN_H5_TIMEOUT : SNN_H5_CRASHED;
        if (q->length > (1ull << 40)) return SNN_H5_NO_MEMORY;
        if (q->vlen) {
            if (!(q->offsets = malloc((q->length + 1) * sizeof(uint64_t)))) return SNN_H5_NO_MEMORY;
            if ((r = read_all(fd, q->offsets, (q->length + 1) * sizeof(uint64_t), deadline)))
                return r == -2 ? SNN_H5_TIMEOUT : SNN_H5_CRASHED;
            uint64_t total = q->offsets[q->length];
            if (total > (1ull << 40)) return SNN_H5_NO_MEMORY;
            if (!(q->values = malloc((total ? total : 1) * sizeof(double)))) return SNN_H5_NO_MEMORY;
            if ((r = read_all(fd, q->values, total * sizeof(double), deadline))) return r == -2 ? SNN_H5_TIMEOUT : SNN_H5_CRASHED;
        } else {
            if (!(q->integers = malloc((q->length ? q->length : 1) * sizeof(int64_t)))) return SNN_H5_NO_MEMORY;
            if ((r = read_all(fd, q->integers, q->length * sizeof(int64_t), deadline)))
                return r == -2 ? SNN_H5_TIMEOUT : SNN_H5_CRASHED;
        }
    }
    return SNN_H5_OK;
}

// Forks a child that runs `work(arg, fd)`, `fd` being the write end of a pipe whose read end is left
// in *read_fd, and then exits; SNN_H5_SYSTEM (errno in *error) when no pipe or process can be made.
// The pipe is made under the lock and closed on exec, so that no other read's child and no spawned
// process holds its write end (which would hide the end of the stream).
static int start_child(void (*work)(void *, int), void *arg, pid_t *child_out, int *read_fd, int *error) {
    pthread_mutex_lock(&lock_);
    int fds[2];
#if defined(__linux__)
    int piped = pipe2(fds, O_CLOEXEC);
#else
    int piped = pipe(fds);
    if (!piped) {
        fcntl(fds[0], F_SETFD, FD_CLOEXEC);
        fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    }
#endif
    if (piped) {
        *error = errno;
        pthread_mutex_unlock(&lock_);
        return SNN_H5_SYSTEM;
    }
    snn_blas_hold_calls();
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        close_inherited_descriptors(fds[1]);
        // A crash ends the child quietly: no crash reporter of the parent's runtime runs in it.
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP, SIGPIPE};
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++) signal(fatal[i], SIG_DFL);
        // The C library's own messages on a damaged heap ("free(): invalid pointer") are not ours to print.
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, STDERR_FILENO);
        h5.H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        // Damaged bytes can name a filter; no plugin is loaded for one.
        if (h5.H5PLset_loading_state) h5.H5PLset_loading_state(0);
        work(arg, fds[1]);
        _exit(0);
    }
    int fork_error = errno;
    snn_blas_allow_calls();
    close(fds[1]);
    pthread_mutex_unlock(&lock_);
    if (child < 0) {
        close(fds[0]);
        *error = fork_error;
        return SNN_H5_SYSTEM;
    }
    *child_out = child;
    *read_fd = fds[0];
    return SNN_H5_OK;
}

// Ends the child of start_child after the parent read `status` from it: a failed read stops it now
// (whatever went wrong: a crash, a loop, a result the parent refused); a stream that ended early
// because the child died by a signal leaves the signal in *signal_number.
// Returns the signal that ended the child (0 when it exited or was stopped here), or -1 when it
// exited with a failure status.
static int finish_child(pid_t child, int read_fd, int status) {
    close(read_fd);
    if (status != SNN_H5_OK) kill(child, SIGKILL);
    int wstatus = 0;
    while (waitpid(child, &wstatus, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(wstatus)) return WTERMSIG(wstatus) == SIGKILL && status != SNN_H5_OK ? 0 : WTERMSIG(wstatus);
    return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) != 0 ? -1 : 0;
}

typedef struct {
    const char *path;
    snn_h5_request *requests;
    int count;
} read_job;

static void child_reads_job(void *arg, int fd) {
    read_job *job = arg;
    child_reads(job->path, job->requests, job->count, fd);
}

int snn_h5_read(const char *path, snn_h5_request *requests, int count, double timeout_seconds, int *signal_number,
                char *message, size_t message_capacity) {
    *signal_number = 0;
    if (message_capacity) message[0] = 0;
    for (int i = 0; i < count; i++) {
        requests[i].status = SNN_H5_OK;
        requests[i].length = 0;
        requests[i].integers = NULL;
        requests[i].offsets = NULL;
        requests[i].values = NULL;
    }
    if (!snn_h5_available()) return SNN_H5_UNAVAILABLE;
    read_job job = {path, requests, count};
    pid_t child;
    int fd;
    int status = start_child(child_reads_job, &job, &child, &fd, signal_number);
    if (status != SNN_H5_OK) return status;
    status = parent_reads(fd, requests, count, now_seconds() + timeout_seconds, message, message_capacity);
    int ended_by = finish_child(child, fd, status);
    if (status == SNN_H5_CRASHED && ended_by > 0) *signal_number = ended_by;
    if (status != SNN_H5_OK) snn_h5_free(requests, count);
    return status;
}

void snn_h5_free(snn_h5_request *requests, int count) {
    for (int i = 0; i < count; i++) {
        free(requests[i].integers);
        free(requests[i].offsets);
        free(requests[i].values);
        requests[i].integers = NULL;
        requests[i].offsets = NULL;
        requests[i].values = NULL;
    }
}

// ---- A whole file as a stream of records (NIR graphs) ------------------------------------------
// The child walks every group and dataset in name order and writes one record each (the layout is
// in snn_hdf5.h); the parent only collects the bytes, which the caller parses and checks as input.

typedef struct {
    int fd;
    int depth;
    uint64_t objects;
    uint64_t budget;  // bytes of values the child may still send
    int failed;       // a failure record was sent
    char path[4096];
} walk_state;

enum { MAX_DEPTH = 32, MAX_OBJECTS = 1000000 };

static int put_u32(int fd, uint32_t v) { return write_all(fd, &v, sizeof v); }

static int put_header(walk_state *w, uint8_t tag) {
    uint32_t n = (uint32_t)strlen(w->path);
    return write_all(w->fd, &tag, 1) || put_u32(w->fd, n) || write_all(w->fd, w->path, n);
}

// A failure record: the path, the status, the library's message. Ends the walk.
static int put_failure(walk_state *w, int32_t status) {
    w->failed = 1;
    if (put_header(w, 'F') || write_all(w->fd, &status, sizeof status)) return -1;
    write_message(w->fd);
    return -1;
}

static int put_shape(walk_state *w, int rank, const hsize_t *dims) {
    if (put_u32(w->fd, (uint32_t)rank)) return -1;
    for (int i = 0; i < rank; i++) {
        uint64_t d = dims[i];
        if (write_all(w->fd, &d, sizeof d)) return -1;
    }
    return 0;
}

static int send_dataset(walk_state *w, hid_t d) {
    hid_t space = h5.H5Dget_space(d), type = h5.H5Dget_type(d);
    hsize_t dims[32];
    int rank = space < 0 ? -1 : h5.H5Sget_simple_extent_ndims(space);
    long long points = space < 0 ? -1 : h5.H5Sget_simple_extent_npoints(space);
    int cls = type < 0 ? -1 : h5.H5Tget_class(type);
    int result = 0;
    last_error[0] = 0;
    if (rank < 0 || rank > 32 || points < 0 || cls < 0 || h5.H5Sget_simple_extent_dims(space, dims, NULL) < 0) {
        note_error();
        result = put_failure(w, SNN_H5_READ_FAILED);
    } else if (cls == H5T_INTEGER || cls == H5T_FLOAT) {
        uint64_t bytes = (uint64_t)points * sizeof(double);
        double *values = bytes > w->budget ? NULL : malloc(bytes ? bytes : 1);
        if (!values) {
            result = put_failure(w, SNN_H5_NO_MEMORY);
        } else if (h5.H5Dread(d, native_double, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0) {
            note_error();
            result = put_failure(w, SNN_H5_READ_FAILED);
        } else {
            w->budget -= bytes;
            result = put_header(w, 'N') || put_shape(w, rank, dims) || write_all(w->fd, values, bytes) ? -1 : 0;
        }
        free(values);
    } else if (cls == H5T_STRING) {
        int variable = h5.H5Tis_variable_str(type);
        size_t size = variable ? sizeof(char *) : h5.H5Tget_size(type);
        uint64_t bytes = (uint64_t)points * (size ? size : 1);
        char *buffer = variable < 0 || bytes > w->budget ? NULL : calloc(bytes ? bytes : 1, 1);
        if (!buffer) {
            result = put_failure(w, variable < 0 ? SNN_H5_READ_FAILED : SNN_H5_NO_MEMORY);
        } else if (h5.H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buffer) < 0) {
            note_error();
            result = put_failure(w, SNN_H5_READ_FAILED);
            free(buffer);
        } else {
            result = put_header(w, 'S') || put_shape(w, rank, dims) ? -1 : 0;
            for (long long i = 0; i < points && result == 0; i++) {
                const char *text = variable ? ((char **)buffer)[i] : buffer + i * size;
                size_t n = !text ? 0 : variable ? strlen(text) : strnlen(text, size);
                if (n > w->budget) {
                    result = put_failure(w, SNN_H5_NO_MEMORY);
                    break;
                }
                w->budget -= n;
                result = put_u32(w->fd, (uint32_t)n) || write_all(w->fd, text, n) ? -1 : 0;
            }
            if (variable) h5.H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer);
            free(buffer);
        }
    } else {
        // Another type (compound, enum, reference, …): named with its class, for the caller to refuse.
        int32_t c = cls;
        result = put_header(w, 'U') || write_all(w->fd, &c, sizeof c) ? -1 : 0;
    }
    if (type >= 0) h5.H5Tclose(type);
    if (space >= 0) h5.H5Sclose(space);
    return result;
}

static herr_t visit_link(hid_t group, const char *name, const void *info, void *data) {
    (void)info;
    walk_state *w = data;
    size_t saved = strlen(w->path), length = saved, n = strlen(name);
    if (length + 1 + n >= sizeof w->path) return put_failure(w, SNN_H5_WRONG_TYPE);
    if (++w->objects > MAX_OBJECTS) return put_failure(w, SNN_H5_NO_MEMORY);
    if (length) w->path[length++] = '/';
    memcpy(w->path + length, name, n + 1);
    int result = 0;
    last_error[0] = 0;
    hid_t object = h5.H5Oopen(group, name, H5P_DEFAULT);
    if (object < 0) {
        note_error();
        result = put_failure(w, SNN_H5_READ_FAILED);
    } else {
        int kind = h5.H5Iget_type(object);
        if (kind == H5I_GROUP) {
            hsize_t index = 0;
            if (w->depth >= MAX_DEPTH) {
                result = put_failure(w, SNN_H5_WRONG_TYPE);
            } else if (put_header(w, 'G')) {
                result = -1;
            } else {
                w->depth++;
                result = h5.H5Literate(object, 0 /* by name */, 0 /* increasing */, &index, visit_link, w) < 0 ? -1 : 0;
                w->depth--;
                if (result < 0 && !w->failed) {
                    note_error();
                    result = put_failure(w, SNN_H5_READ_FAILED);
                }
            }
        } else if (kind == H5I_DATASET) {
            result = send_dataset(w, object);
        }
        h5.H5Oclose(object);
    }
    w->path[saved] = 0;
    return result;
}

typedef struct {
    const char *path;
    uint64_t budget;
} tree_job;

static void child_walks(void *arg, int fd) {
    tree_job *job = arg;
    hid_t f = h5.H5Fopen(job->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) note_error();
    int32_t status = f < 0 ? SNN_H5_OPEN_FAILED : SNN_H5_OK;
    if (write_all(fd, &status, sizeof status) || status != SNN_H5_OK) {
        write_message(fd);
        return;
    }
    static walk_state w;
    w.fd = fd;
    w.budget = job->budget;
    hsize_t index = 0;
    last_error[0] = 0;
    if (h5.H5Literate(f, 0, 0, &index, visit_link, &w) >= 0) {
        uint8_t end = 'E';
        write_all(fd, &end, 1);
    } else if (!w.failed) {
        note_error();
        put_failure(&w, SNN_H5_READ_FAILED);
    }
}

int snn_h5_read_tree(const char *path, double timeout_seconds, uint64_t max_bytes, uint8_t **records,
                     uint64_t *length, int *signal_number, char *message, size_t message_capacity) {
    *signal_number = 0;
    *records = NULL;
    *length = 0;
    if (message_capacity) message[0] = 0;
    if (!snn_h5_available()) return SNN_H5_UNAVAILABLE;
    tree_job job = {path, max_bytes};
    pid_t child;
    int fd;
    int status = start_child(child_walks, &job, &child, &fd, signal_number);
    if (status != SNN_H5_OK) return status;
    double deadline = now_seconds() + timeout_seconds;
    int32_t opened = 0;
    int r = read_all(fd, &opened, sizeof opened, deadline);
    uint64_t capacity = 1 << 16, used = 0;
    uint8_t *buffer = NULL;
    if (r) {
        status = r == -2 ? SNN_H5_TIMEOUT : SNN_H5_CRASHED;
    } else if (opened != SNN_H5_OK) {
        read_message(fd, message, message_capacity, deadline);
        status = opened;
    } else if (!(buffer = malloc(capacity))) {
        status = SNN_H5_NO_MEMORY;
    }
    // The records, up to the end of the stream; the values are bounded by max_bytes, and the paths,
    // shapes and record headers by the objects' count, hence the allowance on top.
    uint64_t limit = max_bytes + (64ull << 20);
    while (status == SNN_H5_OK) {
        if (used == capacity) {
            uint8_t *grown = capacity >= limit ? NULL : realloc(buffer, capacity * 2);
            if (!grown) {
                status = SNN_H5_NO_MEMORY;
                break;
            }
            buffer = grown;
            capacity *= 2;
        }
        double left = deadline - now_seconds();
        struct pollfd pfd = {fd, POLLIN, 0};
        int p = left <= 0 ? 0 : poll(&pfd, 1, (int)(left * 1000) + 1);
        if (p < 0 && errno == EINTR) continue;
        if (p <= 0) {
            status = p == 0 ? SNN_H5_TIMEOUT : SNN_H5_CRASHED;
            break;
        }
        ssize_t got = read(fd, buffer + used, capacity - used);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) status = SNN_H5_CRASHED;
        if (got <= 0) break;
        used += (uint64_t)got;
    }
    int ended_by = finish_child(child, fd, status);
    if (status == SNN_H5_OK && ended_by != 0) status = SNN_H5_CRASHED;
    if (status == SNN_H5_CRASHED && ended_by > 0) *signal_number = ended_by;
    if (status != SNN_H5_OK) {
        free(buffer);
        return status;
    }
    *records = buffer;
    *length = used;
    return SNN_H5_OK;
}

// ---- Writing ----------------------------------------------------------------------------------
// In this process (a file we write is not untrusted), under the lock, so that no fork copies the
// library while it is inside a call.

int snn_h5_write(const char *path, const snn_h5_entry *entries, int count, char *message, size_t message_capacity) {
    if (message_capacity) message[0] = 0;
    if (!snn_h5_available()) return SNN_H5_UNAVAILABLE;
    pthread_mutex_lock(&lock_);
    int status = SNN_H5_OK;
    last_error[0] = 0;
    hid_t f = h5.H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (f < 0) {
        note_error();
        status = SNN_H5_OPEN_FAILED;
    }
    for (int i = 0; i < count && status == SNN_H5_OK; i++) {
        const snn_h5_entry *e = &entries[i];
        if (e->kind == SNN_H5_GROUP) {
            hid_t g = h5.H5Gcreate2(f, e->path, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
            if (g < 0) {
                note_error();
                status = SNN_H5_WRITE_FAILED;
            } else {
                h5.H5Gclose(g);
            }
            continue;
        }
        hsize_t dims[32];
        for (int k = 0; k < e->rank && k < 32; k++) dims[k] = e->dims[k];
        hid_t space = e->rank <= 0 ? h5.H5Screate(H5S_SCALAR) : h5.H5Screate_simple(e->rank, dims, NULL);
        hid_t type = -1;
        const void *data = NULL;
        switch (e->kind) {
        case SNN_H5_FLOAT32: type = h5.H5Tcopy(native_float), data = e->floats; break;
        case SNN_H5_INT64: type = h5.H5Tcopy(native_int64), data = e->integers; break;
        case SNN_H5_FLOAT64: type = h5.H5Tcopy(native_double), data = e->doubles; break;
        case SNN_H5_STRING:
            // Variable-length UTF-8 strings, as h5py writes Python strings.
            type = h5.H5Tcopy(c_string);
            if (type >= 0 && (h5.H5Tset_size(type, H5T_VARIABLE) < 0 || h5.H5Tset_cset(type, H5T_CSET_UTF8) < 0)) {
                h5.H5Tclose(type);
                type = -1;
            }
            data = e->strings;
            break;
        default: break;
        }
        hid_t d = space < 0 || type < 0 || e->rank > 32
                      ? -1
                      : h5.H5Dcreate2(f, e->path, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (d < 0 || h5.H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0) {
            note_error();
            status = SNN_H5_WRITE_FAILED;
        }
        if (d >= 0) h5.H5Dclose(d);
        if (type >= 0) h5.H5Tclose(type);
        if (space >= 0) h5.H5Sclose(space);
    }
    if (f >= 0 && h5.H5Fclose(f) < 0 && status == SNN_H5_OK) {
        note_error();
        status = SNN_H5_WRITE_FAILED;
    }
    if (status != SNN_H5_OK && message_capacity) snprintf(message, message_capacity, "%s", last_error);
    pthread_mutex_unlock(&lock_);
    return status;
}
