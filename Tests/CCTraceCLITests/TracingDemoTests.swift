import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

/// Two real processes instrumented only with swift-distributed-tracing (bootstrapped with
/// CCTraceTracer) over loopback TCP: their traces, read together, show client and server spans
/// with parents across the processes and a flow per request.
@Suite struct TracingDemoTests {
    static func product(_ name: String) -> String {
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" && !FileManager.default.fileExists(atPath: dir.appendingPathComponent(name).path) {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent(name).path
    }

    /// Runs the demo's server and client recording into `directory`; returns their pids. Both
    /// record CLOCK_MONOTONIC directly (`CCTRACE_CLOCK=monotonic`): one host's processes then
    /// share a clock exactly, where TSC conversions calibrated per process differ by tens of µs
    /// — the merge tests need the true offset between the two.
    static func record(into directory: URL, requests: Int) throws -> (server: Int32, client: Int32) {
        let portFile = directory.appendingPathComponent("port").path
        let server = Process()
        server.executableURL = URL(fileURLWithPath: product("cctrace-tracing-demo"))
        server.arguments = ["server", portFile, "\(requests)"]
        server.environment = [
            "CCTRACE_OUTPUT": directory.appendingPathComponent("server.json").path, "CCTRACE_CLOCK": "monotonic",
        ]
        try server.run()
        var port = ""
        for _ in 0..<500 where port.isEmpty {
            port =
                (try? String(contentsOfFile: portFile, encoding: .utf8))?.trimmingCharacters(
                    in: .whitespacesAndNewlines) ?? ""
            if port.isEmpty { usleep(10_000) }
        }
        let client = Process()
        client.executableURL = server.executableURL
        client.arguments = ["client", port, "\(requests)"]
        client.environment = [
            "CCTRACE_OUTPUT": directory.appendingPathComponent("client.json").path, "CCTRACE_CLOCK": "monotonic",
        ]
        try client.run()
        client.waitUntilExit()
        server.waitUntilExit()
        #expect(client.terminationStatus == 0)
        #expect(server.terminationStatus == 0)
        try FileManager.default.removeItem(atPath: portFile)
        return (server.processIdentifier, client.processIdentifier)
    }

    @Test func clientAndServerSpansLinkedAcrossProcesses() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tracing-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pids = try Self.record(into: directory, requests: 4)
        let model = try TraceImporter.importTrace(path: directory.path)
        func args(_ a: AsyncSlice) -> [String: JSONValue] {
            guard let ref = a.args, case .object(let m)? = model.arguments.value(ref) else { return [:] }
            return Dictionary(m.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        }
        let spans = model.asyncSlices.filter { $0.category == TraceCategory.tracing.rawValue }
        let clients = spans.filter { args($0)["span_kind"] == .string("client") }
        let servers = spans.filter { args($0)["span_kind"] == .string("server") }
        #expect(clients.count == 4)
        #expect(servers.count == 4)
        #expect(clients.allSatisfy { Int32($0.pid) == pids.client })
        #expect(servers.allSatisfy { Int32($0.pid) == pids.server })
        // Each server span's parent is a client span of the same trace, in the other process.
        let clientIDs = Dictionary(
            clients.map { (args($0)["span_id"]!, args($0)["trace_id"]!) }, uniquingKeysWith: { a, _ in a })
        for s in servers {
            let a = args(s)
            let parent = try #require(a["parent_span_id"])
            #expect(clientIDs[parent] == a["trace_id"])
            #expect(a["remote_parent"] == .bool(true))
        }
        // The client spans are children of the batch span, in their process.
        let batch = try #require(spans.first { $0.name == "batch" })
        #expect(clients.allSatisfy { args($0)["parent_span_id"] == args(batch)["span_id"] })
        // One flow per request, from the client process to the server process.
        let flows = model.flows.filter { $0.category == TraceCategory.tracing.rawValue }
        #expect(flows.count == 4)
        #expect(flows.allSatisfy { Int32($0.from.pid) == pids.client && Int32($0.to.pid) == pids.server })
    }
}
