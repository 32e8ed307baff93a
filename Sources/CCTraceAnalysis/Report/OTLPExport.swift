import CCTraceFormat

/// Any trace `cctrace report` reads, as OpenTelemetry spans: OTLP/JSON
/// `ExportTraceServiceRequest` documents (`cctrace export --otlp`), for the backends teams
/// already run (Jaeger, Grafana Tempo, an OpenTelemetry Collector).
///
/// - One `resourceSpans` per process: `service.name` (the process name), `process.pid`,
///   `host.name` (the session's host).
/// - Every thread slice and every async slice is a span. Thread slices get deterministic ids;
///   their parent is the enclosing slice; a slice at the top of its thread that a flow ends in
///   (a message, a spawned child's start, a request) is a child of the slice the flow started
///   in, so work that crossed threads or processes is one trace. Traced tasks are children of
///   their parent task. Spans recorded by `CCTraceTracer` keep their own W3C trace, span and
///   parent ids, kind and status.
/// - Attributes: the slice's args (numbers, flags and strings as they are, the rest as JSON
///   text), `cctrace.category`, `cctrace.kind` (lock wait, I/O wait, IPC… from the analysis),
///   `thread.id`, `thread.name`.
/// - Events: each finding on the spans of its evidence (`cctrace.finding`, with `finding.id`,
///   `finding.severity`, `finding.summary`); a tracing span's events and errors.
/// - Times: Unix nanoseconds from the session's wall-clock anchor (`wall_start_us` with
///   `start_ts`); without one, the trace's own timestamps (a resource attribute says so).
public enum OTLPExport {
    /// One span's JSON (an element of `spans`), and the process it belongs to.
    struct SpanJSON {
        var pid: Int64
        var bytes: [UInt8]
    }

