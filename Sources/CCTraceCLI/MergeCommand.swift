import ArgumentParser
import CCTraceAnalysis
import CCTraceFormat

#if canImport(Glibc)
    import Glibc
#endif

/// `cctrace merge -o OUT TRACE...`: traces from several hosts on one clock.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Merge traces recorded on different hosts onto one clock, aligned by the requests they share.",
        discussion: """
            The first trace's clock is the reference. Each other host's offset comes from the client/server \
            span pairs of requests between it and an aligned host (CCTraceTracer's spans: the server ran \
            inside the client's wait, so the offset lies in an interval; its middle is used and its half-width \
            is the error bound), else from the sessions' wall-clock anchors (as good as the hosts' clock \
            synchronization). Prints each host's offset, bound and method; the merged file says them too \
            (a cctrace.merge metadata event). Exit status 2 when an input is not a trace.
            """
    )

    @Option(name: .shortAndLong, help: "The merged trace to write.")
    var output: String

    @Argument(help: "Traces (files or directories), one per host; the first is the reference clock.")
    var traces: [String]

    func validate() throws {
        guard traces.count >= 2 else { throw ValidationError("give at least two traces to merge") }
    }

    func run() throws {
        var inputs: [TraceMerge.Input] = []
        for path in traces {
            do {
                inputs += try TraceMerge.read(path: path)
            } catch {
                FileError.print("cctrace: error: \(SummaryRenderer.terminalSafe(error.description))")
                throw ExitCode(2)
            }
        }
        let alignments = TraceMerge.align(inputs)
        let bytes = TraceMerge.merged(inputs, alignments)
        try writeFileOrExit(output, bytes)
        print("merged \(inputs.count) traces into \(output)")
        for a in alignments {
            var line = "  \(SummaryRenderer.terminalSafe(a.host)): \(SummaryRenderer.terminalSafe(a.path)) — "
            switch a.method {
            case .reference: line += "reference clock"
            case .requests:
                line +=
                    "offset \(Self.ms(a.offset))" + (a.bound.map { " ± \(Self.ms($0))" } ?? "")
                    + " from \(a.pairs) request(s)"
                if a.flows > 0 { line += " and \(a.flows) flow(s)" }
                if let k = a.against, k != 0 {
                    line += " (against \(SummaryRenderer.terminalSafe(alignments[k].host)))"
                }
                if a.inconsistent {
                    line += "; the requests' bounds cross (a clock moved during the recording?): no bound"
                } else if a.endSlack > 0 {
                    line += "; a server span ended \(Self.ms(a.endSlack)) after its client's (it ended late)"
                }
            case .wallClock: line += "offset \(Self.ms(a.offset)) from the wall clocks (bound: the hosts' clock sync)"
            case .none: line += "not aligned (no shared request, no wall-clock anchor): as recorded"
            }
            print(line)
        }
    }

    /// Milliseconds with microsecond digits: an offset of seconds keeps its precision.
    static func ms(_ ns: Int64) -> String {
        let us = abs(ns) / 1000
        let fraction = String(us % 1000)
        return (ns < 0 ? "−" : "") + "\(us / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
            + " ms"
    }
}
