import CCTraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// Traces recorded on different hosts, on one clock (`cctrace merge`).
///
/// Each host's monotonic clock has its own zero. The requests the traces share place them: a
/// client span (kind client, on host A, from t1 to t4 on A's clock) whose request a server span
/// served (on host B, from t2 to t3 on B's clock; its parent is the client span, from the
/// `traceparent` the request carried) says the server ran inside the client's wait, so B's
/// clock minus A's lies in [t2 − t4, t2 − t1] (the server started after the client began and
/// before it ended) — NTP's reasoning as a certain interval, narrowed by every request and by
/// flows. Within it, the offset that keeps every server span inside its client span (as the
/// spans recorded) is used; the bound is the distance to the interval's farther edge, so it
/// holds even when a server span ended late (see ``Constraint``). Hosts that shared no request with an aligned host are placed by the
/// wall-clock anchors each session recorded (`wall_start_us` at `start_ts`), as good as the
/// hosts' clock synchronization — said as such, with no bound.
public enum TraceMerge {
    /// One input: a trace file (or directory) recorded on one host.
    public struct Input {
        /// The file or directory.
        public var path: String
        /// The file's top-level events, as parsed.
        public var events: [JSONValue]
        /// Its `stackFrames`, when the file has them.
        public var stackFrames: [(String, JSONValue)]
        /// The imported model (for the requests and the anchors).
        public var model: TraceModel

        /// An input from its parts (``read(path:)`` makes them from a file).
        public init(path: String, events: [JSONValue], stackFrames: [(String, JSONValue)], model: TraceModel) {
            self.path = path
            self.events = events
            self.stackFrames = stackFrames
            self.model = model
        }
    }

    /// How an input's clock was placed on the reference's.
    public enum Method: String, Sendable {
        /// The first input: the clock the others are placed on.
        case reference
        /// From requests between this host and an aligned one.
        case requests
        /// From the sessions' wall-clock anchors.
        case wallClock = "wall-clock"
        /// Nothing placed it: kept as recorded.
        case none
    }

    /// Where one input's clock sits against the reference's.
    public struct Alignment: Sendable {
        /// The input, and its host's name (numbered when two inputs share one).
        public var path: String
        public var host: String
        /// This host's clock minus the reference's, nanoseconds (subtracted from its times).
        public var offset: Int64
        /// The most the true offset can differ from ``offset`` (nil: unknown).
        public var bound: Int64?
        /// How the offset was found.
        public var method: Method
        /// Requests (client/server span pairs) and one-sided flows the offset came from.
        public var pairs: Int
        public var flows: Int
        /// The input it was placed against (nil for the reference and anchors).
        public var against: Int?
        /// Whether the certain bounds crossed (a clock moved during the recording): no bound.
        public var inconsistent: Bool
        /// How far the latest server span ends after its client's, aligned (a span that ended
        /// late, set aside from the bound; 0 when every one fits).
        public var endSlack: Int64 = 0
    }

    // MARK: - Reading

    /// Reads one input: its events (a file cut off early is closed after its last complete
    /// event) and its model.
    public static func read(path: String) throws(TraceReadError) -> [Input] {
        var isDirectory = false
        var st = stat()
        if stat(path, &st) == 0 { isDirectory = (st.st_mode & S_IFMT) == S_IFDIR }
        let model = try TraceImporter.importTrace(path: path)
        var events: [JSONValue] = []
        var frames: [(String, JSONValue)] = []
        for file in isDirectory ? directoryFiles(path) : [path] {
            let bytes = try TraceReader.contents(of: file)
            guard let (e, f) = parseEvents(bytes) else {
                throw TraceReadError(path: file, byteOffset: 0, line: 0, reason: "not a Chrome trace this can rewrite")
            }
            events += e
            frames += f
        }
        return [Input(path: path, events: events, stackFrames: frames, model: model)]
    }

    static func directoryFiles(_ path: String) -> [String] {
        guard let d = opendir(path) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            var st = stat()
            if stat(path + "/" + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG { names.append(name) }
        }
        return names.sorted().map { path + "/" + $0 }
    }

