import CCTrace
import CCTraceTracing
import Tracing

#if canImport(Glibc)
    import Glibc
#endif

/// What a swift-distributed-tracing span costs with CCTraceTracer, against swift-distributed-
/// tracing's own no-op tracer and against `CCTrace.withSpan` — one span with two attributes,
/// nested under a parent, in one loop; each figure the best of several rounds.
enum TracingBenchmark {
    static let spansPerRound = 200_000
    static let rounds = 7

    static func run() {
        let directory = RecordBenchmark.temporaryDirectory()
        defer { _ = rmdir(directory) }
        var noop = Double.infinity
        var idle = Double.infinity
        var traced = Double.infinity
        var native = Double.infinity
        var nativeNamed = Double.infinity
        for round in 0..<rounds {
            noop = min(noop, spans(NoOpTracer()))
            idle = min(idle, spans(CCTraceTracer()))
            let path = "\(directory)/tracing-\(round).json"
            traced = min(traced, RecordBenchmark.withSession(path: path, clock: .automatic) { spans(CCTraceTracer()) })
            unlink(path)
            native = min(native, RecordBenchmark.withSession(path: path, clock: .automatic) { nativeSpans() })
            unlink(path)
            nativeNamed = min(
                nativeNamed, RecordBenchmark.withSession(path: path, clock: .automatic) { nativeNamedSpans() })
            unlink(path)
        }
        print("span, swift-distributed-tracing NoOpTracer: \(RecordBenchmark.format(noop)) ns")
        print("span, CCTraceTracer, not recording: \(RecordBenchmark.format(idle)) ns")
        print("span, CCTraceTracer, recording: \(RecordBenchmark.format(traced)) ns")
        print("span, CCTrace.withSpan(StaticString), recording: \(RecordBenchmark.format(native)) ns")
        print("span, CCTrace.withSpan(named:args:), recording: \(RecordBenchmark.format(nativeNamed)) ns")
        print("CCTraceTracer over NoOpTracer: \(RecordBenchmark.format(traced - noop)) ns per span")
    }

    /// Nanoseconds per child span under one parent, through `tracer`.
    static func spans<T: Tracer>(_ tracer: T) -> Double {
        tracer.withSpan("request") { parent in
            let started = TaskBenchmark.clockNanoseconds()
            for i in 0..<spansPerRound {
                tracer.withSpan("step", context: parent.context) { span in
                    span.attributes["item"] = i
                    span.attributes["kind"] = "bench"
                }
            }
            return Double(TaskBenchmark.clockNanoseconds() - started) / Double(spansPerRound)
        }
    }

    static func nativeSpans() -> Double {
        let started = TaskBenchmark.clockNanoseconds()
        for i in 0..<spansPerRound { CCTrace.withSpan("step") { blackHole(i) } }
        return Double(TaskBenchmark.clockNanoseconds() - started) / Double(spansPerRound)
    }

    static func nativeNamedSpans() -> Double {
        let started = TaskBenchmark.clockNanoseconds()
        for i in 0..<spansPerRound {
            CCTrace.withSpan(named: "step", args: ["item": TraceArgument(i), "kind": "bench"]) { blackHole(i) }
        }
        return Double(TaskBenchmark.clockNanoseconds() - started) / Double(spansPerRound)
    }
}
