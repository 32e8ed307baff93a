import CCTraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// A concurrency model: how a program spreads its work.
public enum ConcurrencyModel: String, Sendable, CaseIterable {
    /// A pool of processes (no shared memory; data moves by IPC).
    case processes
    /// Several threads in one process.
    case threads
    /// One event loop (or a few) multiplexing many concurrent waits.
    case async
    /// An event loop in front with blocking or CPU work offloaded to a thread or process pool.
    case hybrid
    /// One thread of control.
    case sequential
}

/// The language of the traced program, when the trace tells (it shapes the advice: CPython's
/// threads share one interpreter lock, Swift's do not).
public enum SourceLanguage: String, Sendable {
    case swift, python, unknown
}

/// Wall time split by what it was spent on, in nanoseconds.
public struct TimeSplit: Sendable, Equatable {
    public var running: Int64 = 0
    public var runnable: Int64 = 0
    public var lockWait: Int64 = 0
    public var ioWait: Int64 = 0
    public var ipc: Int64 = 0
    public var idle: Int64 = 0

    public init() {}

    /// Time not idle.
    public var busy: Int64 { running + runnable + lockWait + ioWait + ipc }
    /// All of it.
    public var total: Int64 { busy + idle }
    /// Share of the non-idle, non-lock time that wanted a CPU (running or runnable): how
    /// CPU-bound the work itself is, whatever the current model makes it wait for.
    public var cpuShare: Double {
        let demand = running + runnable + ioWait + ipc
        return demand > 0 ? Double(running + runnable) / Double(demand) : 0
    }

    static func + (a: TimeSplit, b: TimeSplit) -> TimeSplit {
        var r = a
        r.running += b.running
        r.runnable += b.runnable
        r.lockWait += b.lockWait
        r.ioWait += b.ioWait
        r.ipc += b.ipc
        r.idle += b.idle
        return r
    }
}

/// What one thread did over its life.
public struct ThreadWork: Sendable {
    /// Index into ``TraceModel/threads``.
    public var thread: Int
    public var pid: Int64
    public var tid: Int64
    /// A label for reports.
    public var label: String
    /// First and last moment the trace shows the thread.
    public var start: TraceTimestamp
    public var end: TraceTimestamp
    /// The split of its life.
    public var split: TimeSplit
    /// Whether running/runnable were measured (scheduler statistics) rather than inferred from
    /// span time.
    public var cpuMeasured: Bool
    /// Whether any wait was recognized by name rather than by cctrace's categories.
    public var namesInferred: Bool
    /// Top-level spans, and how many distinct names they have.
    public var topLevelSpans: Int
    public var distinctTopLevelNames: Int
    /// The longest top-level span, and their mean length.
    public var longestTopLevel: Int64
    public var meanUnit: Int64
    /// IPC time spent serializing/deserializing (CPU) and transferring.
    public var ipcSerde: Int64
    public var ipcTransfer: Int64

    /// Life in nanoseconds.
    public var life: Int64 { end.nanoseconds - start.nanoseconds }
}

/// Operations in flight at once: threads blocked in I/O, suspended tasks, open async spans.
public struct WaitConcurrency: Sendable {
    /// What was counted.
    public var source: String
    /// How many waits were seen.
    public var count: Int
    /// The most in flight at one moment.
    public var maxInFlight: Int
    /// The time-weighted mean in flight over the work window.
    public var meanInFlight: Double
    /// Wait latency percentiles, nanoseconds.
    public var p50: Int64
    public var p95: Int64
    /// Whether it was inferred from names/shapes.
    public var inferred: Bool
}

