// The installed oneDNN headers' side of dnnl_abi_check.c (see there). Built only where
// <oneapi/dnnl/dnnl.h> exists.
#include <oneapi/dnnl/dnnl.h>

#include <stddef.h>

#include "dnnl_abi_probe.h"

#if DNNL_VERSION_MAJOR != 2
#error "dnnl_abi.h declares oneDNN 2.x; the installed headers are another major version"
#endif

// Each prototype of dnnl_abi.h's function list, redeclared here where the names denote oneDNN's own
// types: the compiler rejects a redeclaration whose result or parameter types differ from dnnl.h's.
#define SNN_DNNL_FUNCTION_LIST_ONLY
#include "dnnl_abi.h"
#define SNN_REDECLARE(result, name, parameters) result name parameters;
SNN_DNNL_FUNCTIONS(SNN_REDECLARE)

/// The values of SNN_DNNL_ABI_PROBES under the installed headers, in list order; returns their count.
int snn_dnnl_abi_installed(long long *values) {
    int n = 0;
#define SNN_PROBE(expression) values[n++] = (long long)(expression);
    SNN_DNNL_ABI_PROBES(SNN_PROBE)
    return n;
}

/// The installed headers' version, for the report.
int snn_dnnl_abi_installed_version(void) { return DNNL_VERSION_MAJOR * 100 + DNNL_VERSION_MINOR; }