    /// The events of a Chrome trace (array or object form), closing a file cut off early.
    static func parseEvents(_ bytes: [UInt8]) -> ([JSONValue], [(String, JSONValue)])? {
        func split(_ v: JSONValue) -> ([JSONValue], [(String, JSONValue)])? {
            switch v {
            case .array(let events): return (events, [])
            case .object(let members):
                guard case .array(let events)? = members.first(where: { $0.0 == "traceEvents" })?.1 else { return nil }
                var frames: [(String, JSONValue)] = []
                if case .object(let f)? = members.first(where: { $0.0 == "stackFrames" })?.1 { frames = f }
                return (events, frames)
            default: return nil
            }
        }
        if let v = bytes.withUnsafeBufferPointer({ JSONValue.parse($0) }), let r = split(v) { return r }
        // Cut off: keep up to the last complete event and close what was open.
        guard let last = bytes.lastIndex(of: 0x7D) else { return nil }
        var cut = Array(bytes[...last])
        let objectForm = bytes.first(where: { $0 > 0x20 }) == 0x7B
        for closing in objectForm ? ["]}", "]}}"] : ["]"] {
            cut += Array(closing.utf8)
            if let v = cut.withUnsafeBufferPointer({ JSONValue.parse($0) }), let r = split(v) { return r }
            cut.removeLast(closing.utf8.count)
        }
        return nil
    }

    // MARK: - Aligning

    /// A span of one input as the alignment sees it.
    struct SpanTimes {
        var start: Int64
        var end: Int64
    }

    /// What one input offers for alignment: its client spans by span id, its server spans by
    /// their remote parent's id, its flow starts and ends by id.
    struct Requests {
        var clients: [String: SpanTimes] = [:]
        var servers: [String: [SpanTimes]] = [:]
    }

    static func requests(_ model: TraceModel) -> Requests {
        var r = Requests()
        let tracing = TraceCategory.tracing.rawValue
        for a in model.asyncSlices where a.category == tracing {
            guard let ref = a.args, case .object(let m)? = model.arguments.value(ref) else { continue }
            func text(_ key: DialectName) -> String? { m.first { $0.0 == key.string }?.1.stringValue }
            let times = SpanTimes(start: a.start.nanoseconds, end: a.end.nanoseconds)
            switch text(TraceVocabulary.Arg.spanKind) {
            case "client":
                if let id = text(TraceVocabulary.Arg.spanID) { r.clients[id] = times }
            case "server":
                let remote = m.contains { $0.0 == TraceVocabulary.Arg.remoteParent.string && $0.1 == .bool(true) }
                if remote, let parent = text(TraceVocabulary.Arg.parentSpanID) {
                    r.servers[parent, default: []].append(times)
                }
            default: break
            }
        }
        return r
    }

    /// Flow starts and ends of the tracing flows in raw events (a flow's ends are in two
    /// inputs, which the model of one input cannot pair).
    static func flowEnds(_ events: [JSONValue]) -> (starts: [String: Int64], ends: [String: Int64]) {
        var starts: [String: Int64] = [:]
        var ends: [String: Int64] = [:]
        let tracing = TraceCategory.tracing.rawValue
        for e in events {
            guard case .object(let m) = e, m.first(where: { $0.0 == "cat" })?.1.stringValue == tracing,
                let ph = m.first(where: { $0.0 == "ph" })?.1.stringValue, ph == "s" || ph == "f",
                let ts = m.first(where: { $0.0 == "ts" })?.1.doubleValue, let id = m.first(where: { $0.0 == "id" })?.1
            else { continue }
            let key: String
            switch id {
            case .number(let n): key = String(UInt64(max(0, n)))
            case .string(let s): key = s
            default: continue
            }
            let ns = nanoseconds(ts)
            if ph == "s" { starts[key] = ns } else { ends[key] = ns }
        }
        return (starts, ends)
    }

