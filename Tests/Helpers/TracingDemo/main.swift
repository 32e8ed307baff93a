// cctrace-tracing-demo: two processes that talk over loopback TCP and are instrumented only
// with swift-distributed-tracing (`withSpan`, `inject`, `extract`), bootstrapped with
// CCTraceTracer. Run under CCTRACE_OUTPUT, their traces show client and server spans linked
// by flows.
//
//   cctrace-tracing-demo server PORTFILE N    serve N requests, writing the port to PORTFILE
//   cctrace-tracing-demo client PORT N        send N requests, one client span each
import CCTrace
import CCTraceTracing
import Instrumentation
import Tracing

#if canImport(Glibc)
    import Glibc
#endif

/// Headers of one request: `key: value` lines.
struct Headers: Sendable {
    var values: [String: String] = [:]
}

struct HeaderInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout Headers) { carrier.values[key] = value }
}

struct HeaderExtractor: Extractor {
    func extract(key: String, from carrier: Headers) -> String? { carrier.values[key] }
}

func readLine(_ fd: Int32) -> String? {
    var bytes: [UInt8] = []
    var c: UInt8 = 0
    while read(fd, &c, 1) == 1 {
        if c == 0x0A { return String(decoding: bytes, as: UTF8.self) }
        bytes.append(c)
    }
    return bytes.isEmpty ? nil : String(decoding: bytes, as: UTF8.self)
}

func writeAll(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { buffer in
        var sent = 0
        while sent < buffer.count {
            let n = write(fd, buffer.baseAddress! + sent, buffer.count - sent)
            if n <= 0 { return }
            sent += n
        }
    }
}

/// CPU work standing in for handling a request.
@inline(never)
func handle(_ item: Int) -> UInt64 {
    var x = UInt64(item) &+ 0x9E37_79B9
    for _ in 0..<200_000 { x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407 }
    return x
}

func serve(portFile: String, count: Int) {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            _ = bind(listener, $0, length)
            _ = getsockname(listener, $0, &length)
        }
    }
    listen(listener, 16)
    let port = UInt16(bigEndian: address.sin_port)
    let file = fopen(portFile, "w")
    fputs("\(port)\n", file)
    fclose(file)
    for _ in 0..<count {
        let client = accept(listener, nil, nil)
        guard client >= 0, let requestLine = readLine(client) else { continue }
        var headers = Headers()
        while let line = readLine(client), !line.isEmpty {
            let parts = line.split(separator: ":", maxSplits: 1).map { String($0).trimmingSpaces() }
            if parts.count == 2 { headers.values[parts[0]] = parts[1] }
        }
        var context = ServiceContext.topLevel
        InstrumentationSystem.instrument.extract(headers, into: &context, using: HeaderExtractor())
        let item = Int(requestLine.split(separator: "/").last ?? "0") ?? 0
        withSpan("GET /item", context: context, ofKind: .server) { span in
            span.attributes["http.request.method"] = "GET"
            span.attributes["url.path"] = "/item/\(item)"
            let value = handle(item)
            span.attributes["http.response.status_code"] = 200
            writeAll(client, "200 \(value)\n")
        }
        close(client)
    }
    close(listener)
}

func request(port: UInt16, item: Int) async throws {
    try await withSpan("GET /item/\(item)", ofKind: .client) { span in
        span.attributes["http.request.method"] = "GET"
        span.attributes["server.port"] = Int(port)
        var headers = Headers()
        InstrumentationSystem.instrument.inject(span.context, into: &headers, using: HeaderInjector())
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = port.bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw DemoError.connect }
        var text = "GET /item/\(item)\n"
        for (k, v) in headers.values { text += "\(k): \(v)\n" }
        writeAll(fd, text + "\n")
        guard let answer = readLine(fd), answer.hasPrefix("200") else { throw DemoError.answer }
        // Reading the body (decoding it), inside the request's span as a client library does.
        span.attributes["http.response.status_code"] = 200
        span.attributes["decoded"] = Int(truncatingIfNeeded: handle(Int(answer.count)) & 0xFFFF)
    }
}

enum DemoError: Error { case connect, answer }

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

@main
struct TracingDemo {
    static func main() async throws {
        InstrumentationSystem.bootstrap(CCTraceTracer())
        let args = CommandLine.arguments
        guard args.count >= 4, let count = Int(args[3]) else {
            print("usage: cctrace-tracing-demo server PORTFILE N | client PORT N")
            exit(2)
        }
        if args[1] == "server" {
            serve(portFile: args[2], count: count)
        } else if let port = UInt16(args[2]) {
            try await withSpan("batch", ofKind: .internal) { _ in
                for item in 0..<count { try await request(port: port, item: item) }
            }
        }
        CCTrace.stop()
    }
}
