import CCTraceFormat

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

/// The model a program uses now, with what shows it.
public enum CurrentModel: Sendable, Equatable {
    /// An event loop (or many tasks) with work on `offloadThreads` other threads, or several
    /// worker processes.
    case hybrid(offloadThreads: Int)
    /// Event loops (their names) and/or traced tasks.
    case async(loops: [String], tasks: Int, maxTasksInFlight: Int)
    /// Worker processes, `children` of them children of the first process.
    case processes(count: Int, children: Int)
    /// Worker threads.
    case threads(count: Int)
    /// One busy thread (its label), or none.
    case sequential(thread: String?)

    /// The model.
    public var model: ConcurrencyModel {
        switch self {
        case .hybrid: .hybrid
        case .async: .async
        case .processes: .processes
        case .threads: .threads
        case .sequential: .sequential
        }
    }
}

/// What was counted as operations in flight.
public enum WaitSource: Sendable, Equatable {
    /// Threads blocked in I/O calls (inferred from the calls' names or categories).
    case threadsInIO
    /// Traced tasks alive.
    case tasksAlive
    /// Async spans other than tasks (open requests, futures).
    case asyncOperations
    /// Callbacks one iteration of this loop ran together (the waits that completed at once).
    case readyCallbacks(loop: String)
}

/// Operations in flight at once: threads blocked in I/O, suspended tasks, open async spans.
public struct WaitConcurrency: Sendable {
    /// What was counted.
    public var source: WaitSource
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

/// Stage 3 (continued) — the program's shape: its tasks and waits in flight, its critical
/// path, and the concurrency model it uses now.
public struct ProgramShape: Sendable {
    /// Tasks (cctrace task lives) and the most alive at once.
    public var taskCount: Int
    public var maxTasksInFlight: Int
    /// Time traced tasks spent suspended (alive but not running on a thread), nanoseconds.
    public var suspendedTaskTime: Int64
    /// Waits in flight (the source with the most at once).
    public var waits: WaitConcurrency?
    /// What no model can shorten, estimated, and its share of the window.
    public var criticalPath: Int64
    public var criticalPathShare: Double
    /// Whether the busiest chain is one dependent chain (one span, or distinct steps) rather
    /// than repeated independent items.
    public var chainLike: Bool
    /// Whether the trace shows the busiest chain's structure: its spans cover at least half of
    /// its thread's busy time. A thread seen only from outside (CPU readings and a few blocking
    /// calls) could be one chain or many independent items; nothing in the trace tells.
    public var structureKnown: Bool
    /// The model the program uses now.
    public var current: CurrentModel

