import CCTraceFormat

/// A lock as the trace names it.
public enum LockName: Sendable, Hashable {
    /// Recorded with a name (cctrace's locks, or a name in the trace).
    case named(String)
    /// Recognized by an acquire call inside this function (or at the top level: `nil`).
    case takenIn(String?)
    /// Entered with a Python `with` block in this function (its acquire was not traced).
    case withBlockIn(String)
}

/// One lock's contention: how long threads waited for it, who held it meanwhile, and where.
public struct LockStats: Sendable {
    /// The lock's name (or, for locks recognized by shape, where it was taken).
    public var lock: LockName
    public var pid: Int64
    /// Whether the waits were recognized by name rather than recorded by cctrace.
    public var inferred: Bool
    public var waits: Int
    /// Distinct threads that waited.
    public var waiters: Int
    /// Waiting in total, and its percentiles, nanoseconds.
    public var total: Int64
    public var p50: Int64
    public var p95: Int64
    public var max: Int64
    /// Waiting ÷ the waiters' busy time.
    public var waitersBusyShare: Double
    /// The thread that held it for most of the waiting, and its share of the waiting.
    public var topHolder: String?
    public var topHolderShare: Double
    /// The longest chain of waits through this lock (every wait in it overlaps the others in
    /// time), when one has two links or more.
    public var chain: [ChainLink]?
    public var severity: Severity
    public var evidence: [Evidence]
}

/// `lock-contention`: what the analyzer found.
public struct LockContention: Sendable {
    /// Per lock, the most serious first.
    public var locks: [LockStats]
    /// For the all-clear: whether lock waits were looked for by name too.
    public var namesInferred: Bool
}

/// `lock-contention`: per lock, how long threads waited for it, who held it meanwhile, and
/// where the waiters were.
///
/// cctrace's `lock wait` slices are exact (the recorder only writes contended acquires, with
/// the owner and the waiter's stack). In other traces, acquires of locks recognized by name
/// (`lock.acquire`, `pthread_mutex_lock`, …) that took at least 10 µs count, grouped by the
/// caller; acquires inside a wait for a result (`join`, `Condition.wait`, queue `get`) do not
/// — waiting for a result is not contention.
public enum LockContentionAnalyzer {
    public static let id = "lock-contention"

    struct Wait {
        var slice: Int
        var owner: Int?
        /// The lock's id, for cctrace's waits (chains follow ids).
        var lockID: Int64?
        var frames: [String]
        /// The waiting, when only part of the slice waited (an inferred `with lock:` acquire).
        var duration: Int64?
    }

    struct Group {
        var lock: LockName
        var pid: Int64
        var inferred: Bool
        var waits: [Wait] = []
    }

    public static func analyze(_ model: TraceModel, profile: WorkProfile, options: AnalysisOptions) -> LockContention {
        var groups: [String: Group] = [:]
        var order: [String] = []
        func add(_ key: String, _ make: @autoclosure () -> Group, _ wait: Wait) {
            if groups[key] == nil {
                groups[key] = make()
                order.append(key)
            }
            groups[key]!.waits.append(wait)
        }
        // Waits stage 1 found to be waits for work (a consumer's lock around a channel) are not
        // contention.
        // The GIL's waits are the cause of cpu-serialized, not contention on a program's lock.
        let gil = profile.classification.gilWaits
        for w in model.lockWaits where profile.sliceKinds[w.slice] == .lockWait && !gil.contains(w.slice) {
            let pid = model.threads[model.slices[w.slice].thread].pid
            // A file lock is the kernel's, one lock for every process that takes it (its id is
            // the file's device and inode): its waits are grouped across processes.
            let scope = POSIXCalls.isFileLock(w.lock) ? "file" : "\(pid)"
            add(
                "\(scope)/\(w.lockID)/\(w.lock)", Group(lock: .named(w.lock), pid: pid, inferred: false),
                Wait(slice: w.slice, owner: w.owner, lockID: w.lockID, frames: w.frames))
        }
        let minimum = options.heuristics.inferredLockWait.nanoseconds
        // The category compared as an interned id (equal ids, equal names): no string per wait.
        let lockCategory = InternedNames.id(TraceCategory.lock.rawValue)
        for i in model.slices.indices where profile.sliceKinds[i] == .lockWait {
            let s = model.slices[i]
            guard s.categoryID != lockCategory, !gil.contains(i),
                s.parent < 0 || profile.sliceKinds[s.parent] != .lockWait, s.duration.nanoseconds >= minimum
            else { continue }
            let caller = s.parent >= 0 ? String(SliceClassifier.baseName(model.slices[s.parent].name)) : nil
            let pid = model.threads[s.thread].pid
            add(
                "\(pid)/inferred/\(caller ?? "")", Group(lock: .takenIn(caller), pid: pid, inferred: true),
                Wait(
                    slice: i, owner: nil, frames: []))
        }
        for (i, wait) in profile.inferredLockWaits {
            let s = model.slices[i]
            let function = String(SliceClassifier.baseName(s.name))
            let pid = model.threads[s.thread].pid
            add(
                "\(pid)/with/\(function)",
                Group(lock: .withBlockIn(function), pid: pid, inferred: true),
                Wait(
                    slice: i, owner: nil, frames: [], duration: wait))
        }
        var busyByThread: [Int: Int64] = [:]
        for t in profile.threads { busyByThread[t.thread] = t.split.busy }
        var waitsByThread: [Int: [LockWait]] = [:]
        for w in model.lockWaits { waitsByThread[model.slices[w.slice].thread, default: []].append(w) }
        var locks: [LockStats] = []
        for key in order {
            let g = groups[key]!
            locks.append(
                stats(
                    for: g, model: model, busy: busyByThread, waitsByThread: waitsByThread, profile: profile,
                    options: options))
        }
        // Most serious first; equal totals (to the microsecond) keep the order they were found in.
        func us(_ ns: Int64) -> Int64 { (ns + 500) / 1000 }
        locks = locks.enumerated().sorted {
            ($0.element.severity, us($0.element.total), -$0.offset)
                > ($1.element.severity, us($1.element.total), -$1.offset)
        }.map(\.element)
        return LockContention(locks: locks, namesInferred: profile.namesInferred)
    }

