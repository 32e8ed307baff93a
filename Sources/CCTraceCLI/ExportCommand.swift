import ArgumentParser
import CCTraceAnalysis
import CCTraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// `cctrace export --otlp OUT.json TRACE`: the trace as OpenTelemetry spans.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a trace as OpenTelemetry spans (OTLP/JSON), to a file or an OTLP/HTTP endpoint.",
        discussion: """
            Every slice and async slice becomes a span (parents from nesting, flows and task parents; \
            CCTraceTracer's spans keep their W3C ids), args become attributes, findings become span events. \
            --otlp-endpoint posts to URL/v1/traces (http:// only: put an OpenTelemetry Collector in front of \
            a TLS backend) in requests of at most --batch-bytes. Exit status 2 when the input is not a trace, \
            1 when the file cannot be written or the endpoint refuses.
            """
    )

    @Argument(help: "The trace file (any form `cctrace report` reads).")
    var trace: String

    @Option(name: .customLong("otlp"), help: ArgumentHelp("Write one OTLP/JSON document here.", valueName: "OUT.json"))
    var output: String?

    @Option(
        name: .customLong("otlp-endpoint"),
        help: ArgumentHelp("POST OTLP/JSON to this collector (e.g. http://127.0.0.1:4318).", valueName: "URL"))
    var endpoint: String?

    @Option(help: "Most bytes in one request to the endpoint (4 MiB by default; collectors accept 4–20 MiB).")
    var batchBytes: Int = 4 << 20

    func validate() throws {
        guard output != nil || endpoint != nil else {
            throw ValidationError("give --otlp OUT.json or --otlp-endpoint URL")
        }
        if let endpoint { _ = try HTTPEndpoint(endpoint) }
        guard batchBytes >= 64 << 10 else { throw ValidationError("--batch-bytes must be at least 65536") }
    }

    func run() throws {
        let model = try importOrExit(trace)
        var options = AnalysisOptions()
        options.assumedCores = hostCores()
        let report = AnalysisReport(model: model, options: options)
        let spans = OTLPExport.spanCount(model)
        if let output {
            let document = OTLPExport.requests(model: model, report: report)[0]
            try writeFileOrExit(output, document)
            print("wrote \(spans) spans of \(model.processes.count) processes to \(output) (\(document.count) bytes)")
        }
        if let endpoint {
            let target = try HTTPEndpoint(endpoint)
            let requests = OTLPExport.requests(model: model, report: report, maxBytes: batchBytes)
            for (i, body) in requests.enumerated() {
                do {
                    try target.post(body, contentType: "application/json")
                } catch {
                    FileError.print(
                        "cctrace: error: \(endpoint): request \(i + 1) of \(requests.count): \(error.description)")
                    throw ExitCode(1)
                }
            }
            print("posted \(spans) spans in \(requests.count) requests to \(target.url)")
        }
    }

}

/// An OTLP/HTTP endpoint (`http://host:port[/base]`), posted to at `/v1/traces` over a plain
/// TCP connection per request.
struct HTTPEndpoint {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let host: String
    let port: UInt16
    let path: String
    var url: String { "http://\(host):\(port)\(path)" }

    init(_ text: String) throws {
        guard text.hasPrefix("http://") else {
            throw ValidationError("--otlp-endpoint takes an http:// URL (put a collector in front of https)")
        }
        var rest = Substring(text.dropFirst("http://".count))
        var base = ""
        if let slash = rest.firstIndex(of: "/") {
            base = String(rest[slash...])
            rest = rest[..<slash]
        }
        let parts = rest.split(separator: ":", maxSplits: 1)
        guard let h = parts.first, !h.isEmpty else { throw ValidationError("no host in --otlp-endpoint \(text)") }
        host = String(h)
        if parts.count == 2 {
            guard let p = UInt16(parts[1]) else { throw ValidationError("bad port in --otlp-endpoint \(text)") }
            port = p
        } else {
            port = 4318
        }
        while base.hasSuffix("/") { base.removeLast() }
        path = base.hasSuffix("/v1/traces") ? base : base + "/v1/traces"
    }

    /// POSTs `body`; throws unless the answer is 2xx.
    func post(_ body: [UInt8], contentType: String) throws(Failure) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw Failure(description: "cannot resolve \(host)")
        }
        defer { freeaddrinfo(list) }
        var fd: Int32 = -1
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let a = candidate, fd < 0 {
            fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd >= 0, connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) != 0 {
                close(fd)
                fd = -1
            }
            candidate = a.pointee.ai_next
        }
        guard fd >= 0 else { throw Failure(description: "cannot connect to \(host):\(port) (errno \(errno))") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let head =
            "POST \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Type: \(contentType)\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\nUser-Agent: cctrace/\(TraceVocabulary.version)\r\n\r\n"
        guard send(fd, Array(head.utf8)), send(fd, body) else {
            throw Failure(description: "the connection closed while sending (errno \(errno))")
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while answer.count < 1 << 20 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        let statusLine = String(decoding: answer.prefix { $0 != 0x0D && $0 != 0x0A }, as: UTF8.self)
        let words = statusLine.split(separator: " ")
        guard words.count >= 2, let status = Int(words[1]) else {
            throw Failure(description: "no HTTP answer")
        }
        guard (200..<300).contains(status) else {
            throw Failure(description: "the endpoint answered \(SummaryRenderer.terminalSafe(statusLine))")
        }
    }

    func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }
}
