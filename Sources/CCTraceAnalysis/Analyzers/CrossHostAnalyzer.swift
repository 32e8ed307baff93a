import CCTraceFormat

/// Requests from one process to another (a client span and the server span that served it,
/// linked by the `traceparent` the request carried), per pair of processes.
public struct RequestHop: Sendable {
    /// The client's and the server's process, with their host when the trace says (merged
    /// traces label each process `host <name>`).
    public var client: String
    public var server: String
    public var crossesHosts: Bool
    public var requests: Int
    /// Medians over the requests: the client's wait, the server span, their difference (the
    /// network, queues and the parts of both sides outside the spans).
    public var p50Total: Int64
    public var p50Server: Int64
    public var p50Between: Int64
    /// Shares of the requests' summed wait: the server's own work (its span less the requests
    /// it made in turn), the requests it made in turn, and what lay between the two spans.
    public var serverShare: Double
    public var downstreamShare: Double
    public var betweenShare: Double
    public var evidence: [Evidence]
}

/// `cross-host-requests`: what the analyzer found.
public struct RequestPaths: Sendable {
    public var hops: [RequestHop]
    /// Per end-to-end request (a client span not itself inside a request from elsewhere): the
    /// part of the path that took longest, by name, and in how many requests it did.
    public var dominant: [(part: String, requests: Int, time: Int64)]
    public var roots: Int
}

/// `cross-host-requests`: the critical path of requests across processes and hosts. A request
/// is a client span whose server span (in another process) names it as its remote parent; the
/// client's wait splits into the server's own work, the server's own requests downstream, and
/// the time between the two spans (network, queueing, serialization outside the spans). For
/// each end-to-end request the part that took longest is its dominant hop: where to look
/// first. Info only: it says where time goes, not that something is wrong.
public enum CrossHostAnalyzer {
    public static let id = "cross-host-requests"

    struct Span {
        var index: Int
        var pid: Int64
        var start: Int64
        var end: Int64
        var kind: String
        var parent: String?
        var remoteParent: Bool
        var duration: Int64 { end - start }
    }

