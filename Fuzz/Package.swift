// swift-tools-version: 6.0
// Coverage-guided fuzzing of swift-snn's file readers (libFuzzer). A package of its own so that a
// plain `swift build` / `make test` of swift-snn never builds it: it only makes sense built with
// `--sanitize fuzzer`, which scripts/fuzz.sh does (scratch path .build-fuzz).
import PackageDescription

let package = Package(
    name: "swift-snn-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(name: "swift-snn", path: "..")],
    targets: [
        .executableTarget(name: "snn-fuzz", dependencies: [.product(name: "SNN", package: "swift-snn")]),
    ]
)