    static func stats(
        for g: Group, model: TraceModel, busy: [Int: Int64], waitsByThread: [Int: [LockWait]], profile: WorkProfile,
        options: AnalysisOptions
    ) -> LockStats {
        let h = options.heuristics
        func length(_ w: Wait) -> Int64 { w.duration ?? model.slices[w.slice].duration.nanoseconds }
        let durations = g.waits.map(length).sorted()
        let total = durations.reduce(0, +)
        var waiters: Set<Int> = []
        for w in g.waits { waiters.insert(model.slices[w.slice].thread) }
        let waitersBusy = waiters.reduce(Int64(0)) { $0 + (busy[$1] ?? 0) }
        let share = waitersBusy > 0 ? min(1, Double(total) / Double(waitersBusy)) : 0
        // Who held it while others waited.
        var byOwner: [Int: Int64] = [:]
        for w in g.waits {
            if let o = w.owner { byOwner[o, default: 0] += length(w) }
        }
        let topOwner = byOwner.max { ($0.value, $1.key) < ($1.value, $0.key) }
        var evidence: [Evidence] = []
        // Where the waiters were: the most common stack.
        var stacks: [[String]: Int64] = [:]
        for w in g.waits where !w.frames.isEmpty {
            stacks[Array(appFrames(w.frames).prefix(6)), default: 0] += model.slices[w.slice].duration.nanoseconds
        }
        if let (frames, time) = stacks.max(by: { $0.value < $1.value }) {
            evidence.append(Evidence(.waitersStack(waiting: time), stack: frames.map(shortFrame)))
        } else if g.inferred {
            // Foreign traces: the callers' chain of spans is the stack.
            let longest = g.waits.max { length($0) < length($1) }!
            evidence.append(.slice(longest.slice, in: model, .waiterSpans, stack: spanStack(longest.slice, in: model)))
        }
        // The longest waits, with what the holder was doing.
        let longest = g.waits.sorted { length($0) > length($1) }
        for w in longest.prefix(max(1, options.evidenceLimit - 2)) {
            let s = model.slices[w.slice]
            let kind = EvidenceKind.lockWait(
                waiter: model.threads[s.thread].label, waited: length(w),
                holder: w.owner.map { model.threads[$0].label },
                holderDoing: w.owner.flatMap { innermostWork(on: $0, at: s.start, in: model) })
            evidence.append(.slice(w.slice, in: model, kind, stack: appFrames(w.frames).prefix(4).map(shortFrame)))
            // The holder's side: where it released the lock this waiter was waiting for.
            if let o = w.owner,
                let hold = model.lockHolds.first(where: {
                    let h = model.slices[$0.slice]
                    return h.thread == o && LockName.named($0.lock) == g.lock && h.start <= s.end && h.end >= s.start
                        && !$0.frames.isEmpty
                })
            {
                evidence.append(
                    .slice(
                        hold.slice, in: model, .heldUntilHere(holder: model.threads[o].label),
                        stack: appFrames(hold.frames).prefix(4).map(shortFrame)))
            }
        }
        let chain = longestChain(g, waitsByThread: waitsByThread, model: model)
        if let chain { evidence.append(Evidence(.waitForChain(chain))) }
        let window = Double(max(profile.window, 1))
        // Contention is threads queueing for a lock again and again; one slow acquire (say at
        // shutdown) is worth knowing, not a warning.
        let repeated = g.waits.count >= h.contentionWaits
        let severity: Severity =
            repeated
                && (share >= h.contentionShare
                    || (share >= h.contentionShareLow && Double(total) >= h.contentionWindowShare * window))
            ? .warning : total >= h.contentionInfo.nanoseconds ? .info : .ok
        return LockStats(
            lock: g.lock, pid: g.pid, inferred: g.inferred, waits: g.waits.count, waiters: waiters.count,
            total: total, p50: Statistics.percentile(durations, 0.5), p95: Statistics.percentile(durations, 0.95),
            max: durations.last ?? 0, waitersBusyShare: share, topHolder: topOwner.map { model.threads[$0.key].label },
            topHolderShare: topOwner.map { Double($0.value) / Double(max(total, 1)) } ?? 0, chain: chain,
            severity: severity, evidence: evidence)
    }

