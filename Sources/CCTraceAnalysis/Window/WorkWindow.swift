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

    /// The end of the window.
    public var end: TraceTimestamp { TraceTimestamp(nanoseconds: start.nanoseconds + length) }

    /// The window of `accounting`'s threads.
    public init(model: TraceModel, accounting a: Accounting, cores: CoreCount, heuristics h: Heuristics) {
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
        workers = a.threads.filter { Double($0.split.busy) >= max(h.workerBusyShare * Double(window), 1) }
        var busyByPid: [Int64: Int64] = [:]
        for t in a.threads { busyByPid[t.pid, default: 0] += t.split.busy - t.split.lockWait }
        var pids = Set(workers.map(\.pid))
        for (pid, busy) in busyByPid where Double(busy) >= max(h.workerProcessShare * Double(window), 1) {
            pids.insert(pid)
        }
        workerProcesses = pids.sorted()
        cpuMeasured = !workers.isEmpty && workers.allSatisfy(\.cpuMeasured)
        // ≤ cores by construction: the capped rate never exceeds them.
        parallelism = a.cpu.running(from: lo, to: hi) / Double(window)
    }
}
