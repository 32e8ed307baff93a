import CCTraceFormat

/// One conclusion of an analyzer, in words: what the report lists under "Findings".
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
    /// The figures, as the JSON report lists them (durations in milliseconds, shares 0…1;
    /// `nil` where no figure exists, written as `null`).
    public var metrics: [(String, Double?)]
    /// Where to look.
    public var evidence: [Evidence]

    init(
        id: String, severity: Severity, subject: String = "", summary: String, inferred: Bool = false,
        metrics: [(String, Double?)] = [], evidence: [Evidence] = []
    ) {
        self.id = id
        self.severity = severity
        self.subject = subject
        self.summary = summary
        self.inferred = inferred
        self.metrics = metrics
        self.evidence = evidence
    }
}

/// Durations, shares and sizes as report text.
enum Text {
    static func ms(_ ns: Int64) -> String { SummaryRenderer.formatDuration(TraceDuration(nanoseconds: ns)) }
    /// `a`, `a and b`, `a, b and c`, or the first three and how many more.
    static func list(_ items: [String]) -> String {
        if items.count > 3 { return items.prefix(3).joined(separator: ", ") + " and \(items.count - 3) more" }
        if items.count <= 1 { return items.first ?? "" }
        return items.dropLast().joined(separator: ", ") + " and " + items.last!
    }
    static func pct(_ share: Double) -> String {
        let p = share * 100
        return p >= 10 || p == 0 ? "\(Int(p.rounded())) %" : "\(SummaryRenderer.format3(p)) %"
    }
    static func x(_ v: Double) -> String { SummaryRenderer.format3(v) + "×" }
    static func millis(_ ns: Int64) -> Double { (Double(ns) / 1e3).rounded() / 1e3 }
    static func plural(_ n: Int, _ word: String, _ plural: String? = nil) -> String {
        n == 1 ? word : plural ?? word + "s"
    }
    static func bytes(_ b: Int64) -> String {
        let v = Double(b)
        switch v {
        case 1_048_576...: return SummaryRenderer.format3(v / 1_048_576) + " MiB"
        case 1024...: return SummaryRenderer.format3(v / 1024) + " KiB"
        default: return "\(b) B"
        }
    }
}
