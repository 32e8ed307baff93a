import CCTraceFormat

/// `ipc-overhead`: per channel, the time spent serializing, transferring and deserializing
/// messages against the compute they feed (the IPC tax), the bytes moved, and child processes'
/// start-up cost against the work they then did.
///
/// cctrace's `cctrace.ipc` spans are exact (a receive counts from the message's arrival, not
/// from when the receiver began waiting). Other tools' shapes are recognized by name: Python
/// multiprocessing's pickling (`ForkingPickler.dumps`, `_pickle.loads`) and
/// `send_bytes`/`recv_bytes` (the first read of a receive, which waits for the message, is
/// idle).
public enum IPCOverheadAnalyzer {
    public static let id = "ipc-overhead"

    struct Channel {
        var name: String
        var serialize: Int64 = 0
        var send: Int64 = 0
        var receive: Int64 = 0
        var deserialize: Int64 = 0
        var bytes: Int64 = 0
        var messages = 0
        var pids: Set<Int64> = []
        var inferred = false
        var largest: Int?
        var total: Int64 { serialize + send + receive + deserialize }
    }

    public static func analyze(_ model: TraceModel, profile: WorkProfile, options: AnalysisOptions) -> [Finding] {
        let arrivals = profile.ipcArrivals
        var channels: [String: Channel] = [:]
        var rootOf: [Int: Int] = [:]
        for (i, s) in model.slices.enumerated() where profile.sliceKinds[i] == .ipc {
            let r = s.parent >= 0 && profile.sliceKinds[s.parent] == .ipc ? (rootOf[s.parent] ?? s.parent) : i
            rootOf[i] = r
            let top = model.slices[r]
            let ours = top.category == TraceCategory.ipc.rawValue
            let args = ours ? top.args.flatMap { model.arguments.value($0) } : nil
            let name =
                args?["channel"]?.stringValue
                ?? (ours
                    ? String(top.name.split(separator: " ").dropFirst().joined(separator: " "))
                    : "multiprocessing pipes")
            var c = channels[name] ?? Channel(name: name)
            c.inferred = c.inferred || !ours
            c.pids.insert(model.threads[s.thread].pid)
            var cost = s.selfDuration.nanoseconds
            let step = SliceClassifier.ipcStep(name: top.name)
            if step == .receive, ours,
                let arrival = WorkProfile.first(
                    in: arrivals[s.thread] ?? [], from: s.start.nanoseconds, to: s.end.nanoseconds)
            {
                cost -= arrival - s.start.nanoseconds
            }
            switch step {
            case .serialize: c.serialize += cost
            case .send:
                c.send += cost
                if r == i {
                    c.messages += 1
                    c.bytes += args?["bytes"]?.intValue ?? 0
                    if c.largest == nil || s.duration > model.slices[c.largest!].duration { c.largest = i }
                }
            case .receive: c.receive += cost
            case .deserialize: c.deserialize += cost
            }
            channels[name] = c
        }

        var findings: [Finding] = []
        var computeByPid: [Int64: Int64] = [:]
        for t in profile.threads { computeByPid[t.pid, default: 0] += t.split.running }
        for c in channels.values.sorted(by: { $0.total > $1.total }) {
            let compute = c.pids.reduce(Int64(0)) { $0 + (computeByPid[$1] ?? 0) }
            let tax = compute > 0 ? Double(c.total) / Double(compute) : (c.total > 0 ? 99 : 0)
            var sentence =
                "Channel '\(c.name)' spent \(Text.ms(c.total)) on IPC (serialize \(Text.ms(c.serialize)), "
                + "transfer \(Text.ms(c.send + c.receive)), deserialize \(Text.ms(c.deserialize))) "
                + "against \(Text.ms(compute)) of compute in the \(c.pids.count) process\(c.pids.count == 1 ? "" : "es") it connects: "
                + "an IPC tax of \(Text.pct(tax))"
            if c.messages > 0 {
                sentence += "; \(c.messages) message\(c.messages == 1 ? "" : "s")"
                if c.bytes > 0 {
                    sentence += ", \(formatBytes(c.bytes)) (\(formatBytes(c.bytes / Int64(c.messages))) each)"
                }
            }
            sentence += "."
            var evidence: [Evidence] = []
            if let l = c.largest { evidence.append(.slice(l, in: model, "the longest send")) }
            let severity: Severity = tax >= options.ipcTax ? .warning : .info
            findings.append(
                Finding(
                    id: id, severity: severity, subject: c.name, summary: sentence, inferred: c.inferred,
                    metrics: [
                        ("ipc_ms", Text.millis(c.total)), ("serialize_ms", Text.millis(c.serialize)),
                        ("transfer_ms", Text.millis(c.send + c.receive)),
                        ("deserialize_ms", Text.millis(c.deserialize)),
                        ("compute_ms", Text.millis(compute)), ("ipc_tax", tax), ("messages", Double(c.messages)),
                        ("bytes", Double(c.bytes)),
                    ], evidence: evidence))
        }
        if let start = startupFinding(model, profile: profile) { findings.append(start) }
        if findings.isEmpty {
            return [
                Finding(id: id, severity: .ok, summary: "No inter-process messages or child processes in the trace.")
            ]
        }
        return findings.sorted { $0.severity > $1.severity }
    }

    /// Child processes' start-up (`process start`: spawn to the child's first instruction)
    /// against the work each then did.
    static func startupFinding(_ model: TraceModel, profile: WorkProfile) -> Finding? {
        var busyByPid: [Int64: Int64] = [:]
        for t in profile.threads { busyByPid[t.pid, default: 0] += t.split.busy }
        var starts: [(slice: Int, start: Int64, work: Int64)] = []
        for (i, s) in model.slices.enumerated()
        where s.category == TraceCategory.process.rawValue && s.name == "process start" {
            let pid = model.threads[s.thread].pid
            starts.append((i, s.duration.nanoseconds, max(0, (busyByPid[pid] ?? 0) - s.duration.nanoseconds)))
        }
        guard !starts.isEmpty else { return nil }
        let totalStart = starts.reduce(Int64(0)) { $0 + $1.start }
        let totalWork = starts.reduce(Int64(0)) { $0 + $1.work }
        let ratio = totalWork > 0 ? Double(totalStart) / Double(totalWork) : 1
        let mean = totalStart / Int64(starts.count)
        let severity: Severity = ratio >= 0.1 ? .warning : .info
        let worst = starts.max { $0.start < $1.start }!
        return Finding(
            id: id, severity: severity, subject: "process start-up",
            summary:
                "\(starts.count) child process\(starts.count == 1 ? "" : "es") took \(Text.ms(mean)) each to start "
                + "against \(Text.ms(totalWork / Int64(starts.count))) of work each: start-up is \(Text.pct(ratio)) of the work"
                + (ratio >= 0.1 ? " (tasks should be at least 10× the start cost)." : "."),
            metrics: [
                ("children", Double(starts.count)), ("start_mean_ms", Text.millis(mean)),
                ("work_mean_ms", Text.millis(totalWork / Int64(starts.count))), ("start_share", ratio),
            ], evidence: [.slice(worst.slice, in: model, "the slowest start")])
    }

    static func formatBytes(_ b: Int64) -> String {
        let v = Double(b)
        switch v {
        case 1_048_576...: return SummaryRenderer.format3(v / 1_048_576) + " MiB"
        case 1024...: return SummaryRenderer.format3(v / 1024) + " KiB"
        default: return "\(b) B"
        }
    }
}
