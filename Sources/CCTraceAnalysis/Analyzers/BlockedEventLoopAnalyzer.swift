import CCTraceFormat

/// One event loop: how long callbacks held it, what they were, and its heartbeat's lag.
public struct LoopStats: Sendable {
    public var name: String
    /// Whether the loop was recognized by shape (asyncio) rather than recorded.
    public var inferred: Bool
    /// Callbacks that reached the slow threshold, and the time they held the loop.
    public var slowCallbacks: Int
    public var blocked: Int64
    /// ``blocked`` ÷ the loop's time (first to last callback).
    public var blockedShare: Double
    public var callbacks: Int
    public var longest: Int64
    /// The offending work, distinct, worst first.
    public var offenders: [String]
    /// The heartbeat's lag percentiles (p50, p99, max), when recorded.
    public var lag: (p50: Int64, p99: Int64, max: Int64)?
    public var severity: Severity
    public var evidence: [Evidence]
}

/// `blocked-event-loop`: what the analyzer found.
public struct LoopBlocking: Sendable {
    /// Per loop, the most serious first.
    public var loops: [LoopStats]
    /// How many loops the trace has, and the threshold used.
    public var loopsFound: Int
    public var slowCallback: Int64
}

/// `blocked-event-loop`: callbacks, ticks and jobs that held a loop for at least the slow
/// threshold, the loop's heartbeat lag, and what the offending work was.
///
/// Loops come from ``LoopView``: cctrace's (`cctrace.loop` callbacks or SwiftNIO ticks, with a
/// `loop lag` heartbeat), a traced task pool (its jobs, judged by the pool's heartbeat), and
/// Python asyncio's `Handle._run` callbacks (the coroutine they step is the offender).
public enum BlockedEventLoopAnalyzer {
    public static let id = "blocked-event-loop"

    public static func analyze(_ model: TraceModel, profile: WorkProfile, options: AnalysisOptions) -> LoopBlocking {
        var loops: [LoopStats] = []
        for loop in profile.loops {
            if let f = analyze(loop, model: model, profile: profile, options: options) { loops.append(f) }
        }
        func us(_ ns: Int64) -> Int64 { (ns + 500) / 1000 }
        loops = loops.enumerated().sorted {
            ($0.element.severity, us($0.element.blocked), -$0.offset)
                > ($1.element.severity, us($1.element.blocked), -$1.offset)
        }.map(\.element)
        return LoopBlocking(
            loops: loops, loopsFound: profile.loops.count, slowCallback: options.heuristics.slowCallback.nanoseconds)
    }

