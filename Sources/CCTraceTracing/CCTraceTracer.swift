import CCTrace
import Instrumentation
import Synchronization
import Tracing

/// A `Tracer` for swift-distributed-tracing that records every span as a cctrace span:
/// `InstrumentationSystem.bootstrap(CCTraceTracer())` and the spans of every instrumented
/// library (AsyncHTTPClient, Hummingbird, gRPC Swift…) land in the trace the session writes.
///
/// - A span is an async slice (`cat` `cctrace.tracing`, `b`/`e`), written when it ends, with
///   `args`: `trace_id`, `span_id`, `parent_span_id` (W3C hex), `remote_parent`, `span_kind`,
///   `status`, the thread it began and ended on, and its attributes.
/// - Parents come from `InstrumentationContext` (task-local, so a child span started inside
///   `withSpan` finds its parent).
/// - Events and recorded errors are instants (`i`) on the thread that added them.
/// - `inject` writes a W3C `traceparent` header and starts a flow; `extract` reads one, and the
///   server span started under it ends the flow: a request across processes (or hosts) is an
///   arrow from the client span to the server span.
///
/// While no session records, a span costs its ids and an allocation, and writes nothing.
public struct CCTraceTracer: Tracer {
    public typealias Span = CCTraceSpan

    public init() {}

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> CCTraceSpan {
        let begin = TracingHooks.now()
        let parentContext = context()
        let parent = parentContext.cctraceSpanContext
        let ids = SpanIDs.shared
        let spanContext = CCTraceSpanContext(
            traceID: parent?.traceID ?? ids.traceID(), spanID: ids.spanID(), parentSpanID: parent?.spanID,
            parentIsRemote: parent?.isRemote ?? false, isRemote: false)
        if let parent, parent.isRemote {
            // The request that carried this context started a flow on the client: it ends here.
            TracingHooks.flow(CCTraceTracer.flowName, id: parent.flowID, end: true)
        }
        var context = parentContext
        context.cctraceSpanContext = spanContext
        return CCTraceSpan(
            operationName: operationName, kind: kind, context: context, spanContext: spanContext, begin: begin)
    }

    public func forceFlush() {
        CCTrace.flush()
    }

    /// The W3C Trace Context header.
    public static let traceparent = "traceparent"
    /// The name of the flows from a client span to the server span its request started.
    public static let flowName = "request"

    public func inject<Carrier, Inject: Injector>(
        _ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let span = context.cctraceSpanContext else { return }
        injector.inject(span.traceparent, forKey: Self.traceparent, into: &carrier)
        TracingHooks.flow(Self.flowName, id: span.flowID, end: false)
    }

    public func extract<Carrier, Extract: Extractor>(
        _ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract
    ) where Extract.Carrier == Carrier {
        guard let header = extractor.extract(key: Self.traceparent, from: carrier),
            let remote = CCTraceSpanContext(traceparent: header)
        else { return }
        context.cctraceSpanContext = remote
    }
}

/// A span's identity: W3C trace and span ids, its parent's, and whether it came from another
/// process.
public struct CCTraceSpanContext: Sendable, Hashable {
    /// 32 lowercase hex digits.
    public var traceID: String
    /// 16 lowercase hex digits.
    public var spanID: String
    public var parentSpanID: String?
    /// Whether the parent span is in another process.
    public var parentIsRemote: Bool
    /// Whether this context was extracted from a request (the span is in another process).
    public var isRemote: Bool

    /// `00-<trace>-<span>-01` (sampled).
    public var traceparent: String { "00-\(traceID)-\(spanID)-01" }

    /// The id of the span's async track and of the flow its requests start: the span id's
    /// low 52 bits, so that JSON readers that hold numbers as doubles keep it exact.
    public var flowID: UInt64 { (UInt64(spanID, radix: 16) ?? 0) & ((1 << 52) - 1) }

