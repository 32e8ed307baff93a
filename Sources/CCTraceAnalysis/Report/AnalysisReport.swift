import CCTraceFormat

/// Everything `cctrace report` says about a trace: the summary, the work classification, the
/// findings of every analyzer and the recommendation.
public struct AnalysisReport: Sendable {
    public var summary: TraceSummary
    public var profile: WorkProfile
    public var findings: [Finding]
    public var recommendation: Recommendation
    public var options: AnalysisOptions
    /// The hottest sampled stacks per thread (empty without stack samples).
    public var hotStacks: HotStacks

    /// The analyzers, in report order (each one file in `Analyzers/`).
    public static let analyzerIDs = [
        CPUSerializedAnalyzer.id, LockContentionAnalyzer.id, BlockedEventLoopAnalyzer.id, IPCOverheadAnalyzer.id,
    ]

    /// The longest trace the analysis takes on (about 27 hours): beyond it, figures summed over
    /// many threads and spans could leave 64-bit nanoseconds, and such a file is almost always a
    /// mix of clocks rather than a day of recording.
    public static let longestAnalyzedTrace = TraceDuration(nanoseconds: 100_000_000_000_000)

    /// Analyzes `model`.
    public init(model: TraceModel, options: AnalysisOptions = AnalysisOptions(), top: Int = 10) {
        let tooLong = model.duration > Self.longestAnalyzedTrace
        let profile = WorkProfile(model: tooLong ? model.withoutActivity() : model)
        var findings: [Finding] = []
        let analyzed = tooLong ? model.withoutActivity() : model
        findings += CPUSerializedAnalyzer.analyze(analyzed, profile: profile, options: options)
        findings += LockContentionAnalyzer.analyze(analyzed, profile: profile, options: options)
        findings += BlockedEventLoopAnalyzer.analyze(analyzed, profile: profile, options: options)
        findings += IPCOverheadAnalyzer.analyze(analyzed, profile: profile, options: options)
        // Warnings first, then info, then ok; stable within a severity.
        let ranked = findings.enumerated().sorted {
            ($0.element.severity, -$0.offset) > ($1.element.severity, -$1.offset)
        }
        self.findings = ranked.map(\.element)
        self.profile = profile
        self.summary = TraceSummary(model: model, top: top)
        self.recommendation = Recommender.recommend(profile: profile, findings: self.findings, options: options)
        if tooLong {
            recommendation.reasons = [
                "The trace spans \(SummaryRenderer.formatDuration(model.duration)); cctrace analyzes traces up to "
                    + "\(SummaryRenderer.formatDuration(Self.longestAnalyzedTrace)) (mixed clocks?)."
            ]
        }
        self.options = options
        self.hotStacks = HotStacks(model: tooLong ? model.withoutActivity() : model)
    }

    /// Whether a finding with `id` at `severity` or worse is present (for `--fail-on`).
    public func has(_ id: String, atLeast severity: Severity) -> Bool {
        findings.contains { $0.id == id && $0.severity >= severity }
    }
}

extension TraceModel {
    /// The model with its processes and threads but no activity (slices, tasks, counters, flows).
    func withoutActivity() -> TraceModel {
        var m = self
        m.slices = []
        m.asyncSlices = []
        m.instants = []
        m.counters = []
        m.flows = []
        m.samples = []
        m.lockWaits = []
        m.lockHolds = []
        m.eventLoops = []
        m.ipcMessages = []
        m.threads = threads.map {
            var t = $0
            t.sliceRange = 0..<0
            t.cpu = nil
            return t
        }
        return m
    }
}
