// Recording SIGINT / SIGTERM for a cooperative stop (see snn_signals.h).
#include "snn_signals.h"

#include <pthread.h>
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t received = 0;

static void record(int signal_number) {
    if (received != 0) {
        // Second signal: give the user back the default behaviour.
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = SIG_DFL;
        sigaction(signal_number, &action, NULL);
        raise(signal_number);
        return;
    }
    received = signal_number;
}

void snn_signals_install(void) {
    received = 0;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = record;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    // A parent may start us with these signals blocked (some process launchers do); a blocked
    // signal would stay pending and never stop the run.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int snn_signals_received(void) { return received; }

void snn_signals_uninstall(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = SIG_DFL;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    received = 0;
}