    public init(traceID: String, spanID: String, parentSpanID: String?, parentIsRemote: Bool, isRemote: Bool) {
        self.traceID = traceID
        self.spanID = spanID
        self.parentSpanID = parentSpanID
        self.parentIsRemote = parentIsRemote
        self.isRemote = isRemote
    }

    /// Reads a W3C `traceparent` (`version-traceid-spanid-flags`); nil when malformed or the
    /// ids are all zeros.
    public init?(traceparent: String) {
        let parts = traceparent.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", parts[1].count == 32, parts[2].count == 16,
            parts[1].allSatisfy(\.isHexDigit), parts[2].allSatisfy(\.isHexDigit),
            parts[1].contains(where: { $0 != "0" }), parts[2].contains(where: { $0 != "0" })
        else { return nil }
        self.init(
            traceID: parts[1].lowercased(), spanID: parts[2].lowercased(), parentSpanID: nil, parentIsRemote: false,
            isRemote: true)
    }
}

extension InstrumentationContext {
    /// The cctrace span this context belongs to, if any.
    public var cctraceSpanContext: CCTraceSpanContext? {
        get { self[CCTraceSpanContextKey.self] }
        set { self[CCTraceSpanContextKey.self] = newValue }
    }
}

private enum CCTraceSpanContextKey: InstrumentationContextKey {
    typealias Value = CCTraceSpanContext
}

/// A span of ``CCTraceTracer``: kept in memory until it ends, then written as one async slice.
public final class CCTraceSpan: Tracing.Span, Sendable {
    public let context: InstrumentationContext
    public let spanContext: CCTraceSpanContext
    public let kind: SpanKind
    let begin: UInt64
    let beginThread: Int

    struct State {
        var operationName: String
        var attributes: SpanAttributes = [:]
        var status: SpanStatus?
        var links: [String] = []
        var errors = 0
        var ended = false
    }
    let state: Mutex<State>

    init(
        operationName: String, kind: SpanKind, context: InstrumentationContext, spanContext: CCTraceSpanContext,
        begin: UInt64
    ) {
        self.context = context
        self.spanContext = spanContext
        self.kind = kind
        self.begin = begin
        beginThread = TracingHooks.threadID()
        state = Mutex(State(operationName: operationName))
    }

    public var operationName: String {
        get { state.withLock { $0.operationName } }
        set { state.withLock { if !$0.ended { $0.operationName = newValue } } }
    }

    public var attributes: SpanAttributes {
        get { state.withLock { $0.attributes } }
        set { state.withLock { if !$0.ended { $0.attributes = newValue } } }
    }

    public var isRecording: Bool { state.withLock { !$0.ended } }

    public func setStatus(_ status: SpanStatus) {
        state.withLock { if !$0.ended { $0.status = status } }
    }

    public func addEvent(_ event: SpanEvent) {
        guard isRecording else { return }
        var args: [(key: String, value: TraceArgument)] = [("span_id", TraceArgument(spanContext.spanID))]
        Self.append(event.attributes, to: &args)
        TracingHooks.instant(event.name, args: args)
    }

    public func recordError<Instant: TracerInstant>(
        _ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant
    ) {
        guard
            state.withLock({ s -> Bool in
                guard !s.ended else { return false }
                s.errors += 1
                return true
            })
        else { return }
        var args: [(key: String, value: TraceArgument)] = [
            ("span_id", TraceArgument(spanContext.spanID)),
            ("exception.type", TraceArgument(String(reflecting: type(of: error)))),
            ("exception.message", TraceArgument(String(describing: error))),
        ]
        Self.append(attributes, to: &args)
        TracingHooks.instant("exception", args: args)
    }

