import CCTraceFormat

/// How much a finding matters.
public enum Severity: String, Sendable, Comparable, CaseIterable {
    /// Looked, found nothing wrong.
    case ok
    /// Worth knowing; not holding the program back much.
    case info
    /// Holding the program back.
    case warning

    var rank: Int {
        switch self {
        case .ok: 0
        case .info: 1
        case .warning: 2
        }
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// A place in the trace that backs a finding: a slice, a thread, a stack.
public struct Evidence: Sendable {
    /// What the evidence shows, one line.
    public var description: String
    /// The slice (index into ``TraceModel/slices``), when it is one.
    public var slice: Int?
    /// Where and when (for the viewer to jump to).
    public var pid: Int64?
    public var tid: Int64?
    public var start: TraceTimestamp?
    public var duration: TraceDuration?
    /// Frames, innermost first, when a stack is known.
    public var stack: [String]

    public init(
        _ description: String, slice: Int? = nil, pid: Int64? = nil, tid: Int64? = nil, start: TraceTimestamp? = nil,
        duration: TraceDuration? = nil, stack: [String] = []
    ) {
        self.description = description
        self.slice = slice
        self.pid = pid
        self.tid = tid
        self.start = start
        self.duration = duration
        self.stack = stack
    }

    /// Evidence pointing at slice `index` of `model`.
    public static func slice(_ index: Int, in model: TraceModel, _ description: String, stack: [String] = [])
        -> Evidence
    {
        let s = model.slices[index]
        let t = model.threads[s.thread]
        return Evidence(
            description, slice: index, pid: t.pid, tid: t.tid, start: s.start, duration: s.duration, stack: stack)
    }
}

/// One conclusion of an analyzer.
public struct Finding: Sendable {
    /// The analyzer's stable rule id (`lock-contention`, `blocked-event-loop`, …).
    public var id: String
    public var severity: Severity
    /// What it is about (a lock's name, a loop's name, a channel) — empty for the whole trace.
    public var subject: String
    /// One sentence with the numbers.
    public var summary: String
    /// Whether figures were inferred from names rather than measured.
    public var inferred: Bool
    /// Figures, by name (durations in milliseconds, shares 0…1).
    public var metrics: [(String, Double)]
    /// Where to look.
    public var evidence: [Evidence]

    public init(
        id: String, severity: Severity, subject: String = "", summary: String, inferred: Bool = false,
        metrics: [(String, Double)] = [], evidence: [Evidence] = []
    ) {
        self.id = id
        self.severity = severity
        self.subject = subject
        self.summary = summary
        self.inferred = inferred
        self.metrics = metrics
        self.evidence = evidence
    }

    /// A metric by name.
    public func metric(_ name: String) -> Double? { metrics.first { $0.0 == name }?.1 }
}

/// Options every analyzer may read.
public struct AnalysisOptions: Sendable {
    /// A callback/tick/job at least this long blocks its loop (default 100 ms).
    public var slowCallback: TraceDuration = TraceDuration(nanoseconds: 100_000_000)
    /// CPU share at or above which work is CPU-bound (default 0.7).
    public var cpuBound: Double = 0.7
    /// CPU share at or below which work is wait-bound (default 0.3).
    public var waitBound: Double = 0.3
    /// IPC tax (IPC time ÷ compute) at or above which IPC is a warning (default 0.2).
    public var ipcTax: Double = 0.2
    /// Waits in flight at which an event loop beats threads (default 100).
    public var manyWaits: Int = 100
    /// A wait at least this long is slow (default 50 ms).
    public var slowWait: TraceDuration = TraceDuration(nanoseconds: 50_000_000)
    /// How many evidence items a finding lists.
    public var evidenceLimit: Int = 5

    public init() {}
}

/// Durations and shares as report text.
enum Text {
    static func ms(_ ns: Int64) -> String { SummaryRenderer.formatDuration(TraceDuration(nanoseconds: ns)) }
    static func pct(_ share: Double) -> String {
        let p = share * 100
        return p >= 10 || p == 0 ? "\(Int(p.rounded())) %" : "\(SummaryRenderer.format3(p)) %"
    }
    static func x(_ v: Double) -> String { SummaryRenderer.format3(v) + "×" }
    static func millis(_ ns: Int64) -> Double { (Double(ns) / 1e3).rounded() / 1e3 }
}
