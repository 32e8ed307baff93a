import CCTraceFormat

/// Everything `cctrace report` says about a trace: the summary, the work classification, the
/// findings of every analyzer and the recommendation.
public struct AnalysisReport: Sendable {
    public var summary: TraceSummary
    public var profile: WorkProfile
    public var findings: [Finding]
    public var recommendation: Recommendation
    public var options: AnalysisOptions

    /// The analyzers, in report order (each one file in `Analyzers/`).
    public static let analyzerIDs = [
        CPUSerializedAnalyzer.id, LockContentionAnalyzer.id, BlockedEventLoopAnalyzer.id, IPCOverheadAnalyzer.id,
    ]

    /// Analyzes `model`.
    public init(model: TraceModel, options: AnalysisOptions = AnalysisOptions(), top: Int = 10) {
        let profile = WorkProfile(model: model)
        var findings: [Finding] = []
        findings += CPUSerializedAnalyzer.analyze(model, profile: profile, options: options)
        findings += LockContentionAnalyzer.analyze(model, profile: profile, options: options)
        findings += BlockedEventLoopAnalyzer.analyze(model, profile: profile, options: options)
        findings += IPCOverheadAnalyzer.analyze(model, profile: profile, options: options)
        // Warnings first, then info, then ok; stable within a severity.
        let ranked = findings.enumerated().sorted {
            ($0.element.severity, -$0.offset) > ($1.element.severity, -$1.offset)
        }
        self.findings = ranked.map(\.element)
        self.profile = profile
        self.summary = TraceSummary(model: model, top: top)
        self.recommendation = Recommender.recommend(profile: profile, findings: self.findings, options: options)
        self.options = options
    }

    /// Whether a finding with `id` at `severity` or worse is present (for `--fail-on`).
    public func has(_ id: String, atLeast severity: Severity) -> Bool {
        findings.contains { $0.id == id && $0.severity >= severity }
    }
}
