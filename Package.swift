// swift-tools-version:6.0
// Ember: fine-tune and serve sentence-embedding models in Swift.
//
// Targets follow the architecture, bottom to top:
//   CBLAS, CDNNL (Debian's OpenBLAS and oneDNN headers) → EmberCore (numeric core: buffers, BLAS, SIMD kernels)
//   → EmberTokenizer (BERT WordPiece, identical to Hugging Face's)
//   → EmberModel (safetensors, BERT encoder + backward, pooling, model folders)
//   → EmberLosses (contrastive losses as pure functions of embeddings)
//   → EmberMPI (CMPI: Debian's Open MPI, loaded only under mpirun; the collectives of data-parallel training)
//   → EmberTraining (data, sampler, optimisers, the GradCache engine, the trainer)
//   → EmberReport (what a run leaves for people: the HTML report and the model card)
//   → EmberMining (hard-negative mining: exact top-k search and the reference's selection rules)
//   → EmberCLI (the `ember` executable).
// Build with `-Xswiftc -target-cpu -Xswiftc native` (the Makefile does): SwiftPM's x86-64 baseline has
// no FMA/AVX and turns SIMD16 code into scalar libm calls (see ../shared/spec/swift-performance-notes.md).
import PackageDescription

let package = Package(
    name: "Ember",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Ember", targets: ["EmberCore", "EmberTokenizer", "EmberModel", "EmberLosses", "EmberMPI", "EmberTraining", "EmberReport"]),
        .executable(name: "ember", targets: ["EmberCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Declarations only: OpenBLAS itself is loaded at run time (see EmberCore/BLAS.swift) so that
        // Ember can choose the kernel set before the library initialises.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // oneDNN's declarations, for the opt-in bf16 products (`--precision bf16`); loaded at run time too.
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        // Open MPI's declarations, for data-parallel training under mpirun; loaded at run time, only by a rank.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI"),
        .target(name: "EmberCore", dependencies: ["CBLAS", "CDNNL"]),
        .target(name: "EmberMPI", dependencies: ["CMPI", "EmberCore"]),
        .target(name: "EmberTokenizer", dependencies: ["EmberCore"]),
        .target(name: "EmberModel", dependencies: ["EmberCore", "EmberTokenizer"]),
        .target(name: "EmberLosses", dependencies: ["EmberCore"]),
        .target(name: "EmberTraining", dependencies: ["EmberCore", "EmberTokenizer", "EmberModel", "EmberLosses", "EmberMPI"]),
        .target(name: "EmberReport", dependencies: ["EmberCore"]),
        .target(name: "EmberMining", dependencies: ["EmberCore", "EmberModel"], exclude: ["SEMANTICS.md"]),
        .executableTarget(
            name: "EmberCLI",
            dependencies: ["EmberCore", "EmberTokenizer", "EmberModel", "EmberLosses", "EmberMPI", "EmberTraining", "EmberReport", "EmberMining",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        // Test-only helpers shared by the test targets (the real-model folder: skip locally, fail under CI).
        .target(name: "EmberTestSupport", path: "Tests/EmberTestSupport"),
        .testTarget(name: "EmberCoreTests", dependencies: ["EmberCore"]),
        .testTarget(name: "EmberTokenizerTests", dependencies: ["EmberTokenizer", "EmberTestSupport"]),
        .testTarget(name: "EmberModelTests", dependencies: ["EmberCore", "EmberTokenizer", "EmberModel", "EmberTestSupport"]),
        .testTarget(name: "EmberLossesTests", dependencies: ["EmberCore", "EmberLosses"]),
        .testTarget(name: "EmberTrainingTests", dependencies: ["EmberCore", "EmberModel", "EmberLosses", "EmberMPI", "EmberTraining", "EmberTestSupport"]),
        .testTarget(name: "EmberReportTests", dependencies: ["EmberCore", "EmberReport", "EmberTestSupport"]),
        .testTarget(name: "EmberMiningTests", dependencies: ["EmberCore", "EmberModel", "EmberMining", "EmberTestSupport"]),
        .testTarget(name: "EmberCLITests", dependencies: ["EmberCLI", "EmberTestSupport"]),
    ],
    // Swift 5 language mode: the kernels share raw buffers across DispatchQueue.concurrentPerform
    // workers by design (disjoint ranges), which Swift 6's Sendable checking cannot express.
    swiftLanguageModes: [.v5]
)
