import CCTraceFormat

/// One process's Swift cooperative pool, as its recorded jobs show it.
public struct PoolStats: Sendable {
    public var pid: Int64
    /// Pool threads (that ran at least one job).
    public var threads: Int
    public var jobs: Int
    /// Time in jobs, and the part of it spent off a CPU and not runnable (blocked in the kernel).
    public var jobTime: Int64
    public var blocked: Int64
    public var blockedShare: Double
    /// Ready → running delay over all jobs, and its mean.
    public var queued: Int64
    public var meanQueued: Int64
    /// Jobs that computed past the slow threshold without suspending while short jobs queued.
    public var longJobs: Int
    /// Distinct tasks seen, and the most alive at once.
    public var tasks: Int
    public var tasksInFlight: Int
    /// The most tasks alive at once among those that waited (slept, awaited I/O, blocked).
    public var blockingTasksInFlight: Int
    /// What blocked: the app's function (from the stacks read while a job was blocked), its
    /// blocked time and how many jobs; worst first. Blocked time with no stack is not listed.
    public var blockers: [(function: String, blocked: Int64, jobs: Int)]
    /// The pool's window (first job to last) and what it would be with the blocking calls moved
    /// off the pool.
    public var window: Int64
    public var expectedWindow: Int64
    /// The two bounds the estimate lies between: the pool's CPU time over its width, and the
    /// waiting tasks' waits overlapped as many at a time as were in flight.
    public var computeBound: Int64
    public var latencyBound: Int64
    public var severity: Severity
    public var evidence: [Evidence]
}

/// `blocked-cooperative-pool`: what the analyzer found.
public struct PoolBlocking: Sendable {
    public var pools: [PoolStats]
}

/// `blocked-cooperative-pool`: Swift's "blocked event loop". Swift Concurrency runs every task
/// on a pool of one thread per core that never grows; a job that blocks in the kernel (sleep,
/// synchronous file or socket I/O, a semaphore) keeps a core's worth of tasks from running.
///
/// Jobs come from the recorder's runtime hooks (slices of category `cctrace.task` on threads
/// named `swift-pool-N`). A job's blocked time is its wall time minus what its thread spent
/// running or runnable (the CPU counters); the blocking function is the first frame of the
/// app's own in the stack the watchdog read beside the blocked thread (`loop stall`). The pool
/// is blocked when ``Heuristics/poolBlockedShare`` of its job time was blocked while ready jobs
/// waited ``Heuristics/poolQueueDelay`` on average.
///
/// The expected window with the calls moved off the pool lies between two bounds: the pool's own
/// work over its threads, and the tasks' waits (sleeps, awaited I/O, the moved calls) overlapped
/// as many at a time as were in flight — the longer of the two if they overlap perfectly, their
/// sum if not at all; the estimate is halfway. It leaves out what the trace cannot price: the
/// cost of the thread or queue the calls move to.
public enum CooperativePoolAnalyzer {
    public static let id = "blocked-cooperative-pool"

    public static func analyze(_ model: TraceModel, profile: WorkProfile, options: AnalysisOptions) -> PoolBlocking {
        let prefix = TraceVocabulary.Event.swiftPoolThreadPrefix.string
        let task = TraceCategory.task.rawValue
        var poolThreads: [Int64: [Int]] = [:]
        for (i, t) in model.threads.enumerated() where t.name?.hasPrefix(prefix) ?? false {
            poolThreads[t.pid, default: []].append(i)
        }
        var pools: [PoolStats] = []
        for (pid, threads) in poolThreads.sorted(by: { $0.key < $1.key }) {
            if let p = analyzePool(
                pid: pid, threads: threads, category: task, model: model, profile: profile, options: options)
            {
                pools.append(p)
            }
        }
        return PoolBlocking(pools: pools.sorted { ($0.severity, $0.blocked) > ($1.severity, $1.blocked) })
    }

