/// The `cat` values cctrace writes, each with exact semantics the analyzer relies on.
///
/// Other tools' traces use their own categories; the analyzer treats unknown categories as
/// plain work. See the `TraceDialect` article for what each category's events carry; the
/// strings themselves live in ``TraceVocabulary/Category``.
public struct TraceCategory: Hashable, Sendable, CustomStringConvertible {
    /// The string written to the `cat` field.
    public var rawValue: String

    /// A category named `rawValue`.
    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    /// One of the dialect's categories.
    public init(_ name: DialectName) {
        self.rawValue = name.string
    }

    public var description: String { rawValue }

    /// Thread spans recorded with `withSpan` / `beginSpan`.
    public static let span = TraceCategory(TraceVocabulary.Category.span)
    /// Async task lives (`b`/`e`, id = task id) and task runs on threads (`X`).
    public static let task = TraceCategory(TraceVocabulary.Category.task)
    /// Lock waits and holds.
    public static let lock = TraceCategory(TraceVocabulary.Category.lock)
    /// Event-loop ticks and the loop-lag counter.
    public static let loop = TraceCategory(TraceVocabulary.Category.loop)
    /// Inter-process messages: serialize, send, receive, deserialize, and their flows.
    public static let ipc = TraceCategory(TraceVocabulary.Category.ipc)
    /// Child process spawn, start-up and exit.
    public static let process = TraceCategory(TraceVocabulary.Category.process)
    /// Per-thread CPU accounting counters sampled from the scheduler.
    public static let cpu = TraceCategory(TraceVocabulary.Category.cpu)
    /// Distributed-tracing spans (`CCTraceTracer`).
    public static let tracing = TraceCategory(TraceVocabulary.Category.tracing)
    /// Stack samples: the profiler's `sample` and the watchdog's `loop stall` instants.
    public static let sample = TraceCategory(TraceVocabulary.Category.sample)
    /// Session metadata and recorder health (dropped events).
    public static let session = TraceCategory(TraceVocabulary.Category.session)
    /// What `cctrace record`'s preload shim saw from outside the program.
    public static let preload = TraceCategory(TraceVocabulary.Category.preload)
}
