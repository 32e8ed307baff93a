import CCTraceFormat
import Dispatch

/// Stage 2 — accounting: each thread's life split into running · runnable · lock wait · I/O
/// wait · IPC · idle (parts that add up to the life), from the classification and, where the
/// trace has them, the scheduler's CPU readings.
///
/// With CPU readings (cctrace's `cpu <tid>` counters) running and runnable are measured and
/// the rest of the span time a thread was not on a CPU is waiting; without them, span time
/// classified as work is running (inferred). Either way no more threads run at once than the
/// machine has cores (``CPUCapacity``). cctrace's own writer thread and launcher processes
/// (shims that ran before the program and waited for it) are left out.
public struct Accounting: Sendable {
    /// Threads that did anything, busiest first.
    public var threads: [ThreadWork]
    /// Sum over ``threads``.
    public var threadTotal: TimeSplit
    /// Processes left out as launchers.
    public var launcherProcesses: Int
    /// Whether any figure came from names of calls rather than cctrace's categories.
    public var namesInferred: Bool
    /// Per accounted thread (index into ``TraceModel/threads``): the first and last moment it
    /// did work — a top-level span that is not a wait for results, or a CPU reading with the
    /// thread on a CPU.
    public var activity: [Int: (from: Int64, to: Int64)]
    /// The threads' running over time, capped at the cores.
    var cpu: CPUCapacity
    /// Per accounted thread: how many top-level spans it has (counted in the same pass).
    var topLevelSpans: [Int: Int] = [:]
    /// Per accounted thread: its longest top-level wait (I/O, lock or IPC), ns — what
    /// ``WorkWindow/parkedThreads(model:classification:accounting:heuristics:)`` reads.
    var longestTopLevelWait: [Int: Int64] = [:]
    /// Per thread accounted (launchers too): its outermost I/O waits (start, end), and its
    /// top-level task spans' time (0 on Swift's cooperative pool) — what the program's shape
    /// reads (``ProgramShape``), found in the same pass.
    var outermostIOWaits: [Int: [(Int64, Int64)]] = [:]
    var taskRuns: [Int: Int64] = [:]

    /// Accounts every thread of `model`.
    public init(model: TraceModel, classification c: SliceClassification, cores: CoreCount, heuristics h: Heuristics) {
        let capping: Capping
        (self, capping) = Self.uncapped(model: model, classification: c, cores: cores, heuristics: h)
        cap(capping)
    }

    private init(
        threads: [ThreadWork], threadTotal: TimeSplit, launcherProcesses: Int, namesInferred: Bool,
        activity: [Int: (from: Int64, to: Int64)], cpu: CPUCapacity, topLevelSpans: [Int: Int],
        longestTopLevelWait: [Int: Int64], outermostIOWaits: [Int: [(Int64, Int64)]], taskRuns: [Int: Int64]
    ) {
        self.threads = threads
        self.threadTotal = threadTotal
        self.launcherProcesses = launcherProcesses
        self.namesInferred = namesInferred
        self.activity = activity
        self.cpu = cpu
        self.topLevelSpans = topLevelSpans
        self.longestTopLevelWait = longestTopLevelWait
        self.outermostIOWaits = outermostIOWaits
        self.taskRuns = taskRuns
    }

    /// The CPU capping still to apply to an ``Accounting`` made by
    /// ``uncapped(model:classification:cores:heuristics:)``: every thread's work in the order
    /// its rate segments number them, the segments, the cores.
    struct Capping: Sendable {
        fileprivate var works: [ThreadWork]
        fileprivate var segments: [CPUCapacity.Segment]
        fileprivate var cores: Int
    }

