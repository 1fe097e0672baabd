// Run-time loading shared by the native adapters (BLAS, oneDNN, HDF5, LZ4 / Zstandard): each opens
// the first library of its list that loads, then copies symbols into its table of function pointers.
// Internal to this target (not under include/).
#ifndef SNN_DL_H
#define SNN_DL_H

#include <dlfcn.h>
#include <string.h>

/// The first of the NULL-terminated `names` that dlopen loads (local, all symbols bound now), or NULL.
static inline void *snn_dlopen_first(const char *const *names) {
    void *handle = NULL;
    for (int i = 0; names[i] && !handle; i++) handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    return handle;
}

/// Stores the address of symbol `name` of `handle` in the function pointer `slot` (NULL when the
/// library lacks it, which also sets `ok` to 0). memcpy, because ISO C has no object-to-function
/// pointer conversion.
#define SNN_DLSYM(handle, slot, name, ok)                \
    do {                                                 \
        void *snn_dlsym_ = dlsym((handle), (name));      \
        if (!snn_dlsym_) (ok) = 0;                       \
        memcpy(&(slot), &snn_dlsym_, sizeof(slot));      \
    } while (0)

#endif
