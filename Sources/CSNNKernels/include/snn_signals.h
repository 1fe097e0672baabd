#ifndef SNN_SIGNALS_H
#define SNN_SIGNALS_H

#ifdef __cplusplus
extern "C" {
#endif

/// Installs handlers for SIGINT and SIGTERM that only record the signal (async-signal-safe), so a
/// long computation can stop at its next safe point. A second signal of either kind restores the
/// default action and re-raises it, so an impatient second Ctrl-C still ends the process at once.
void snn_signals_install(void);

/// The first recorded signal number, or 0 when none arrived since installation.
int snn_signals_received(void);

/// Restores the default actions and forgets any recorded signal.
void snn_signals_uninstall(void);

#ifdef __cplusplus
}
#endif

#endif
