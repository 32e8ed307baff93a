import CCTraceFormat

/// Pipes and sockets that connect processes of the trace, as `cctrace record`'s shim saw them
/// from outside: `io <object>` counters (bytes each process read and wrote through the object,
/// running totals) and, for sockets, their addresses.
///
/// A pipe is one kernel object (`pipe:[inode]`) in every process that inherited it, so a pipe
/// seen in two traced processes connects them. A connected socket is one object per end; two
/// ends connect when one's own address is the other's peer and the other way round (loopback
/// TCP between traced processes). Reads and writes on these objects are moving data between
/// processes (IPC), not generic I/O.
public struct DescriptorChannels: Sendable {
    /// One channel between processes.
    public struct Channel: Sendable {
        /// `pipe:[123]` or `socket 127.0.0.1:5000 ↔ 127.0.0.1:41234`.
        public var name: String
        public var pids: Set<Int64>
        /// The processes that read from it: the compute it feeds is theirs.
        public var readers: Set<Int64>
        /// Bytes moved (the larger of what was written into it and read out of it).
        public var bytes: Int64
        /// Time in calls on it too short to be recorded one by one (copying through it), in
        /// all its processes and in its readers: the readers' part passed for their compute.
        public var shortCalls: Int64 = 0
        public var readerShortCalls: Int64 = 0
    }

    public var channels: [Channel]
    /// Per process, the time in calls on its channels too short to record one by one: moving
    /// data, which its threads' spans do not show.
    public var shortCallsByPid: [Int64: Int64] = [:]
    /// Channel index by "pid␀object".
    var channelOf: [String: Int]

    /// The channel `object` of process `pid` belongs to, if it connects traced processes.
    public func channel(pid: Int64, object: String) -> Int? { channelOf["\(pid)\u{0}\(object)"] }

    /// Reads a size at or above this are the middle of a message: a pipe holds 64 KiB, so a
    /// reader that asks for more knows a large message is coming (its header said so) and is
    /// paced by the writer; a smaller request waits for the next message to arrive.
    public static let largeRead = 65_536

