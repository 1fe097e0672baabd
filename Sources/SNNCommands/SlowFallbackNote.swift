import ArgumentParser
import Foundation
import SNN

/// A command whose speed depends on the BLAS and on oneDNN. Before one runs, `snn` prints
/// ``SlowFallbackNote/line`` (one line on standard error) when a slow fallback is in use, so that a
/// run that is ten times slower than it should be says why and how to fix it.
protocol ComputeHeavyCommand {}

extension Train: ComputeHeavyCommand {}
extension Bench.GEMM: ComputeHeavyCommand {}
extension Bench.Conv: ComputeHeavyCommand {}
extension Bench.LIFWorkload: ComputeHeavyCommand {}
extension Bench.PSNWorkload: ComputeHeavyCommand {}
extension Bench.PSUWorkload: ComputeHeavyCommand {}
extension Bench.EventsWorkload: ComputeHeavyCommand {}
extension Bench.TrainStep: ComputeHeavyCommand {}

/// The one-line note about slow fallbacks (the facts `snn info` reports as `blas` and `onednn`).
enum SlowFallbackNote {
    /// The note for this process, or `nil` when the fast libraries are in use.
    static var line: String? {
        let portableBLAS = BLAS.isPortableFallback
        #if os(Linux)
        // On Linux oneDNN is one `make deps` away; elsewhere it is optional and rarely packaged as 2.x.
        let noOneDNN = !ConvolutionBackend.oneDNNAvailable
        #else
        let noOneDNN = false
        #endif
        switch (portableBLAS, noOneDNN) {
        case (true, true):
            return "note: OpenBLAS and oneDNN not found — matrix products use a slow portable C BLAS and convolutions "
                + "the slower BLAS path; install libopenblas-dev and libdnnl-dev (make deps)"
        case (true, false):
            return "note: OpenBLAS not found — matrix products use a slow portable C BLAS; install libopenblas-dev "
                + "(make deps)"
        case (false, true):
            return "note: oneDNN not found — convolutions use the slower BLAS path; install libdnnl-dev (make deps)"
        case (false, false):
            return nil
        }
    }

    /// Writes ``line`` to standard error when there is one and `command` is compute-heavy.
    static func print(before command: any ParsableCommand) {
        guard command is any ComputeHeavyCommand, let line else { return }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
