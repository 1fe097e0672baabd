// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "swift-snn",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "SNN", targets: ["SNN"]),
        .executable(name: "snn", targets: ["snn"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
    ],
    targets: [
        // C kernels: the BLAS loader (dlopen with the right OpenBLAS core type), the optional oneDNN
        // convolution adapter (also loaded at run time), SIMD element-wise kernels, and the image decoders.
        .target(
            name: "CSNNKernels",
            linkerSettings: [
                .linkedFramework("Accelerate", .when(platforms: [.macOS])), .linkedLibrary("z"),
                // PNG and JPEG decoding (the image-folder data set); elsewhere images.c reports their absence.
                .linkedLibrary("png", .when(platforms: [.linux])), .linkedLibrary("jpeg", .when(platforms: [.linux])),
            ]),
        .target(name: "SNNTensor", dependencies: ["CSNNKernels"]),
        .target(name: "SNNLayers", dependencies: ["SNNTensor"]),
        .target(name: "SNNOptimizers", dependencies: ["SNNTensor", "SNNLayers"]),
        .target(name: "SNNNeurons", dependencies: ["CSNNKernels", "SNNTensor", "SNNLayers"]),
        .target(name: "SNNModels", dependencies: ["SNNTensor", "SNNLayers", "SNNNeurons"]),
        .target(
            name: "SNNSearch", dependencies: ["SNNTensor", "SNNLayers", "SNNOptimizers", "SNNNeurons", "SNNModels"]),
        .target(
            name: "SNNTraining",
            dependencies: [
                "CSNNKernels", "SNNTensor", "SNNLayers", "SNNOptimizers", "SNNNeurons", "SNNModels", "SNNData",
                "SNNSearch",
            ]),
        .target(name: "SNNData", dependencies: ["SNNTensor", "CSNNKernels"], resources: [.copy("Resources")]),
        .target(
            name: "SNN",
            dependencies: [
                "SNNTensor", "SNNLayers", "SNNOptimizers", "SNNData", "SNNNeurons", "SNNModels", "SNNSearch",
                "SNNTraining",
            ]),
        .target(
            name: "SNNCommands",
            dependencies: [
                "SNN", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "snn", dependencies: ["SNNCommands"]),
        .target(name: "SNNTestSupport", dependencies: ["SNN"], path: "Tests/SNNTestSupport"),
        // Data-parallel equivalence check: needs an MPI launcher, so scripts/test-mpi.sh runs it under
        // `mpirun -np 2` instead of `swift test`.
        .executableTarget(name: "DataParallelCheck", dependencies: ["SNN"], path: "Tests/DataParallelCheck"),
        .testTarget(name: "SNNTensorTests", dependencies: ["SNNTensor", "SNNTestSupport"]),
        .testTarget(
            name: "SNNLayersTests", dependencies: ["SNNLayers", "SNNOptimizers", "SNNData", "SNNTestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "SNNNeuronsTests", dependencies: ["CSNNKernels", "SNNNeurons", "SNNTestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "SNNOptimizersTests", dependencies: ["SNNOptimizers", "SNNTestSupport"]),
        .testTarget(
            name: "SNNModelsTests", dependencies: ["SNNModels", "SNNTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SNNSearchTests", dependencies: ["SNNSearch", "SNNTestSupport"]),
        .testTarget(
            name: "SNNTrainingTests", dependencies: ["SNNTraining", "SNNTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "SNNDataTests", dependencies: ["SNNData", "SNNTestSupport"], resources: [.copy("Fixtures")]),
    ]
)
