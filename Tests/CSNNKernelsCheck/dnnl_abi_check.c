// Checks that Sources/CSNNKernels/dnnl_abi.h — the oneDNN 2.x declarations the convolution adapter is
// built with instead of oneDNN's headers — agrees with the installed oneDNN headers: every size, field
// offset, alignment and constant of dnnl_abi_probe.h, and (by redeclaration, at compile time, in
// dnnl_abi_installed.c) every function prototype. `make test` runs it (scripts/check-native.sh) when
// libdnnl-dev is installed; by hand, from the package root:
//   cc -I Sources/CSNNKernels -I Tests/CSNNKernelsCheck Tests/CSNNKernelsCheck/dnnl_abi_check.c
//      Tests/CSNNKernelsCheck/dnnl_abi_installed.c -o /tmp/dnnl_abi_check && /tmp/dnnl_abi_check
//
// Exit status 0 = all equal.
#include "dnnl_abi.h"

#include <stddef.h>
#include <stdio.h>

#include "dnnl_abi_probe.h"

int snn_dnnl_abi_installed(long long *values);
int snn_dnnl_abi_installed_version(void);

int main(void) {
    static const char *const names[] = {
#define SNN_NAME(expression) #expression,
        SNN_DNNL_ABI_PROBES(SNN_NAME)
#undef SNN_NAME
    };
    enum { COUNT = sizeof names / sizeof names[0] };
    long long ours[COUNT], installed[COUNT];
    int n = 0;
#define SNN_PROBE(expression) ours[n++] = (long long)(expression);
    SNN_DNNL_ABI_PROBES(SNN_PROBE)
#undef SNN_PROBE
    if (snn_dnnl_abi_installed(installed) != COUNT) {
        printf("the two sides evaluated different probe lists\n");
        return 1;
    }
    int failures = 0;
    for (int i = 0; i < COUNT; i++) {
        if (ours[i] == installed[i]) continue;
        printf("MISMATCH %s: dnnl_abi.h %lld, installed headers %lld\n", names[i], ours[i], installed[i]);
        failures++;
    }
    int version = snn_dnnl_abi_installed_version(), prototypes = 0;
#define SNN_COUNT(result, name, parameters) prototypes++;
    SNN_DNNL_FUNCTIONS(SNN_COUNT)
#undef SNN_COUNT
    printf("dnnl_abi.h against the oneDNN %d.%d headers: %d values compared, %d mismatches; %d prototypes agree\n",
           version / 100, version % 100, COUNT, failures, prototypes);
    return failures ? 1 : 0;
}
