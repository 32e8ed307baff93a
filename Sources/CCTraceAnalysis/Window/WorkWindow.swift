import CCTraceFormat

/// Stage 3 — the work window: from the first moment any accounted thread did work to the
/// last, the threads and processes that did a real part of it, and how many cores it kept busy.
///
/// The window covers every accounted thread's activity (``Accounting/activity``): its
/// top-level spans that are not waits for results, and its CPU readings with the thread on a
/// CPU — so threads that compute without spans are inside it. Parallelism is the capped
/// running over the window (``CPUCapacity``), so it never exceeds the cores.
public struct WorkWindow: Sendable {
    /// Where the window starts, and its length in nanoseconds (≥ 1).
    public var start: TraceTimestamp
    public var length: Int64
    /// Threads busy at least ``Heuristics/workerBusyShare`` of the window, busiest first.
    public var workers: [ThreadWork]
    /// Processes doing work: with a worker thread, or whose threads' busy time (lock waits
    /// excluded) adds up to ``Heuristics/workerProcessShare`` of the window (a pool's
    /// processes may each do little).
    public var workerProcesses: [Int64]
    /// Mean number of cores running the program's threads over the window.
    public var parallelism: Double
    /// Whether CPU figures were measured for every worker.
    public var cpuMeasured: Bool
    /// Threads parked in one wait for their whole busy time (``parkedThreads``): not part of
    /// the program's work.
    public var parked: Set<Int>

    /// The end of the window.
    public var end: TraceTimestamp { TraceTimestamp(nanoseconds: start.nanoseconds + length) }

    /// The window of `accounting`'s threads.
    public init(
        model: TraceModel, classification c: SliceClassification, accounting a: Accounting, cores: CoreCount,
        heuristics h: Heuristics
    ) {
        var lo = Int64.max
        var hi = Int64.min
        for (_, span) in a.activity {
            lo = min(lo, span.from)
            hi = max(hi, span.to)
        }
        if lo >= hi {
            // No work anywhere: the whole trace.
            lo = model.bounds.lowerBound.nanoseconds
            hi = max(model.bounds.upperBound.nanoseconds, lo + 1)
        }
        start = TraceTimestamp(nanoseconds: lo)
        length = hi - lo
        let window = length
        let floor = max(h.workerBusyShare * Double(window), 1)
        let parked = Self.parkedThreads(model: model, classification: c, accounting: a, heuristics: h)
        self.parked = parked
        workers = a.threads.filter { Double($0.split.busy) >= floor && !parked.contains($0.thread) }
        // A thread per connection or per task lives briefly (its whole life shorter than a
        // worker's busy time): no one of them is busy for long, but together they are the
        // process's workers (a pool whose threads come and go).
        var transient: [Int64: [ThreadWork]] = [:]
        for t in a.threads
        where Double(t.split.busy) < floor && t.split.busy > 0 && !parked.contains(t.thread)
            && Double(t.end.nanoseconds - t.start.nanoseconds) < floor
        {
            transient[t.pid, default: []].append(t)
        }
        for (_, threads) in transient.sorted(by: { $0.key < $1.key })
        where threads.count >= h.transientWorkers
            && Double(threads.reduce(Int64(0)) { $0 + $1.split.busy }) >= floor
        {
            workers += threads.sorted { $0.split.busy > $1.split.busy }
        }
        var busyByPid: [Int64: Int64] = [:]
        for t in a.threads { busyByPid[t.pid, default: 0] += t.split.busy - t.split.lockWait }
        // Moving data through a channel to another traced process is work too, even in calls
        // too short for a span (a pool worker reading its tasks).
        for (pid, time) in c.channels.shortCallsByPid { busyByPid[pid, default: 0] += time }
        var pids = Set(workers.map(\.pid))
        for (pid, busy) in busyByPid where Double(busy) >= max(h.workerProcessShare * Double(window), 1) {
            pids.insert(pid)
        }
        workerProcesses = pids.sorted()
        cpuMeasured = !workers.isEmpty && workers.allSatisfy(\.cpuMeasured)
        // ≤ cores by construction: the capped rate never exceeds them.
        parallelism = a.cpu.running(from: lo, to: hi) / Double(window)
    }

    /// The window once `accounting` (the one it was made from, uncapped: see
    /// ``Accounting/uncapped(model:classification:cores:heuristics:)``) is capped: the workers'
    /// figures and the parallelism from the capped running. Which threads are workers, and
    /// the window itself, rest on busy time and activity, which the capping leaves as they are.
    mutating func capped(by accounting: Accounting) {
        var byThread: [Int: ThreadWork] = [:]
        for t in accounting.threads { byThread[t.thread] = t }
        workers = workers.map { byThread[$0.thread] ?? $0 }
        parallelism = accounting.cpu.running(from: start.nanoseconds, to: end.nanoseconds) / Double(length)
    }

    /// Threads whose busy time was one wait (``Heuristics/parkedThread`` of it in a single
    /// top-level call: reading stdin until shutdown, waiting on an event): parked, not working.
    /// I/O-bound work is many waits with work between them.
    static func parkedThreads(
        model: TraceModel, classification c: SliceClassification, accounting a: Accounting, heuristics h: Heuristics
    ) -> Set<Int> {
        var out: Set<Int> = []
        for t in a.threads where t.split.busy > 0 {
            // The longest top-level I/O, lock or IPC wait, found in the accounting's pass.
            let longest = a.longestTopLevelWait[t.thread] ?? 0
            if Double(longest) >= h.parkedThread * Double(t.split.busy) { out.insert(t.thread) }
        }
        // Parked beside others that worked: a process whose threads all waited is waiting,
        // and its waits are its work.
        let working = Set(a.threads.filter { $0.split.busy > 0 && !out.contains($0.thread) }.map(\.pid))
        return out.filter { working.contains(model.threads[$0].pid) }
    }
}