/// The work classification of a whole trace: per-thread splits, their sum, parallelism, waits
/// in flight, the critical path and the concurrency model the program uses now. Every analyzer
/// and the recommender read it.
public struct WorkProfile: Sendable {
    /// Threads that did anything, busiest first (cctrace's own writer thread excluded).
    public var threads: [ThreadWork]
    /// Sum over ``threads``.
    public var threadTotal: TimeSplit
    /// Processes left out as launchers (they ran before or after the program's work).
    public var launcherProcesses: Int
    /// Time traced tasks spent suspended (alive but not running on a thread), nanoseconds.
    public var suspendedTaskTime: Int64
    /// The whole program's units of work: ``threadTotal``, with suspended task time as waiting.
    public var total: TimeSplit {
        var t = threadTotal
        t.ioWait += suspendedTaskTime
        return t
    }
    /// Threads whose non-idle time is at least 10 % of the window.
    public var workers: [ThreadWork]
    /// Processes with at least one worker.
    public var workerProcesses: [Int64]
    /// From the first top-level span to the last (the trace's bounds when there are none).
    public var windowStart: TraceTimestamp
    public var window: Int64
    /// Cores of the machine that recorded the trace, and whether the trace said so.
    public var cores: Int
    public var coresKnown: Bool
    /// Mean number of threads on a CPU at once over the window.
    public var parallelism: Double
    /// Whether CPU figures were measured for the busy threads.
    public var cpuMeasured: Bool
    /// Whether any figure came from names of calls rather than cctrace's categories.
    public var namesInferred: Bool
    /// Waits in flight (the largest source).
    public var waits: WaitConcurrency?
    /// What no model can shorten, estimated, and its share of the window.
    public var criticalPath: Int64
    public var criticalPathShare: Double
    /// Whether the busy thread's top-level work is one dependent chain (one span, or distinct
    /// steps) rather than repeated independent items.
    public var chainLike: Bool
    /// Tasks (cctrace task lives) and the most alive at once.
    public var taskCount: Int
    public var maxTasksInFlight: Int
    /// Event loops found (cctrace's and recognized other shapes).
    public var loops: [LoopView]
    /// The program's language, when the trace tells.
    public var language: SourceLanguage
    /// The model the program uses now, and a phrase describing it.
    public var currentModel: ConcurrencyModel
    public var currentModelDetail: String
    /// Lock waits inferred inside slices (Python's untraced `with lock:` acquire): the slice and
    /// the waiting at its start, nanoseconds.
    public var inferredLockWaits: [(slice: Int, wait: Int64)]
    /// When IPC messages arrived, per receiving thread (sorted): a receive counts as transfer
    /// only from its message's arrival.
    public var ipcArrivals: [Int: [Int64]]
    /// Per-slice effective kind (`nil` = work), indexed like ``TraceModel/slices``.
    public var sliceKinds: [SliceKind?]

    /// Share of the busy time spent in each category.
    public var cpuShare: Double { total.cpuShare }

