import Foundation

// libFuzzer's entry points. libFuzzer owns `main` (linked in by `--sanitize fuzzer`) and its command
// line, so the reader under test is chosen by the environment:
//
//   SNN_FUZZ_TARGET=npz .build-fuzz/release/snn-fuzz CORPUS_DIR SEED_DIR -max_total_time=60
//   SNN_FUZZ_TARGET=npz .build-fuzz/release/snn-fuzz crash-1234     (replays one input)

/// The target chosen in `LLVMFuzzerInitialize`, read by every `LLVMFuzzerTestOneInput`.
nonisolated(unsafe) private var selected: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutableRawPointer, _ argv: UnsafeMutableRawPointer) -> CInt {
    let environment = ProcessInfo.processInfo.environment
    let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
    guard let name = environment["SNN_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
        let given = environment["SNN_FUZZ_TARGET"].map { " (got \"\($0)\")" } ?? ""
        FileHandle.standardError.write(Data("snn-fuzz: set SNN_FUZZ_TARGET to one of \(names)\(given)\n".utf8))
        exit(2)
    }
    selected = target
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    // libFuzzer may pass a null pointer with size 0.
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    selected?.run(bytes)
    return 0
}
