import CCTraceFormat

/// What a slice's time was spent on, as far as its name and category tell.
public enum SliceKind: String, Sendable, CaseIterable {
    /// Work (CPU, or whatever the span does that is not a recognized wait).
    case work
    /// Waiting for a lock someone else holds.
    case lockWait = "lock_wait"
    /// Blocking I/O or a sleep standing in for it (sockets, files, `poll`, `sleep`).
    case ioWait = "io_wait"
    /// Moving data between processes: serializing, sending, receiving, deserializing.
    case ipc
    /// Waiting for a result or for work to arrive (`join`, condition/event wait, future/queue
    /// `get`, waiting for a child): idle, never contention.
    case resultWait = "result_wait"
}

/// Classifies slices by category (cctrace's dialect: exact) or by the names of well-known
/// blocking calls (other tools: inferred).
///
/// Names are compared without the ` (file:line)` suffix viztracer and others append, and by
/// their last dotted components, so `_thread.lock.acquire`, `Lock.acquire (threading.py:1)`
/// and `pthread_mutex_lock` are all recognized. The table errs towards `work`: a name it does
/// not know is never a wait.
public enum SliceClassifier {
    /// The kind of `slice`, and whether it was inferred from the name (as opposed to read from
    /// cctrace's categories).
    public static func classify(name: String, category: String) -> (kind: SliceKind, inferred: Bool)? {
        switch category {
        case TraceCategory.lock.rawValue:
            return name == TraceVocabulary.Event.lockWait.string ? (.lockWait, false) : nil
        case TraceCategory.ipc.rawValue:
            return (.ipc, false)
        case TraceCategory.process.rawValue:
            if name.hasPrefix(TraceVocabulary.Event.waitPrefix.string) { return (.resultWait, false) }
            return nil
        default:
            break
        }
        guard let kind = kind(ofCall: name) else { return nil }
        return (kind, true)
    }

    /// The IPC step a slice stands for (serialize, transfer or deserialize), by name.
    public enum IPCStep: String, Sendable { case serialize, send, receive, deserialize }

    /// The IPC step of an IPC slice.
    public static func ipcStep(name: String) -> IPCStep {
        // cctrace's spans: `serialize <channel>`, `send <channel>`, …
        if let first = name.split(separator: " ", maxSplits: 1).first, let step = IPCStep(rawValue: String(first)) {
            return step
        }
        let last = (baseName(name).split(separator: ".").last.map(String.init) ?? name).lowercased()
        if last.hasPrefix("dump") || last.hasPrefix("encode") || last.hasPrefix("serial") { return .serialize }
        if last.hasPrefix("load") || last.hasPrefix("decode") || last.hasPrefix("deserial") { return .deserialize }
        if last.contains("recv") || last.hasPrefix("receive") || last.hasPrefix("_recv") { return .receive }
        return .send
    }

    /// `name` without a trailing ` (…)` location.
    public static func baseName(_ name: String) -> Substring {
        var s = Substring(name)
        if s.hasSuffix(")"), let open = s.lastIndex(of: "("), open > s.startIndex {
            let before = s.index(before: open)
            if s[before] == " " { s = s[..<before] }
        }
        return s
    }

    /// The classification of a call by name, or `nil` for ordinary work.
    static func kind(ofCall name: String) -> SliceKind? {
        let base = baseName(name)
        guard base.count <= 120 else { return nil }
        let components = base.split(separator: ".")
        guard let last = components.last.map(String.init) else { return nil }
        let owner = components.count >= 2 ? String(components[components.count - 2]) : ""

        let calls = BlockingCalls.known
        func known(_ table: Set<String>) -> Bool { table.contains(last) || table.contains("\(owner).\(last)") }

        // Waiting for results and for work to arrive.
        if known(calls.result) { return .resultWait }
        if last == "wait" && !owner.isEmpty && !owner.lowercased().contains("lock") { return .resultWait }
        if last == "get" && (owner.hasSuffix("Queue") || owner.hasSuffix("Result") || owner.hasSuffix("Future")) {
            return .resultWait
        }
        if last == "result" && owner.hasSuffix("Future") { return .resultWait }

        // Inter-process transfer (before sockets: multiprocessing's connections use pipes).
        if known(calls.ipc) { return .ipc }
        if owner.hasSuffix("Pickler") && (last == "dumps" || last == "dump") { return .ipc }
        if (owner == "_pickle" || owner == "pickle") && (last == "dumps" || last == "loads") { return .ipc }

        // Locks (only the acquiring side; what the lock protects is work).
        if known(calls.lock) { return .lockWait }
        if last == "acquire" && (owner.lowercased().contains("lock") || owner.isEmpty) { return .lockWait }

        // Blocking I/O and sleeps.
        if known(calls.io) {
            if CPython.isCoroutineSuspension(name) { return nil }
            return .ioWait
        }
        if owner == "socket" || owner.hasSuffix("Socket") || owner.hasSuffix("socket") {
            if calls.socket.contains(last) { return .ioWait }
        }
        return nil
    }
}
