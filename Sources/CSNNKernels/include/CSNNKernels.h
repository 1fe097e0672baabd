// Umbrella header of the C kernels target.
#include "snn_blas.h"
#include "snn_dnnl.h"
#include "snn_gzip.h"
#include "snn_layout.h"
#include "snn_hdf5.h"
#include "snn_decompress.h"
#include "snn_signals.h"
#include "snn_files.h"
