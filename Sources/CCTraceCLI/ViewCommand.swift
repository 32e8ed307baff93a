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

    func run() throws {
        guard let files = ViewerFiles.locate() else {
            FileError.print(
                "cctrace: error: the viewer's files were not found (set CCTRACE_VIEWER_DIR to the viewer/ directory)")
            throw ExitCode(1)
        }
        let model: TraceModel
        do {
            model = try TraceImporter.importTrace(path: trace)
        } catch {
            FileError.print("cctrace: error: \(SummaryRenderer.terminalSafe(error.description))")
            throw ExitCode(2)
        }
        try requireEvents(model, path: trace)
        var analyzed = model
        if let symbolizer = SourceLines.symbolizer() { analyzed = SourceLines.resolve(model, symbolizer: symbolizer) }
        var options = AnalysisOptions()
        options.assumedCores = hostCores()
        let report = AnalysisReport(model: analyzed, options: options)
        let data = ViewerData.json(model: analyzed, report: report, path: trace)
        if let html {
            guard let page = files.bundle(data: data) else {
                FileError.print("cctrace: error: the viewer in \(files.directory) is incomplete")
                throw ExitCode(1)
            }
            let fd = open(html, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                FileError.print("cctrace: error: cannot write \(html) (errno \(errno))")
                throw ExitCode(1)
            }
            var written = 0
            while written < page.count {
                let n = page.withUnsafeBytes { write(fd, $0.baseAddress! + written, page.count - written) }
                if n <= 0 { break }
                written += n
            }
            close(fd)
            print("wrote \(html) (\(page.count) bytes; viewer from \(files.directory))")
            return
        }
        let server = ViewerServer(files: files, data: data) { ViewerData.sliceDetails(model: analyzed, index: $0) }
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