    /// The shape of `model`'s program. `units`, by thread, its unit parent and its top-level
    /// spans counted as units (``unitParent(of:slices:c:heuristics:topLevel:)``) when found
    /// before (the pipeline finds them for the what-if's workload); else they are found here.
    public init(
        model: TraceModel, classification c: SliceClassification, accounting a: Accounting, window w: WorkWindow,
        loops: [LoopView], heuristics h: Heuristics, units found: (parents: [Int], topLevel: [Units])? = nil
    ) {
        let slices = model.slices
        let taskCategory = TraceCategory.task.rawValue
        let tasks = model.asyncSlices.filter {
            $0.depth == 0 && $0.category == taskCategory && !SwiftRuntime.isTaskSleep($0)
        }
        // Swift tasks seen through the runtime's hooks: their jobs, grouped by task id.
        let swiftTasks = SwiftRuntime.tasks(in: model)
        // asyncio tasks a tracer drew as rows of their own count as tasks too.
        taskCount = tasks.count + c.taskRows.count + swiftTasks.count
        // A task's life minus its runs on threads is time it was suspended: awaiting something
        // (I/O, a timer, another task) — counted as waiting, inferred.
        var taskLives: Int64 = 0
        for t in tasks { taskLives += t.duration.nanoseconds }
        // Task runs and the outermost I/O waits of accounted threads were found in the
        // accounting's pass; threads it did not read (the recorder's, asyncio task rows) are
        // read here.
        var taskRuns: Int64 = 0
        let swiftPool = TraceVocabulary.Event.swiftPoolThreadPrefix.string
        let taskCategoryID = InternedNames.id(taskCategory)
        for t in model.threads.indices {
            if let runs = a.taskRuns[t] {
                taskRuns += runs
                continue
            }
            // Jobs on Swift's pool are counted with their tasks below.
            guard !(model.threads[t].name?.hasPrefix(swiftPool) ?? false) else { continue }
            for i in model.threads[t].sliceRange where slices[i].depth == 0 && slices[i].categoryID == taskCategoryID {
                taskRuns += slices[i].duration.nanoseconds
            }
        }
        // Only the program's threads: a launcher's waits (a shell shim waiting for the program)
        // and the recorder's are not operations of the program. In the order of the threads.
        var accounted = [Bool](repeating: false, count: model.threads.count)
        for t in a.threads where t.thread >= 0 && t.thread < accounted.count { accounted[t.thread] = true }
        var ioIntervals: [(Int64, Int64)] = []
        for t in model.threads.indices where accounted[t] {
            ioIntervals.append(contentsOf: a.outermostIOWaits[t] ?? [])
        }
        // Swift tasks seen through the hooks are left out: the gaps between their jobs include
        // the time they queued for a pool thread, and their threads' own accounting already
        // says what the pool did (a suspended task is waiting, not a thread in I/O).
        suspendedTaskTime = max(0, taskLives - taskRuns)
        let taskIntervals =
            tasks.map { ($0.start.nanoseconds, $0.end.nanoseconds) } + swiftTasks.map { ($0.start, $0.end) }
        maxTasksInFlight = Self.concurrency(taskIntervals, window: 1).max

        var candidates: [WaitConcurrency] = []
        if !ioIntervals.isEmpty {
            candidates.append(Self.waits(ioIntervals, source: .threadsInIO, window: w.length, inferred: true))
        }
        if !taskIntervals.isEmpty {
            candidates.append(Self.waits(taskIntervals, source: .tasksAlive, window: w.length, inferred: false))
        }
        // A distributed-tracing span under a parent in the same process is a step of that
        // parent's operation, not one more operation in flight.
        let other = model.asyncSlices.filter {
            $0.depth == 0 && $0.category != taskCategory && !model.hasLocalTracingParent($0)
        }
        if !other.isEmpty {
            candidates.append(
                Self.waits(
                    other.map { ($0.start.nanoseconds, $0.end.nanoseconds) }, source: .asyncOperations,
                    window: w.length, inferred: true))
        }
        for loop in loops where loop.readyBurst > 0 {
            candidates.append(
                WaitConcurrency(
                    source: .readyCallbacks(loop: loop.name), count: loop.callbacks.count,
                    maxInFlight: loop.readyBurst, meanInFlight: Double(loop.readyBurst), p50: 0, p95: 0,
                    inferred: true))
        }
        waits = candidates.max { $0.maxInFlight < $1.maxInFlight }

        // The critical path: the longest thread demand (its CPU — running or queued for a core,
        // which another machine's load causes — I/O and IPC; not waits for locks others hold);
        // for repeated independent items, the longest item.
        var path: Int64 = 0
        var chain = false
        var known = true
        for worker in w.workers {
            let demand = worker.split.running + worker.split.runnable + worker.split.ioWait + worker.split.ipc
            let range = model.threads[worker.thread].sliceRange
            let parent: Int
            let topLevel: Units
            if let found {
                (parent, topLevel) = (found.parents[worker.thread], found.topLevel[worker.thread])
            } else {
                var tally = UnitTally()
                parent = Self.unitParent(of: range, slices: slices, c: c, heuristics: h, topLevel: &tally)
                topLevel = tally.units
            }
            let units = parent < 0 ? topLevel : Self.units(of: range, parent: parent, slices: slices)
            let repeated =
                units.count >= h.repeatedItems
                && Double(units.distinct) <= h.repeatedItemsDistinctShare * Double(units.count)
                && units.mean >= h.independentItem.nanoseconds
            let length = repeated ? min(units.longest, demand) : demand
            if length > path {
                path = length
                chain = !repeated
                known = Double(units.mean) * Double(units.count) >= 0.5 * Double(worker.split.busy)
            }
        }
        criticalPath = path
        criticalPathShare = min(1, Double(path) / Double(max(w.length, 1)))
        chainLike = chain
        structureKnown = known
        current = Self.currentModel(
            model: model, window: w, loops: loops, tasks: taskCount,
            maxTasks: maxTasksInFlight, heuristics: h)
    }

