import CCTraceFormat

/// What the analyzers and the recommender read: the outputs of stages 1–3 (classification,
/// accounting, window and shape) with the trace's language, its loops and the cores —
/// assembled by ``AnalysisPipeline``.
public struct WorkProfile: Sendable {
    /// Stage 1: each slice's kind.
    public var classification: SliceClassification
    /// Stage 2: each thread's time.
    public var accounting: Accounting
    /// Stage 3: the window, its workers and parallelism.
    public var workWindow: WorkWindow
    /// Stage 3: tasks, waits in flight, the critical path, the current model.
    public var shape: ProgramShape
    /// Event loops found (cctrace's and recognized other shapes).
    public var loops: [LoopView]
    /// The program's language, when the trace tells.
    public var language: SourceLanguage
    /// The cores the analysis reasons with, and where the number came from.
    public var coreCount: CoreCount

    /// Threads that did anything, busiest first (cctrace's writer and launchers excluded).
    public var threads: [ThreadWork] { accounting.threads }
    /// Sum over ``threads``.
    public var threadTotal: TimeSplit { accounting.threadTotal }
    /// The whole program's time: ``threadTotal`` without threads parked in one wait the whole
    /// time (they did no work), with suspended task time as waiting.
    public var total: TimeSplit {
        var t = threadTotal
        for w in accounting.threads where workWindow.parked.contains(w.thread) {
            t.running -= w.split.running
            t.runnable -= w.split.runnable
            t.lockWait -= w.split.lockWait
            t.ioWait -= w.split.ioWait
            t.ipc -= w.split.ipc
            t.idle += w.split.busy
        }
        t.ioWait += shape.suspendedTaskTime
        return t
    }
    /// Share of the non-lock busy time that wanted a CPU.
    public var cpuShare: Double { total.cpuShare }
    public var workers: [ThreadWork] { workWindow.workers }
    public var workerProcesses: [Int64] { workWindow.workerProcesses }
    public var windowStart: TraceTimestamp { workWindow.start }
    /// The window's length, nanoseconds.
    public var window: Int64 { workWindow.length }
    public var parallelism: Double { workWindow.parallelism }
    public var cpuMeasured: Bool { workWindow.cpuMeasured }
    public var cores: Int { coreCount.count }
    public var coresKnown: Bool { coreCount.known }
    /// Whether any figure came from names of calls or shapes rather than cctrace's categories.
    public var namesInferred: Bool { accounting.namesInferred || shape.suspendedTaskTime > 0 }
    public var waits: WaitConcurrency? { shape.waits }
    public var criticalPath: Int64 { shape.criticalPath }
    public var criticalPathShare: Double { shape.criticalPathShare }
    public var chainLike: Bool { shape.chainLike }
    public var taskCount: Int { shape.taskCount }
    public var maxTasksInFlight: Int { shape.maxTasksInFlight }
    public var suspendedTaskTime: Int64 { shape.suspendedTaskTime }
    public var currentModel: ConcurrencyModel { shape.current.model }
    public var sliceKinds: [SliceKind?] { classification.kinds }
    public var inferredLockWaits: [(slice: Int, wait: Int64)] { classification.inferredLockWaits }
    public var launcherProcesses: Int { accounting.launcherProcesses }
}
