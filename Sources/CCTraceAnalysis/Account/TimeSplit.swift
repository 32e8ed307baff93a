import CCTraceFormat

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

    /// The split adjusted so its parts add up to exactly `life`: what does not fit is taken
    /// from the least certain parts first (I/O wait inferred from span time off the CPU,
    /// then running, then runnable), and the rest of `life` is idle.
    func fitted(to life: Int64) -> TimeSplit {
        var s = self
        for keyPath in [\TimeSplit.ioWait, \.running, \.runnable, \.lockWait, \.ipc] {
            let excess = s.busy - life
            guard excess > 0 else { break }
            let cut = min(excess, s[keyPath: keyPath])
            s[keyPath: keyPath] -= cut
        }
        s.idle = max(0, life - s.busy)
        return s
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
    /// The split of its life (its parts add up to ``life``).
    public var split: TimeSplit
    /// Whether running/runnable were measured (scheduler statistics) rather than inferred from
    /// span time.
    public var cpuMeasured: Bool
    /// Whether any wait was recognized by name rather than by cctrace's categories.
    public var namesInferred: Bool
    /// IPC time spent serializing/deserializing (CPU) and transferring.
    public var ipcSerde: Int64
    public var ipcTransfer: Int64
    /// Running time moved to runnable because more threads ran at once than there are cores.
    public var overCapacity: Int64 = 0

    /// Life in nanoseconds.
    public var life: Int64 { end.nanoseconds - start.nanoseconds }
}
