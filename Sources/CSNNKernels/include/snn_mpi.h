// MPI (Open MPI) for data-parallel training, loaded at run time: the package builds without MPI and a
// single process never needs it.
#ifndef SNN_MPI_H
#define SNN_MPI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SNN_MPI_OK = 0,
    SNN_MPI_UNAVAILABLE = -1,  // no MPI library could be loaded, or it lacks a function we need
    SNN_MPI_NOT_INITIALIZED = -2,
    SNN_MPI_FAILED = -3,       // MPI returned an error code (most errors abort the job before that)
};

/// Reduction operations of snn_mpi_allreduce_*.
typedef enum { SNN_MPI_SUM = 0, SNN_MPI_MAX = 1 } snn_mpi_operation;

/// 1 when an MPI library is loaded (it is opened on the first call; MPI is not initialised by this).
int snn_mpi_available(void);
/// The library's own one-line description ("Open MPI v4.1.4, ..."), or "" when unavailable.
const char *snn_mpi_library_version(void);
/// Initialises MPI (MPI_Init_thread, funneled: only the calling thread makes MPI calls) once and
/// gives this process's rank in, and the size of, MPI_COMM_WORLD. Later calls return the same values.
int snn_mpi_initialize(int *rank, int *size);
/// In-place allreduce over MPI_COMM_WORLD; `count` may exceed INT_MAX (it is sent in chunks).
int snn_mpi_allreduce_float(float *data, size_t count, snn_mpi_operation operation);
int snn_mpi_allreduce_double(double *data, size_t count, snn_mpi_operation operation);
/// Broadcast of `count` floats from `root` to every rank.
int snn_mpi_broadcast_float(float *data, size_t count, int root);
int snn_mpi_broadcast_bytes(void *data, size_t count, int root);
int snn_mpi_barrier(void);
/// Ends every rank of the job with `code` (MPI_Abort); does not return when MPI is initialised.
void snn_mpi_abort(int code);
/// MPI_Finalize, once; a no-op when MPI was never initialised.
int snn_mpi_finalize(void);

#ifdef __cplusplus
}
#endif

#endif