    static func analyzePool(
        pid: Int64, threads: [Int], category: String, model: TraceModel, profile: WorkProfile,
        options: AnalysisOptions
    ) -> PoolStats? {
        let h = options.heuristics
        let taskKey = TraceVocabulary.Arg.taskID.string
        let queuedKey = TraceVocabulary.Arg.queuedUs.string
        let stallName = TraceVocabulary.Event.loopStall.string
        var jobs = 0
        var jobTime: Int64 = 0
        var blocked: Int64 = 0
        var computed: Int64 = 0
        var queued: Int64 = 0
        var first = Int64.max
        var last = Int64.min
        var lifetimes: [Int64: (Int64, Int64)] = [:]
        // Per task, its jobs: (ready, end, what it resumed after, where it resumed).
        var jobsByTask: [Int64: [(ready: Int64, end: Int64, after: String?, site: String)]] = [:]
        let afterKey = TraceVocabulary.Arg.after.string
        var byFunction: [String: (blocked: Int64, jobs: Int, slice: Int, stack: [String])] = [:]
        // Jobs that computed for long, and how long the short jobs queued.
        var longJobs: [Int] = []
        var shortQueued: [Int64] = []
        // Tasks whose jobs blocked in a named function, and that time.
        var blockingTasks: [Int64: Int64] = [:]
        var activeThreads = 0
        for t in threads {
            let info = model.threads[t]
            var ran = false
            for i in info.sliceRange {
                let s = model.slices[i]
                guard s.depth == 0, s.category == category else { continue }
                ran = true
                jobs += 1
                let wall = s.duration.nanoseconds
                jobTime += wall
                first = min(first, s.start.nanoseconds)
                last = max(last, s.end.nanoseconds)
                let args = s.args.flatMap { model.arguments.value($0) }
                let wait = Int64((args?[queuedKey]?.doubleValue ?? 0) * 1000)
                queued += wait
                if let id = args?[taskKey]?.intValue {
                    let begin = s.start.nanoseconds - wait
                    let known = lifetimes[Int64(id)]
                    lifetimes[Int64(id)] = (min(known?.0 ?? begin, begin), max(known?.1 ?? 0, s.end.nanoseconds))
                    jobsByTask[Int64(id), default: []].append(
                        (s.start.nanoseconds - wait, s.end.nanoseconds, args?[afterKey]?.stringValue, s.name))
                }
                // Off a CPU and not waiting for one: blocked in the kernel.
                let usage = info.cpu?.usage(in: s.start...s.end)
                let onCPU = (usage?.running.nanoseconds ?? wall) + (usage?.runnable.nanoseconds ?? 0)
                let off = max(0, wall - onCPU)
                blocked += off
                let cpu = min(wall, usage?.running.nanoseconds ?? wall)
                computed += cpu
                // A job that computes past the slow threshold without a suspension point holds
                // its thread from every other task meanwhile.
                if wall >= h.slowCallback.nanoseconds && Double(cpu) >= h.cpuWorkShare * Double(wall) {
                    longJobs.append(i)
                }
                if wall < h.slowCallback.nanoseconds { shortQueued.append(wait) }
                guard off > 0 else { continue }
                // The stack read while this job was blocked names what blocked it.
                var k = HotStacks.firstSample(atOrAfter: s.start, in: model)
                while k < model.samples.count, model.samples[k].timestamp <= s.end {
                    let sample = model.samples[k]
                    k += 1
                    guard sample.thread == t, sample.name == stallName, let top = sample.stackFrame else { continue }
                    let stack = model.stack(of: top)
                    let frames = stack.map(\.name)
                    guard let function = blockingFunction(stack) else { continue }
                    var entry = byFunction[function] ?? (0, 0, i, HotStacks.appFrames(frames))
                    entry.blocked += off
                    entry.jobs += 1
                    byFunction[function] = entry
                    if let id = args?[taskKey]?.intValue { blockingTasks[id, default: 0] += off }
                    break
                }
            }
            if ran { activeThreads += 1 }
        }
        guard jobs > 0 else { return nil }
        let window = max(last - first, 1)
        let share = jobTime > 0 ? Double(blocked) / Double(jobTime) : 0
        let meanQueued = queued / Int64(jobs)
        // Tasks in flight: the most task lifetimes (first ready to last run) overlapping — of all
        // tasks, and of those that blocked (they are the ones whose waits overlap once the
        // calls leave the pool).
        func mostInFlight(_ ids: some Sequence<Int64>) -> Int {
            var edges: [(Int64, Int)] = []
            for id in ids {
                guard let l = lifetimes[id] else { continue }
                edges.append((l.0, 1))
                edges.append((l.1, -1))
            }
            edges.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            var alive = 0
            var most = 0
            for e in edges {
                alive += e.1
                most = max(most, alive)
            }
            return most
        }
        let most = mostInFlight(lifetimes.keys)
        // Waits of the tasks, pool queueing aside: from the end of a job to the next one's ready
        // time, after a sleep or an awaited continuation (I/O, an actor). The job that ends a
        // sleep or resumes a continuation ran on the same blocked pool (Swift ≥ 6.2 schedules a
        // sleep's wake-up on the executor directly, where the hooks do not see it), so each
        // resume point's shortest wait is taken as its wait without queueing. Waits for children
        // and a task's start are left out: they were the pool's queueing.
        var waitsBySite: [String: (count: Int64, shortest: Int64)] = [:]
        var waitingTasks = Set(blockingTasks.keys)
        for (id, jobs) in jobsByTask {
            var previousEnd: Int64? = nil
            for j in jobs.sorted(by: { $0.ready < $1.ready }) {
                defer { previousEnd = j.end }
                guard let p = previousEnd, j.after != "child", j.after != "start" else { continue }
                let gap = max(0, j.ready - p)
                let known = waitsBySite[j.site]
                waitsBySite[j.site] = ((known?.count ?? 0) + 1, min(known?.shortest ?? gap, gap))
                waitingTasks.insert(id)
            }
        }
        let waits = waitsBySite.values.reduce(Int64(0)) { $0 + $1.count * $1.shortest }
        let waitingInFlight = max(mostInFlight(waitingTasks), 1)
        let blockers = byFunction.map { (function: $0.key, blocked: $0.value.blocked, jobs: $0.value.jobs) }
            .sorted { $0.blocked > $1.blocked }
        // The runtime's pool is as wide as the CPUs (Dispatch may swap a thread in and out).
        let threads = max(min(activeThreads, profile.cores), 1)
        // Two bounds on the window once the calls leave the pool: the pool's own work over its
        // threads, and the tasks' waits (the moved calls included) overlapped as many at a time
        // as were in flight. If they overlap perfectly the window is the longer of the two; if
        // not at all, their sum. The estimate is halfway: a task alternates between computing on
        // the pool and waiting off it, so its waits hide other tasks' work only part of the time.
        // All of the pool's blocked time moves, not only the part a stack named: the advice is
        // to block nowhere on the pool, and a block shorter than the watchdog's capture delay is
        // most often the same call caught late.
        let compute = computed / Int64(threads)
        let latency = (blocked + waits) / Int64(waitingInFlight)
        let expected = max((max(compute, latency) + compute + latency) / 2, Int64(Double(window) * h.offloadFloor))
        var severity: Severity =
            share >= h.poolBlockedShare && meanQueued >= h.poolQueueDelay.nanoseconds && !blockers.isEmpty
            ? .warning : share >= h.poolBlockedShare / 2 && blocked > 0 ? .info : .ok
        var evidence: [Evidence] = []
        // Long computing jobs matter when short jobs (a request's next step, a timer's) queued
        // behind them for the slow threshold or more at the median: then latency, not
        // throughput, suffers. A batch of long jobs waiting for each other is the pool working.
        shortQueued.sort()
        let medianShortQueue = shortQueued.isEmpty ? 0 : shortQueued[shortQueued.count / 2]
        let hogs =
            !longJobs.isEmpty && medianShortQueue >= h.slowCallback.nanoseconds
            ? longJobs.sorted { model.slices[$0].duration > model.slices[$1].duration } : []
        if !hogs.isEmpty && severity == .ok { severity = .info }
        for j in hogs.prefix(2) {
            evidence.append(
                .slice(
                    j, in: model, .poolHog(function: model.slices[j].name, held: model.slices[j].duration.nanoseconds)))
        }
        for b in blockers.prefix(options.evidenceLimit) {
            guard let entry = byFunction[b.function] else { continue }
            evidence.append(
                .slice(
                    entry.slice, in: model,
                    .poolBlocked(function: b.function, blocked: b.blocked, jobs: b.jobs), stack: entry.stack))
        }
        return PoolStats(
            pid: pid, threads: threads, jobs: jobs, jobTime: jobTime, blocked: blocked, blockedShare: share,
            queued: queued, meanQueued: meanQueued, longJobs: hogs.count, tasks: lifetimes.count, tasksInFlight: most,
            blockingTasksInFlight: waitingInFlight, blockers: blockers,
            window: window, expectedWindow: min(expected, window), computeBound: compute, latencyBound: latency,
            severity: severity, evidence: evidence)
    }

