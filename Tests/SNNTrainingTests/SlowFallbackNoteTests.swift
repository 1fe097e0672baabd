import Foundation
import SNN
import Testing

/// `snn train` and `snn bench` say in one line when they run on a slow fallback.
@Suite struct SlowFallbackNoteTests {
    /// The libraries missing in this environment (the child process inherits it, so loads the same ones).
    static var missing: [String] {
        var names: [String] = []
        if BLAS.isPortableFallback { names.append("libopenblas-dev") }
        #if os(Linux)
        if !ConvolutionBackend.oneDNNAvailable { names.append("libdnnl-dev") }
        #endif
        return names
    }

    /// The `note:` lines of a command's standard error.
    static func notes(_ arguments: [String]) throws -> [String] {
        let r = try runSNN(arguments)
        #expect(r.status == 0, "\(arguments): \(r.error)")
        return r.error.split(separator: "\n").map(String.init).filter { $0.hasPrefix("note:") }
    }

    @Test func trainingAndBenchmarksNameTheMissingLibraries() throws {
        let commands = [
            ["bench", "gemm", "--n", "16", "--warmup", "0", "--repeats", "1"],
            [
                "bench", "conv", "--batch", "1", "--channels", "2", "--size", "4", "--out-channels", "2", "--warmup",
                "0",
                "--repeats", "1", "--json",
            ],
            [
                "train", "--model", "spiking-mlp", "--widths", "8", "--time-steps", "1", "--epochs", "1",
                "--train-samples", "64", "--test-samples", "64", "--output", temporaryPath("note-run"),
            ],
        ]
        for arguments in commands {
            defer { if arguments[0] == "train" { try? FileManager.default.removeItem(atPath: arguments.last!) } }
            let notes = try Self.notes(arguments)
            if Self.missing.isEmpty {
                #expect(notes.isEmpty, "\(arguments): \(notes)")
            } else {
                // One line, naming every missing package and how to install it.
                #expect(notes.count == 1, "\(arguments): \(notes)")
                for name in Self.missing { #expect(notes.first?.contains(name) == true, "\(arguments): \(notes)") }
                #expect(notes.first?.contains("make deps") == true)
            }
        }
        // Commands that do not compute much stay quiet.
        #expect(try Self.notes(["info"]).isEmpty)
    }
}
