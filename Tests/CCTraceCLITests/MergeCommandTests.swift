import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

/// `cctrace merge` on two processes' traces whose clocks were made to disagree: the client's
/// as recorded, the server's monotonic times moved by a known amount (as another host's clock
/// would be) and its wall-clock anchors off by another (unsynchronized wall clocks).
@Suite struct MergeCommandTests {
    static let skewMicros = 3_700_123.456
    static let wallSkewMicros = 250_000.0

    /// The server's trace with every monotonic time moved by `skewMicros` and its wall anchors
    /// by `wallSkewMicros`.
    static func skew(_ path: String, into directory: URL) throws {
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        var events = (root as? [[String: Any]]) ?? ((root as? [String: Any])?["traceEvents"] as? [[String: Any]]) ?? []
        for i in events.indices {
            if let ts = events[i]["ts"] as? Double { events[i]["ts"] = ts + skewMicros }
            if events[i]["cat"] as? String == "cctrace.session", var args = events[i]["args"] as? [String: Any] {
                for key in ["start_ts", "end_ts"] { if let v = args[key] as? Double { args[key] = v + skewMicros } }
                for key in ["wall_start_us", "wall_end_us"] {
                    if let v = args[key] as? Double { args[key] = v + wallSkewMicros }
                }
                events[i]["args"] = args
            }
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: events).write(to: directory.appendingPathComponent("server.json"))
    }

    @Test func requestsRecoverTheSkewWithinTheirBoundAndSpansNestAcrossHosts() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("merge-\(UUID().uuidString)")
        let recorded = base.appendingPathComponent("recorded")
        try FileManager.default.createDirectory(at: recorded, withIntermediateDirectories: true)
        _ = try TracingDemoTests.record(into: recorded, requests: 30)
        let client = base.appendingPathComponent("client")
        try FileManager.default.createDirectory(at: client, withIntermediateDirectories: true)
        try FileManager.default.moveItem(
            at: recorded.appendingPathComponent("client.json"), to: client.appendingPathComponent("client.json"))
        let server = base.appendingPathComponent("server")
        try Self.skew(recorded.appendingPathComponent("server.json").path, into: server)
        let merged = base.appendingPathComponent("merged.json").path
        let result = try cctrace(["merge", "-o", merged, client.path, server.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("from 30 request(s)"))
        // The offset it used and its bound, from the merged file's metadata.
        let model = try TraceImporter.importTrace(path: merged)
        let text = try String(contentsOfFile: merged, encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.contains("\"cctrace.merge\"") })
        let event = try #require(
            try JSONSerialization.jsonObject(
                with: Data(line.trimmingCharacters(in: CharacterSet(charactersIn: ",")).utf8))
                as? [String: Any])
        let hosts = try #require((event["args"] as? [String: Any])?["hosts"] as? [[String: Any]])
        #expect(hosts.count == 2)
        #expect(hosts[1]["method"] as? String == "requests")
        let offset = try #require(hosts[1]["offset_us"] as? Double)
        let bound = try #require(hosts[1]["bound_us"] as? Double)
        let slack = Int64(((hosts[1]["end_slack_us"] as? Double) ?? 0) * 1000)
        // Recorded on one machine, the true offset is exactly the skew put in.
        #expect(
            abs(offset - Self.skewMicros) <= bound,
            "offset \(offset) µs ± \(bound) vs \(Self.skewMicros) in \(base.path)")
        #expect(bound < 5_000, "bound \(bound) µs")
        // After alignment every server span starts inside the client span it served, and ends in
        // it too — or, where a server span ended after its response had reached the client (a
        // fast network), no later than the slack the merge reported.
        func args(_ a: AsyncSlice) -> [String: JSONValue] {
            guard let ref = a.args, case .object(let m)? = model.arguments.value(ref) else { return [:] }
            return Dictionary(m.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        }
        let spans = model.asyncSlices.filter { $0.category == TraceCategory.tracing.rawValue }
        let clients = Dictionary(
            spans.filter { args($0)["span_kind"] == .string("client") }.map { (args($0)["span_id"]!, $0) },
            uniquingKeysWith: { a, _ in a })
        let servers = spans.filter { args($0)["span_kind"] == .string("server") }
        #expect(servers.count == 30)
        for s in servers {
            let c = try #require(clients[args(s)["parent_span_id"]!])
            #expect(
                s.start >= c.start && s.end.nanoseconds <= c.end.nanoseconds + slack,
                "server \(s.start.nanoseconds)…\(s.end.nanoseconds) outside client \(c.start.nanoseconds)…\(c.end.nanoseconds)"
            )
        }
        // The processes carry their hosts, and the report follows the requests across them.
        #expect(model.processes.allSatisfy { $0.labels?.hasPrefix("host ") == true })
        let report = try cctrace(["report", "--format", "json", merged])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        // Each host's share of the work.
        let hosts2 = try #require((object["work"] as? [String: Any])?["hosts"] as? [[String: Any]])
        #expect(hosts2.count == 2)
        #expect(Set(hosts2.compactMap { $0["host"] as? String }).count == 2)
        let findings = try #require(object["findings"] as? [[String: Any]])
        let hop = try #require(
            findings.first {
                $0["id"] as? String == "cross-host-requests" && ($0["subject"] as? String)?.contains("→") == true
            })
        #expect((hop["metrics"] as? [String: Any])?["requests"] as? Int == 30)
        #expect((hop["summary"] as? String)?.contains("across hosts") == true)
        let path = try #require(
            findings.first {
                $0["id"] as? String == "cross-host-requests" && $0["subject"] as? String == "critical path"
            })
        #expect((path["summary"] as? String)?.contains("30 end-to-end requests") == true)
    }

    /// Traces that shared no request are placed by their wall-clock anchors.
    @Test func withoutRequestsTheWallClocksPlaceTheTraces() throws {
        func trace(start: Double, wall: Double, pid: Int) throws -> String {
            try writeTemporary(
                """
                [{"ph":"M","cat":"cctrace.session","name":"cctrace.session","pid":\(pid),"tid":\(pid),"args":{"host":"h\(pid)","start_ts":\(start),"wall_start_us":\(wall)}},
                {"ph":"X","name":"work","ts":\(start + 10),"dur":100,"pid":\(pid),"tid":\(pid)}]
                """)
        }
        let a = try trace(start: 1_000, wall: 1_700_000_000_000_000, pid: 1)
        // Host 2's monotonic clock reads 5,000,000 µs more at the same wall time.
        let b = try trace(start: 5_001_000, wall: 1_700_000_000_000_000, pid: 2)
        let merged = FileManager.default.temporaryDirectory.appendingPathComponent("m-\(UUID().uuidString).json").path
        let result = try cctrace(["merge", "-o", merged, a, b])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("from the wall clocks"))
        let model = try TraceImporter.importTrace(path: merged)
        let starts = model.slices.map(\.start.nanoseconds)
        #expect(starts.count == 2)
        #expect(starts[0] == starts[1])
        let bad = try cctrace(["merge", "-o", merged, a, "/nonexistent.json"])
        #expect(bad.status == 2)
    }
}