    /// Classifies `model`.
    public init(model: TraceModel) {
        let slices = model.slices
        var kinds = [SliceKind?](repeating: nil, count: slices.count)
        var childCount = [Int32](repeating: 0, count: slices.count)
        // Where each slice's first child starts, and which slices leave a lock with `with`
        // (a `lock.__exit__` child): Python's `with lock:` enters the lock without a traced call.
        var firstChild = [Int64](repeating: Int64.max, count: slices.count)
        var withLock = [Bool](repeating: false, count: slices.count)
        for s in slices where s.parent >= 0 {
            childCount[s.parent] += 1
            firstChild[s.parent] = min(firstChild[s.parent], s.start.nanoseconds)
            if s.name.hasSuffix("lock.__exit__") || s.name.hasSuffix("RLock.__exit__") { withLock[s.parent] = true }
        }
        var gaps: [(slice: Int, wait: Int64)] = []

        // Where each IPC message arrived (cctrace's receive slices split at the arrival).
        var arrivals: [Int: [Int64]] = [:]
        for f in model.flows where f.category == TraceCategory.ipc.rawValue {
            arrivals[f.to.thread, default: []].append(f.to.timestamp.nanoseconds)
        }
        for k in arrivals.keys { arrivals[k]!.sort() }

        var threadWork: [ThreadWork] = []
        var anyInferred = false
        for (index, thread) in model.threads.enumerated() {
            if let name = thread.name, name.hasPrefix("cctrace-writer") { continue }
            let range = thread.sliceRange
            var split = TimeSplit()
            var work: Int64 = 0
            var resultWait: Int64 = 0
            var covered: Int64 = 0
            var serde: Int64 = 0
            var transfer: Int64 = 0
            var inferred = false
            var start = Int64.max
            var end = Int64.min
            var ipcRoot: [Int: Int] = [:]  // slice → outermost IPC slice
            var waitLeafTaken: Set<Int> = []
            let threadArrivals = arrivals[index] ?? []
            for i in range {
                let s = slices[i]
                start = min(start, s.start.nanoseconds)
                end = max(end, s.end.nanoseconds)
                if s.depth == 0 { covered += s.duration.nanoseconds }
                let own = SliceClassifier.classify(name: s.name, category: s.category)
                let parentKind: SliceKind? = s.parent >= 0 ? kinds[s.parent] : nil
                var kind: SliceKind?
                if let p = parentKind {
                    if own?.kind == .ipc && p != .ipc {
                        kind = .ipc
                        ipcRoot[i] = i
                    } else if p == .ipc, let root = ipcRoot[s.parent] {
                        ipcRoot[i] = root
                        // A foreign receive's first read is the wait for the message to arrive.
                        if childCount[i] == 0, !waitLeafTaken.contains(root),
                            SliceClassifier.kind(ofCall: s.name) == .ioWait,
                            SliceClassifier.ipcStep(name: slices[root].name) == .receive
                        {
                            waitLeafTaken.insert(root)
                            kind = .resultWait
                        } else {
                            kind = .ipc
                        }
                    } else {
                        kind = p
                    }
                } else {
                    kind = own?.kind
                    if kind == .ipc { ipcRoot[i] = i }
                }
                if let own, own.inferred, kind == own.kind { inferred = true }
                kinds[i] = kind
                var selfTime = s.selfDuration.nanoseconds
                switch kind {
                case nil, .work?:
                    if childCount[i] > 0, selfTime > 1_000_000, selfTime * 2 > s.duration.nanoseconds,
                        s.name.contains("/lib/python")
                    {
                        // Long gaps between a Python library function's calls are a call the
                        // tracer did not see (a C function called from C, e.g. a queue `get`
                        // behind `iter()`): waiting, not work.
                        resultWait += selfTime
                        inferred = true
                    } else if withLock[i], kind == nil, firstChild[i] != Int64.max,
                        firstChild[i] - s.start.nanoseconds >= 10_000
                    {
                        // The stretch before the first traced call of a `with lock:` block is
                        // the (untraced) acquire.
                        let wait = min(selfTime, firstChild[i] - s.start.nanoseconds)
                        split.lockWait += wait
                        work += selfTime - wait
                        gaps.append((i, wait))
                        inferred = true
                    } else {
                        work += selfTime
                    }
                case .lockWait?:
                    split.lockWait += selfTime
                case .ioWait?:
                    split.ioWait += selfTime
                case .resultWait?:
                    resultWait += selfTime
                case .ipc?:
                    let root = ipcRoot[i] ?? i
                    let step = SliceClassifier.ipcStep(name: slices[root].name)
                    if step == .receive, s.category == TraceCategory.ipc.rawValue, childCount[i] == 0 {
                        // cctrace's receive: waiting until the message arrived is idle.
                        if let arrival = Self.first(
                            in: threadArrivals, from: s.start.nanoseconds, to: s.end.nanoseconds)
                        {
                            let waited = arrival - s.start.nanoseconds
                            resultWait += waited
                            selfTime -= waited
                        }
                    }
                    split.ipc += selfTime
                    if step == .serialize || step == .deserialize { serde += selfTime } else { transfer += selfTime }
                }
            }
            var measured = false
            let spanStart = start
            let spanEnd = end
            if let cpu = thread.cpu, let first = cpu.samples.first, let last = cpu.samples.last {
                start = min(start, first.start.nanoseconds)
                end = max(end, last.end.nanoseconds)
            }
            guard start < end else { continue }
            let life = end - start
            if let cpu = thread.cpu, let first = cpu.samples.first, let last = cpu.samples.last {
                measured = true
                let usage = cpu.usage(
                    in: TraceTimestamp(nanoseconds: start)...TraceTimestamp(nanoseconds: end))
                var running = Double(usage.running.nanoseconds)
                var runnable = Double(usage.runnable.nanoseconds)
                // The sampler reads every ~20 ms: spans before the thread's first reading or after
                // its last (it exited in between) ran at the rates of the nearest reading.
                if spanStart < first.start.nanoseconds {
                    let gap = Double(first.start.nanoseconds - spanStart)
                    running += gap * first.running
                    runnable += gap * first.runnable
                }
                if spanEnd > last.end.nanoseconds {
                    let gap = Double(spanEnd - last.end.nanoseconds)
                    running += gap * last.running
                    runnable += gap * last.runnable
                }
                // IPC time is IPC, whether it copied (CPU) or waited for the other side.
                split.running = max(0, Int64(running) - serde - transfer)
                split.runnable = min(Int64(runnable), life)
                split.ioWait += max(0, work - split.running - split.runnable)
                var idle = life - split.busy
                if idle < 0 {
                    split.ioWait = max(0, split.ioWait + idle)
                    idle = life - split.busy
                    if idle < 0 {
                        split.running = max(0, split.running + idle)
                        idle = max(0, life - split.busy)
                    }
                }
                split.idle = idle
            } else {
                split.running = work
                split.idle = max(0, resultWait + (life - covered))
            }
            anyInferred = anyInferred || inferred
            let units = Self.units(of: range, slices: slices, childCount: childCount)
            threadWork.append(
                ThreadWork(
                    thread: index, pid: thread.pid, tid: thread.tid,
                    label: model.processes.count > 1
                        ? thread.name.map { "\($0) (\(thread.pid)/\(thread.tid))" }
                            ?? "tid \(thread.tid) (pid \(thread.pid))"
                        : thread.label,
                    start: TraceTimestamp(nanoseconds: start), end: TraceTimestamp(nanoseconds: end), split: split,
                    cpuMeasured: measured, namesInferred: inferred, topLevelSpans: units.count,
                    distinctTopLevelNames: units.distinct, longestTopLevel: units.longest, meanUnit: units.mean,
                    ipcSerde: serde,
                    ipcTransfer: transfer))
        }
        threadWork.sort { ($0.split.busy, $0.tid) > ($1.split.busy, $1.tid) }
        // Launchers — shell wrappers and shims that ran before the program (python3 behind
        // pyenv, say) and were gone before its work — are not part of the work: keep the
        // processes that lived at least half their life alongside the busiest one.
        var span: [Int64: (lo: Int64, hi: Int64, busy: Int64)] = [:]
        for t in threadWork {
            var e = span[t.pid] ?? (Int64.max, Int64.min, 0)
            e.lo = min(e.lo, t.start.nanoseconds)
            e.hi = max(e.hi, t.end.nanoseconds)
            e.busy += t.split.busy
            span[t.pid] = e
        }
        if span.count > 1, let main = span.max(by: { ($0.value.busy, $1.key) < ($1.value.busy, $0.key) }) {
            let keep = Set(
                span.filter { pid, e in
                    let overlap = min(e.hi, main.value.hi) - max(e.lo, main.value.lo)
                    return pid == main.key || overlap * 2 >= e.hi - e.lo
                }.keys)
            launcherProcesses = span.count - keep.count
            threadWork = threadWork.filter { keep.contains($0.pid) }
        } else {
            launcherProcesses = 0
        }
        threads = threadWork
        threadTotal = threadWork.reduce(TimeSplit()) { $0 + $1.split }
        sliceKinds = kinds
        ipcArrivals = arrivals
        inferredLockWaits = gaps
        namesInferred = anyInferred

        // The work window: first to last top-level span that is not a wait for results.
        var lo = Int64.max
        var hi = Int64.min
        for (i, s) in slices.enumerated() where s.depth == 0 && kinds[i] != .resultWait {
            if let name = model.threads[s.thread].name, name.hasPrefix("cctrace-writer") { continue }
            lo = min(lo, s.start.nanoseconds)
            hi = max(hi, s.end.nanoseconds)
        }
        if lo >= hi {
            lo = model.bounds.lowerBound.nanoseconds
            hi = max(model.bounds.upperBound.nanoseconds, lo + 1)
        }
        windowStart = TraceTimestamp(nanoseconds: lo)
        window = hi - lo

        if let c = model.session["cores"]?.intValue, c > 0 {
            cores = Int(c)
            coresKnown = true
        } else {
            cores = 0
            coresKnown = false
        }
        let threshold = window / 10
        workers = threadWork.filter { $0.split.busy >= max(threshold, 1) }
        // Processes doing work: a worker thread, or busy threads adding up to 2 % of the window
        // (a pool's processes may each do little).
        var busyByPid: [Int64: Int64] = [:]
        for t in threadWork { busyByPid[t.pid, default: 0] += t.split.busy - t.split.lockWait }
        var pids = Set(workers.map(\.pid))
        for (pid, busy) in busyByPid where busy >= max(window / 50, 1) { pids.insert(pid) }
        workerProcesses = pids.sorted()
        cpuMeasured = !workers.isEmpty && workers.allSatisfy(\.cpuMeasured)
        parallelism = window > 0 ? Double(threadTotal.running) / Double(window) : 0

        language = Self.language(of: model)
        loops = LoopView.find(in: model)

        // Tasks and waits in flight.
        let tasks = model.asyncSlices.filter { $0.depth == 0 && $0.category == TraceCategory.task.rawValue }
        taskCount = tasks.count
        // A task's life minus its runs on threads is time it was suspended: awaiting something
        // (I/O, a timer, another task) — counted as waiting, inferred.
        var taskLives: Int64 = 0
        for t in tasks { taskLives += t.duration.nanoseconds }
        var taskRuns: Int64 = 0
        for s in slices where s.category == TraceCategory.task.rawValue && s.depth == 0 {
            taskRuns += s.duration.nanoseconds
        }
        suspendedTaskTime = max(0, taskLives - taskRuns)
        maxTasksInFlight = Self.concurrency(tasks.map { ($0.start.nanoseconds, $0.end.nanoseconds) }, window: 1).max
        var candidates: [WaitConcurrency] = []
        var ioIntervals: [(Int64, Int64)] = []
        for (i, s) in slices.enumerated() where kinds[i] == .ioWait && (s.parent < 0 || kinds[s.parent] != .ioWait) {
            ioIntervals.append((s.start.nanoseconds, s.end.nanoseconds))
        }
        if !ioIntervals.isEmpty {
            candidates.append(Self.waits(ioIntervals, source: "threads blocked in I/O", window: window, inferred: true))
        }
        if !tasks.isEmpty {
            candidates.append(
                Self.waits(
                    tasks.map { ($0.start.nanoseconds, $0.end.nanoseconds) }, source: "tasks alive", window: window,
                    inferred: false))
        }
        let other = model.asyncSlices.filter { $0.depth == 0 && $0.category != TraceCategory.task.rawValue }
        if !other.isEmpty {
            candidates.append(
                Self.waits(
                    other.map { ($0.start.nanoseconds, $0.end.nanoseconds) }, source: "async operations",
                    window: window, inferred: true))
        }
        for loop in loops where loop.readyBurst > 0 {
            candidates.append(
                WaitConcurrency(
                    source: "callbacks made ready at once on \(loop.name)", count: loop.callbacks.count,
                    maxInFlight: loop.readyBurst, meanInFlight: Double(loop.readyBurst), p50: 0, p95: 0,
                    inferred: true))
        }
        waits = candidates.max { $0.maxInFlight < $1.maxInFlight }

        // The critical path: the longest thread demand (its CPU — running or queued for a core,
        // which another machine's load causes — I/O and IPC; not waits for locks others hold);
        // for repeated independent items, the longest item.
        var path: Int64 = 0
        var chain = false
        for w in workers {
            let demand = w.split.running + w.split.runnable + w.split.ioWait + w.split.ipc
            // Repeated items worth a task each (at least 200 µs on average) are independent work;
            // distinct steps, or one span, are a chain.
            let repeated =
                w.topLevelSpans >= 4 && w.distinctTopLevelNames * 2 <= w.topLevelSpans && w.meanUnit >= 200_000
            let length = repeated ? min(w.longestTopLevel, demand) : demand
            if length > path {
                path = length
                chain = !repeated
            }
        }
        criticalPath = path
        criticalPathShare = window > 0 ? min(1, Double(path) / Double(window)) : 0
        chainLike = chain

        // The model in use now.
        if suspendedTaskTime > 0 { namesInferred = true }
        let realLoops = loops.filter { $0.source != .pool }
        let loopThreads = Set(realLoops.map(\.thread))
        let nonLoopWorkers = workers.filter { !loopThreads.contains($0.thread) }
        let mainPid = model.processes.first?.pid
        if !realLoops.isEmpty || maxTasksInFlight >= 8 {
            let offload = nonLoopWorkers.filter { !$0.label.hasPrefix("cctrace-pool") }
            if (offload.count >= 1 && !realLoops.isEmpty) || workerProcesses.count >= 2 {
                currentModel = .hybrid
                currentModelDetail = "an event loop with work on \(offload.count) other thread(s)"
            } else {
                currentModel = .async
                currentModelDetail =
                    (realLoops.isEmpty ? "" : "event loop \(realLoops.map(\.name).prefix(3).joined(separator: ", "))")
                    + (realLoops.isEmpty || taskCount == 0 ? "" : ", ")
                    + (taskCount > 0 ? "\(taskCount) tasks (up to \(maxTasksInFlight) at once)" : "")
            }
        } else if workerProcesses.count >= 2 {
            currentModel = .processes
            let children = workerProcesses.filter { $0 != mainPid }.count
            currentModelDetail = "\(workerProcesses.count) processes (\(children) child process(es) doing work)"
        } else if workers.count >= 2 {
            currentModel = .threads
            currentModelDetail = "\(workers.count) threads doing work"
        } else {
            currentModel = .sequential
            currentModelDetail = workers.first.map { "one thread (\($0.label))" } ?? "no busy thread"
        }
        if !coresKnown {
            // Assume this machine's: parallelism inferred from wall-time spans can exceed the
            // cores (spans also cover waiting, e.g. for CPython's GIL), so it proves nothing.
            cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        }
    }

