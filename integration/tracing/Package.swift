// swift-tools-version: 6.0
// Real libraries instrumented with swift-distributed-tracing — AsyncHTTPClient (client spans,
// traceparent injected into each request) and Hummingbird's TracingMiddleware (server spans,
// context extracted) — in one program bootstrapped with CCTraceTracer. A package of its own:
// these take minutes to build, and apps that use cctrace never build them. `make
// tracing-integration` builds and runs it (scripts/tracing_integration.sh).
import PackageDescription

let package = Package(
    name: "cctrace-tracing-integration",
    dependencies: [
        .package(name: "cctrace", path: "../.."),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.0"),
    ],
    targets: [
        .executableTarget(
            name: "ahc-hummingbird",
            dependencies: [
                .product(name: "CCTrace", package: "cctrace"),
                .product(name: "CCTraceTracing", package: "cctrace"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