    static func analyze(_ loop: LoopView, model: TraceModel, profile: WorkProfile, options: AnalysisOptions)
        -> LoopStats?
    {
        let h = options.heuristics
        let slow = h.slowCallback.nanoseconds
        var callbacks = loop.callbacks
        if loop.source == .pool {
            // A task pool: its jobs are the callbacks.
            callbacks = model.slices.indices.filter {
                model.slices[$0].category == TraceCategory.task.rawValue
                    && model.threads[model.slices[$0].thread].pid == loop.pid
            }
        }
        let lag =
            loop.lagCounter.map { model.counters[$0].points.map { Self.nanoseconds(milliseconds: $0.1) }.sorted() }
            ?? []
        let maxLag = lag.last ?? 0
        var offending = callbacks.filter { model.slices[$0].duration.nanoseconds >= slow }
        // Work that ran on the loop's thread outside any recorded callback (a tick whose timing
        // did not nest with the handler's span, say) blocked the loop just the same.
        if loop.thread >= 0 && loop.source == .cctrace {
            let known = Set(callbacks)
            var covered: [(Int64, Int64)] = callbacks.map {
                (model.slices[$0].start.nanoseconds, model.slices[$0].end.nanoseconds)
            }
            covered.sort { $0.0 < $1.0 }
            for i in model.threads[loop.thread].sliceRange {
                let s = model.slices[i]
                guard s.depth == 0, !known.contains(i), s.duration.nanoseconds >= slow,
                    s.category != TraceCategory.loop.rawValue
                else { continue }
                let inside = covered.contains { $0.0 <= s.start.nanoseconds && $0.1 >= s.end.nanoseconds }
                if !inside { offending.append(i) }
            }
        }
        offending.sort { model.slices[$0].duration > model.slices[$1].duration }
        // A pool's long jobs matter only when its heartbeat shows other work waited.
        if loop.source == .pool && maxLag < slow { return nil }
        if callbacks.isEmpty && lag.isEmpty { return nil }
        let blocked = offending.reduce(Int64(0)) { $0 + model.slices[$1].duration.nanoseconds }
        var first = Int64.max
        var last = Int64.min
        var longest: Int64 = 0
        for c in callbacks {
            let s = model.slices[c]
            first = min(first, s.start.nanoseconds)
            last = max(last, s.end.nanoseconds)
            longest = max(longest, s.duration.nanoseconds)
        }
        if loop.source == .polling && loop.thread >= 0 {
            // Seen from outside, only the long iterations are callbacks: the loop's time is
            // its thread's.
            for i in model.threads[loop.thread].sliceRange {
                first = min(first, model.slices[i].start.nanoseconds)
                last = max(last, model.slices[i].end.nanoseconds)
            }
        }
        let span = last > first ? last - first : max(profile.window, 1)
        let share = Double(blocked) / Double(span)

        // Name the offenders (distinct), with whether they computed or blocked.
        var names: [String] = []
        var evidence: [Evidence] = []
        for c in offending {
            // A tick (or job, or asyncio iteration) may run several slow handlers back to back:
            // name each child that took a quarter of the threshold or more.
            var parts: [Int] = []
            let isHandler = loop.source == .cctrace && model.slices[c].name != TraceVocabulary.Event.tick.string
            if !isHandler {
                let s = model.slices[c]
                var i = c + 1
                let range = model.threads[s.thread].sliceRange
                while i < range.upperBound, model.slices[i].depth > s.depth {
                    if model.slices[i].parent == c
                        && Double(model.slices[i].duration.nanoseconds) >= h.slowCallbackPart * Double(slow)
                    {
                        parts.append(i)
                    }
                    i += 1
                }
            }
            // An iteration seen from outside: the blocking calls inside it are parts, and so is
            // the loop's own code between them when it took a quarter of the threshold.
            if Self.isIteration(c, model) {
                let inner = parts.reduce(Int64(0)) { $0 + model.slices[$1].duration.nanoseconds }
                if Double(model.slices[c].duration.nanoseconds - inner) >= h.slowCallbackPart * Double(slow) {
                    parts.append(c)
                }
            }
            if parts.isEmpty { parts = [c] }
            // asyncio tasks drawn on rows of their own: the step that ran in this callback is
            // on its task's row — the coroutine that held the loop is named from there.
            if loop.source == .asyncio, let step = Self.taskStep(during: c, model: model, profile: profile) {
                parts = [step]
            }
            for part in parts {
                let (name, stack) = offender(part, loop: loop, model: model, root: c)
                let kind = nature(of: part, model: model, profile: profile, heuristics: h)
                if !names.contains(name) { names.append(name) }
                guard evidence.count < options.evidenceLimit else { continue }
                let taskArg = model.slices[c].args.flatMap({ model.arguments.value($0) })?[
                    TraceVocabulary.Arg.taskID.string]
                let task =
                    taskArg.map { $0.stringValue ?? $0.intValue.map { String($0) } ?? "?" }
                    ?? (profile.classification.taskRows.contains(model.slices[part].thread)
                        ? model.threads[model.slices[part].thread].name : nil)
                // Where the loop was while stuck: the stacks sampled on its thread meanwhile.
                let p = model.slices[part]
                let hot = HotStacks.sampled(on: p.thread, from: p.start, to: p.end, in: model).first
                let what = EvidenceKind.blockedLoop(
                    offender: name, held: p.duration.nanoseconds, nature: kind, task: task,
                    sampledCount: hot?.count ?? 0, sampledIn: hot?.frames.prefix(2).map(Self.functionName) ?? [])
                evidence.append(.slice(part, in: model, what, stack: hot?.frames ?? stack))
            }
        }
        let part = Int64(h.slowCallbackPart * Double(slow))
        let severity: Severity =
            !offending.isEmpty || maxLag >= slow ? .warning : (longest >= part || maxLag >= part) ? .info : .ok
        return LoopStats(
            name: loop.name, inferred: loop.source == .asyncio, slowCallbacks: offending.count, blocked: blocked,
            blockedShare: share, callbacks: callbacks.count, longest: longest, offenders: names,
            lag: lag.isEmpty
                ? nil : (Statistics.percentile(lag, 0.5), Statistics.percentile(lag, 0.99), maxLag),
            severity: severity, evidence: evidence)
    }

    /// The offending work of a callback: its own name for cctrace callbacks; for ticks, jobs and
    /// asyncio handles, the first descendant along the longest-child chain that is not the
    /// framework's plumbing. Returns the name and the chain (innermost first) as a stack.
    /// The top-level span of a task row (``SliceClassification/taskRows``) that ran during most
    /// of `callback`: the task step the callback ran.
    static func taskStep(during callback: Int, model: TraceModel, profile: WorkProfile) -> Int? {
        let rows = profile.classification.taskRows
        guard !rows.isEmpty else { return nil }
        let c = model.slices[callback]
        let pid = model.threads[c.thread].pid
        var best: (slice: Int, overlap: Int64)?
        for r in rows where model.threads[r].pid == pid {
            for k in model.threads[r].sliceRange where model.slices[k].depth == 0 {
                let s = model.slices[k]
                let overlap = min(s.end.nanoseconds, c.end.nanoseconds) - max(s.start.nanoseconds, c.start.nanoseconds)
                if overlap > (best?.overlap ?? 0) { best = (k, overlap) }
            }
        }
        guard let b = best, b.overlap * 2 >= c.duration.nanoseconds else { return nil }
        return b.slice
    }

