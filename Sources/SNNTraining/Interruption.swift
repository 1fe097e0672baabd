import CSNNKernels

/// A cooperative stop on SIGINT / SIGTERM: while installed, the first such signal is only recorded,
/// and the trainer stops at its next step boundary (see ``Trainer/shouldStop``); a second signal
/// ends the process at once, as it would without the handler.
public final class InterruptionHandler: Sendable {
    /// Installs the handlers; they stay until this object is released.
    public static func install() -> InterruptionHandler { InterruptionHandler() }

    private init() { snn_signals_install() }

    deinit { snn_signals_uninstall() }

    /// The signal that arrived first (SIGINT = 2, SIGTERM = 15), or nil.
    public var signal: Int32? {
        let s = snn_signals_received()
        return s == 0 ? nil : s
    }
}
