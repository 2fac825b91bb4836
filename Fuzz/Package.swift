// swift-tools-version:6.0
// libFuzzer harnesses for Ember's input parsers. A separate package so that the root package's normal
// build and tests are untouched. Build and run with ../scripts/fuzz.sh (it passes -sanitize=fuzzer,address).
// Each harness is an executable whose `main` hands its test function to libFuzzer's driver
// (LLVMFuzzerRunDriver): SwiftPM links executables with their own entry point, not libFuzzer's `main`.
import Foundation
import PackageDescription

// SwiftPM names a path dependency after its folder, so take the repository folder's name from here.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
let ember: [Target.Dependency] = [.product(name: "Ember", package: root.lastPathComponent)]

func harness(_ name: String) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + ember)
}

let package = Package(
    name: "EmberFuzz",
    platforms: [.macOS(.v13)],
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "CFuzzer"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzer"] + ember),
        harness("FuzzSafeTensors"),
        harness("FuzzTokenizerJSON"),
        harness("FuzzVocab"),
        harness("FuzzBertConfig"),
        harness("FuzzSTConfig"),
        harness("FuzzTextData"),
    ],
    swiftLanguageModes: [.v5]
)