    /// Microseconds as written (three decimals) to nanoseconds without losing digits: a
    /// wall-clock time in µs has 16 digits, more than a double multiplied by 1000 keeps.
    static func nanoseconds(_ us: Double) -> Int64 {
        let whole = us.rounded(.down)
        return Int64(whole) * 1000 + Int64(((us - whole) * 1000).rounded())
    }

    /// What the requests between inputs A and B say about d = θ_B − θ_A (each host's clock
    /// minus true time).
    ///
    /// Certain: a server span starts after its request left the client, so after the client
    /// span began (d ≤ t2 − t1), and before its reply reached the client, so before the client
    /// span ended (d ≥ t2 − t4); a flow ends after it starts. These bound the offset for sure.
    /// Preferred within them: the offset that puts every server span's end inside its client's
    /// (d ≥ t3 − t4), the structure the spans recorded — but only as a preference, because a
    /// server delayed between sending its reply and ending its span (preempted, or working
    /// after the reply) ends its span after the client's, and that must not move the bound.
    struct Constraint {
        var lower = Int64.min
        var upper = Int64.max
        var nestLower = Int64.min
        var nestUpper = Int64.max
        var pairs = 0
        var flows = 0

        /// The offset: the nesting preference, kept within the certain interval.
        var offset: Int64? {
            var candidate: Int64?
            switch (nestLower != .min, nestUpper != .max) {
            case (true, true): candidate = nestLower <= nestUpper ? nestLower + (nestUpper - nestLower) / 2 : nestLower
            case (true, false): candidate = nestLower
            case (false, true): candidate = nestUpper
            case (false, false):
                if lower != .min, upper != .max { candidate = lower + (upper - lower) / 2 }
            }
            guard var c = candidate ?? (upper != .max ? upper : lower != .min ? lower : nil) else { return nil }
            if upper != .max { c = min(c, upper) }
            if lower != .min { c = max(c, lower) }
            return c
        }

        /// The most the true offset can differ from `offset` (nil when a side is open).
        func bound(at offset: Int64) -> Int64? {
            guard lower != .min, upper != .max, lower <= upper else { return nil }
            return max(offset - lower, upper - offset)
        }

        /// How far the latest server span ends after its client's, aligned at `offset`.
        func endSlack(at offset: Int64) -> Int64 {
            var slack: Int64 = 0
            if nestLower != .min { slack = max(slack, nestLower - offset) }
            if nestUpper != .max { slack = max(slack, offset - nestUpper) }
            return slack
        }
    }

    static func constraint(
        _ a: Requests, _ aFlows: (starts: [String: Int64], ends: [String: Int64]), _ b: Requests,
        _ bFlows: (starts: [String: Int64], ends: [String: Int64])
    ) -> Constraint {
        var c = Constraint()
        // A's clients served by B: d ∈ [t2 − t4, t2 − t1], nesting prefers d ≥ t3 − t4.
        for (id, client) in a.clients {
            for server in b.servers[id] ?? [] {
                c.upper = min(c.upper, server.start - client.start)
                c.lower = max(c.lower, server.start - client.end)
                c.nestLower = max(c.nestLower, server.end - client.end)
                c.pairs += 1
            }
        }
        // B's clients served by A: the same for −d.
        for (id, client) in b.clients {
            for server in a.servers[id] ?? [] {
                c.lower = max(c.lower, client.start - server.start)
                c.upper = min(c.upper, client.end - server.start)
                c.nestUpper = min(c.nestUpper, client.end - server.end)
                c.pairs += 1
            }
        }
        // A flow from A to B: B's end came after A's start, so d ≤ t_f − t_s.
        for (id, s) in aFlows.starts {
            if let f = bFlows.ends[id] {
                c.upper = min(c.upper, f - s)
                c.flows += 1
            }
        }
        for (id, s) in bFlows.starts {
            if let f = aFlows.ends[id] {
                c.lower = max(c.lower, s - f)
                c.flows += 1
            }
        }
        return c
    }

