// MPI through the C library, opened with dlopen on first use, so that the package builds without MPI
// headers or libraries and only `--distributed` runs need them. No MPI header is used.
//
// This table is Open MPI's ABI (libmpi.so.40, Open MPI 3.x–5.x): its handles (MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM, ...) are pointers to predefined global objects (`&ompi_mpi_comm_world`), so
// dlsym of those globals gives the handles themselves. MPICH (libmpi.so.12, also Intel MPI and
// Cray MPICH) would need a second table: there the handles are plain ints fixed by mpi.h
// (MPI_COMM_WORLD = 0x44000000, MPI_FLOAT = 0x4c00040a, MPI_DOUBLE = 0x4c00080b, MPI_SUM =
// 0x58000003, MPI_MAX = 0x58000001, MPI_IN_PLACE = (void *)-1), passed by value where Open MPI takes
// pointers, so the function pointer types differ too.

#include "snn_mpi.h"
#include "dl.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef void *mpi_handle;  // MPI_Comm, MPI_Datatype, MPI_Op: pointers in Open MPI

static struct {
    int (*MPI_Init_thread)(int *, char ***, int, int *);
    int (*MPI_Initialized)(int *);
    int (*MPI_Finalized)(int *);
    int (*MPI_Comm_rank)(mpi_handle, int *);
    int (*MPI_Comm_size)(mpi_handle, int *);
    int (*MPI_Allreduce)(const void *, void *, int, mpi_handle, mpi_handle, mpi_handle);
    int (*MPI_Bcast)(void *, int, mpi_handle, int, mpi_handle);
    int (*MPI_Barrier)(mpi_handle);
    int (*MPI_Abort)(mpi_handle, int);
    int (*MPI_Finalize)(void);
    int (*MPI_Get_library_version)(char *, int *);
} mpi;
static mpi_handle comm_world, type_float, type_double, type_byte, op_sum, op_max;
#define MPI_IN_PLACE_OPEN_MPI ((void *)1)
#define MPI_THREAD_FUNNELED 1  // the same value in Open MPI and MPICH
#define MPI_SUCCESS 0

static int loaded, initialized, finalized, world_rank, world_size;
static char library_version[256];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load_mpi(void) {
    static const char *const names[] = {
#if defined(__APPLE__)
        "libmpi.40.dylib", "/opt/homebrew/lib/libmpi.40.dylib", "/usr/local/lib/libmpi.40.dylib",
#else
        "libmpi.so.40",
#endif
        NULL};
    // RTLD_GLOBAL, unlike the other adapters: Open MPI loads its transport and launcher plugins with
    // dlopen, and some of them resolve symbols of libmpi itself, which a local handle hides.
    void *handle = NULL;
    for (int i = 0; names[i] && !handle; i++) handle = dlopen(names[i], RTLD_NOW | RTLD_GLOBAL);
    if (!handle) return;
    int ok = 1;
#define LOOKUP(name) SNN_DLSYM(handle, mpi.name, #name, ok);
    LOOKUP(MPI_Init_thread) LOOKUP(MPI_Initialized) LOOKUP(MPI_Finalized) LOOKUP(MPI_Comm_rank)
    LOOKUP(MPI_Comm_size) LOOKUP(MPI_Allreduce) LOOKUP(MPI_Bcast) LOOKUP(MPI_Barrier) LOOKUP(MPI_Abort)
    LOOKUP(MPI_Finalize) LOOKUP(MPI_Get_library_version)
#undef LOOKUP
    comm_world = dlsym(handle, "ompi_mpi_comm_world");
    type_float = dlsym(handle, "ompi_mpi_float");
    type_double = dlsym(handle, "ompi_mpi_double");
    type_byte = dlsym(handle, "ompi_mpi_byte");
    op_sum = dlsym(handle, "ompi_mpi_op_sum");
    op_max = dlsym(handle, "ompi_mpi_op_max");
    if (!ok || !comm_world || !type_float || !type_double || !type_byte || !op_sum || !op_max) return;
    // MPI_Get_library_version may be called before MPI_Init (MPI-3); keep its first line.
    char text[8192] = {0};  // MPI_MAX_LIBRARY_VERSION_STRING is 256 in Open MPI, 8192 in MPICH
    int length = 0;
    if (mpi.MPI_Get_library_version(text, &length) == MPI_SUCCESS) {
        text[sizeof text - 1] = 0;
        size_t line = strcspn(text, "\n");
        if (line >= sizeof library_version) line = sizeof library_version - 1;
        memcpy(library_version, text, line);
        library_version[line] = 0;
    }
    loaded = 1;
}