    /// Whether `slice` is a loop iteration the preload shim recorded.
    static func isIteration(_ slice: Int, _ model: TraceModel) -> Bool {
        let s = model.slices[slice]
        return s.category == TraceCategory.preload.rawValue && s.name == TraceVocabulary.Event.loopIteration.string
    }

    /// The CPU time the shim measured in an iteration (`cpu_ms`), if it did.
    static func iterationCPU(_ slice: Int, _ model: TraceModel) -> Int64? {
        guard isIteration(slice, model),
            let ms = model.slices[slice].args.flatMap({ model.arguments.value($0) })?[
                TraceVocabulary.Arg.cpuMs.string]?.doubleValue, ms.isFinite, ms >= 0
        else { return nil }
        return Int64(min(ms, 86_400_000) * 1e6)
    }

    static func offender(_ callback: Int, loop: LoopView, model: TraceModel, root: Int) -> (String, [String]) {
        if loop.source == .polling {
            // Seen from outside: the loop's own code, or the call that blocked it.
            if isIteration(callback, model) { return ("the loop's own code between two polls", []) }
            return ("\(model.slices[callback].name)()", [])
        }
        var chain: [Int] = [callback]
        var current = callback
        let threadSlices = model.threads[model.slices[callback].thread].sliceRange
        while chain.count < 32 {
            let parent = model.slices[current]
            var best: Int?
            var i = current + 1
            while i < threadSlices.upperBound, model.slices[i].depth > parent.depth {
                if model.slices[i].parent == current,
                    best == nil || model.slices[i].duration > model.slices[best!].duration
                {
                    best = i
                }
                i += 1
            }
            guard let next = best else { break }
            chain.append(next)
            current = next
        }
        let names = chain.map { String(SliceClassifier.baseName(model.slices[$0].name)) }
        let stack = Array(names.reversed().prefix(12))
        if loop.source == .cctrace && model.slices[callback].name != TraceVocabulary.Event.tick.string {
            return (model.slices[callback].name, stack)
        }
        for i in chain.dropFirst() where !CPython.isLoopPlumbing(model.slices[i].name) {
            return (String(SliceClassifier.baseName(model.slices[i].name)), stack)
        }
        return (model.slices[callback].name, stack)
    }

    /// A lag in milliseconds (any number a file holds) as nanoseconds, clamped to 0…1 day.
    static func nanoseconds(milliseconds: Double) -> Int64 {
        guard milliseconds.isFinite, milliseconds > 0 else { return 0 }
        return Int64(min(milliseconds, 86_400_000) * 1e6)
    }

    /// `Module.f(x: Int) -> Int` → `Module.f(x:)`-like short form: the name up to its
    /// parameter list.
    static func functionName(_ frame: String) -> String {
        guard let paren = frame.firstIndex(of: "("), paren > frame.startIndex else { return frame }
        var name = String(frame[..<paren])
        if name.hasPrefix("closure #") || name.hasSuffix(" ") { return String(frame.prefix(60)) }
        name += "()"
        return name
    }

    /// CPU work or a blocking wait, from the thread's CPU accounting or the kinds of its
    /// descendants.
    static func nature(of callback: Int, model: TraceModel, profile: WorkProfile, heuristics h: Heuristics)
        -> WorkNature
    {
        let s = model.slices[callback]
        if let cpu = iterationCPU(callback, model) {
            // The iteration's CPU over its own time: the blocking calls inside it were off CPU.
            var own = s.duration.nanoseconds
            var i = callback + 1
            let range = model.threads[s.thread].sliceRange
            while i < range.upperBound, model.slices[i].depth > s.depth {
                if model.slices[i].parent == callback { own -= model.slices[i].duration.nanoseconds }
                i += 1
            }
            let share = Double(cpu) / Double(max(own, 1))
            return share >= h.cpuWorkShare ? .cpu(share: min(share, 1)) : .blocking(share: min(share, 1))
        }
        if let cpu = model.threads[s.thread].cpu, !cpu.samples.isEmpty {
            let usage = cpu.usage(in: s.start...s.end)
            let share =
                Double(usage.running.nanoseconds + usage.runnable.nanoseconds) / Double(max(s.duration.nanoseconds, 1))
            return share >= h.cpuWorkShare ? .cpu(share: min(share, 1)) : .blocking(share: min(share, 1))
        }
        var waiting: Int64 = 0
        let range = model.threads[s.thread].sliceRange
        var i = callback + 1
        while i < range.upperBound, model.slices[i].start < s.end {
            let k = profile.sliceKinds[i]
            if k == .ioWait || k == .lockWait || k == .resultWait {
                waiting += model.slices[i].selfDuration.nanoseconds
            }
            i += 1
        }
        return Double(waiting) >= (1 - h.cpuWorkShare) * Double(s.duration.nanoseconds)
            ? .blockingInferred : .cpuInferred
    }
}
