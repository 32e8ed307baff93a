import CCTrace
import Instrumentation
import Synchronization
import Tracing

#if canImport(Glibc)
    import Glibc
#endif

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
    /// The spans it makes.
    public typealias Span = CCTraceSpan

    /// A tracer; bootstrap it once with `InstrumentationSystem.bootstrap(_:)`.
    public init() {}

    /// Starts a span under the span in `context` (or a new trace), on the recorder's clock; a parent that came in a request (extracted) ends that request's flow here.
    public func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> CCTraceSpan {
        let begin = TracingHooks.now()
        let parentContext = context()
        let parent = parentContext.cctraceSpanContext
        let ids = SpanIDs.shared
        let spanContext = CCTraceSpanContext(
            traceHigh: parent?.traceHigh ?? ids.next(), traceLow: parent?.traceLow ?? ids.next(), span: ids.next(),
            parent: parent?.span ?? 0, parentIsRemote: parent?.isRemote ?? false, isRemote: false)
        if let parent, parent.isRemote {
            // The request that carried this context started a flow on the client: it ends here.
            TracingHooks.flow(CCTraceTracer.flowName, id: parent.flowID, end: true)
        }
        var context = parentContext
        context.cctraceSpanContext = spanContext
        return CCTraceSpan(
            operationName: operationName, kind: kind, context: context, spanContext: spanContext, begin: begin)
    }

    /// Flushes the recorder's buffers to the trace file.
    public func forceFlush() {
        CCTrace.flush()
    }

    /// The W3C Trace Context header.
    public static let traceparent = "traceparent"
    /// The name of the flows from a client span to the server span its request started.
    public static let flowName = "request"

    /// Writes `traceparent` for the span in `context` into `carrier` and starts the request's flow.
    public func inject<Carrier, Inject: Injector>(
        _ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject
    ) where Inject.Carrier == Carrier {
        guard let span = context.cctraceSpanContext else { return }
        injector.inject(span.traceparent, forKey: Self.traceparent, into: &carrier)
        TracingHooks.flow(Self.flowName, id: span.flowID, end: false)
    }

    /// Reads `traceparent` from `carrier` into `context` (a remote parent for the next span).
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
/// process. Held as numbers; written as hex.
public struct CCTraceSpanContext: Sendable, Hashable {
    /// The 128-bit trace id, high and low halves.
    public var traceHigh: UInt64
    public var traceLow: UInt64
    /// The span id.
    public var span: UInt64
    /// 0 when the span has no parent.
    public var parent: UInt64
    /// Whether the parent span is in another process.
    public var parentIsRemote: Bool
    /// Whether this context was extracted from a request (the span is in another process).
    public var isRemote: Bool

    /// 32 lowercase hex digits.
    public var traceID: String { hex(traceHigh) + hex(traceLow) }
    /// 16 lowercase hex digits.
    public var spanID: String { hex(span) }
    /// 16 lowercase hex digits, when the span has a parent.
    public var parentSpanID: String? { parent == 0 ? nil : hex(parent) }

    /// `00-<trace>-<span>-01` (sampled).
    public var traceparent: String { "00-\(traceID)-\(spanID)-01" }

    /// The id of the span's async track and of the flow its requests start: the span id's
    /// low 52 bits, so that JSON readers that hold numbers as doubles keep it exact.
    public var flowID: UInt64 { span & ((1 << 52) - 1) }

    /// A context from its parts.
    public init(
        traceHigh: UInt64, traceLow: UInt64, span: UInt64, parent: UInt64, parentIsRemote: Bool, isRemote: Bool
    ) {
        self.traceHigh = traceHigh
        self.traceLow = traceLow
        self.span = span
        self.parent = parent
        self.parentIsRemote = parentIsRemote
        self.isRemote = isRemote
    }

    /// Reads a W3C `traceparent` (`version-traceid-spanid-flags`); nil when malformed or the
    /// ids are all zeros.
    public init?(traceparent: String) {
        let parts = traceparent.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", parts[1].count == 32, parts[2].count == 16,
            let high = UInt64(parts[1].prefix(16), radix: 16), let low = UInt64(parts[1].suffix(16), radix: 16),
            let span = UInt64(parts[2], radix: 16), high | low != 0, span != 0
        else { return nil }
        self.init(traceHigh: high, traceLow: low, span: span, parent: 0, parentIsRemote: false, isRemote: true)
    }