    /// Every thread accounted but not yet capped at the cores (``cpu`` empty, running as the
    /// threads claim it), and the capping to apply with ``cap(_:)``.
    ///
    /// The capping moves running time to runnable (busy time stays what it was) and is one
    /// serial sweep: what needs only the threads, their order, their busy time and when they
    /// were active (the work window's extent, the what-if's workload) can be read from the
    /// uncapped accounting while it runs.
    static func uncapped(
        model: TraceModel, classification c: SliceClassification, cores: CoreCount, heuristics h: Heuristics
    ) -> (Accounting, Capping) {
        // Threads are accounted independently (on every core), then put together in order.
        let candidates = model.threads.indices.filter {
            !SwiftRuntime.isRecorderThread(model.threads[$0].name) && !c.taskRows.contains($0)
        }
        var results = [One?](repeating: nil, count: candidates.count)
        // Per (name, category) pair of the classification's: whether it is an annotation.
        let annotations = c.names.select(Self.isAnnotation(name:category:))
        results.withUnsafeMutableBufferPointer { buffer in
            let out = UnsafeSendable(buffer)
            let input = UnsafeSendable((model, c, candidates))
            DispatchQueue.concurrentPerform(iterations: candidates.count) { k in
                let (model, c, candidates) = input.value
                out.value[k] = Self.account(
                    thread: candidates[k], model: model, classification: c, annotations: annotations, heuristics: h)
            }
        }
        var works: [ThreadWork] = []
        var activity: [Int: (from: Int64, to: Int64)] = [:]
        var rates: [CPUCapacity.Segment] = []
        rates.reserveCapacity(results.reduce(0) { $0 + ($1?.rates.count ?? 0) })
        var topLevel: [Int: Int] = [:]
        var longestWait: [Int: Int64] = [:]
        var ioWaits: [Int: [(Int64, Int64)]] = [:]
        var taskRuns: [Int: Int64] = [:]
        for case let one? in results {
            ioWaits[one.work.thread] = one.ioWaits
            taskRuns[one.work.thread] = one.taskRuns
            let slot = works.count
            works.append(one.work)
            topLevel[one.work.thread] = one.topLevel
            longestWait[one.work.thread] = one.longestWait
            if let active = one.active { activity[one.work.thread] = active }
            for var r in one.rates {
                r.thread = slot
                rates.append(r)
            }
        }
        let capping = Capping(works: works, segments: rates, cores: cores.count)
        // Busiest first. The capping leaves busy time as it is: sorting before it gives the
        // order sorting after it would.
        works.sort { ($0.split.busy, $0.tid) > ($1.split.busy, $1.tid) }
        let launchers = Self.launchers(works, heuristics: h)
        let threads = works.filter { !launchers.contains($0.pid) }
        let kept = Set(threads.map(\.thread))
        let accounting = Accounting(
            threads: threads, threadTotal: threads.reduce(TimeSplit()) { $0 + $1.split },
            launcherProcesses: launchers.count, namesInferred: threads.contains { $0.namesInferred },
            activity: activity.filter { kept.contains($0.key) }, cpu: CPUCapacity(),
            topLevelSpans: topLevel.filter { kept.contains($0.key) },
            longestTopLevelWait: longestWait.filter { kept.contains($0.key) }, outermostIOWaits: ioWaits,
            taskRuns: taskRuns)
        return (accounting, capping)
    }

    /// Applies `capping` (see ``uncapped(model:classification:cores:heuristics:)``): no more
    /// threads run at once than there are cores.
    mutating func cap(_ capping: Capping) {
        var works = capping.works
        cpu = CPUCapacity(capping: &works, segments: capping.segments, cores: capping.cores)
        var capped: [Int: ThreadWork] = [:]
        for w in works { capped[w.thread] = w }
        for i in threads.indices { threads[i] = capped[threads[i].thread] ?? threads[i] }
        threadTotal = threads.reduce(TimeSplit()) { $0 + $1.split }
    }

    /// A thread's work, when it was active, its CPU rate segments, and what the same pass
    /// found for later stages: its top-level spans, its longest top-level wait, its outermost
    /// I/O waits and its task runs.
    private typealias One = (
        work: ThreadWork, active: (from: Int64, to: Int64)?, rates: [CPUCapacity.Segment], topLevel: Int,
        longestWait: Int64, ioWaits: [(Int64, Int64)], taskRuns: Int64
    )

