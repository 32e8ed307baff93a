// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "cctrace",
    products: [
        .library(name: "CCTrace", targets: ["CCTrace"]),
        .library(name: "CCTraceAnalysis", targets: ["CCTraceAnalysis"]),
        .library(name: "CCTraceNIO", targets: ["CCTraceNIO"]),
        .executable(name: "cctrace", targets: ["CCTraceCLI"]),
        .executable(name: "cctrace-bench", targets: ["CCTraceBench"]),
        .executable(name: "sequential", targets: ["sequential"]),
        .executable(name: "cctrace-crashtest", targets: ["CCTraceCrashTest"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // The file is the contract: event vocabulary, timestamps, JSON writing and reading.
        .target(name: "CCTraceFormat", dependencies: ["CZlib"]),
        // zlib from Debian's zlib1g-dev, for .gz traces.
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        // Recorder internals that must be C: thread-local slot, TSC reads, atomics on raw memory,
        // signal handlers, the load-time constructor that honours CCTRACE_OUTPUT.
        .target(name: "CCTraceNative"),
        // libunwind, opened RTLD_LOCAL so its unversioned _Unwind_* never interpose the
        // unwinder Swift and C++ use.
        .target(
            name: "CCTraceUnwind",
            linkerSettings: [.linkedLibrary("dl")]
        ),
        .target(name: "CCTrace", dependencies: ["CCTraceFormat", "CCTraceNative", "CCTraceUnwind"]),
        .target(name: "CCTraceAnalysis", dependencies: ["CCTraceFormat"]),
        // SwiftNIO event-loop ticks and lag; a separate product so apps without NIO never build it.
        .target(
            name: "CCTraceNIO",
            dependencies: [
                "CCTrace", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "CCTraceCLI",
            dependencies: [
                "CCTraceAnalysis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "CCTraceBench",
            dependencies: ["CCTrace", "CCTraceNative", "CCTraceAnalysis", "CCTraceFormat"]
        ),
        // A helper the durability tests drive: records, then aborts, crashes or waits to be killed.
        .executableTarget(
            name: "CCTraceCrashTest",
            dependencies: ["CCTrace"],
            path: "Tests/Helpers/CCTraceCrashTest"
        ),
        .executableTarget(name: "sequential", dependencies: ["CCTrace"], path: "samples/sequential"),
        .testTarget(name: "CCTraceFormatTests", dependencies: ["CCTraceFormat"]),
        // Every test that records lives here, in one serialized suite (a session is
        // process-wide), the NIO tracer's included.
        .testTarget(
            name: "CCTraceTests",
            dependencies: [
                "CCTrace", "CCTraceNative", "CCTraceAnalysis", "CCTraceFormat", "CCTraceNIO",
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "CCTraceAnalysisTests", dependencies: ["CCTraceAnalysis", "CCTraceFormat"], exclude: ["Fixtures"]),
        .testTarget(name: "CCTraceUnwindTests", dependencies: ["CCTraceUnwind"]),
        .testTarget(name: "CCTraceCLITests", dependencies: ["CCTraceAnalysis"]),
    ],
    swiftLanguageModes: [.v6]
)
