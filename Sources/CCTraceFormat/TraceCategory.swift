/// The `cat` values cctrace writes, each with exact semantics the analyzer relies on.
///
/// Other tools' traces use their own categories; the analyzer treats unknown categories as
/// plain work. See the `TraceDialect` article for what each category's events carry.
public struct TraceCategory: Hashable, Sendable, CustomStringConvertible {
    /// The string written to the `cat` field.
    public var rawValue: String

    /// A category named `rawValue`.
    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    /// Thread spans recorded with `withSpan` / `beginSpan`.
    public static let span = TraceCategory("cctrace")
    /// Async task lives (`b`/`e`, id = task id) and task runs on threads (`X`).
    public static let task = TraceCategory("cctrace.task")
    /// Lock waits and holds.
    public static let lock = TraceCategory("cctrace.lock")
    /// Event-loop ticks and the loop-lag counter.
    public static let loop = TraceCategory("cctrace.loop")
    /// Inter-process messages: serialize, send, receive, deserialize, and their flows.
    public static let ipc = TraceCategory("cctrace.ipc")
    /// Child process spawn, start-up and exit.
    public static let process = TraceCategory("cctrace.process")
    /// Per-thread CPU accounting counters sampled from the scheduler.
    public static let cpu = TraceCategory("cctrace.cpu")
    /// Stack samples: the profiler's `sample` and the watchdog's `loop stall` instants.
    public static let sample = TraceCategory("cctrace.sample")
    /// Session metadata and recorder health (dropped events).
    public static let session = TraceCategory("cctrace.session")
}

/// Names of events with a fixed meaning in the cctrace dialect.
public enum TraceEventName {
    /// The `M` event (and its `args`) that carries session metadata: cores, host, clock,
    /// version, command line.
    public static let session = "cctrace.session"
    /// The counter, per process, of events lost because buffers were full. Its `events` arg is
    /// the running total.
    public static let dropped = "cctrace.dropped"
    /// The per-thread CPU counter prefix; the full name is `cpu <tid>`, args `running_pct`
    /// (share of the interval on a CPU) and `runnable_pct` (share waiting in the run queue).
    public static let cpuPrefix = "cpu "
}
