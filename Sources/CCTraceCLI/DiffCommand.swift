import ArgumentParser
import CCTraceAnalysis
import CCTraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// `cctrace diff BEFORE AFTER`: two runs of one program side by side.
struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compare two traces of one program (before/after a change): time, shares, findings, recommendation.",
        discussion: """
            Each change is judged against run-to-run noise: ±5 % (diff-noise), wider when a trace's repeated \
            items vary more. Exit status: 0 on success, 2 when an input cannot be read as a trace, 3 with \
            --fail-on-regression when the after run is slower beyond noise or has a new or worse warning.
            """
    )

    @Argument(help: "The trace before the change.")
    var before: String

    @Argument(help: "The trace after the change.")
    var after: String

    @Option(help: "Output format: text, json or markdown.")
    var format: String = "text"

    @Flag(help: "Exit 3 when the after run regressed (slower beyond noise, or a new or worse warning).")
    var failOnRegression = false

    @OptionGroup var analysis: AnalysisFlags

    func validate() throws {
        guard ReportFormat(rawValue: format) != nil else {
            throw ValidationError("unknown format '\(format)'; use text, json or markdown")
        }
        guard before != "-" || after != "-" else {
            throw ValidationError("only one trace can come from standard input")
        }
    }

    func run() throws {
        let options = try analysis.options(top: 10)
        let (beforeModel, beforeReport) = try analyze(before, options)
        let (afterModel, afterReport) = try analyze(after, options)
        let diff = TraceDiff(
            before: beforeReport, beforeModel: beforeModel, beforePath: before,
            after: afterReport, afterModel: afterModel, afterPath: after)
        Swift.print(DiffRenderer.render(diff, format: ReportFormat(rawValue: format)!), terminator: "")
        if failOnRegression, !diff.regressions.isEmpty {
            FileError.print(
                "cctrace: the after run regressed (\(diff.regressions.count)): "
                    + SummaryRenderer.terminalSafe(diff.regressions.joined(separator: "; ")))
            throw ExitCode(3)
        }
    }

    func analyze(_ path: String, _ options: AnalysisOptions) throws -> (TraceModel, AnalysisReport) {
        let model = try importOrExit(path)
        return (model, AnalysisReport(model: model, options: options))
    }
}
