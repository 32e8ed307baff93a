import CCTraceFormat

/// The language of the traced program, when the trace tells (it shapes the advice: CPython's
/// threads share one interpreter lock, Swift's do not).
public enum SourceLanguage: String, Sendable {
    case swift, python, unknown

    /// What the trace says: the recorder's metadata first, then viztracer's, then Python-shaped
    /// names among the first slices; cctrace's library records Swift programs (its preload shim
    /// records any program, so it proves nothing).
    public static func detect(in model: TraceModel, heuristics h: Heuristics) -> SourceLanguage {
        if let l = model.session[TraceVocabulary.Session.language.string]?.stringValue {
            return SourceLanguage(rawValue: l.lowercased()) ?? .unknown
        }
        if model.session[TraceVocabulary.Imported.viztracerVersion] != nil { return .python }
        var python = 0
        // Names repeat: each is looked at once.
        var shaped = SliceNameMemo<Bool>()
        for s in model.slices.prefix(h.languageScanSlices) where shaped.value(name: s, CPython.isPythonShaped) {
            python += 1
            if python >= h.languageNameEvidence { return .python }
        }
        if let version = model.session[TraceVocabulary.Session.version.string]?.stringValue,
            !version.hasSuffix(TraceVocabulary.preloadSuffix)
        {
            return .swift
        }
        return .unknown
    }
}
