import CCTraceFormat

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
        var frames: [String]
        /// The waiting, when only part of the slice waited (an inferred `with lock:` acquire).
        var duration: Int64?
    }

    struct Group {
        var lock: String
        var pid: Int64
        var inferred: Bool
        var waits: [Wait] = []
    }

    public static func analyze(_ model: TraceModel, profile: WorkProfile, options: AnalysisOptions) -> [Finding] {
        var groups: [String: Group] = [:]
        var order: [String] = []
        func add(_ key: String, _ make: @autoclosure () -> Group, _ wait: Wait) {
            if groups[key] == nil {
                groups[key] = make()
                order.append(key)
            }
            groups[key]!.waits.append(wait)
        }
        for w in model.lockWaits {
            let pid = model.threads[model.slices[w.slice].thread].pid
            add(
                "\(pid)/\(w.lockID)/\(w.lock)", Group(lock: w.lock, pid: pid, inferred: false),
                Wait(
                    slice: w.slice, owner: w.owner, frames: w.frames))
        }
        let minimum: Int64 = 10_000
        for (i, s) in model.slices.enumerated()
        where profile.sliceKinds[i] == .lockWait && s.category != TraceCategory.lock.rawValue
            && (s.parent < 0 || profile.sliceKinds[s.parent] != .lockWait) && s.duration.nanoseconds >= minimum
        {
            let caller = s.parent >= 0 ? String(SliceClassifier.baseName(model.slices[s.parent].name)) : "top level"
            let pid = model.threads[s.thread].pid
            add(
                "\(pid)/inferred/\(caller)", Group(lock: "lock taken in \(caller)", pid: pid, inferred: true),
                Wait(
                    slice: i, owner: nil, frames: []))
        }
        for (i, wait) in profile.inferredLockWaits {
            let s = model.slices[i]
            let function = String(SliceClassifier.baseName(s.name))
            let pid = model.threads[s.thread].pid
            add(
                "\(pid)/with/\(function)",
                Group(lock: "lock entered with `with` in \(function)", pid: pid, inferred: true),
                Wait(
                    slice: i, owner: nil, frames: [], duration: wait))
        }
        guard !order.isEmpty else {
            return [
                Finding(
                    id: id, severity: .ok, summary: "No thread waited for a lock another thread held.",
                    inferred: profile.namesInferred)
            ]
        }
        var busyByThread: [Int: Int64] = [:]
        for t in profile.threads { busyByThread[t.thread] = t.split.busy }
        var findings: [Finding] = []
        for key in order {
            let g = groups[key]!
            findings.append(finding(for: g, model: model, busy: busyByThread, profile: profile, options: options))
        }
        return findings.sorted {
            ($0.severity, $0.metric("total_wait_ms") ?? 0) > ($1.severity, $1.metric("total_wait_ms") ?? 0)
        }
    }

    static func finding(
        for g: Group, model: TraceModel, busy: [Int: Int64], profile: WorkProfile, options: AnalysisOptions
    ) -> Finding {
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
        var sentence =
            "Lock '\(g.lock)' made \(waiters.count) thread\(waiters.count == 1 ? "" : "s") wait \(Text.ms(total)) "
            + "in \(g.waits.count) wait\(g.waits.count == 1 ? "" : "s") (p50 \(Text.ms(Statistics.percentile(durations, 0.5))), "
            + "p95 \(Text.ms(Statistics.percentile(durations, 0.95))), max \(Text.ms(durations.last ?? 0))): "
            + "\(Text.pct(share)) of the waiters' busy time"
        if let (owner, held) = topOwner {
            sentence +=
                "; \(model.threads[owner].label) held it for \(Text.pct(Double(held) / Double(max(total, 1)))) of that"
        }
        sentence += "."
        var evidence: [Evidence] = []
        // Where the waiters were: the most common stack.
        var stacks: [[String]: Int64] = [:]
        for w in g.waits where !w.frames.isEmpty {
            stacks[Array(appFrames(w.frames).prefix(6)), default: 0] += model.slices[w.slice].duration.nanoseconds
        }
        if let (frames, time) = stacks.max(by: { $0.value < $1.value }) {
            evidence.append(
                Evidence("waiters' most common stack (\(Text.ms(time)) of waiting)", stack: frames.map(shortFrame)))
        } else if g.inferred {
            // Foreign traces: the callers' chain of spans is the stack.
            let longest = g.waits.max { length($0) < length($1) }!
            evidence.append(
                Evidence(
                    "the waiter's enclosing spans", slice: longest.slice,
                    stack: spanStack(longest.slice, in: model)))
        }
        // The longest waits, with what the holder was doing.
        let longest = g.waits.sorted { length($0) > length($1) }
        for w in longest.prefix(max(1, options.evidenceLimit - 2)) {
            let s = model.slices[w.slice]
            var text = "\(model.threads[s.thread].label) waited \(Text.ms(length(w)))"
            if let o = w.owner {
                text += " while \(model.threads[o].label) held it"
                if let doing = innermostWork(on: o, at: s.start, in: model) { text += " in \(doing)" }
            }
            evidence.append(.slice(w.slice, in: model, text, stack: appFrames(w.frames).prefix(4).map(shortFrame)))
            // The holder's side: where it released the lock this waiter was waiting for.
            if let o = w.owner,
                let hold = model.lockHolds.first(where: {
                    let h = model.slices[$0.slice]
                    return h.thread == o && $0.lock == g.lock && h.start <= s.end && h.end >= s.start
                        && !$0.frames.isEmpty
                })
            {
                evidence.append(
                    .slice(
                        hold.slice, in: model, "\(model.threads[o].label) held it until here",
                        stack: appFrames(hold.frames).prefix(4).map(shortFrame)))
            }
        }
        if let chain = longestChain(g, model: model) { evidence.append(Evidence(chain)) }
        let window = max(profile.window, 1)
        // Contention is threads queueing for a lock again and again; one slow acquire (say at
        // shutdown) is worth knowing, not a warning.
        let repeated = g.waits.count >= 3
        let severity: Severity =
            repeated && (share >= 0.1 || (share >= 0.05 && Double(total) >= 0.1 * Double(window)))
            ? .warning : total >= 1_000_000 ? .info : .ok
        return Finding(
            id: id, severity: severity, subject: g.lock, summary: sentence, inferred: g.inferred,
            metrics: [
                ("total_wait_ms", Text.millis(total)), ("waits", Double(g.waits.count)),
                ("waiters", Double(waiters.count)), ("p50_ms", Text.millis(Statistics.percentile(durations, 0.5))),
                ("p95_ms", Text.millis(Statistics.percentile(durations, 0.95))),
                ("max_ms", Text.millis(durations.last ?? 0)), ("waiters_busy_share", share),
            ], evidence: evidence)
    }

    /// The frames worth showing: the app's, without compiler thunks and cctrace's own wrappers.
    static func appFrames(_ frames: [String]) -> [String] {
        let kept = frames.filter { f in
            !(f.hasPrefix("partial apply forwarder") || f.hasPrefix("reabstraction thunk")
                || f.hasPrefix("thunk for") || f.hasPrefix("static CCTrace.CCTrace.") || f.hasPrefix("CCTrace.Traced")
                || f.contains("(libCCTrace") || f.hasPrefix("merged ") || f.hasPrefix("0x"))
        }
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
        return best.map { "'\($0.name)'" }
    }

    /// The longest wait-for chain: a waiter whose lock's holder was itself waiting for a lock.
    static func longestChain(_ g: Group, model: TraceModel) -> String? {
        var waitsByThread: [Int: [LockWait]] = [:]
        for w in model.lockWaits { waitsByThread[model.slices[w.slice].thread, default: []].append(w) }
        var best: [String] = []
        for w in g.waits {
            guard let first = w.owner else { continue }
            let at = model.slices[w.slice].start
            var steps = [
                "\(model.threads[model.slices[w.slice].thread].label) waits for '\(g.lock)' held by \(model.threads[first].label)"
            ]
            var current = first
            var seen: Set<Int> = [model.slices[w.slice].thread]
            while steps.count < 5, !seen.contains(current),
                let next = waitsByThread[current]?.first(where: {
                    let s = model.slices[$0.slice]
                    return s.start <= at && s.end >= at
                }), let owner = next.owner
            {
                seen.insert(current)
                steps.append("which waits for '\(next.lock)' held by \(model.threads[owner].label)")
                current = owner
            }
            if steps.count > best.count { best = steps }
        }
        return best.count >= 2 ? "wait-for chain: " + best.joined(separator: ", ") : nil
    }
}
