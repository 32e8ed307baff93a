import CCTraceFormat

/// One IPC channel's cost against the compute it feeds.
public struct ChannelStats: Sendable {
    public var name: String
    /// Whether it was recognized by name (Python multiprocessing) rather than recorded.
    public var inferred: Bool
    /// Time serializing, transferring (send + receive, from the message's arrival) and
    /// deserializing, nanoseconds.
    public var serialize: Int64
    public var transfer: Int64
    public var deserialize: Int64
    /// Running time of the processes it connects.
    public var compute: Int64
    /// IPC time ÷ compute; `nil` when the processes did no measurable compute (then any IPC
    /// is all overhead, and no ratio says how much).
    public var tax: Double?
    public var messages: Int
    public var bytes: Int64
    public var processes: Int
    /// Whether ``compute`` and ``processes`` are the channel's readers only (a pipe seen from
    /// outside: the compute it feeds is on its reading end), not every process it connects.
    public var fedOnly = false
    /// The processes it connects, by name and pid (pipes and sockets seen from outside).
    public var peers: [String] = []
    public var severity: Severity
    public var evidence: [Evidence]

    public var total: Int64 { serialize + transfer + deserialize }
}

/// Child processes' start-up against the work each then did.
public struct StartupStats: Sendable {
    public var children: Int
    public var meanStart: Int64
    public var meanWork: Int64
    /// Start-up ÷ work.
    public var share: Double
    /// The share from which start-up is a warning (``Heuristics/startupShare``).
    public var warningShare: Double
    public var severity: Severity
    public var evidence: [Evidence]
}

/// `ipc-overhead`: what the analyzer found.
public struct IPCOverhead: Sendable {
    /// Per channel, the most serious first.
    public var channels: [ChannelStats]
    public var startup: StartupStats?

