import CCTraceFormat

/// A contended acquire of a lock (cctrace's `lock wait` slice).
public struct LockWait: Sendable {
    /// The `lock wait` slice (index into ``TraceModel/slices``).
    public var slice: Int
    /// The lock's name.
    public var lock: String
    /// The lock's process-unique id (with the pid, it identifies the lock).
    public var lockID: Int64
    /// The thread that held the lock when the wait began (index into ``TraceModel/threads``),
    /// when it is in the trace.
    public var owner: Int?
    /// The waiter's return addresses, innermost first.
    public var stack: [UInt64]
    /// The waiter's frames, symbolized by the recorder (`function + offset (image)`), innermost
    /// first, starting at the app's own code.
    public var frames: [String]
    /// The same frames as `image+0xoffset`, for debug-info tools, when recorded.
    public var locations: [String] = []
}

/// A stretch in which a thread held a lock while others waited (cctrace's `lock hold` slice).
public struct LockHold: Sendable {
    /// The `lock hold` slice.
    public var slice: Int
    /// The lock's name.
    public var lock: String
    /// The lock's id.
    public var lockID: Int64
    /// Where the holder released it (symbolized), innermost first, when recorded.
    public var frames: [String] = []
    /// The same frames as `image+0xoffset`, when recorded.
    public var locations: [String] = []
}

/// An event loop seen in the trace: its ticks/callbacks and its lag counter.
public struct EventLoopInfo: Sendable {
    /// The loop's name (`args.loop`).
    public var name: String
    /// The process.
    public var pid: Int64
    /// Callback/tick slices on the loop (indexes into ``TraceModel/slices``).
    public var callbacks: [Int]
    /// The `loop lag <name>` counter (index into ``TraceModel/counters``), when recorded.
    public var lag: Int?
}

/// One IPC message: its send and receive slices and the bytes it carried.
public struct IPCMessage: Sendable {
    /// The channel's name.
    public var channel: String
    /// The flow from send to receive (index into ``TraceModel/flows``).
    public var flow: Int
    /// The payload size.
    public var bytes: Int64?
}

extension TraceModel {
    /// Builds the views of cctrace's lock, loop and IPC events; called once by the importer.
    static func primitiveViews(
        slices: [Slice], threads: [ThreadInfo], counters: [CounterSeries], flows: [Flow], arguments: TraceArgumentStore
    ) -> (waits: [LockWait], holds: [LockHold], loops: [EventLoopInfo], messages: [IPCMessage]) {
        typealias Arg = TraceVocabulary.Arg
        var threadIndex: [ThreadKeyPair: Int] = [:]
        for (i, t) in threads.enumerated() { threadIndex[ThreadKeyPair(pid: t.pid, tid: t.tid)] = i }
        var waits: [LockWait] = []
        var holds: [LockHold] = []
        var loops: [String: EventLoopInfo] = [:]
        // One pass that looks at a slice only when its category is one of the three (by a memo
        // of the category ids, not a comparison of characters per slice).
        var code = SliceNameMemo<UInt8>()
        var sends: [Int: [Int]] = [:]  // by thread index
        let lock = TraceCategory.lock.rawValue
        let loop = TraceCategory.loop.rawValue
        let ipc = TraceCategory.ipc.rawValue
        for i in slices.indices {
            let c = code.value(category: slices[i]) { $0 == lock ? 1 : $0 == loop ? 2 : $0 == ipc ? 3 : 0 }
            guard c != 0 else { continue }
            let s = slices[i]
            if c == 3 {
                if s.name.hasPrefix(TraceVocabulary.Event.sendPrefix.string) { sends[s.thread, default: []].append(i) }
                continue
            }
            switch s.category {
            case TraceCategory.lock.rawValue:
                let args = s.args.flatMap { arguments.value($0) }
                let name = args?[Arg.lock.string]?.stringValue ?? "?"
                let id = args?[Arg.lockID.string]?.intValue ?? -1
                if s.name == TraceVocabulary.Event.lockWait.string {
                    let pid = threads[s.thread].pid
                    let owner = args?[Arg.ownerTID.string]?.intValue.flatMap {
                        threadIndex[ThreadKeyPair(pid: pid, tid: $0)]
                    }
                    var stack: [UInt64] = []
                    if case .array(let frames)? = args?[Arg.stack.string] {
                        stack = frames.compactMap { $0.stringValue.flatMap { UInt64($0.dropFirst(2), radix: 16) } }
                    }
                    var frames: [String] = []
                    if case .array(let names)? = args?[Arg.frames.string] { frames = names.compactMap(\.stringValue) }
                    var locations: [String] = []
                    if case .array(let l)? = args?[Arg.locations.string] { locations = l.compactMap(\.stringValue) }
                    waits.append(
                        LockWait(
                            slice: i, lock: name, lockID: id, owner: owner, stack: stack, frames: frames,
                            locations: locations))
                } else if s.name == TraceVocabulary.Event.lockHold.string {
                    var frames: [String] = []
                    if case .array(let names)? = args?[Arg.frames.string] { frames = names.compactMap(\.stringValue) }
                    var locations: [String] = []
                    if case .array(let l)? = args?[Arg.locations.string] { locations = l.compactMap(\.stringValue) }
                    holds.append(LockHold(slice: i, lock: name, lockID: id, frames: frames, locations: locations))
                }
            case TraceCategory.loop.rawValue:
                let name = s.args.flatMap { arguments.value($0) }?[Arg.loop.string]?.stringValue ?? "loop"
                let pid = threads[s.thread].pid
                loops["\(pid)\u{0}\(name)", default: EventLoopInfo(name: name, pid: pid, callbacks: [], lag: nil)]
                    .callbacks.append(i)
            default:
                break
            }
        }
        for (i, c) in counters.enumerated() where c.counter.hasPrefix(TraceVocabulary.Event.loopLagPrefix.string) {
            let name = String(c.counter.dropFirst(TraceVocabulary.Event.loopLagPrefix.string.count))
            loops["\(c.pid)\u{0}\(name)", default: EventLoopInfo(name: name, pid: c.pid, callbacks: [], lag: nil)].lag =
                i
        }
        // Messages: the send slice on the sender's thread that encloses the flow's start.
        var messages: [IPCMessage] = []
        for (i, f) in flows.enumerated() where f.category == TraceCategory.ipc.rawValue {
            let candidates = sends[f.from.thread] ?? []
            let send = candidates.first { slices[$0].start <= f.from.timestamp && slices[$0].end >= f.from.timestamp }
            let args = send.flatMap { slices[$0].args }.flatMap { arguments.value($0) }
            messages.append(
                IPCMessage(
                    channel: args?[Arg.channel.string]?.stringValue
                        ?? String(f.name.dropFirst(TraceVocabulary.Event.messagePrefix.string.count)), flow: i,
                    bytes: args?[Arg.bytes.string]?.intValue))
        }
        return (waits, holds, loops.values.sorted { ($0.pid, $0.name) < ($1.pid, $1.name) }, messages)
    }
}

struct ThreadKeyPair: Hashable {
    var pid: Int64
    var tid: Int64
}
