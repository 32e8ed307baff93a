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
        subcommands: [Report.self, Diff.self, View.self, Record.self, Export.self, Merge.self, HeuristicsCommand.self]
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

    @OptionGroup var analysis: AnalysisFlags

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
        var timer = PhaseTimer()
        let model = try importOrExit(
            trace, progress: progress.map { bar in { bar.update($0) } }, done: { progress?.finish() })
        timer.mark("import")
        let options = try analysis.options(top: top)
        var analyzed = model
        if !noSourceLines, let symbolizer = SourceLines.symbolizer() {
            analyzed = SourceLines.resolve(model, symbolizer: symbolizer)
        }
        timer.mark("source lines")
        let report = AnalysisReport(model: analyzed, options: options)
        timer.mark("analysis")
        let color = reportFormat == .text && !noColor && isatty(1) != 0 && getenv("NO_COLOR") == nil
        Swift.print(ReportRenderer.render(report, path: trace, format: reportFormat, color: color), terminator: "")
        timer.mark("render")
        for gate in failOn {
            let (id, severity) = try Self.parseGate(gate)
            if report.has(id, atLeast: severity) {
                FileError.print("cctrace: \(id) at \(severity.rawValue) or worse is present (--fail-on \(gate))")
                throw ExitCode(3)
            }
        }
    }
}

/// The analysis options `report` and `diff` share: `--slow-callback`, `--cores`, `--set`.
struct AnalysisFlags: ParsableArguments {
    @Option(help: "A loop callback, tick or job at least this many milliseconds long blocks its loop.")
    var slowCallback: Double = 100

    @Option(
        help: ArgumentHelp(
            "The recording machine's cores, when the trace does not say (default: this machine's, marked assumed).",
            valueName: "N"))
    var cores: Int?

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp(
            "Override a heuristic threshold (see 'cctrace heuristics' for keys and units); repeatable.",
            valueName: "KEY=VALUE"))
    var settings: [String] = []

    func validate() throws {
        guard slowCallback > 0, slowCallback.isFinite else { throw ValidationError("--slow-callback must be > 0") }
        if let cores, cores < 1 || cores > 1 << 20 { throw ValidationError("--cores must be a positive core count") }
        _ = try options(top: 10)
    }

    /// The options these flags set, with `top` entries per ranking and this machine's cores as
    /// the assumption when neither the trace nor `--cores` says.
    func options(top: Int) throws -> AnalysisOptions {
        var options = AnalysisOptions()
        options.heuristics.slowCallback = TraceDuration(nanoseconds: Int64(slowCallback * 1_000_000))
        for setting in settings {
            let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let value = Double(parts[1]) else {
                throw ValidationError("--set takes KEY=VALUE with a number, not '\(setting)'")
            }
            do { try options.heuristics.set(parts[0], to: value) } catch {
                throw ValidationError("--set \(setting): \(error.description)")
            }
        }
        options.cores = cores
        options.assumedCores = hostCores()
        options.top = max(top, 1)
        return options
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

/// This machine's online cores: only ever an assumption about the machine that recorded a
/// trace, and the report says so.
func hostCores() -> Int {
    max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
}

/// The trace at `path`, imported; a file that is not a trace is one line on standard error
/// and exit status 2, as is one with nothing to analyze (``requireEvents(_:path:)``).
/// `progress` sees the bytes read; `done` runs when reading ends, before any error is printed.
func importOrExit(_ path: String, progress: ((Int) -> Void)? = nil, done: () -> Void = {}) throws -> TraceModel {
    let model: TraceModel
    do {
        model = try TraceImporter.importTrace(path: path, progress: progress)
        done()
    } catch {
        done()
        FileError.print("cctrace: error: \(SummaryRenderer.terminalSafe(error.description))")
        throw ExitCode(2)
    }
    try requireEvents(model, path: path)
    return model
}

/// Writes `bytes` to a new file at `path` (replacing one); a failure is one line on standard
/// error and exit status 1.
func writeFileOrExit(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    var written = 0
    if fd >= 0 {
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            written += n
        }
        close(fd)
    }
    guard fd >= 0, written == bytes.count else {
        FileError.print("cctrace: error: cannot write \(SummaryRenderer.terminalSafe(path)) (errno \(errno))")
        throw ExitCode(1)
    }
}

/// Exits 2 with "FILE: no events" and the import diagnostics that explain why, when `model`
/// holds nothing to analyze (an empty array, only metadata, a compressed file cut off early).
func requireEvents(_ model: TraceModel, path: String) throws {
    guard !model.hasEvents else { return }
    FileError.print("cctrace: error: \(SummaryRenderer.terminalSafe(path)): no events")
    for d in model.diagnostics.prefix(5) {
        var place = ""
        if d.line > 0 { place += "line \(d.line)" }
        if d.byteOffset >= 0 { place += (place.isEmpty ? "" : ", ") + "byte \(d.byteOffset)" }
        FileError.print(
            "  \(d.kind)\(place.isEmpty ? "" : " at \(place)"): \(SummaryRenderer.terminalSafe(d.message))"
                + (d.count > 1 ? " (×\(d.count))" : ""))
    }
    throw ExitCode(2)
}

/// `cctrace heuristics`: every threshold the analysis uses, its value, and why.
struct HeuristicsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "heuristics",
        abstract:
            "List the analysis thresholds: key, default, unit, what each decides and why (override with report --set)."
    )

    @Option(help: "Output format: text or markdown.")
    var format: String = "text"

    func validate() throws {
        guard format == "text" || format == "markdown" else {
            throw ValidationError("unknown format '\(format)'; use text or markdown")
        }
    }

    func run() throws {
        Swift.print(format == "markdown" ? HeuristicsTable.markdown() : HeuristicsTable.text(), terminator: "")
    }
}
