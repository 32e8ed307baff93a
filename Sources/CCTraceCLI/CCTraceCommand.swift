import ArgumentParser
import CCTraceAnalysis
import CCTraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// `cctrace`: analyze and view Chrome-format traces.
@main
struct CCTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cctrace",
        abstract: "Find what holds a concurrent program back, and which concurrency model fits it.",
        version: "0.1.0",
        subcommands: [Report.self]
    )
}

/// `cctrace report TRACE`.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyze a Chrome-format trace (cctrace's or another tool's).",
        discussion: "Exit status: 0 on success, 2 when the input cannot be read as a trace."
    )

    @Argument(help: "The trace file (JSON, array or object form); '-' reads standard input.")
    var trace: String

    @Option(help: "Output format: text or json.")
    var format: String = "text"

    @Option(help: "How many entries each ranking shows.")
    var top: Int = 10

    func run() throws {
        guard let reportFormat = ReportFormat(rawValue: format) else {
            throw ValidationError("unknown format '\(format)'; use text or json")
        }
        let model: TraceModel
        do {
            model = try TraceImporter.importTrace(path: trace)
        } catch {
            FileError.print("cctrace: error: \(SummaryRenderer.terminalSafe(error.description))")
            throw ExitCode(2)
        }
        let summary = TraceSummary(model: model, top: max(top, 1))
        Swift.print(SummaryRenderer.render(summary, path: trace, format: reportFormat), terminator: "")
    }
}

/// Standard error, unbuffered.
enum FileError {
    static func print(_ line: String) {
        var text = line + "\n"
        text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }
}