    /// The model in use now: loops or many tasks make it async (hybrid with other busy threads
    /// or several worker processes); several worker processes, processes; several worker
    /// threads, threads.
    static func currentModel(
        model: TraceModel, window w: WorkWindow, loops: [LoopView], tasks: Int, maxTasks: Int, heuristics h: Heuristics
    ) -> CurrentModel {
        let realLoops = loops.filter { $0.source != .pool }
        let loopThreads = Set(realLoops.map(\.thread))
        let nonLoopWorkers = w.workers.filter { !loopThreads.contains($0.thread) }
        if !realLoops.isEmpty || maxTasks >= h.asyncTasksInFlight {
            let offload = nonLoopWorkers.filter {
                !SwiftRuntime.isPoolThread($0.label) && !isHousekeeping($0, model: model, heuristics: h)
            }
            if (offload.count >= 1 && !realLoops.isEmpty) || w.workerProcesses.count >= 2 {
                return .hybrid(offloadThreads: offload.count)
            }
            return .async(loops: realLoops.map(\.name), tasks: tasks, maxTasksInFlight: maxTasks)
        }
        if w.workerProcesses.count >= 2 {
            let mainPid = model.processes.first?.pid
            return .processes(
                count: w.workerProcesses.count, children: w.workerProcesses.filter { $0 != mainPid }.count)
        }
        if w.workers.count >= 2 { return .threads(count: w.workers.count) }
        return .sequential(thread: w.workers.first?.label)
    }

    /// Whether `w` spent ``Heuristics/housekeepingWaitShare`` of its busy time in top-level
    /// polls and sleeps (by name): it waits for time to pass or for something to arrive, and
    /// does not do work a loop handed it.
    static func isHousekeeping(_ w: ThreadWork, model: TraceModel, heuristics h: Heuristics) -> Bool {
        guard w.split.busy > 0 else { return true }
        var idle: Int64 = 0
        for i in model.threads[w.thread].sliceRange where model.slices[i].depth == 0 {
            if POSIXCalls.idleCalls.contains(model.slices[i].name) { idle += model.slices[i].duration.nanoseconds }
        }
        return Double(idle) >= h.housekeepingWaitShare * Double(w.split.busy)
    }

    /// The span whose children are a thread's units of work: none (-1: its top-level spans) —
    /// or, while one span holds ``Heuristics/dominantSpanShare`` of a level's time and its
    /// children cover most of it, that span (a Python trace nests everything under `<module>`),
    /// level by level.
    ///
    /// In the same pass it counts the thread's top-level spans as units into `topLevel`
    /// (``units(of:parent:slices:)`` with no parent: what they are when the unit parent is -1).
    static func unitParent(
        of range: Range<Int>, slices: [Slice], c: SliceClassification, heuristics h: Heuristics,
        topLevel: inout UnitTally
    ) -> Int {
        var level = 0
        var parent = -1
        // The spans of a level: the largest and their summed time. Level 0's take a pass of
        // their own; a deeper level's are the children of the level above's largest, found
        // in the pass that sums those children's time.
        var largest = -1
        var covered: Int64 = 0
        let ahead = SlicePrefetch(slices)
        for i in range {
            ahead.ahead(of: i)
            guard slices[i].depth == 0 else { continue }
            topLevel.add(slices[i])
            let d = slices[i].duration.nanoseconds
            covered += d
            if largest < 0 || d > slices[largest].duration.nanoseconds { largest = i }
        }
        while level < 32 {
            guard largest >= 0, c.childCount[largest] > 0,
                Double(slices[largest].duration.nanoseconds) >= h.dominantSpanShare * Double(covered)
            else { return parent }
            // Descend only when the children cover most of the dominant span.
            var childTime: Int64 = 0
            var next = -1
            var nextCovered: Int64 = 0
            for j in range {
                ahead.ahead(of: j)
                guard slices[j].parent == largest else { continue }
                let d = slices[j].duration.nanoseconds
                childTime += d
                guard slices[j].depth == level + 1 else { continue }
                nextCovered += d
                if next < 0 || d > slices[next].duration.nanoseconds { next = j }
            }
            guard childTime * 2 >= slices[largest].duration.nanoseconds else { return parent }
            level += 1
            parent = largest
            largest = next
            covered = nextCovered
        }
        return parent
    }