    public init(model: TraceModel) {
        let prefix = TraceVocabulary.Event.ioPrefix.string
        struct End {
            var read: Int64 = 0
            var written: Int64 = 0
            var shortCalls: Int64 = 0
            var local = ""
            var peer = ""
        }
        var ends: [String: [Int64: End]] = [:]  // object → pid → end
        for c in model.counters where c.counter.hasPrefix(prefix) {
            let object = String(c.counter.dropFirst(prefix.count))
            let total = Int64(max(0, min(c.points.map(\.1).max() ?? 0, 1e18)))
            var end = ends[object]?[c.pid] ?? End()
            if c.key == TraceVocabulary.Arg.readBytes.string { end.read = max(end.read, total) }
            if c.key == TraceVocabulary.Arg.writtenBytes.string { end.written = max(end.written, total) }
            if c.key == TraceVocabulary.Arg.shortCallsMs.string {
                end.shortCalls = max(end.shortCalls, Int64(max(0, min(c.points.map(\.1).max() ?? 0, 1e9)) * 1e6))
            }
            ends[object, default: [:]][c.pid] = end
        }
        for i in model.instants where i.name.hasPrefix(prefix) && i.category == TraceCategory.preload.rawValue {
            let object = String(i.name.dropFirst(prefix.count))
            let args = i.args.flatMap { model.arguments.value($0) }
            var end = ends[object]?[i.pid] ?? End()
            end.local = args?[TraceVocabulary.Arg.local.string]?.stringValue ?? ""
            end.peer = args?[TraceVocabulary.Arg.peer.string]?.stringValue ?? ""
            ends[object, default: [:]][i.pid] = end
        }
        var channels: [Channel] = []
        var channelOf: [String: Int] = [:]
        // Pipes: the same object in two or more processes.
        for (object, byPid) in ends.sorted(by: { $0.key < $1.key }) where object.hasPrefix("pipe:") && byPid.count >= 2
        {
            let written = byPid.values.reduce(Int64(0)) { $0 + $1.written }
            let read = byPid.values.reduce(Int64(0)) { $0 + $1.read }
            for pid in byPid.keys { channelOf["\(pid)\u{0}\(object)"] = channels.count }
            channels.append(
                Channel(
                    name: object, pids: Set(byPid.keys), readers: Set(byPid.filter { $0.value.read > 0 }.keys),
                    bytes: max(written, read), shortCalls: byPid.values.reduce(0) { $0 + $1.shortCalls },
                    readerShortCalls: byPid.values.filter { $0.read > 0 }.reduce(0) { $0 + $1.shortCalls }))
        }
        // Sockets: ends whose addresses mirror each other, in different processes.
        var byConnection: [String: [(pid: Int64, object: String, end: End)]] = [:]
        for (object, byPid) in ends where object.hasPrefix("socket:") {
            for (pid, end) in byPid where !end.local.isEmpty && !end.peer.isEmpty {
                let key = [end.local, end.peer].sorted().joined(separator: " ↔ ")
                byConnection[key, default: []].append((pid, object, end))
            }
        }
        for (key, members) in byConnection.sorted(by: { $0.key < $1.key }) {
            let pids = Set(members.map(\.pid))
            guard pids.count >= 2 else { continue }
            let written = members.reduce(Int64(0)) { $0 + $1.end.written }
            let read = members.reduce(Int64(0)) { $0 + $1.end.read }
            for m in members { channelOf["\(m.pid)\u{0}\(m.object)"] = channels.count }
            channels.append(
                Channel(
                    name: "socket \(key)", pids: pids, readers: Set(members.filter { $0.end.read > 0 }.map(\.pid)),
                    bytes: max(written, read), shortCalls: members.reduce(0) { $0 + $1.end.shortCalls },
                    readerShortCalls: members.filter { $0.end.read > 0 }.reduce(0) { $0 + $1.end.shortCalls }))
        }
        for (object, byPid) in ends {
            for (pid, end) in byPid where channelOf["\(pid)\u{0}\(object)"] != nil {
                shortCallsByPid[pid, default: 0] += end.shortCalls
            }
        }
        self.channels = channels
        self.channelOf = channelOf
    }

    /// The kind of a recorded call on a descriptor channel: writes move data (IPC); a read is
    /// IPC in the middle of a message (``largeRead``) and waiting for the next message before
    /// one; a poll waits for a message. Nil for calls that are not on a channel.
    func kind(of slice: Slice, pid: Int64, model: TraceModel) -> SliceKind? {
        guard slice.category == TraceCategory.preload.rawValue, !channels.isEmpty,
            let args = slice.args.flatMap({ model.arguments.value($0) }),
            let object = args[TraceVocabulary.Arg.object.string]?.stringValue,
            channel(pid: pid, object: object) != nil
        else { return nil }
        if Self.writes.contains(slice.name) { return .ipc }
        if Self.reads.contains(slice.name) {
            let requested = args[TraceVocabulary.Arg.size.string]?.intValue ?? 0
            return requested >= Int64(Self.largeRead) ? .ipc : .resultWait
        }
        return .resultWait
    }

    /// The shim's calls that put data into a descriptor, and those that take it out.
    static let writes: Set<String> = ["write", "send", "sendto", "sendmsg", "writev", "fwrite"]
    static let reads: Set<String> = ["read", "recv", "recvfrom", "recvmsg", "readv", "fread", "fgets", "getline"]

    /// The channel a recorded call was on.
    public func channel(of slice: Slice, pid: Int64, model: TraceModel) -> Channel? {
        guard
            let object = slice.args.flatMap({ model.arguments.value($0) })?[TraceVocabulary.Arg.object.string]?
                .stringValue, let i = channel(pid: pid, object: object)
        else { return nil }
        return channels[i]
    }
}