    /// The documents: one, or as many as keep each at most `maxBytes` when given.
    public static func requests(model: TraceModel, report: AnalysisReport?, maxBytes: Int? = nil) -> [[UInt8]] {
        let spans = build(model: model, report: report)
        let resources = Self.resources(model)
        var documents: [[UInt8]] = []
        var batch: [SpanJSON] = []
        var size = 0
        func flush() {
            guard !batch.isEmpty else { return }
            documents.append(document(batch, resources: resources))
            batch = []
            size = 0
        }
        // Spans of one process together (the order the trace lists processes in).
        let order = Dictionary(model.processes.enumerated().map { ($1.pid, $0) }, uniquingKeysWith: { a, _ in a })
        let sorted = spans.enumerated().sorted {
            (order[$0.element.pid] ?? Int.max, $0.offset) < (order[$1.element.pid] ?? Int.max, $1.offset)
        }
        for (_, s) in sorted {
            // Room for the resource and scope wrappers around the spans.
            if let maxBytes, size > 0, size + s.bytes.count + 4096 > maxBytes { flush() }
            batch.append(s)
            size += s.bytes.count + 1
        }
        flush()
        if documents.isEmpty { documents.append(Array(#"{"resourceSpans":[]}"#.utf8)) }
        return documents
    }

    /// Spans an export of `model` holds: one per thread slice and per async slice.
    public static func spanCount(_ model: TraceModel) -> Int { model.slices.count + model.asyncSlices.count }

    // MARK: - Resources

    struct Resource {
        var attributes: [UInt8]
    }

    static func resources(_ model: TraceModel) -> [Int64: Resource] {
        let host = model.session[TraceVocabulary.Session.host.string]?.stringValue
        let anchored = wallOffset(model) != nil
        var out: [Int64: Resource] = [:]
        var pids = Set(model.processes.map(\.pid))
        for t in model.threads { pids.insert(t.pid) }
        for a in model.asyncSlices { pids.insert(a.pid) }
        let names = Dictionary(model.processes.map { ($0.pid, $0.name) }, uniquingKeysWith: { a, _ in a })
        for pid in pids {
            var w = FastJSON()
            attribute(&w, "service.name", .string((names[pid] ?? nil) ?? "process \(pid)"), first: true)
            attribute(&w, "process.pid", .number(Double(pid)))
            if let host { attribute(&w, "host.name", .string(host)) }
            if !anchored { attribute(&w, "cctrace.clock", .string("trace timestamps (no wall-clock anchor)")) }
            out[pid] = Resource(attributes: w.bytes)
        }
        return out
    }

    static func document(_ spans: [SpanJSON], resources: [Int64: Resource]) -> [UInt8] {
        var w = FastJSON()
        w.raw("{\"resourceSpans\":[")
        var i = 0
        var firstResource = true
        while i < spans.count {
            let pid = spans[i].pid
            if !firstResource { w.raw(",") }
            firstResource = false
            w.raw("{\"resource\":{\"attributes\":[")
            w.bytes += resources[pid]?.attributes ?? []
            w.raw("]},\"scopeSpans\":[{\"scope\":{\"name\":\"cctrace\",\"version\":")
            w.string(TraceVocabulary.version)
            w.raw("},\"spans\":[")
            var first = true
            while i < spans.count, spans[i].pid == pid {
                if !first { w.raw(",") }
                first = false
                w.bytes += spans[i].bytes
                i += 1
            }
            w.raw("]}]}")
        }
        w.raw("]}")
        return w.bytes
    }

    // MARK: - Spans

    /// Nanoseconds to add to the trace's timestamps for Unix time, from the session's anchor.
    static func wallOffset(_ model: TraceModel) -> Int64? {
        guard let wall = model.session[TraceVocabulary.Session.wallStartUs.string]?.doubleValue,
            let start = model.session[TraceVocabulary.Session.startTs.string]?.doubleValue
        else { return nil }
        // A wall-clock time in µs has 16 digits: converted exactly, not by a multiplication.
        return TraceMerge.nanoseconds(wall) - TraceMerge.nanoseconds(start)
    }

    struct Ids {
        var traceHigh: UInt64
        var traceLow: UInt64
        var span: UInt64
        var parent: UInt64
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        let v = z ^ (z >> 31)
        return v == 0 ? 1 : v
    }

    static func build(model: TraceModel, report: AnalysisReport?) -> [SpanJSON] {
        let offset = wallOffset(model) ?? 0
        let slices = model.slices
        let seed = mix(UInt64(bitPattern: model.bounds.lowerBound.nanoseconds) ^ UInt64(model.eventCount))
        func spanID(_ i: Int) -> UInt64 { mix(seed ^ UInt64(i)) }
        // Parents: nesting, then flows into the top of a thread.
        var parent = slices.map(\.parent)
        for f in model.flows {
            guard let to = deepest(model, thread: f.to.thread, at: f.to.timestamp),
                let from = deepest(model, thread: f.from.thread, at: f.from.timestamp)
            else { continue }
            var root = to
            while parent[root] >= 0 { root = parent[root] }
            if root != from, !isAncestor(root, of: from, parent) { parent[root] = from }
        }
        // A trace per root (after flows).
        var rootOf = [Int](repeating: -1, count: slices.count)
        func root(_ i: Int) -> Int {
            var chain: [Int] = []
            var j = i
            while rootOf[j] < 0, parent[j] >= 0, chain.count <= slices.count {
                chain.append(j)
                j = parent[j]
            }
            let r = rootOf[j] >= 0 ? rootOf[j] : j
            rootOf[j] = r
            for c in chain { rootOf[c] = r }
            return r
        }
        // Findings as events on their evidence.
        var findingEvents: [Int: [(Finding, Evidence)]] = [:]
        for f in report?.findings ?? [] {
            for e in f.evidence {
                if let s = e.slice, s >= 0, s < slices.count { findingEvents[s, default: []].append((f, e)) }
            }
        }
        let kinds = report?.profile.sliceKinds ?? []
        var out: [SpanJSON] = []
        out.reserveCapacity(slices.count + model.asyncSlices.count)
        for (i, s) in slices.enumerated() {
            let r = root(i)
            let thread = model.threads[s.thread]
            let ids = Ids(
                traceHigh: mix(seed &+ 0x1000 ^ UInt64(r)), traceLow: mix(seed &+ 0x2000 ^ UInt64(r)), span: spanID(i),
                parent: parent[i] >= 0 ? spanID(parent[i]) : 0)
            var w = FastJSON()
            head(&w, ids, name: s.name, kind: 1, start: s.start.nanoseconds + offset, end: s.end.nanoseconds + offset)
            w.raw(",\"attributes\":[")
            attribute(&w, "cctrace.category", .string(s.category.isEmpty ? "cctrace" : s.category), first: true)
            if i < kinds.count, let k = kinds[i] { attribute(&w, "cctrace.kind", .string(k.rawValue)) }
            attribute(&w, "thread.id", .number(Double(thread.tid)))
            if let name = thread.name { attribute(&w, "thread.name", .string(name)) }
            if let args = s.args.flatMap({ model.arguments.value($0) }) { arguments(&w, args) }
            w.raw("]")
            if let events = findingEvents[i] {
                w.raw(",\"events\":[")
                for (k, (f, e)) in events.enumerated() {
                    if k > 0 { w.raw(",") }
                    w.raw("{\"timeUnixNano\":\"")
                    w.int((e.start ?? s.start).nanoseconds + offset)
                    w.raw("\",\"name\":\"cctrace.finding\",\"attributes\":[")
                    attribute(&w, "finding.id", .string(f.id), first: true)
                    attribute(&w, "finding.severity", .string(f.severity.rawValue))
                    attribute(&w, "finding.summary", .string(f.summary))
                    if !f.subject.isEmpty { attribute(&w, "finding.subject", .string(f.subject)) }
                    w.raw("]}")
                }
                w.raw("]")
            }
            w.raw("}")
            out.append(SpanJSON(pid: thread.pid, bytes: w.bytes))
        }
        out += asyncSpans(model: model, seed: seed, offset: offset)
        return out
    }

    /// The deepest slice of `thread` that covers `t`.
    static func deepest(_ model: TraceModel, thread: Int, at t: TraceTimestamp) -> Int? {
        guard thread >= 0, thread < model.threads.count else { return nil }
        let range = model.threads[thread].sliceRange
        let slices = model.slices
        // The last slice starting at or before t, then back to the first that covers t.
        var lo = range.lowerBound
        var hi = range.upperBound
        while lo < hi {
            let mid = (lo + hi) / 2
            if slices[mid].start <= t { lo = mid + 1 } else { hi = mid }
        }
        var i = lo - 1
        while i >= range.lowerBound {
            if slices[i].end >= t { return i }
            // Not covering: its ancestors may.
            let p = slices[i].parent
            i = p >= 0 ? p : (slices[i].depth == 0 ? -1 : i - 1)
        }
        return nil
    }

    static func isAncestor(_ a: Int, of b: Int, _ parent: [Int]) -> Bool {
        var j = b
        var steps = 0
        while j >= 0, steps < parent.count {
            if j == a { return true }
            j = parent[j]
            steps += 1
        }
        return false
    }

    /// Async slices: tracing spans with their own ids, tasks under their parent tasks, the rest
    /// as roots (nested by depth within one id).
    static func asyncSpans(model: TraceModel, seed: UInt64, offset: Int64) -> [SpanJSON] {
        let tracing = TraceCategory.tracing.rawValue
        let task = TraceCategory.task.rawValue
        var out: [SpanJSON] = []
        // Track key → the span id of its depth-0 slice, and the open slices by depth.
        var taskSpan: [String: UInt64] = [:]
        var open: [String: [UInt64]] = [:]
        var ids: [Ids] = []
        var argsOf: [[(String, JSONValue)]] = []
        for (k, a) in model.asyncSlices.enumerated() {
            var members: [(String, JSONValue)] = []
            if let ref = a.args, case .object(let m)? = model.arguments.value(ref) { members = m }
            argsOf.append(members)
            let key = "\(a.pid)\u{0}\(a.id)"
            func hex(_ name: DialectName) -> String? {
                members.first { $0.0 == name.string }?.1.stringValue
            }
            if a.category == tracing, let trace = hex(TraceVocabulary.Arg.traceID), trace.count == 32,
                let high = UInt64(trace.prefix(16), radix: 16), let low = UInt64(trace.suffix(16), radix: 16),
                let span = hex(TraceVocabulary.Arg.spanID).flatMap({ UInt64($0, radix: 16) })
            {
                let parent = hex(TraceVocabulary.Arg.parentSpanID).flatMap { UInt64($0, radix: 16) } ?? 0
                ids.append(Ids(traceHigh: high, traceLow: low, span: span, parent: parent))
                continue
            }
            let span = mix(seed &+ 0x3000 ^ UInt64(k))
            var stack = open[key] ?? []
            if a.depth < stack.count { stack.removeLast(stack.count - a.depth) }
            let parent = stack.last ?? 0
            stack.append(span)
            open[key] = stack
            if a.depth == 0 { taskSpan[key] = span }
            let trace = mix(seed &+ 0x4000 ^ UInt64(k))
            ids.append(Ids(traceHigh: trace, traceLow: mix(trace), span: span, parent: parent))
        }
        // Tasks under their parent task (by `parent_task_id`), in the parent's trace.
        let parentKey = TraceVocabulary.Arg.parentTaskID.string
        var spanIndex: [UInt64: Int] = [:]
        for (k, id) in ids.enumerated() { spanIndex[id.span] = k }
        for (k, a) in model.asyncSlices.enumerated() where a.category == task && a.depth == 0 && ids[k].parent == 0 {
            guard let p = argsOf[k].first(where: { $0.0 == parentKey })?.1 else { continue }
            let parentID: String
            switch p {
            case .number(let n): parentID = String(Int64(n))
            case .string(let s): parentID = s
            default: continue
            }
            if let span = taskSpan["\(a.pid)\u{0}\(parentID)"], span != ids[k].span { ids[k].parent = span }
        }
        // A child takes its parent's trace (parents first: resolve along the chain).
        func trace(_ k: Int, _ depth: Int) -> (UInt64, UInt64) {
            let p = ids[k].parent
            guard p != 0, depth < 64, let j = spanIndex[p], j != k else { return (ids[k].traceHigh, ids[k].traceLow) }
            return trace(j, depth + 1)
        }
        // Tracing spans' events and errors (instants naming their span).
        var events: [UInt64: [Instant]] = [:]
        for i in model.instants where i.category == tracing {
            if let ref = i.args, case .object(let m)? = model.arguments.value(ref),
                let id = m.first(where: { $0.0 == TraceVocabulary.Arg.spanID.string })?.1.stringValue,
                let span = UInt64(id, radix: 16)
            {
                events[span, default: []].append(i)
            }
        }
        for (k, a) in model.asyncSlices.enumerated() {
            var id = ids[k]
            if a.category != tracing { (id.traceHigh, id.traceLow) = trace(k, 0) }
            let members = argsOf[k]
            var kind = 1
            var status: (Int, String?)?
            if a.category == tracing {
                switch members.first(where: { $0.0 == TraceVocabulary.Arg.spanKind.string })?.1.stringValue {
                case "server": kind = 2
                case "client": kind = 3
                case "producer": kind = 4
                case "consumer": kind = 5
                default: kind = 1
                }
                switch members.first(where: { $0.0 == TraceVocabulary.Arg.status.string })?.1.stringValue {
                case "ok": status = (1, nil)
                case "error":
                    status = (2, members.first { $0.0 == "status_message" }?.1.stringValue)
                default: break
                }
            }
            var w = FastJSON()
            head(&w, id, name: a.name, kind: kind, start: a.start.nanoseconds + offset, end: a.end.nanoseconds + offset)
            w.raw(",\"attributes\":[")
            attribute(&w, "cctrace.category", .string(a.category.isEmpty ? "cctrace" : a.category), first: true)
            let skipped: Set<String> = [
                TraceVocabulary.Arg.traceID.string, TraceVocabulary.Arg.spanID.string,
                TraceVocabulary.Arg.parentSpanID.string, TraceVocabulary.Arg.spanKind.string,
                TraceVocabulary.Arg.status.string, "status_message",
            ]
            for (key, value) in members where !(a.category == tracing && skipped.contains(key)) {
                attribute(&w, key, value)
            }
            w.raw("]")
            if let list = events[id.span], a.category == tracing {
                w.raw(",\"events\":[")
                for (n, e) in list.enumerated() {
                    if n > 0 { w.raw(",") }
                    w.raw("{\"timeUnixNano\":\"")
                    w.int(e.timestamp.nanoseconds + offset)
                    w.raw("\",\"name\":")
                    w.string(e.name)
                    w.raw(",\"attributes\":[")
                    var first = true
                    if let ref = e.args, case .object(let m)? = model.arguments.value(ref) {
                        for (key, value) in m where key != TraceVocabulary.Arg.spanID.string {
                            attribute(&w, key, value, first: first)
                            first = false
                        }
                    }
                    w.raw("]}")
                }
                w.raw("]")
            }
            if let status {
                w.raw(",\"status\":{\"code\":")
                w.int(Int64(status.0))
                if let message = status.1 {
                    w.raw(",\"message\":")
                    w.string(message)
                }
                w.raw("}")
            }
            w.raw("}")
            out.append(SpanJSON(pid: a.pid, bytes: w.bytes))
        }
        return out
    }

    /// `{"traceId":…,"spanId":…,["parentSpanId":…,]"name":…,"kind":…,"startTimeUnixNano":…,"endTimeUnixNano":…`
    static func head(_ w: inout FastJSON, _ ids: Ids, name: String, kind: Int, start: Int64, end: Int64) {
        w.raw("{\"traceId\":\"")
        hex(&w, ids.traceHigh)
        hex(&w, ids.traceLow)
        w.raw("\",\"spanId\":\"")
        hex(&w, ids.span)
        if ids.parent != 0 {
            w.raw("\",\"parentSpanId\":\"")
            hex(&w, ids.parent)
        }
        w.raw("\",\"name\":")
        w.string(name)
        w.raw(",\"kind\":")
        w.int(Int64(kind))
        // int64 fields are strings in protobuf's JSON mapping.
        w.raw(",\"startTimeUnixNano\":\"")
        w.int(max(0, start))
        w.raw("\",\"endTimeUnixNano\":\"")
        w.int(max(0, max(end, start)))
        w.raw("\"")
    }

    static func hex(_ w: inout FastJSON, _ v: UInt64) {
        let digits: StaticString = "0123456789abcdef"
        for i in 0..<16 { w.bytes.append(digits.utf8Start[Int((v >> (60 - 4 * UInt64(i))) & 0xF)]) }
    }

    /// One `KeyValue`: strings, integers (as strings: int64), doubles, flags; arrays and objects
    /// as their JSON text.
    static func attribute(_ w: inout FastJSON, _ key: String, _ value: JSONValue, first: Bool = false) {
        if !first { w.raw(",") }
        w.raw("{\"key\":")
        w.string(key)
        w.raw(",\"value\":{")
        switch value {
        case .string(let s):
            w.raw("\"stringValue\":")
            w.string(s)
        case .bool(let b):
            w.raw(b ? "\"boolValue\":true" : "\"boolValue\":false")
        case .number(let n) where n.isFinite && n == n.rounded() && abs(n) < 9.2e18:
            w.raw("\"intValue\":\"")
            w.int(Int64(n))
            w.raw("\"")
        case .number(let n) where n.isFinite:
            w.raw("\"doubleValue\":")
            w.raw(String(n))
        case .null, .number:
            w.raw("\"stringValue\":\"\"")
        default:
            w.raw("\"stringValue\":")
            w.string(value.serialized())
        }
        w.raw("}}")
    }

    /// A slice's args as attributes (members of its object; anything else under `args`).
    static func arguments(_ w: inout FastJSON, _ args: JSONValue) {
        if case .object(let members) = args {
            for (key, value) in members { attribute(&w, key, value) }
        } else {
            attribute(&w, "args", args)
        }
    }
}
