// ahc-hummingbird: an HTTP server built with Hummingbird (TracingMiddleware) and a client
// built with AsyncHTTPClient, in two processes over loopback. Neither calls cctrace for its
// spans: the libraries make them through swift-distributed-tracing, and the program only
// bootstraps CCTraceTracer.
//
//   ahc-hummingbird server PORTFILE N    serve N requests (GET /item/:id), then exit
//   ahc-hummingbird client PORT N        N requests, inside one "batch" span
import AsyncHTTPClient
import CCTrace
import CCTraceTracing
import Hummingbird
import Synchronization
import Tracing

#if canImport(Glibc)
    import Glibc
#endif

/// CPU work standing in for handling a request.
@inline(never)
func work(_ item: Int) -> UInt64 {
    var x = UInt64(item) &+ 0x9E37_79B9
    for _ in 0..<300_000 { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
    return x
}

let served = Atomic<Int>(0)

func serve(portFile: String, count: Int) async throws {
    let router = Router()
    router.middlewares.add(TracingMiddleware())
    router.get("/item/:id") { _, context -> String in
        let id = context.parameters.get("id", as: Int.self) ?? 0
        let value = work(id)
        if served.add(1, ordering: .relaxed).newValue >= count {
            // The last answer is on its way: stop recording and leave shortly after.
            Task.detached {
                try? await Task.sleep(for: .milliseconds(200))
                CCTrace.stop()
                exit(0)
            }
        }
        return "\(value)"
    }
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? 0
            let file = fopen(portFile, "w")
            fputs("\(port)\n", file)
            fclose(file)
        })
    try await app.runService()
}

func request(port: Int, count: Int) async throws {
    // The client takes the bootstrapped tracer when it is created.
    let client = HTTPClient(eventLoopGroupProvider: .singleton)
    do {
        try await withSpan("batch") { _ in
            for item in 0..<count {
                let response = try await client.execute(
                    HTTPClientRequest(url: "http://127.0.0.1:\(port)/item/\(item)"), timeout: .seconds(30))
                _ = try await response.body.collect(upTo: 1 << 20)
                guard response.status == .ok else { throw Failure.status(Int(response.status.code)) }
            }
        }
    } catch {
        try await client.shutdown()
        throw error
    }
    try await client.shutdown()
}

enum Failure: Error { case status(Int) }

@main
struct Main {
    static func main() async throws {
        InstrumentationSystem.bootstrap(CCTraceTracer())
        let args = CommandLine.arguments
        guard args.count >= 4, let count = Int(args[3]) else {
            print("usage: ahc-hummingbird server PORTFILE N | client PORT N")
            exit(2)
        }
        if args[1] == "server" {
            try await serve(portFile: args[2], count: count)
        } else if let port = Int(args[2]) {
            try await request(port: port, count: count)
            CCTrace.stop()
        }
    }
}