    public static func analyze(_ model: TraceModel) -> RequestPaths {
        let tracing = TraceCategory.tracing.rawValue
        var spans: [String: Span] = [:]
        for (i, a) in model.asyncSlices.enumerated() where a.category == tracing {
            guard let ref = a.args, case .object(let m)? = model.arguments.value(ref),
                let id = m.first(where: { $0.0 == TraceVocabulary.Arg.spanID.string })?.1.stringValue
            else { continue }
            spans[id] = Span(
                index: i, pid: a.pid, start: a.start.nanoseconds, end: a.end.nanoseconds,
                kind: m.first { $0.0 == TraceVocabulary.Arg.spanKind.string }?.1.stringValue ?? "internal",
                parent: m.first { $0.0 == TraceVocabulary.Arg.parentSpanID.string }?.1.stringValue,
                remoteParent: m.contains { $0.0 == TraceVocabulary.Arg.remoteParent.string && $0.1 == .bool(true) })
        }
        // Server spans by the client span they served; every span's children by parent.
        var served: [String: [String]] = [:]
        var children: [String: [String]] = [:]
        for (id, s) in spans {
            guard let p = s.parent else { continue }
            children[p, default: []].append(id)
            if s.kind == "server", s.remoteParent, let c = spans[p], c.pid != s.pid {
                served[p, default: []].append(id)
            }
        }
        guard !served.isEmpty else { return RequestPaths(hops: [], dominant: [], roots: 0) }
        let hosts = Dictionary(
            model.processes.map { p in (p.pid, label(p)) }, uniquingKeysWith: { a, _ in a })
        func host(_ pid: Int64) -> String { hosts[pid]?.label ?? "pid \(pid)" }
        func hostName(_ pid: Int64) -> String? { hosts[pid]?.host }

        /// Client spans inside span `id`'s subtree in its own process: the requests it made.
        func downstream(_ id: String) -> [String] {
            var out: [String] = []
            var stack = children[id] ?? []
            var seen = 0
            while let c = stack.popLast(), seen < 100_000 {
                seen += 1
                guard let s = spans[c], s.pid == spans[id]?.pid else { continue }
                if s.kind == "client", served[c] != nil { out.append(c) } else { stack += children[c] ?? [] }
            }
            return out
        }
        /// A request's wait split into parts: (name, time).
        func parts(_ client: String, depth: Int) -> [(String, Int64)] {
            guard depth < 16, let c = spans[client], let servers = served[client], let sid = servers.first,
                let s = spans[sid]
            else { return [] }
            let below = downstream(sid)
            let belowTime = below.reduce(Int64(0)) { $0 + (spans[$1]?.duration ?? 0) }
            var out: [(String, Int64)] = [
                ("between \(host(c.pid)) and \(host(s.pid))", max(0, c.duration - s.duration)),
                ("\(host(s.pid)) work", max(0, s.duration - belowTime)),
            ]
            for b in below { out += parts(b, depth: depth + 1) }
            return out
        }

        struct Acc {
            var totals: [Int64] = []
            var servers: [Int64] = []
            var betweens: [Int64] = []
            var serverOwn: Int64 = 0
            var down: Int64 = 0
            var between: Int64 = 0
            var slowest: (String, Int64)?
        }
        var hops: [String: (client: Int64, server: Int64, acc: Acc)] = [:]
        for (cid, servers) in served {
            guard let c = spans[cid], let s = servers.first.flatMap({ spans[$0] }) else { continue }
            let key = "\(c.pid)→\(s.pid)"
            var entry = hops[key] ?? (c.pid, s.pid, Acc())
            let belowTime = downstream(servers[0]).reduce(Int64(0)) { $0 + (spans[$1]?.duration ?? 0) }
            entry.acc.totals.append(c.duration)
            entry.acc.servers.append(s.duration)
            entry.acc.betweens.append(max(0, c.duration - s.duration))
            entry.acc.serverOwn += max(0, s.duration - belowTime)
            entry.acc.down += min(belowTime, s.duration)
            entry.acc.between += max(0, c.duration - s.duration)
            if entry.acc.slowest == nil || c.duration > entry.acc.slowest!.1 { entry.acc.slowest = (cid, c.duration) }
            hops[key] = entry
        }
        // End-to-end requests: client spans not inside a request served from elsewhere.
        var dominant: [String: (Int, Int64)] = [:]
        var roots = 0
        for cid in served.keys {
            var j = spans[cid]?.parent
            var insideServed = false
            var steps = 0
            while let p = j, let s = spans[p], steps < 64 {
                if s.kind == "server", s.remoteParent { insideServed = true }
                j = s.parent
                steps += 1
            }
            guard !insideServed else { continue }
            roots += 1
            if let top = parts(cid, depth: 0).max(by: { $0.1 < $1.1 }) {
                let e = dominant[top.0] ?? (0, 0)
                dominant[top.0] = (e.0 + 1, e.1 + top.1)
            }
        }
        let out = hops.values.map { h -> RequestHop in
            let a = h.acc
            let sum = Double(max(1, a.serverOwn + a.down + a.between))
            var evidence: [Evidence] = []
            if let (cid, d) = a.slowest, let c = spans[cid] {
                let slice = model.asyncSlices[c.index]
                evidence.append(
                    Evidence(
                        .slowestRequest(parts: parts(cid, depth: 0).map { "\($0.0) \(Text.ms($0.1))" }), pid: c.pid,
                        start: slice.start, duration: TraceDuration(nanoseconds: d)))
            }
            return RequestHop(
                client: host(h.client), server: host(h.server),
                crossesHosts: hostName(h.client) != nil && hostName(h.client) != hostName(h.server),
                requests: a.totals.count, p50Total: median(a.totals), p50Server: median(a.servers),
                p50Between: median(a.betweens), serverShare: Double(a.serverOwn) / sum,
                downstreamShare: Double(a.down) / sum, betweenShare: Double(a.between) / sum, evidence: evidence)
        }
        .sorted { ($0.requests, $0.client) > ($1.requests, $1.client) }
        return RequestPaths(
            hops: out,
            dominant: dominant.map { ($0.key, $0.value.0, $0.value.1) }.sorted { ($0.1, $0.2) > ($1.1, $1.2) },
            roots: roots)
    }

    /// A process as the finding names it: `name (pid) on host`, the host from `host <name>`
    /// labels (what `cctrace merge` writes).
    static func label(_ p: ProcessInfo) -> (label: String, host: String?) {
        var host: String?
        if let labels = p.labels {
            for part in labels.split(separator: ",") {
                let t = part.drop { $0 == " " }
                if t.hasPrefix("host ") { host = String(t.dropFirst(5)) }
            }
        }
        let name = "\(p.name ?? "process") (\(p.pid))"
        return (host.map { "\(name) on \($0)" } ?? name, host)
    }

    static func median(_ values: [Int64]) -> Int64 {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[sorted.count / 2]
    }
}