    /// Each input's clock against the first's.
    public static func align(_ inputs: [Input]) -> [Alignment] {
        let reqs = inputs.map { requests($0.model) }
        let flows = inputs.map { flowEnds($0.events) }
        var hosts = inputs.map { $0.model.session[TraceVocabulary.Session.host.string]?.stringValue ?? $0.path }
        // Two inputs from hosts of one name (one machine, or default names): numbered.
        let counts = Dictionary(hosts.map { ($0, 1) }, uniquingKeysWith: +)
        for (i, h) in hosts.enumerated() where counts[h, default: 0] > 1 { hosts[i] = "\(h) (\(i + 1))" }
        var out = inputs.indices.map {
            Alignment(
                path: inputs[$0].path, host: hosts[$0], offset: 0, bound: nil, method: .none, pairs: 0, flows: 0,
                against: nil, inconsistent: false)
        }
        guard !inputs.isEmpty else { return out }
        out[0].method = .reference
        out[0].bound = 0
        var aligned: Set<Int> = [0]
        // Grow from the reference through the requests, the tightest constraint first.
        while aligned.count < inputs.count {
            var best: (i: Int, j: Int, c: Constraint, width: Int64)?
            for i in aligned {
                for j in inputs.indices where !aligned.contains(j) {
                    let c = constraint(reqs[i], flows[i], reqs[j], flows[j])
                    guard c.pairs > 0 || c.flows > 0, c.offset != nil else { continue }
                    let width = c.lower != .min && c.upper != .max && c.lower <= c.upper ? c.upper - c.lower : .max
                    if best == nil || width < best!.width { best = (i, j, c, width) }
                }
            }
            guard let b = best, var offset = b.c.offset else { break }
            var bound = b.c.bound(at: offset)
            // Certain bounds that cross each other: a clock that moved during the recording.
            let inconsistent = b.c.lower != .min && b.c.upper != .max && b.c.lower > b.c.upper
            if inconsistent { bound = nil }
            let slack = b.c.endSlack(at: offset)
            offset += out[b.i].offset
            bound = bound.flatMap { b0 in out[b.i].bound.map { b0 + $0 } }
            out[b.j].offset = offset
            out[b.j].bound = bound
            out[b.j].method = .requests
            out[b.j].pairs = b.c.pairs
            out[b.j].flows = b.c.flows
            out[b.j].against = b.i
            out[b.j].inconsistent = inconsistent
            out[b.j].endSlack = slack
            aligned.insert(b.j)
        }
        // The rest by the wall clock, when both sessions recorded their anchors.
        if let ref = anchor(inputs[0].model) {
            for j in inputs.indices where !aligned.contains(j) {
                guard let a = anchor(inputs[j].model) else { continue }
                // θ_k = monotonic − wall at one instant: θ_j − θ_0.
                out[j].offset = (a.monotonic - a.wall) - (ref.monotonic - ref.wall)
                out[j].method = .wallClock
            }
        }
        return out
    }

    /// The session's monotonic and wall-clock times at one instant, nanoseconds.
    static func anchor(_ model: TraceModel) -> (monotonic: Int64, wall: Int64)? {
        guard let start = model.session[TraceVocabulary.Session.startTs.string]?.doubleValue,
            let wall = model.session[TraceVocabulary.Session.wallStartUs.string]?.doubleValue
        else { return nil }
        return (nanoseconds(start), nanoseconds(wall))
    }

    // MARK: - Writing

