import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

/// `cctrace export --otlp`: spans for slices, parents from nesting and flows, CCTraceTracer's
/// ids kept, times in Unix nanoseconds from the wall-clock anchor, batches under a size.
@Suite struct OTLPExportTests {
    static let trace = """
        [{"ph":"M","name":"process_name","pid":1,"args":{"name":"client"}},
        {"ph":"M","cat":"cctrace.session","name":"cctrace.session","pid":1,"tid":1,"args":{"host":"h1","start_ts":1000,"wall_start_us":1700000000000000}},
        {"ph":"X","name":"request","ts":1000,"dur":100,"pid":1,"tid":1,"args":{"n":3,"who":"me","list":[1,2]}},
        {"ph":"X","name":"send","ts":1010,"dur":10,"pid":1,"tid":1},
        {"ph":"s","name":"msg","cat":"cctrace.ipc","id":7,"ts":1015,"pid":1,"tid":1},
        {"ph":"X","name":"handle","ts":1030,"dur":40,"pid":2,"tid":2},
        {"ph":"f","name":"msg","cat":"cctrace.ipc","id":7,"ts":1031,"pid":2,"tid":2,"bp":"e"},
        {"ph":"b","name":"GET /x","cat":"cctrace.tracing","id":5,"ts":1000,"pid":1,"tid":1,"args":{"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","span_kind":"client","status":"error","status_message":"boom"}},
        {"ph":"e","name":"GET /x","cat":"cctrace.tracing","id":5,"ts":1090,"pid":1,"tid":1}]
        """

    static func spans(_ document: [UInt8]) throws -> [[String: Any]] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(document)) as? [String: Any])
        let resources = try #require(object["resourceSpans"] as? [[String: Any]])
        return resources.flatMap { r in
            ((r["scopeSpans"] as? [[String: Any]]) ?? []).flatMap { ($0["spans"] as? [[String: Any]]) ?? [] }
        }
    }

    @Test func slicesFlowsAndTracingSpans() throws {
        let model = try TraceImporter.importTrace(bytes: Array(Self.trace.utf8))
        #expect(OTLPExport.spanCount(model) == 4)
        let documents = OTLPExport.requests(model: model, report: nil)
        #expect(documents.count == 1)
        let spans = try Self.spans(documents[0])
        #expect(spans.count == 4)
        let byName = Dictionary(spans.map { ($0["name"] as! String, $0) }, uniquingKeysWith: { a, _ in a })
        let request = try #require(byName["request"]), send = try #require(byName["send"])
        let handle = try #require(byName["handle"]), get = try #require(byName["GET /x"])
        // Nesting, then the flow: handle (another process) is a child of send, in its trace.
        #expect(send["parentSpanId"] as? String == request["spanId"] as? String)
        #expect(handle["parentSpanId"] as? String == send["spanId"] as? String)
        #expect(handle["traceId"] as? String == request["traceId"] as? String)
        #expect(request["parentSpanId"] == nil)
        // Unix nanoseconds: the anchor says ts 1000 µs was 1.7e15 µs since the epoch.
        #expect(request["startTimeUnixNano"] as? String == "1700000000000000000")
        #expect(request["endTimeUnixNano"] as? String == "1700000000000100000")
        // Ids are hex of the right length.
        #expect((request["traceId"] as? String)?.count == 32)
        #expect((request["spanId"] as? String)?.count == 16)
        // Args are attributes with OTLP's value types.
        let attributes = try #require(request["attributes"] as? [[String: Any]])
        let n = try #require(attributes.first { $0["key"] as? String == "n" }?["value"] as? [String: Any])
        #expect(n["intValue"] as? String == "3")
        let list = try #require(attributes.first { $0["key"] as? String == "list" }?["value"] as? [String: Any])
        #expect(list["stringValue"] as? String == "[1,2]")
        // The tracer's span keeps its ids, kind and status.
        #expect(get["traceId"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(get["spanId"] as? String == "00f067aa0ba902b7")
        #expect(get["kind"] as? Int == 3)
        let status = try #require(get["status"] as? [String: Any])
        #expect(status["code"] as? Int == 2)
        #expect(status["message"] as? String == "boom")
    }

    @Test func batchesStayUnderTheLimitAndKeepEverySpan() throws {
        var events: [String] = []
        for i in 0..<3000 {
            events.append(#"{"ph":"X","name":"item \#(i)","ts":\#(i * 10),"dur":5,"pid":\#(1 + i % 3),"tid":1}"#)
        }
        let model = try TraceImporter.importTrace(bytes: Array(("[" + events.joined(separator: ",") + "]").utf8))
        let documents = OTLPExport.requests(model: model, report: nil, maxBytes: 64 << 10)
        #expect(documents.count > 3)
        #expect(documents.allSatisfy { $0.count <= 64 << 10 })
        #expect(try documents.map { try Self.spans($0).count }.reduce(0, +) == 3000)
    }
}