    /// One thread's accounting: its work, when it was active, and its CPU rate segments
    /// (numbered slot 0; the caller renumbers them). Nil for a thread with no time.
    private static func account(
        thread index: Int, model: TraceModel, classification c: SliceClassification, annotations: [Bool],
        heuristics h: Heuristics
    ) -> One? {
        let thread = model.threads[index]
        var rates: [CPUCapacity.Segment] = []
        var topLevel = 0
        var longestWait: Int64 = 0
        var ioWaits: [(Int64, Int64)] = []
        var taskRuns: Int64 = 0
        // Jobs on Swift's pool are counted with their tasks (see ProgramShape).
        let countsTasks = !(thread.name?.hasPrefix(TraceVocabulary.Event.swiftPoolThreadPrefix.string) ?? false)
        let taskCategory = InternedNames.id(TraceCategory.task.rawValue)
        var sums = SliceClassification.SelfTime()
        // Each slice's share of its own time that is work, for the inferred-CPU rates (a
        // slice's parent is on the same thread, earlier in its range).
        var workRate = [Double](repeating: 0, count: thread.cpu == nil ? thread.sliceRange.count : 0)
        var start = Int64.max
        var end = Int64.min
        var active = (from: Int64.max, to: Int64.min)
        let slot = 0  // renumbered by the caller
        let pairOf = c.names.pairOf
        let ahead = SlicePrefetch(model.slices)
        for i in thread.sliceRange {
            ahead.ahead(of: i)
            let s = model.slices[i]
            start = min(start, s.start.nanoseconds)
            end = max(end, s.end.nanoseconds)
            // A lock hold or a loop iteration says when something was held or iterated, not
            // what the thread did meanwhile: its own time is left to the CPU readings.
            let isAnnotation = annotations[Int(pairOf[i])]
            let t = isAnnotation ? SliceClassification.SelfTime() : c.selfTime(of: i, in: model)
            sums.add(t)
            if c.kinds[i] == .ioWait, s.parent < 0 || c.kinds[s.parent] != .ioWait {
                ioWaits.append((s.start.nanoseconds, s.end.nanoseconds))
            }
            if s.depth == 0 {
                topLevel += 1
                if countsTasks && s.categoryID == taskCategory { taskRuns += s.duration.nanoseconds }
                if let k = c.kinds[i], k == .ioWait || k == .lockWait || k == .ipc {
                    longestWait = max(longestWait, s.duration.nanoseconds)
                }
            }
            if s.depth == 0 && c.kinds[i] != .resultWait {
                active = (min(active.from, s.start.nanoseconds), max(active.to, s.end.nanoseconds))
            }
            if thread.cpu == nil {
                let own = s.selfDuration.nanoseconds
                let rate = own > 0 ? Double(t.work) / Double(own) : 0
                workRate[i - thread.sliceRange.lowerBound] = rate
                // Inferred CPU: the thread runs wherever its innermost slice is work, so a
                // slice adds its own rate and takes away its parent's while it lasts.
                let parentRate = s.parent >= 0 ? workRate[s.parent - thread.sliceRange.lowerBound] : 0
                let delta = rate - parentRate
                if delta != 0 && s.duration.nanoseconds > 0 {
                    rates.append(
                        .init(thread: slot, start: s.start.nanoseconds, end: s.end.nanoseconds, rate: delta))
                }
            }
        }
        let spanStart = start
        let spanEnd = end
        let samples = thread.cpu?.samples ?? []
        if let first = samples.first, let last = samples.last {
            start = min(start, first.start.nanoseconds)
            end = max(end, last.end.nanoseconds)
        }
        guard start < end else { return nil }
        let life = end - start
        var split = TimeSplit()
        split.lockWait = sums.lockWait
        split.ioWait = sums.ioWait
        split.ipc = sums.ipcSerde + sums.ipcTransfer
        let measured = !samples.isEmpty
        if let first = samples.first, let last = samples.last, let cpu = thread.cpu {
            let usage = cpu.usage(in: TraceTimestamp(nanoseconds: start)...TraceTimestamp(nanoseconds: end))
            var running = Double(usage.running.nanoseconds)
            var runnable = Double(usage.runnable.nanoseconds)
            for s in samples where s.running > 0 && s.end > s.start {
                rates.append(
                    .init(thread: slot, start: s.start.nanoseconds, end: s.end.nanoseconds, rate: s.running))
                if s.running >= h.windowCPUShare {
                    active = (min(active.from, s.start.nanoseconds), max(active.to, s.end.nanoseconds))
                }
            }
            // The sampler reads every ~20 ms: spans before the thread's first reading or
            // after its last (it exited in between) ran at the rates of the nearest reading.
            if spanStart < first.start.nanoseconds {
                let gap = Double(first.start.nanoseconds - spanStart)
                running += gap * first.running
                runnable += gap * first.runnable
                rates.append(
                    .init(thread: slot, start: spanStart, end: first.start.nanoseconds, rate: first.running))
            }
            if spanEnd > last.end.nanoseconds {
                let gap = Double(spanEnd - last.end.nanoseconds)
                running += gap * last.running
                runnable += gap * last.runnable
                rates.append(.init(thread: slot, start: last.end.nanoseconds, end: spanEnd, rate: last.running))
            }
            // IPC time is IPC, whether it copied (CPU) or waited for the other side.
            split.running = max(0, Int64(running) - split.ipc)
            split.runnable = min(Int64(runnable), life)
            // Span time classified as work that was not on a CPU waited for something the
            // trace does not name.
            split.ioWait += max(0, sums.work - split.running - split.runnable)
        } else {
            split.running = sums.work
        }
        split = split.fitted(to: life)
        let work =
            (ThreadWork(
                thread: index, pid: thread.pid, tid: thread.tid,
                label: model.processes.count > 1
                    ? thread.name.map { "\($0) (\(thread.pid)/\(thread.tid))" }
                        ?? "tid \(thread.tid) (pid \(thread.pid))"
                    : thread.label,
                start: TraceTimestamp(nanoseconds: start), end: TraceTimestamp(nanoseconds: end), split: split,
                cpuMeasured: measured, namesInferred: c.threadNamesInferred[index], ipcSerde: sums.ipcSerde,
                ipcTransfer: sums.ipcTransfer))
        return (work, active.from < active.to ? active : nil, rates, topLevel, longestWait, ioWaits, taskRuns)
    }

