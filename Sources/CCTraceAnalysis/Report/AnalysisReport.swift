import CCTraceFormat

/// Everything `cctrace report` says about a trace, in words: the summary, the analysis with its
/// findings and recommendation, and the hottest sampled stacks.
public struct AnalysisReport: Sendable {
    public var summary: TraceSummary
    /// The analysis the words come from.
    public var analysis: Analysis
    /// The analyzers' results as findings, warnings first.
    public var findings: [Finding]
    /// The hottest sampled stacks per thread (empty without stack samples).
    public var hotStacks: HotStacks

    /// The analyzers, in report order.
    public static let analyzerIDs = [
        CPUSerializedAnalyzer.id, LockContentionAnalyzer.id, BlockedEventLoopAnalyzer.id, CooperativePoolAnalyzer.id,
        ActorContentionAnalyzer.id,
        IPCOverheadAnalyzer.id, CrossHostAnalyzer.id,
    ]

    /// Analyzes `model` (``AnalysisPipeline``) and puts the result in words.
    public init(model: TraceModel, options: AnalysisOptions = AnalysisOptions()) {
        // The stacks read only the model: beside the analysis. The summary's sums come from the
        // classification's pass over the slice names (``SliceNames``), unless the trace was too
        // long to analyze (then it was not classified).
        let top = max(options.top, 1)
        let (analysis, firstStacks) = beside(
            { AnalysisPipeline.run(model, options: options) },
            { HotStacks(model: model) })
        var summary = TraceSummary(
            model: model, top: top, names: analysis.tooLong ? nil : analysis.profile.classification.names)
        let rows = analysis.profile.classification.taskRows
        summary.taskCount += rows.count
        summary.taskRowCount = rows.count
        self.analysis = analysis
        self.summary = summary
        findings = FindingText.findings(analysis.findings)
        hotStacks = analysis.tooLong ? HotStacks(model: model.withoutActivity()) : firstStacks
    }

    public var profile: WorkProfile { analysis.profile }
    public var recommendation: Recommendation { analysis.recommendation }
    public var options: AnalysisOptions { analysis.options }
    /// The recommendation's headline, advice, reasons and the current model, in words.
    public var headline: String { RecommendationText.headline(recommendation) }
    public var advice: String { RecommendationText.advice(recommendation) }
    public var reasons: [String] {
        RecommendationText.reasons(recommendation, slowCallback: options.heuristics.slowCallback.nanoseconds)
    }
    public var currentDetail: String { RecommendationText.current(recommendation.current) }

    /// Whether a finding with `id` at `severity` or worse is present (for `--fail-on`).
    public func has(_ id: String, atLeast severity: Severity) -> Bool {
        findings.contains { $0.id == id && $0.severity >= severity }
    }
}
