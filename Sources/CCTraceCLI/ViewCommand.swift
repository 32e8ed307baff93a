import ArgumentParser
import CCTraceAnalysis
import CCTraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// `cctrace view TRACE`: the web viewer on 127.0.0.1, or one self-contained HTML file.
struct View: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open a trace in cctrace's web viewer (timeline, flows, counters, findings).",
        discussion: """
            Serves on 127.0.0.1 only, on a random free port unless --port is given, under an \\
            unguessable token in the URL; prints the URL and opens a browser when one is available. \\
            With --html, writes one self-contained file instead. Exit status 2 when the input is not a trace.
            """
    )

    @Argument(help: "The trace file (JSON, array or object form, optionally gzipped); '-' reads standard input.")
    var trace: String

    @Option(help: "Port to listen on (127.0.0.1); 0 picks a free one.")
    var port: UInt16 = 0

    @Flag(help: "Do not try to open a browser.")
    var noOpen = false

    @Option(help: "Write a self-contained HTML file here instead of serving.")
    var html: String?

    @Flag(
        help: ArgumentHelp(
            "Send slices as the page shows them rather than all at once (the default above "
                + "\(ViewerData.wholeDocumentSliceLimit) slices; not with --html or --compare)."))
    var onDemand = false

    @Option(
        help: ArgumentHelp(
            "A second trace (after a change) shown below the first on the same time axis from each start, with "
                + "`cctrace diff` of the two in the findings panel.", valueName: "AFTER"))
    var compare: String?

    func run() throws {
        guard let files = ViewerFiles.locate() else {
            FileError.print(
                "cctrace: error: the viewer's files were not found (set CCTRACE_VIEWER_DIR to the viewer/ directory)")
            throw ExitCode(1)
        }
        var options = AnalysisOptions()
        options.assumedCores = hostCores()
        let (analyzed, report) = try analyze(trace, options)
        var extra: [(String, [UInt8])] = []
        var second: TraceModel?
        if let compare {
            let (after, afterReport) = try analyze(compare, options)
            second = after
            extra.append(
                (
                    "compare",
                    ViewerData.json(model: after, report: afterReport, path: compare, embedArguments: html != nil)
                ))
            let diff = TraceDiff(
                before: report, beforeModel: analyzed, beforePath: trace, after: afterReport, afterModel: after,
                afterPath: compare)
            extra.append(("diff", Array(DiffRenderer.render(diff, format: .json).utf8)))
        }
        // A self-contained file has no server to ask, and a comparison numbers two models' slices
        // as one: both send everything.
        let sendOnDemand =
            html == nil && compare == nil
            && (onDemand || analyzed.slices.count > ViewerData.wholeDocumentSliceLimit)
        let slices = sendOnDemand ? ViewerSlices(model: analyzed, report: report) : nil
        let data = ViewerData.json(
            model: analyzed, report: report, path: trace, embedArguments: html != nil, extra: extra,
            onDemand: slices)
        if let html {
            guard let page = files.bundle(data: data) else {
                FileError.print("cctrace: error: the viewer in \(files.directory) is incomplete")
                throw ExitCode(1)
            }
            try writeFileOrExit(html, page)
            print("wrote \(html) (\(page.count) bytes; viewer from \(files.directory))")
            return
        }
        // The page numbers a compared trace's slices after the first trace's.
        let firstCount = analyzed.slices.count
        let server = ViewerServer(files: files, data: data, slices: slices) { [second] i in
            i < firstCount
                ? ViewerData.sliceDetails(model: analyzed, index: i, kinds: slices)
                : second.flatMap { ViewerData.sliceDetails(model: $0, index: i - firstCount) }
        }
        do {
            try server.bind(port: port)
        } catch {
            FileError.print("cctrace: error: \(error.description)")
            throw ExitCode(1)
        }
        print("cctrace view: \(server.url)")
        print("serving \(trace) on 127.0.0.1 only (viewer from \(files.directory)); Ctrl-C stops")
        fflush(nil)
        if !noOpen { openBrowser(server.url) }
        server.serve()
    }

    /// The trace at `path` imported (exit 2 when it is not a trace), with source lines, and its report.
    func analyze(_ path: String, _ options: AnalysisOptions) throws -> (TraceModel, AnalysisReport) {
        let model = try importOrExit(path)
        var analyzed = model
        if let symbolizer = SourceLines.symbolizer() { analyzed = SourceLines.resolve(model, symbolizer: symbolizer) }
        return (analyzed, AnalysisReport(model: analyzed, options: options))
    }

    /// `$BROWSER`, or `xdg-open` when a display is available.
    func openBrowser(_ url: String) {
        var command: String?
        if let browser = getenv("BROWSER") {
            command = String(cString: browser)
        } else if getenv("DISPLAY") != nil || getenv("WAYLAND_DISPLAY") != nil {
            command = "xdg-open"
        }
        guard let command else {
            print("(no browser found: open the URL yourself)")
            return
        }
        let argv = [strdup(command), strdup(url), nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        if posix_spawnp(&pid, command, nil, nil, argv, environ) != 0 {
            print("(could not start \(command): open the URL yourself)")
        }
    }
}