    public func addLink(_ link: SpanLink) {
        guard let other = link.context.cctraceSpanContext else { return }
        state.withLock { if !$0.ended { $0.links.append(other.spanID) } }
    }

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let end = TracingHooks.now()
        guard
            let s = state.withLock({ s -> State? in
                guard !s.ended else { return nil }
                s.ended = true
                return s
            })
        else { return }
        guard TracingHooks.isRecording else { return }
        let c = spanContext
        var args: [(key: String, value: TraceArgument)] = [
            ("trace_id", TraceArgument(c.traceID)), ("span_id", TraceArgument(c.spanID)),
        ]
        if let parent = c.parentSpanID {
            args.append(("parent_span_id", TraceArgument(parent)))
            if c.parentIsRemote { args.append(("remote_parent", true)) }
        }
        args.append(("span_kind", TraceArgument(Self.name(kind))))
        if let status = s.status {
            args.append(("status", TraceArgument(status.code == .ok ? "ok" : "error")))
            if let message = status.message { args.append(("status_message", TraceArgument(message))) }
        } else if s.errors > 0 {
            args.append(("status", "error"))
        }
        if s.errors > 0 { args.append(("errors", TraceArgument(s.errors))) }
        if !s.links.isEmpty { args.append(("links", TraceArgument(s.links.joined(separator: ",")))) }
        args.append(("thread", TraceArgument(beginThread)))
        let endThread = TracingHooks.threadID()
        if endThread != beginThread { args.append(("end_thread", TraceArgument(endThread))) }
        Self.append(s.attributes, to: &args)
        TracingHooks.span(name: s.operationName, begin: begin, end: end, id: c.flowID, args: args)
    }

    static func name(_ kind: SpanKind) -> String {
        switch kind {
        case .server: "server"
        case .client: "client"
        case .producer: "producer"
        case .consumer: "consumer"
        default: "internal"
        }
    }

    /// Attributes as args: numbers, flags and strings as they are, arrays and the rest as text.
    static func append(_ attributes: SpanAttributes, to args: inout [(key: String, value: TraceArgument)]) {
        var pairs: [(String, TraceArgument)] = []
        attributes.forEach { key, value in
            let arg: TraceArgument
            switch value {
            case .int32(let v): arg = TraceArgument(Int(v))
            case .int64(let v): arg = TraceArgument(Int(v))
            case .double(let v): arg = TraceArgument(v)
            case .bool(let v): arg = TraceArgument(v)
            case .string(let v): arg = TraceArgument(v)
            case .stringConvertible(let v): arg = TraceArgument(v.description)
            case .int32Array(let v): arg = TraceArgument(v.map(String.init).joined(separator: ","))
            case .int64Array(let v): arg = TraceArgument(v.map(String.init).joined(separator: ","))
            case .doubleArray(let v): arg = TraceArgument(v.map { "\($0)" }.joined(separator: ","))
            case .boolArray(let v): arg = TraceArgument(v.map { "\($0)" }.joined(separator: ","))
            case .stringArray(let v): arg = TraceArgument(v.joined(separator: ","))
            case .stringConvertibleArray(let v): arg = TraceArgument(v.map(\.description).joined(separator: ","))
            default: arg = TraceArgument(String(describing: value))
            }
            pairs.append((key, arg))
        }
        // Attribute order is a dictionary's: sorted, so traces of one program compare.
        pairs.sort { $0.0 < $1.0 }
        for (k, v) in pairs { args.append((k, v)) }
    }
}

/// Trace and span ids: a per-process random seed and a counter through splitmix64 — unique
/// in the process, unrelated across processes, no system call per span.
final class SpanIDs: Sendable {
    static let shared = SpanIDs()
    let seed: UInt64
    let counter = Atomic<UInt64>(0)

    init() {
        var g = SystemRandomNumberGenerator()
        seed = g.next()
    }

    func next() -> UInt64 {
        var z = seed &+ counter.add(1, ordering: .relaxed).newValue &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        let v = z ^ (z >> 31)
        return v == 0 ? 1 : v
    }

    func spanID() -> String { hex(next(), digits: 16) }
    func traceID() -> String { hex(next(), digits: 16) + hex(next(), digits: 16) }

    func hex(_ v: UInt64, digits: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, digits - s.count)) + s
    }
}