    /// A thread's units of work as counted by the shape: how many, how many distinct base
    /// names (up to 64), the longest, the mean.
    public typealias Units = (count: Int, distinct: Int, longest: Int64, mean: Int64)

    /// The units of work of a thread: the children of `parent` (its
    /// ``unitParent(of:slices:c:heuristics:topLevel:)``). Generator resumes are not units.
    static func units(of range: Range<Int>, parent: Int, slices: [Slice]) -> Units {
        let level = parent < 0 ? 0 : slices[parent].depth + 1
        var tally = UnitTally()
        let ahead = SlicePrefetch(slices)
        for i in range {
            ahead.ahead(of: i)
            guard slices[i].depth == level && (parent < 0 || slices[i].parent == parent) else { continue }
            tally.add(slices[i])
        }
        return tally.units
    }

    /// The count behind ``units(of:parent:slices:)``, a unit at a time.
    struct UnitTally {
        private var count = 0
        private var covered: Int64 = 0
        // Distinct base names, each numbered once per name id (not a string built and hashed
        // per unit), and counted by flags per number (not a set hashed per unit); whether a
        // name is a generator resume, in the same lookup.
        private var seen: [Bool] = []
        private var distinct = 0
        private var baseNumbers: [String: Int] = [:]
        private var facts = SliceNameMemo<(resume: Bool, base: Int)>()
        private var longest: Int64 = 0

        mutating func add(_ s: Slice) {
            let d = s.duration.nanoseconds
            covered += d
            let name = facts.value(name: s) { name in
                let base = String(SliceClassifier.baseName(name))
                let n = baseNumbers[base] ?? baseNumbers.count
                if n == baseNumbers.count {
                    baseNumbers[base] = n
                    seen.append(false)
                }
                return (CPython.isGeneratorResume(name), n)
            }
            if name.resume { return }
            count += 1
            longest = max(longest, d)
            if distinct < 64, !seen[name.base] {
                seen[name.base] = true
                distinct += 1
            }
        }

        var units: Units { (count, distinct, longest, count > 0 ? covered / Int64(count) : 0) }
    }

    /// Most intervals open at once, and the time-weighted mean over `window`.
    static func concurrency(_ intervals: [(Int64, Int64)], window: Int64) -> (max: Int, mean: Double) {
        var starts: [Int64] = []
        var ends: [Int64] = []
        starts.reserveCapacity(intervals.count)
        ends.reserveCapacity(intervals.count)
        var area: Double = 0
        for (a, b) in intervals where b >= a {
            starts.append(a)
            ends.append(b)
            area += Double(b - a)
        }
        // Starts and ends sorted apart (plain integers sort fast) and swept together; at equal
        // times ends come first: an interval that ends as another begins was not open with it.
        starts = stableSort(starts).keys
        ends = stableSort(ends).keys
        var current = 0
        var best = 0
        var j = 0
        for a in starts {
            while j < ends.count, ends[j] <= a {
                current -= 1
                j += 1
            }
            current += 1
            best = max(best, current)
        }
        return (best, window > 0 ? area / Double(window) : 0)
    }

    static func waits(_ intervals: [(Int64, Int64)], source: WaitSource, window: Int64, inferred: Bool)
        -> WaitConcurrency
    {
        let c = concurrency(intervals, window: window)
        let lengths = stableSort(intervals.map { $0.1 - $0.0 }).keys
        return WaitConcurrency(
            source: source, count: intervals.count, maxInFlight: c.max, meanInFlight: c.mean,
            p50: Statistics.percentile(lengths, 0.5), p95: Statistics.percentile(lengths, 0.95), inferred: inferred)
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