int snn_mpi_available(void) {
    pthread_once(&load_once, load_mpi);
    return loaded;
}

const char *snn_mpi_library_version(void) { return snn_mpi_available() ? library_version : ""; }

int snn_mpi_initialize(int *rank, int *size) {
    if (!snn_mpi_available()) return SNN_MPI_UNAVAILABLE;
    if (!initialized) {
        int already = 0, provided = 0;
        mpi.MPI_Initialized(&already);
        if (!already && mpi.MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return SNN_MPI_FAILED;
        if (mpi.MPI_Comm_rank(comm_world, &world_rank) != MPI_SUCCESS ||
            mpi.MPI_Comm_size(comm_world, &world_size) != MPI_SUCCESS)
            return SNN_MPI_FAILED;
        initialized = 1;
    }
    *rank = world_rank;
    *size = world_size;
    return SNN_MPI_OK;
}

// MPI counts are ints: larger buffers go in chunks of INT_MAX elements.
static int allreduce(void *data, size_t count, size_t element_size, mpi_handle type, snn_mpi_operation operation) {
    if (!initialized || finalized) return SNN_MPI_NOT_INITIALIZED;
    mpi_handle op = operation == SNN_MPI_MAX ? op_max : op_sum;
    char *bytes = data;
    while (count > 0) {
        int n = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        if (mpi.MPI_Allreduce(MPI_IN_PLACE_OPEN_MPI, bytes, n, type, op, comm_world) != MPI_SUCCESS)
            return SNN_MPI_FAILED;
        bytes += (size_t)n * element_size;
        count -= (size_t)n;
    }
    return SNN_MPI_OK;
}

int snn_mpi_allreduce_float(float *data, size_t count, snn_mpi_operation operation) {
    return allreduce(data, count, sizeof(float), type_float, operation);
}

int snn_mpi_allreduce_double(double *data, size_t count, snn_mpi_operation operation) {
    return allreduce(data, count, sizeof(double), type_double, operation);
}

static int broadcast(void *data, size_t count, size_t element_size, mpi_handle type, int root) {
    if (!initialized || finalized) return SNN_MPI_NOT_INITIALIZED;
    char *bytes = data;
    while (count > 0) {
        int n = count > (size_t)INT_MAX ? INT_MAX : (int)count;
        if (mpi.MPI_Bcast(bytes, n, type, root, comm_world) != MPI_SUCCESS) return SNN_MPI_FAILED;
        bytes += (size_t)n * element_size;
        count -= (size_t)n;
    }
    return SNN_MPI_OK;
}

int snn_mpi_broadcast_float(float *data, size_t count, int root) {
    return broadcast(data, count, sizeof(float), type_float, root);
}

int snn_mpi_broadcast_bytes(void *data, size_t count, int root) { return broadcast(data, count, 1, type_byte, root); }

int snn_mpi_barrier(void) {
    if (!initialized || finalized) return SNN_MPI_NOT_INITIALIZED;
    return mpi.MPI_Barrier(comm_world) == MPI_SUCCESS ? SNN_MPI_OK : SNN_MPI_FAILED;
}

void snn_mpi_abort(int code) {
    if (initialized && !finalized) mpi.MPI_Abort(comm_world, code);
}

int snn_mpi_finalize(void) {
    if (!initialized || finalized) return SNN_MPI_OK;
    finalized = 1;
    return mpi.MPI_Finalize() == MPI_SUCCESS ? SNN_MPI_OK : SNN_MPI_FAILED;
}
