import CCTrace
import CCTraceAnalysis
import CCTraceFormat
import CCTraceTracing
import Foundation
import Instrumentation
import Synchronization
import Testing
import Tracing

struct DictionaryInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
}

struct DictionaryExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
}

struct Boom: Error {}

extension RecorderTests {
    /// CCTraceTracer: swift-distributed-tracing spans as cctrace spans.
    @Suite struct DistributedTracing {
        static func args(_ model: TraceModel, _ a: AsyncSlice) -> [String: JSONValue] {
            guard let ref = a.args, case .object(let members)? = model.arguments.value(ref) else { return [:] }
            return Dictionary(members.map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        }

        @Test func spansWithParentsAttributesEventsErrorsAndAFlowAcrossAContextHop() throws {
            let tracer = CCTraceTracer()
            let carried = Mutex<[String: String]>([:])
            let (model, _) = try recordAndImport {
                tracer.withSpan("client op", ofKind: .client) { span in
                    span.attributes["http.request.method"] = "GET"
                    span.attributes["retries"] = 2
                    tracer.withSpan("child", context: span.context) { child in child.addEvent("cache miss") }
                    var headers: [String: String] = [:]
                    tracer.inject(span.context, into: &headers, using: DictionaryInjector())
                    carried.withLock { $0 = headers }
                }
                // The "server": another thread, with only the headers.
                let done = DispatchSemaphore(value: 0)
                let server = Thread {
                    var context = ServiceContext.topLevel
                    tracer.extract(carried.withLock { $0 }, into: &context, using: DictionaryExtractor())
                    tracer.withSpan("server op", context: context, ofKind: .server) { span in
                        span.recordError(Boom())
                        span.setStatus(SpanStatus(code: .error, message: "boom"))
                    }
                    done.signal()
                }
                server.start()
                done.wait()
            }
            let spans = model.asyncSlices.filter { $0.category == TraceCategory.tracing.rawValue }
            #expect(Set(spans.map(\.name)) == ["client op", "child", "server op"])
            let byName = Dictionary(spans.map { ($0.name, Self.args(model, $0)) }, uniquingKeysWith: { a, _ in a })
            let client = try #require(byName["client op"]), child = try #require(byName["child"])
            let server = try #require(byName["server op"])
            #expect(client["span_kind"] == .string("client"))
            #expect(client["http.request.method"] == .string("GET"))
            #expect(client["retries"] == .number(2))
            #expect(client["parent_span_id"] == nil)
            #expect(child["parent_span_id"] == client["span_id"])
            #expect(child["trace_id"] == client["trace_id"])
            #expect(child["remote_parent"] == nil)
            #expect(server["parent_span_id"] == client["span_id"])
            #expect(server["trace_id"] == client["trace_id"])
            #expect(server["remote_parent"] == .bool(true))
            #expect(server["span_kind"] == .string("server"))
            #expect(server["status"] == .string("error"))
            #expect(server["status_message"] == .string("boom"))
            #expect(server["errors"] == .number(1))
            // W3C ids: 32 and 16 hex digits.
            if case .string(let t)? = client["trace_id"], case .string(let s)? = client["span_id"] {
                #expect(t.count == 32 && t.allSatisfy(\.isHexDigit))
                #expect(s.count == 16 && s.allSatisfy(\.isHexDigit))
            } else {
                Issue.record("ids missing")
            }
            // The event and the error are instants naming their span.
            let miss = try #require(model.instants.first { $0.name == "cache miss" })
            #expect(miss.category == TraceCategory.tracing.rawValue)
            let exception = try #require(model.instants.first { $0.name == "exception" })
            if case .object(let members)? = exception.args.flatMap({ model.arguments.value($0) }) {
                #expect(members.contains { $0.0 == "span_id" && $0.1 == server["span_id"] })
                #expect(members.contains { $0.0 == "exception.type" })
            }
            // The request is a flow from the client's thread to the server's.
            let flow = try #require(model.flows.first { $0.category == TraceCategory.tracing.rawValue })
            #expect(flow.from.thread != flow.to.thread)
            #expect(model.threads[flow.to.thread].tid != model.threads[flow.from.thread].tid)
            // A child under a local parent is not one more operation in flight.
            let childSlice = try #require(spans.first { $0.name == "child" })
            #expect(model.hasLocalTracingParent(childSlice))
            #expect(!model.hasLocalTracingParent(try #require(spans.first { $0.name == "server op" })))
        }

        @Test func traceparentIsReadStrictly() {
            let good = CCTraceSpanContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            #expect(good?.traceID == "4bf92f3577b34da6a3ce929d0e0e4736")
            #expect(good?.spanID == "00f067aa0ba902b7")
            #expect(good?.isRemote == true)
            #expect(good?.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            for bad in [
                "", "00-xyz-00f067aa0ba902b7-01", "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736",
            ] {
                #expect(CCTraceSpanContext(traceparent: bad) == nil, "\(bad)")
            }
        }

        @Test func withoutASessionSpansStillCarryTheirContext() {
            let tracer = CCTraceTracer()
            var headers: [String: String] = [:]
            tracer.withSpan("idle") { span in
                #expect(span.isRecording)
                tracer.inject(span.context, into: &headers, using: DictionaryInjector())
            }
            #expect(headers["traceparent"]?.hasPrefix("00-") == true)
        }
    }
}
