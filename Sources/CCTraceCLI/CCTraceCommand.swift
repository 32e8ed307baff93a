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
        version: TraceVocabulary.version,
        subcommands: [Report.self, View.self, Record.self]
    )
}

/// `cctrace report TRACE`.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Analyze a Chrome-format trace (cctrace's or another tool's) and recommend a concurrency model.",
        discussion: """
            Exit status: 0 on success, 2 when the input cannot be read as a trace, 3 when a finding named \
            by --fail-on is present.
            """
    )

    @Argument(help: "The trace file (JSON, array or object form, optionally gzipped); '-' reads standard input.")
    var trace: String

    @Option(help: "Output format: text, json or markdown.")
    var format: String = "text"

    @Option(help: "How many entries each ranking shows.")
    var top: Int = 10

    @Option(help: "A loop callback, tick or job at least this many milliseconds long blocks its loop.")
    var slowCallback: Double = 100

    @Option(
        help: ArgumentHelp(
            "Exit 3 when finding ID is present at SEVERITY or worse (default warning); repeatable.",
            valueName: "ID[:SEVERITY]"))
    var failOn: [String] = []

    @Flag(help: "Never colour the text output (colour is used only on a terminal; NO_COLOR is honoured too).")
    var noColor = false

    @Flag(help: "Do not look up file:line for recorded stacks (done with llvm-symbolizer when it is installed).")
    var noSourceLines = false

    func validate() throws {
        guard ReportFormat(rawValue: format) != nil else {
            throw ValidationError("unknown format '\(format)'; use text, json or markdown")
        }
        guard slowCallback > 0, slowCallback.isFinite else { throw ValidationError("--slow-callback must be > 0") }
        for gate in failOn { _ = try Self.parseGate(gate) }
    }

    static func parseGate(_ gate: String) throws -> (id: String, severity: Severity) {
        let parts = gate.split(separator: ":", maxSplits: 1).map(String.init)
        guard let id = parts.first, AnalysisReport.analyzerIDs.contains(id) else {
            throw ValidationError(
                "unknown finding '\(gate)' for --fail-on; use one of \(AnalysisReport.analyzerIDs.joined(separator: ", "))"
            )
        }
        guard parts.count == 2 else { return (id, .warning) }
        guard let severity = Severity(rawValue: parts[1]) else {
            throw ValidationError("unknown severity '\(parts[1])' in --fail-on; use ok, info or warning")
        }
        return (id, severity)
    }

    func run() throws {
        let reportFormat = ReportFormat(rawValue: format)!
        let progress = ProgressBar(path: trace)
        let model: TraceModel
        do {
            model = try TraceImporter.importTrace(path: trace, progress: progress.map { bar in { bar.update($0) } })
        } catch {
            progress?.finish()
            FileError.print("cctrace: error: \(SummaryRenderer.terminalSafe(error.description))")
            throw ExitCode(2)
        }
        progress?.finish()
        var options = AnalysisOptions()
        options.slowCallback = TraceDuration(nanoseconds: Int64(slowCallback * 1_000_000))
        var analyzed = model
        if !noSourceLines, let symbolizer = SourceLines.symbolizer() {
            analyzed = SourceLines.resolve(model, symbolizer: symbolizer)
        }
        let report = AnalysisReport(model: analyzed, options: options, top: max(top, 1))
        let color = reportFormat == .text && !noColor && isatty(1) != 0 && getenv("NO_COLOR") == nil
        Swift.print(ReportRenderer.render(report, path: trace, format: reportFormat, color: color), terminator: "")
        for gate in failOn {
            let (id, severity) = try Self.parseGate(gate)
            if report.has(id, atLeast: severity) {
                FileError.print("cctrace: \(id) at \(severity.rawValue) or worse is present (--fail-on \(gate))")
                throw ExitCode(3)
            }
        }
    }
}

/// A progress bar on standard error while a large trace (≥ 32 MiB) is read, when standard
/// error is a terminal.
final class ProgressBar: @unchecked Sendable {
    private let total: Double
    private var shown = -1

    init?(path: String) {
        guard path != "-", !path.hasSuffix(".gz"), isatty(2) != 0 else { return nil }
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size >= 32 << 20 else { return nil }
        total = Double(st.st_size)
    }

    /// `fraction` of the input consumed (bytes read of the file's size).
    func update(_ bytesRead: Int) {
        let percent = Int(min(100, Double(bytesRead) / total * 100))
        guard percent != shown else { return }
        shown = percent
        let filled = percent * 30 / 100
        FileError.write(
            "\rreading [" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled)
                + "] \(percent) %")
    }

    func finish() {
        FileError.write("\r\u{1B}[K")
    }
}

/// Standard error, unbuffered.
enum FileError {
    static func print(_ line: String) { write(line + "\n") }

    static func write(_ text: String) {
        var text = text
        text.withUTF8 { _ = Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
