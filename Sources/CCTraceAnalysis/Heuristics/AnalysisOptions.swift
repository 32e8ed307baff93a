import CCTraceFormat

/// What the caller tells the analysis: facts the trace may lack and the thresholds to use.
///
/// Nothing about the machine that reads the trace enters the analysis unless a caller puts it
/// here (the `cctrace` CLI passes its own core count as ``assumedCores`` and says so).
public struct AnalysisOptions: Sendable {
    /// The thresholds.
    public var heuristics = Heuristics()
    /// The recording machine's cores, when the trace does not say (`--cores`).
    public var cores: Int?
    /// Cores to assume when neither the trace nor ``cores`` says; the report marks the figure
    /// assumed. Defaults to ``Heuristics/assumedCores``.
    public var assumedCores: Int?
    /// How many evidence items a finding lists.
    public var evidenceLimit = 5
    /// How many entries each ranking of the summary shows.
    public var top = 10

    /// The defaults.
    public init() {}
}

/// The cores the analysis reasons with, and where the number came from.
public struct CoreCount: Sendable, Equatable {
    /// Where the count came from.
    public enum Source: String, Sendable {
        /// The trace's session metadata.
        case trace
        /// ``AnalysisOptions/cores``.
        case option
        /// Assumed (``AnalysisOptions/assumedCores`` or ``Heuristics/assumedCores``).
        case assumed
    }

    public var count: Int
    public var source: Source

    public init(count: Int, source: Source) {
        self.count = count
        self.source = source
    }

    /// Whether the count is a fact (from the trace or the user) rather than an assumption.
    public var known: Bool { source != .assumed }

    /// The trace's count if it has one, else the option, else the assumption.
    public static func resolve(_ model: TraceModel, options: AnalysisOptions) -> CoreCount {
        if let c = model.session[TraceVocabulary.Session.cores.string]?.intValue, c > 0, c < 1 << 20 {
            return CoreCount(count: Int(c), source: .trace)
        }
        if let c = options.cores, c > 0 { return CoreCount(count: c, source: .option) }
        return CoreCount(count: max(1, options.assumedCores ?? options.heuristics.assumedCores), source: .assumed)
    }
}