    /// The app's function in a stack read beside a blocked thread: the first frame that is not
    /// the kernel call, the C library, Dispatch, the Swift runtime or standard library, or
    /// compiler plumbing — the code that made the blocking call.
    static func blockingFunction(_ stack: [StackFrame]) -> String? {
        for frame in stack {
            let f = frame.name
            if f.contains("blocked in the kernel") { continue }
            // The image: `(libc.so.6)` at the end of a recorded frame, or the frame's location
            // (`/usr/lib/…/libc.so.6+0x…`) once the report put a source line in its name.
            var image = Substring("")
            if let open = f.lastIndex(of: "("), f.hasSuffix(")") {
                image = f[f.index(after: open)..<f.index(before: f.endIndex)]
            }
            if let location = frame.category, let slash = location.lastIndex(of: "/") {
                image = location[location.index(after: slash)...]
            }
            if Self.systemImages.contains(where: { image.hasPrefix($0) }) { continue }
            let name = LockContentionAnalyzer.shortFrame(f)
            if SwiftRuntime.isPlumbingFrame(name) || name.hasPrefix("Swift.") || name.hasPrefix("static Swift.")
                || name.hasPrefix("Foundation.") || name.hasPrefix("run_job") || name.hasPrefix("cctrace_")
                || name.contains("[inlined in cctrace_") || SwiftRuntime.isRecorderFrame(name)
            {
                continue
            }
            return SwiftRuntime.functionName(name)
        }
        return nil
    }

    static let systemImages = [
        "libc.so", "libm.so", "libpthread", "ld-linux", "linux-vdso", "libdispatch", "libswift", "libFoundation",
        "libstdc++", "libgcc", "libBlocksRuntime", "libicu",
    ]
}
