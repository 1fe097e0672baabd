#ifndef SNN_FILES_H
#define SNN_FILES_H

#ifdef __cplusplus
extern "C" {
#endif

/// Swaps the two existing paths `a` and `b` (files or folders) in one atomic step: renameat2 with
/// RENAME_EXCHANGE on Linux, renamex_np with RENAME_SWAP on macOS. Returns 0, or -1 with errno set
/// (ENOSYS or EINVAL where the system or the file system cannot swap; the caller then falls back to
/// two renames).
int snn_exchange_paths(const char *a, const char *b);

#ifdef __cplusplus
}
#endif
#endif
