import CCTraceFormat

/// What a trace contains, in numbers: processes, threads, tasks and the spans that took the
/// most time. The first section of every report.
public struct TraceSummary: Sendable {
    /// Per-process figures.
    public struct Process: Sendable {
        public var pid: Int64
        public var name: String?
        public var threadCount: Int
        /// The host it ran on, when the trace says (`cctrace merge` labels each process
        /// `host <name>`).
        public var host: String? = nil
    }

    /// Per-thread figures.
    public struct Thread: Sendable {
        public var pid: Int64
        public var tid: Int64
        public var name: String?
        public var sliceCount: Int
        /// Time covered by top-level slices.
        public var busy: TraceDuration
        /// Time on a CPU over the whole trace, when the trace has CPU accounting.
        public var running: TraceDuration?
        /// Time waiting for a CPU, when the trace has CPU accounting.
        public var runnable: TraceDuration?
    }

    /// Spans aggregated by name.
    public struct SpanTotal: Sendable {
        public var name: String
        public var category: String
        public var count: Int
        public var total: TraceDuration
        public var selfTotal: TraceDuration
        public var longest: TraceDuration
    }

    /// A task (an async slice at depth 0 in cctrace's task category, or any top-level async
    /// slice in other traces).
    public struct Task: Sendable {
        public var name: String
        public var id: String
        public var pid: Int64
        public var duration: TraceDuration
    }

    public var eventCount: Int
    public var duration: TraceDuration
    public var processes: [Process]
    public var threads: [Thread]
    public var taskCount: Int
    /// How many of ``threads`` are task rows (``CPython/asyncTaskRows``), not threads.
    public var taskRowCount = 0
    public var longestTasks: [Task]
    public var busiestSpans: [SpanTotal]
    public var session: [String: JSONValue]
    public var diagnostics: [ImportDiagnostic]

    /// Summarizes `model`, keeping the `top` largest entries of each ranking.
    /// `taskRows`: rows of `model` that are tasks, not threads (the classification's
    /// ``SliceClassification/taskRows``).
    public init(model: TraceModel, top: Int = 10, taskRows: Set<Int> = []) {
        self.init(model: model, top: top, taskRows: taskRows, names: nil)
    }

    /// The summary, its per-name sums and per-thread times read from `names` (built from
    /// `model`'s slices, as the classification does) rather than from another pass over the
    /// slices.
    init(model: TraceModel, top: Int = 10, taskRows: Set<Int> = [], names: SliceNames?) {
        eventCount = model.eventCount
        duration = model.duration
        processes = model.processes.map {
            Process(pid: $0.pid, name: $0.name, threadCount: $0.threads.count, host: CrossHostAnalyzer.label($0).host)
        }
        // Each thread's top-level time, and one row per (category, name), with their sums: from
        // the slices' pairs (one pass over the slices, made for the classification).
        let names = names ?? model.sliceNames()
        var busy = [TraceDuration](repeating: .zero, count: model.threads.count)
        for (t, time) in names.topLevelTime.enumerated() where t < busy.count { busy[t] = time }
        let totals = names.nameIDs.indices.map { k in
            SpanTotal(
                name: InternedNames.name(names.nameIDs[k]), category: InternedNames.name(names.categoryIDs[k]),
                count: names.counts[k], total: names.totals[k], selfTotal: names.selfTotals[k],
                longest: names.longest[k])
        }
        threads = model.threads.indices.map { i in
            let t = model.threads[i]
            let usage = t.cpu.map { $0.usage(in: model.bounds) }
            return Thread(
                pid: t.pid, tid: t.tid, name: t.name, sliceCount: t.sliceRange.count,
                busy: busy[i], running: usage?.running, runnable: usage?.runnable)
        }
        .sorted { ($0.busy, $0.running ?? .zero) > ($1.busy, $1.running ?? .zero) }

        // Equal names under different string storage (not interned together) are one row.
        var merged: [String: SpanTotal] = [:]
        for t in totals {
            let key = t.category + "\u{0}" + t.name
            if var m = merged[key] {
                m.count += t.count
                m.total += t.total
                m.selfTotal += t.selfTotal
                m.longest = max(m.longest, t.longest)
                merged[key] = m
            } else {
                merged[key] = t
            }
        }
        busiestSpans = Array(merged.values.sorted { ($0.selfTotal, $0.name) > ($1.selfTotal, $1.name) }.prefix(top))

        let hasTaskCategory = model.asyncSlices.contains { $0.category == TraceCategory.task.rawValue }
        let tasks = model.asyncSlices.filter {
            $0.depth == 0 && (!hasTaskCategory || $0.category == TraceCategory.task.rawValue)
                && !SwiftRuntime.isTaskSleep($0)
        }
        // asyncio tasks drawn as rows of their own (viztracer --log_async) are tasks, not threads;
        // Swift tasks seen through the runtime's hooks are their jobs grouped by task id.
        taskCount = tasks.count + taskRows.count + SwiftRuntime.tasks(in: model).count
        taskRowCount = taskRows.count
        longestTasks = tasks.sorted { $0.duration > $1.duration }.prefix(top).map {
            Task(name: $0.name, id: $0.id, pid: $0.pid, duration: $0.duration)
        }
        session = model.session
        diagnostics = model.diagnostics
    }
}