    /// The units of work of a thread: its top-level spans — or, while one span holds 90 % of
    /// a level's time, that span's children (a Python trace nests everything under
    /// `<module>`). Generator resumes (`<genexpr>`) are not units.
    static func units(of range: Range<Int>, slices: [Slice], childCount: [Int32])
        -> (count: Int, distinct: Int, longest: Int64, mean: Int64)
    {
        var level = 0
        var parent = -1
        while true {
            var count = 0
            var largest = -1
            var covered: Int64 = 0
            var distinct: Set<String> = []
            var longest: Int64 = 0
            for i in range where slices[i].depth == level && (parent < 0 || slices[i].parent == parent) {
                let d = slices[i].duration.nanoseconds
                covered += d
                if largest < 0 || d > slices[largest].duration.nanoseconds { largest = i }
                if slices[i].name.hasPrefix("<genexpr>") { continue }
                count += 1
                longest = max(longest, d)
                if distinct.count < 64 { distinct.insert(String(SliceClassifier.baseName(slices[i].name))) }
            }
            if largest >= 0, childCount[largest] > 0, level < 32,
                slices[largest].duration.nanoseconds * 10 >= covered * 9
            {
                // Descend only when the children cover most of the dominant span.
                var childTime: Int64 = 0
                for j in range where slices[j].parent == largest { childTime += slices[j].duration.nanoseconds }
                if childTime * 2 >= slices[largest].duration.nanoseconds {
                    level += 1
                    parent = largest
                    continue
                }
            }
            return (count, distinct.count, longest, count > 0 ? covered / Int64(count) : 0)
        }
    }