    func hex(_ v: UInt64) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: 16) { buffer in
            for i in 0..<16 { buffer[i] = digits[Int((v >> (60 - 4 * UInt64(i))) & 0xF)] }
            return 16
        }
    }

    /// Appends `"key":"<16 hex>"` (with a leading comma when `comma`) to `out`.
    static func appendHex(_ key: StaticString, _ values: [UInt64], to out: inout [UInt8], comma: Bool = true) {
        let digits: StaticString = "0123456789abcdef"
        if comma { out.append(0x2C) }
        out.append(0x22)
        out.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        out.append(contentsOf: [0x22, 0x3A, 0x22])
        for v in values {
            for i in 0..<16 { out.append(digits.utf8Start[Int((v >> (60 - 4 * UInt64(i))) & 0xF)]) }
        }
        out.append(0x22)
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

/// A lock for a span's few fields: uncontended in practice (one task owns a span), so a flag
/// swapped atomically, spinning in the rare case two threads meet.
struct SpinLock: ~Copyable, Sendable {
    let flag = Atomic<Bool>(false)

    @inline(__always)
    func lock() {
        while flag.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged == false {
            sched_yield()
        }
    }

    @inline(__always)
    func unlock() { flag.store(false, ordering: .releasing) }
}

/// A span of ``CCTraceTracer``: kept in memory until it ends, then written as one async slice.
public final class CCTraceSpan: Tracing.Span, @unchecked Sendable {
    /// The context children of this span start under.
    public let context: InstrumentationContext
    /// Its ids.
    public let spanContext: CCTraceSpanContext
    /// client, server, producer, consumer or internal.
    public let kind: SpanKind
    let begin: UInt64
    let beginThread: Int

    // Guarded by `lock`.
    private let lock = SpinLock()
    private var _operationName: String
    private var _attributes: SpanAttributes = [:]
    private var status: SpanStatus?
    private var links: [UInt64] = []
    private var errors = 0
    private var ended = false

    init(
        operationName: String, kind: SpanKind, context: InstrumentationContext, spanContext: CCTraceSpanContext,
        begin: UInt64
    ) {
        self.context = context
        self.spanContext = spanContext
        self.kind = kind
        self.begin = begin
        beginThread = TracingHooks.threadID()
        _operationName = operationName
    }

    /// Its name (settable until it ends).
    public var operationName: String {
        get {
            lock.lock()
            defer { lock.unlock() }
            return _operationName
        }
        set {
            lock.lock()
            defer { lock.unlock() }
            if !ended { _operationName = newValue }
        }
    }

    /// Its attributes, written as the slice's args when it ends.
    public var attributes: SpanAttributes {
        get {
            lock.lock()
            defer { lock.unlock() }
            return _attributes
        }
        set {
            lock.lock()
            defer { lock.unlock() }
            if !ended { _attributes = newValue }
        }
        // `span.attributes["k"] = v` edits the attributes in place (no copy of the whole set).
        _modify {
            lock.lock()
            defer { lock.unlock() }
            if ended {
                var discarded = _attributes
                yield &discarded
            } else {
                yield &_attributes
            }
        }
    }

    /// Whether it has not ended.
    public var isRecording: Bool {
        lock.lock()
        defer { lock.unlock() }
        return !ended
    }

    /// Sets the status written with it.
    public func setStatus(_ status: SpanStatus) {
        lock.lock()
        defer { lock.unlock() }
        if !ended { self.status = status }
    }

    /// Records `event` as an instant now, on this thread.
    public func addEvent(_ event: SpanEvent) {
        guard TracingHooks.isRecording, isRecording else { return }
        var args: [(key: String, value: TraceArgument)] = [("span_id", TraceArgument(spanContext.spanID))]
        Self.append(event.attributes, to: &args)
        TracingHooks.instant(event.name, args: args)
    }

    /// Records `error` as an `exception` instant now, and counts it on the span.
    public func recordError<Instant: TracerInstant>(
        _ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant
    ) {
        lock.lock()
        let open = !ended
        if open { errors += 1 }
        lock.unlock()
        guard open, TracingHooks.isRecording else { return }
        var args: [(key: String, value: TraceArgument)] = [
            ("span_id", TraceArgument(spanContext.spanID)),
            ("exception.type", TraceArgument(String(reflecting: type(of: error)))),
            ("exception.message", TraceArgument(String(describing: error))),
        ]
        Self.append(attributes, to: &args)
        TracingHooks.instant("exception", args: args)
    }

    /// Links another span (its id is written in `links`).
    public func addLink(_ link: SpanLink) {
        guard let other = link.context.cctraceSpanContext else { return }
        lock.lock()
        defer { lock.unlock() }
        if !ended { links.append(other.span) }
    }

    /// Ends the span now (the recorder's clock) and writes it, once.
    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let end = TracingHooks.now()
        lock.lock()
        guard !ended else {
            lock.unlock()
            return
        }
        ended = true
        lock.unlock()
        // Ended: no one writes the fields any more.
        guard TracingHooks.isRecording else { return }
        TracingHooks.span(name: _operationName, begin: begin, end: end, id: spanContext.flowID, args: encodedArgs())
    }

    /// The slice's `args`: ids, kind, status, threads, then the attributes by key.
    func encodedArgs() -> [UInt8] {
        let c = spanContext
        var out: [UInt8] = []
        out.reserveCapacity(256)
        CCTraceSpanContext.appendHex("trace_id", [c.traceHigh, c.traceLow], to: &out, comma: false)
        CCTraceSpanContext.appendHex("span_id", [c.span], to: &out)
        if c.parent != 0 {
            CCTraceSpanContext.appendHex("parent_span_id", [c.parent], to: &out)
            if c.parentIsRemote { Self.raw(",\"remote_parent\":true", to: &out) }
        }
        Self.raw(",\"span_kind\":\"\(Self.name(kind))\"", to: &out)
        if let status {
            Self.raw(",\"status\":\"\(status.code == .ok ? "ok" : "error")\"", to: &out)
            if let message = status.message {
                Self.raw(",\"status_message\":", to: &out)
                TracingHooks.appendJSONString(message, to: &out)
            }
        } else if errors > 0 {
            Self.raw(",\"status\":\"error\"", to: &out)
        }
        if errors > 0 { Self.raw(",\"errors\":\(errors)", to: &out) }
        if !links.isEmpty { CCTraceSpanContext.appendHex("links", links, to: &out) }
        Self.raw(",\"thread\":\(beginThread)", to: &out)
        let endThread = TracingHooks.threadID()
        if endThread != beginThread { Self.raw(",\"end_thread\":\(endThread)", to: &out) }
        var pairs: [(String, SpanAttribute)] = []
        pairs.reserveCapacity(_attributes.count)
        _attributes.forEach { pairs.append(($0, $1)) }
        // Attribute order is a dictionary's: sorted, so traces of one program compare.
        pairs.sort { $0.0 < $1.0 }
        for (key, value) in pairs {
            out.append(0x2C)
            TracingHooks.appendJSONString(key, to: &out)
            out.append(0x3A)
            switch value {
            case .int32(let v): Self.raw("\(v)", to: &out)
            case .int64(let v): Self.raw("\(v)", to: &out)
            case .double(let v): Self.raw(v.isFinite ? "\(v)" : "null", to: &out)
            case .bool(let v): Self.raw(v ? "true" : "false", to: &out)
            case .string(let v): TracingHooks.appendJSONString(v, to: &out)
            default: TracingHooks.appendJSONString(Self.text(value), to: &out)
            }
        }
        return out
    }

    static func raw(_ s: String, to out: inout [UInt8]) {
        var s = s
        s.withUTF8 { out.append(contentsOf: $0) }
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

    /// An attribute that is not a plain number, flag or string, as text.
    static func text(_ value: SpanAttribute) -> String {
        switch value {
        case .stringConvertible(let v): v.description
        case .int32Array(let v): v.map(String.init).joined(separator: ",")
        case .int64Array(let v): v.map(String.init).joined(separator: ",")
        case .doubleArray(let v): v.map { "\($0)" }.joined(separator: ",")
        case .boolArray(let v): v.map { "\($0)" }.joined(separator: ",")
        case .stringArray(let v): v.joined(separator: ",")
        case .stringConvertibleArray(let v): v.map(\.description).joined(separator: ",")
        default: String(describing: value)
        }
    }

    /// Attributes as args of an instant: numbers, flags and strings as they are, the rest as text.
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
            default: arg = TraceArgument(text(value))
            }
            pairs.append((key, arg))
        }
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

}