    /// The merged trace: every input's events on the reference's clock, pids that collide with
    /// an earlier input's moved up by 10,000,000 × the input's position, each process labelled
    /// with its host, and a `cctrace.merge` metadata event with every alignment.
    public static func merged(_ inputs: [Input], _ alignments: [Alignment]) -> [UInt8] {
        var out: [UInt8] = Array("{\"traceEvents\":[\n".utf8)
        var usedPids: Set<Int64> = []
        var firstPid: Int64?
        var frames: [(String, JSONValue)] = []
        for (k, input) in inputs.enumerated() {
            let shift = alignments[k].offset
            var pids = Set<Int64>()
            for e in input.events {
                if case .object(let m) = e, let p = m.first(where: { $0.0 == "pid" })?.1.doubleValue {
                    pids.insert(Int64(p))
                }
            }
            let remap = k > 0 && !pids.isDisjoint(with: usedPids)
            func pid(_ p: Int64) -> Int64 { remap ? p + 10_000_000 * Int64(k) : p }
            let prefix = "i\(k):"
            for e in input.events {
                guard case .object(var m) = e else { continue }
                for (n, (key, value)) in m.enumerated() {
                    switch key {
                    case "ts":
                        if let ts = value.doubleValue { m[n].1 = .number(microseconds(nanoseconds(ts) - shift)) }
                    case "pid":
                        if let p = value.doubleValue { m[n].1 = .number(Double(pid(Int64(p)))) }
                    case "sf":
                        if let s = value.stringValue ?? value.doubleValue.map({ String(Int64($0)) }) {
                            m[n].1 = .string(prefix + s)
                        }
                    case "args":
                        m[n].1 = shiftSessionTimes(value, m, shift)
                    default: break
                    }
                }
                append(.object(m), to: &out)
            }
            for p in pids.sorted() {
                usedPids.insert(pid(p))
                if firstPid == nil { firstPid = pid(p) }
                append(
                    .object([
                        ("ph", .string("M")), ("name", .string("process_labels")), ("pid", .number(Double(pid(p)))),
                        ("tid", .number(0)), ("args", .object([("labels", .string("host \(alignments[k].host)"))])),
                    ]), to: &out)
            }
            for (id, frame) in input.stackFrames {
                guard case .object(var f) = frame else { continue }
                for (n, (key, value)) in f.enumerated() where key == "parent" {
                    if let s = value.stringValue ?? value.doubleValue.map({ String(Int64($0)) }) {
                        f[n].1 = .string(prefix + s)
                    }
                }
                frames.append((prefix + id, .object(f)))
            }
        }
        let hosts: [JSONValue] = alignments.map { a in
            .object([
                ("trace", .string(a.path)), ("host", .string(a.host)), ("method", .string(a.method.rawValue)),
                ("offset_us", .number(microseconds(a.offset))),
                ("bound_us", a.bound.map { .number(microseconds($0)) } ?? .null),
                ("requests", .number(Double(a.pairs))), ("flows", .number(Double(a.flows))),
                ("inconsistent", .bool(a.inconsistent)), ("end_slack_us", .number(microseconds(a.endSlack))),
            ])
        }
        out += Array(
            JSONValue.object([
                ("ph", .string("M")), ("cat", .string(TraceCategory.session.rawValue)),
                ("name", .string(TraceVocabulary.Event.merge.string)), ("pid", .number(Double(firstPid ?? 0))),
                ("tid", .number(0)), ("args", .object([("hosts", .array(hosts))])),
            ]).serialized().utf8)
        out += Array("\n]".utf8)
        if !frames.isEmpty {
            out += Array(",\"stackFrames\":".utf8)
            out += Array(JSONValue.object(frames).serialized().utf8)
        }
        out += Array("}\n".utf8)
        return out
    }

    /// Session metadata holds monotonic times too (`start_ts`, `end_ts`): shifted with the rest.
    static func shiftSessionTimes(_ args: JSONValue, _ event: [(String, JSONValue)], _ shift: Int64) -> JSONValue {
        guard shift != 0, case .object(var m) = args,
            event.first(where: { $0.0 == "ph" })?.1.stringValue == "M",
            event.first(where: { $0.0 == "cat" })?.1.stringValue == TraceCategory.session.rawValue
        else { return args }
        for (n, (key, value)) in m.enumerated()
        where key == TraceVocabulary.Session.startTs.string || key == TraceVocabulary.Session.endTs.string {
            if let ts = value.doubleValue { m[n].1 = .number(microseconds(nanoseconds(ts) - shift)) }
        }
        return .object(m)
    }

    static func microseconds(_ ns: Int64) -> Double { Double(ns) / 1000 }

    static func append(_ event: JSONValue, to out: inout [UInt8]) {
        out += Array(event.serialized().utf8)
        out += [0x2C, 0x0A]
    }
}
