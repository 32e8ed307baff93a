// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "cctrace",
    products: [
        .library(name: "CCTrace", targets: ["CCTrace"]),
        .library(name: "CCTraceAnalysis", targets: ["CCTraceAnalysis"]),
        .library(name: "CCTraceNIO", targets: ["CCTraceNIO"]),
        .library(name: "CCTraceTracing", targets: ["CCTraceTracing"]),
        .executable(name: "cctrace", targets: ["CCTraceCLI"]),
        .executable(name: "cctrace-bench", targets: ["CCTraceBench"]),
        .executable(name: "sequential", targets: ["sequential"]),
        .executable(name: "cpu-global-lock", targets: ["cpu-global-lock"]),
        .executable(name: "cpu-processes", targets: ["cpu-processes"]),
        .executable(name: "cpu-threads", targets: ["cpu-threads"]),
        .executable(name: "io-threads", targets: ["io-threads"]),
        .executable(name: "async-connections", targets: ["async-connections"]),
        .executable(name: "blocked-loop", targets: ["blocked-loop"]),
        .executable(name: "ipc-heavy", targets: ["ipc-heavy"]),
        .executable(name: "lock-contention", targets: ["lock-contention"]),
        .executable(name: "swift-tasks", targets: ["swift-tasks"]),
        .executable(name: "cctrace-crashtest", targets: ["CCTraceCrashTest"]),
        .executable(name: "cctrace-tracing-demo", targets: ["TracingDemo"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.0"),
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
        // A prefetch hint for the analysis' passes over the slices (C: Swift has no intrinsic).
        .target(name: "CCTraceMemory"),
        .target(name: "CCTraceAnalysis", dependencies: ["CCTraceFormat", "CCTraceMemory"]),
        // SwiftNIO event-loop ticks and lag; a separate product so apps without NIO never build it.
        .target(
            name: "CCTraceNIO",
            dependencies: [
                "CCTrace", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // A swift-distributed-tracing backend; a separate product so apps that do not use
        // distributed tracing never build it.
        .target(
            name: "CCTraceTracing",
            dependencies: [
                "CCTrace", .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
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
            dependencies: [
                "CCTrace", "CCTraceNative", "CCTraceUnwind", "CCTraceAnalysis", "CCTraceFormat", "CCTraceTracing",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // A helper the durability tests drive: records, then aborts, crashes or waits to be killed.
        .executableTarget(
            name: "CCTraceCrashTest",
            dependencies: ["CCTrace"],
            path: "Tests/Helpers/CCTraceCrashTest"
        ),
        // Two processes instrumented only with swift-distributed-tracing, talking over loopback
        // (the tracer's cross-process tests).
        .executableTarget(
            name: "TracingDemo",
            dependencies: [
                "CCTrace", "CCTraceTracing", .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            path: "Tests/Helpers/TracingDemo"
        ),
        // Samples: one program per concurrency scenario (samples/README.md), sharing small helpers.
        .target(name: "SampleSupport", dependencies: ["CCTrace"], path: "samples/SampleSupport"),
        .executableTarget(name: "sequential", dependencies: ["CCTrace"], path: "samples/sequential"),
        .executableTarget(
            name: "cpu-global-lock", dependencies: ["CCTrace", "SampleSupport"], path: "samples/cpu-global-lock"),
        .executableTarget(
            name: "cpu-processes", dependencies: ["CCTrace", "SampleSupport"], path: "samples/cpu-processes"),
        .executableTarget(
            name: "cpu-threads", dependencies: ["CCTrace", "SampleSupport"], path: "samples/cpu-threads"),
        .executableTarget(
            name: "io-threads",
            dependencies: [
                "CCTrace", "SampleSupport", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ], path: "samples/io-threads"),
        .executableTarget(
            name: "async-connections",
            dependencies: [
                "CCTrace", "SampleSupport", "CCTraceNIO", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ], path: "samples/async-connections"),
        .executableTarget(
            name: "blocked-loop",
            dependencies: [
                "CCTrace", "SampleSupport", "CCTraceNIO", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ], path: "samples/blocked-loop"),
        .executableTarget(name: "ipc-heavy", dependencies: ["CCTrace", "SampleSupport"], path: "samples/ipc-heavy"),
        .executableTarget(
            name: "lock-contention", dependencies: ["CCTrace", "SampleSupport"], path: "samples/lock-contention"),
        // Plain Swift Concurrency with no tracing calls: traced by the runtime hooks alone.
        .executableTarget(name: "swift-tasks", dependencies: ["CCTrace"], path: "samples/swift-tasks"),
        // C++ that throws and catches, for the tests that sample stacks meanwhile.
        .target(name: "CxxExceptions", path: "Tests/Helpers/CxxExceptions"),
        // What has hung or crashed profilers, done hard, for `make stress` and the hang tests.
        .executableTarget(
            name: "cctrace-stress", dependencies: ["CCTrace", "CxxExceptions"], path: "Tests/Helpers/CCTraceStress"),
        .testTarget(name: "CCTraceFormatTests", dependencies: ["CCTraceFormat"]),
        // Every test that records lives here, in one serialized suite (a session is
        // process-wide), the NIO tracer's included.
        .testTarget(
            name: "CCTraceTests",
            dependencies: [
                "CCTrace", "CCTraceNative", "CCTraceAnalysis", "CCTraceFormat", "CCTraceNIO", "CxxExceptions",
                "CCTraceTracing", .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        .testTarget(
            name: "CCTraceAnalysisTests", dependencies: ["CCTraceAnalysis", "CCTraceFormat"], exclude: ["Fixtures"]),
        .testTarget(name: "CCTraceUnwindTests", dependencies: ["CCTraceUnwind"]),
        .testTarget(name: "CCTraceCLITests", dependencies: ["CCTraceAnalysis"]),
    ],
    swiftLanguageModes: [.v6]
)
