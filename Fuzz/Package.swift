// swift-tools-version: 6.0
// The libFuzzer target for the trace importer, in its own package so that a plain `swift build`
// of cctrace never needs the fuzzer runtime. Run it with `make fuzz` from the repository root.
import PackageDescription

let package = Package(
    name: "cctrace-fuzz",
    dependencies: [.package(name: "cctrace", path: "..")],
    targets: [
        .executableTarget(
            name: "TraceImportFuzzer",
            dependencies: [.product(name: "CCTraceAnalysis", package: "cctrace")]
        )
    ],
    swiftLanguageModes: [.v6]
)