    /// The highest tax of any channel (a channel without compute counts as outweighing it).
    public var worstTax: Double? {
        var worst: Double?
        for c in channels {
            let t = c.tax ?? (c.total > 0 ? .infinity : 0)
            worst = max(worst ?? t, t)
        }
        return worst
    }
}

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
        /// The processes whose compute the channel feeds, when known (a pipe's readers).
        var fed: Set<Int64>?
        /// Channel calls too short to record: transfer time, and the part the readers' running
        /// time includes.
        var shortCalls: Int64 = 0
        var readerShortCalls: Int64 = 0
        var inferred = false
        var largest: Int?
        var total: Int64 { serialize + send + receive + deserialize + shortCalls }
    }

    public static func analyze(_ model: TraceModel, profile: WorkProfile, options: AnalysisOptions) -> IPCOverhead {
        let c = profile.classification
        var channels: [String: Channel] = [:]
        for i in model.slices.indices where c.kinds[i] == .ipc {
            let s = model.slices[i]
            let pid = model.threads[s.thread].pid
            if let d = c.channels.channel(of: s, pid: pid, model: model) {
                // A pipe or socket between traced processes, seen from outside: a write is a
                // send, a read in the middle of a message a receive; the bytes are the
                // channel's totals.
                var ch = channels[d.name] ?? Channel(name: d.name)
                ch.pids.formUnion(d.pids)
                if !d.readers.isEmpty { ch.fed = d.readers }
                ch.bytes = d.bytes
                ch.shortCalls = d.shortCalls
                ch.readerShortCalls = d.readerShortCalls
                let cost = c.ipcCost(of: i, in: model)
                // Messages are not counted: a pipe carries bytes, and only the calls that
                // blocked were recorded.
                if DescriptorChannels.writes.contains(s.name) {
                    ch.send += cost
                    if ch.largest == nil || s.duration > model.slices[ch.largest!].duration { ch.largest = i }
                } else {
                    ch.receive += cost
                }
                channels[d.name] = ch
                continue
            }
            let r = c.ipcRoot(of: i)
            let top = model.slices[r]
            let ours = top.category == TraceCategory.ipc.rawValue
            let args = ours ? top.args.flatMap { model.arguments.value($0) } : nil
            let name =
                args?[TraceVocabulary.Arg.channel.string]?.stringValue
                ?? (ours
                    ? String(top.name.split(separator: " ").dropFirst().joined(separator: " "))
                    : CPython.multiprocessingChannel)
            var ch = channels[name] ?? Channel(name: name)
            ch.inferred = ch.inferred || !ours
            ch.pids.insert(model.threads[s.thread].pid)
            // A receive counts from its message's arrival (stage 1 moved the wait before it).
            let cost = c.ipcCost(of: i, in: model)
            let step = SliceClassifier.ipcStep(name: top.name)
            switch step {
            case .serialize: ch.serialize += cost
            case .send:
                ch.send += cost
                if r == i {
                    ch.messages += 1
                    ch.bytes += args?[TraceVocabulary.Arg.bytes.string]?.intValue ?? 0
                    if ch.largest == nil || s.duration > model.slices[ch.largest!].duration { ch.largest = i }
                }
            case .receive: ch.receive += cost
            case .deserialize: ch.deserialize += cost
            }
            channels[name] = ch
        }

        // Channels between traced processes whose calls were all too short to record one by one
        // (the readers took turns on a lock instead of blocking in read): they moved their bytes
        // all the same, in the time the shim counted as short calls.
        for d in c.channels.channels where channels[d.name] == nil && d.bytes > 0 {
            var ch = Channel(name: d.name)
            ch.pids = d.pids
            if !d.readers.isEmpty { ch.fed = d.readers }
            ch.bytes = d.bytes
            ch.shortCalls = d.shortCalls
            ch.readerShortCalls = d.readerShortCalls
            channels[d.name] = ch
        }

        var computeByPid: [Int64: Int64] = [:]
        for t in profile.threads { computeByPid[t.pid, default: 0] += t.split.running }
        var out: [ChannelStats] = []
        for c in channels.values.sorted(by: { ($0.total, $1.name) > ($1.total, $0.name) }) {
            let compute = max(
                0, (c.fed ?? c.pids).reduce(Int64(0)) { $0 + (computeByPid[$1] ?? 0) } - c.readerShortCalls)
            let tax: Double? = compute > 0 ? Double(c.total) / Double(compute) : (c.total > 0 ? nil : 0)
            var evidence: [Evidence] = []
            if let l = c.largest { evidence.append(.slice(l, in: model, .longestSend)) }
            out.append(
                ChannelStats(
                    name: c.name, inferred: c.inferred, serialize: c.serialize,
                    transfer: c.send + c.receive + c.shortCalls,
                    deserialize: c.deserialize, compute: compute, tax: tax, messages: c.messages, bytes: c.bytes,
                    processes: (c.fed ?? c.pids).count, fedOnly: c.fed != nil,
                    peers: c.fed == nil ? [] : c.pids.sorted().map { CPUSerializedAnalyzer.processLabel($0, model) },
                    severity: (tax ?? .infinity) >= options.heuristics.ipcTax ? .warning : .info,
                    evidence: evidence))
        }
        return IPCOverhead(
            channels: out.enumerated().sorted { ($0.element.severity, -$0.offset) > ($1.element.severity, -$1.offset) }
                .map(\.element),
            startup: startup(model, profile: profile, heuristics: options.heuristics))
    }

    /// Child processes' start-up (`process start`: spawn to the child's first instruction)
    /// against the work each then did.
    static func startup(_ model: TraceModel, profile: WorkProfile, heuristics h: Heuristics) -> StartupStats? {
        var busyByPid: [Int64: Int64] = [:]
        for t in profile.threads { busyByPid[t.pid, default: 0] += t.split.busy }
        var starts: [(slice: Int, start: Int64, work: Int64)] = []
        let process = TraceCategory.process.rawValue
        let processStart = TraceVocabulary.Event.processStart.string
        for i in profile.classification.names.slices(where: { $1 == process && $0 == processStart }) {
            let s = model.slices[i]
            let pid = model.threads[s.thread].pid
            starts.append((i, s.duration.nanoseconds, max(0, (busyByPid[pid] ?? 0) - s.duration.nanoseconds)))
        }
        guard !starts.isEmpty else { return nil }
        let totalStart = starts.reduce(Int64(0)) { $0 + $1.start }
        let totalWork = starts.reduce(Int64(0)) { $0 + $1.work }
        let ratio = totalWork > 0 ? Double(totalStart) / Double(totalWork) : 1
        let worst = starts.max { $0.start < $1.start }!
        return StartupStats(
            children: starts.count, meanStart: totalStart / Int64(starts.count),
            meanWork: totalWork / Int64(starts.count), share: ratio, warningShare: h.startupShare,
            severity: ratio >= h.startupShare ? .warning : .info,
            evidence: [.slice(worst.slice, in: model, .slowestStart)])
    }
}