    static func first(in sorted: [Int64], from: Int64, to: Int64) -> Int64? {
        var lo = 0
        var hi = sorted.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if sorted[mid] < from { lo = mid + 1 } else { hi = mid }
        }
        return lo < sorted.count && sorted[lo] <= to ? sorted[lo] : nil
    }

    /// Most intervals open at once, and the time-weighted mean over `window`.
    static func concurrency(_ intervals: [(Int64, Int64)], window: Int64) -> (max: Int, mean: Double) {
        var edges: [(Int64, Int)] = []
        edges.reserveCapacity(intervals.count * 2)
        var area: Double = 0
        for (a, b) in intervals where b >= a {
            edges.append((a, 1))
            edges.append((b, -1))
            area += Double(b - a)
        }
        edges.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        var current = 0
        var best = 0
        for e in edges {
            current += e.1
            best = max(best, current)
        }
        return (best, window > 0 ? area / Double(window) : 0)
    }

    static func waits(_ intervals: [(Int64, Int64)], source: String, window: Int64, inferred: Bool)
        -> WaitConcurrency
    {
        let c = concurrency(intervals, window: window)
        let lengths = intervals.map { $0.1 - $0.0 }.sorted()
        return WaitConcurrency(
            source: source, count: intervals.count, maxInFlight: c.max, meanInFlight: c.mean,
            p50: Statistics.percentile(lengths, 0.5), p95: Statistics.percentile(lengths, 0.95), inferred: inferred)
    }

    static func language(of model: TraceModel) -> SourceLanguage {
        if let l = model.session["language"]?.stringValue {
            return SourceLanguage(rawValue: l.lowercased()) ?? .unknown
        }
        if model.session["viztracer_version"] != nil { return .python }
        var python = 0
        for s in model.slices.prefix(20_000) {
            if s.name.contains(".py:") || s.name.hasPrefix("builtins.") || s.name.hasPrefix("_thread.") { python += 1 }
        }
        if python >= 3 { return .python }
        // cctrace's library records Swift programs; its preload shim records any program.
        if let version = model.session["cctrace_version"]?.stringValue, !version.hasSuffix("-preload") { return .swift }
        return .unknown
    }
}

/// Percentiles and friends.
enum Statistics {
    /// The `q` quantile of sorted values (nearest rank), 0 for none.
    static func percentile(_ sorted: [Int64], _ q: Double) -> Int64 {
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
        return sorted[max(0, min(sorted.count - 1, rank))]
    }
}