    /// Launchers — shell wrappers and shims that ran before the program (python3 behind
    /// pyenv, say) and were gone before its work: processes that lived less than
    /// ``Heuristics/launcherOverlap`` of their life alongside the busiest one.
    static func launchers(_ works: [ThreadWork], heuristics h: Heuristics) -> Set<Int64> {
        var span: [Int64: (lo: Int64, hi: Int64, busy: Int64)] = [:]
        for t in works {
            var e = span[t.pid] ?? (Int64.max, Int64.min, 0)
            e.lo = min(e.lo, t.start.nanoseconds)
            e.hi = max(e.hi, t.end.nanoseconds)
            e.busy += t.split.busy
            span[t.pid] = e
        }
        guard span.count > 1, let main = span.max(by: { ($0.value.busy, $1.key) < ($1.value.busy, $0.key) }) else {
            return []
        }
        var out: Set<Int64> = []
        for (pid, e) in span where pid != main.key {
            let overlap = min(e.hi, main.value.hi) - max(e.lo, main.value.lo)
            if Double(overlap) < h.launcherOverlap * Double(e.hi - e.lo) { out.insert(pid) }
        }
        return out
    }

    /// A `lock hold` or a `loop iteration` (the shim's or the library's): an interval around
    /// other activity rather than activity of its own.
    static func isAnnotation(_ s: Slice) -> Bool { isAnnotation(name: s.name, category: s.category) }

    static func isAnnotation(name: String, category: String) -> Bool {
        (category == TraceCategory.lock.rawValue && name == TraceVocabulary.Event.lockHold.string)
            || (category == TraceCategory.preload.rawValue && name == TraceVocabulary.Event.loopIteration.string)
    }
}
