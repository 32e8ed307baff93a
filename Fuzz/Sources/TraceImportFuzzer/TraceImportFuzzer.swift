// libFuzzer entry point: any bytes in, a model or a TraceReadError out — never a crash, a hang
// or memory out of proportion to the input.
import CCTraceAnalysis
import CCTraceFormat

@_cdecl("LLVMFuzzerTestOneInput")
public func traceImportFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let model = try? TraceImporter.importTrace(bytes: bytes, name: "fuzz") {
        // Exercise what the report reads from the model, too.
        let summary = TraceSummary(model: model)
        _ = SummaryRenderer.render(summary, path: "fuzz", format: .json)
        _ = SummaryRenderer.render(summary, path: "fuzz", format: .text)
        for s in model.samples { _ = s.stackFrame.map { model.stack(of: $0) } }
        // And the whole analysis: work profile, analyzers, recommendation, every renderer.
        let report = AnalysisReport(model: model)
        for format in ReportFormat.all { _ = ReportRenderer.render(report, path: "fuzz", format: format) }
        // The analysis invariants hold for any input: a violation is a finding of the fuzzer.
        let broken = AnalysisInvariants.violations(of: report.analysis, model: model)
        if !broken.isEmpty { fatalError("analysis invariant broken: \(broken.joined(separator: "; "))") }
    }
    return 0
}