    /// The frames worth showing: the app's, without compiler thunks and cctrace's own wrappers.
    static func appFrames(_ frames: [String]) -> [String] {
        let kept = frames.filter { !SwiftRuntime.isPlumbingFrame($0) && !SwiftRuntime.isRecorderFrame($0) }
        return kept.isEmpty ? frames : kept
    }

    /// `f + 0x12 (image)` → `f`; `f + 0x12 (image) at a.swift:3` → `f at a.swift:3`.
    static func shortFrame(_ frame: String) -> String {
        let parts = frame.split(separator: " + ", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count > 1 else { return frame }
        // Keep a resolved source line (`… at main.swift:42`).
        let at = parts[1].split(separator: ") at ", maxSplits: 1, omittingEmptySubsequences: false)
        return at.count > 1 ? "\(parts[0]) at \(at[1])" : String(parts[0])
    }

    /// The names of the spans enclosing slice `index`, innermost first.
    static func spanStack(_ index: Int, in model: TraceModel) -> [String] {
        var out: [String] = []
        var i = index
        while i >= 0 && out.count < 12 {
            out.append(String(SliceClassifier.baseName(model.slices[i].name)))
            i = model.slices[i].parent
        }
        return out
    }

    /// The deepest non-lock span on `thread` covering `time`.
    static func innermostWork(on thread: Int, at time: TraceTimestamp, in model: TraceModel) -> String? {
        var best: Slice?
        for s in model.slices(ofThread: thread) where s.start <= time && s.end >= time {
            if s.category == TraceCategory.lock.rawValue { continue }
            if best == nil || s.depth > best!.depth { best = s }
        }
        return best.map(\.name)
    }

    /// The longest wait-for chain: at the moment a waiter began waiting (when the trace
    /// recorded who held the lock), that holder was itself waiting for another lock, whose
    /// holder was waiting too, and so on. Every link is a wait in progress at that one moment,
    /// for a lock other than the one its thread was said to hold (a thread cannot wait for a
    /// lock it holds: such a link comes from an owner recorded at another moment, and waits
    /// that never coexisted are not a chain — a cycle of them is not a deadlock).
    static func longestChain(_ g: Group, waitsByThread: [Int: [LockWait]], model: TraceModel) -> [ChainLink]? {
        var best: [ChainLink] = []
        for w in g.waits {
            guard let first = w.owner, let firstID = w.lockID else { continue }
            let s0 = model.slices[w.slice]
            let at = s0.start
            var links = [
                ChainLink(
                    waiter: model.threads[s0.thread].label, lock: g.lock, holder: model.threads[first].label,
                    slice: w.slice)
            ]
            var current = first
            var held = firstID
            var seen: Set<Int> = [s0.thread]
            while links.count < 5, !seen.contains(current),
                let next = waitsByThread[current]?.first(where: {
                    let s = model.slices[$0.slice]
                    return s.start <= at && s.end >= at && $0.lockID != held
                }), let owner = next.owner
            {
                seen.insert(current)
                links.append(
                    ChainLink(
                        waiter: model.threads[current].label, lock: .named(next.lock),
                        holder: model.threads[owner].label, slice: next.slice))
                current = owner
                held = next.lockID
            }
            if links.count > best.count { best = links }
        }
        return best.count >= 2 ? best : nil
    }
}
