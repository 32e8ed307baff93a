import CCTraceAnalysis
import CCTraceFormat
import Foundation
import Testing

let reportFixtures = fixtures.appendingPathComponent("reports")

/// The analysis of a recorded fixture, on any machine: traces that do not say their cores are
/// analyzed with 2 assumed (the reports say "assumed"), and the invariants are checked.
func fixtureReport(_ name: String) throws -> AnalysisReport {
    let model = try TraceImporter.importTrace(path: reportFixtures.appendingPathComponent(name + ".json.gz").path)
    var options = AnalysisOptions()
    options.assumedCores = 2
    let report = AnalysisReport(model: model, options: options)
    let broken = AnalysisInvariants.violations(of: report.analysis, model: model)
    #expect(broken.isEmpty, "\(name): \(broken)")
    return report
}

/// Recorded traces — of the samples (cctrace) and of small Python programs (viztracer 1.1.1;
/// the programs are in `Fixtures/reports/python`, `record.sh` re-records everything) — and the
/// verdicts an expert gives them.
@Suite struct ReportVerdictTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var fixture: String
        var model: ConcurrencyModel
        var warnings: [String] = []
        var change: Bool?
        var testDescription: String { fixture }
    }

    static let cases: [Case] = [
        Case(fixture: "swift-cpu-global-lock", model: .processes, warnings: ["cpu-serialized", "lock-contention"]),
        Case(fixture: "swift-cpu-processes", model: .processes, change: false),
        Case(fixture: "swift-cpu-threads", model: .threads, change: false),
        Case(fixture: "swift-io-threads", model: .threads, change: false),
        Case(fixture: "swift-async-connections", model: .async, change: false),
        Case(fixture: "swift-blocked-loop", model: .hybrid, warnings: ["blocked-event-loop"]),
        Case(fixture: "swift-ipc-heavy", model: .threads, warnings: ["ipc-overhead"]),
        Case(fixture: "swift-lock-contention", model: .threads, warnings: ["lock-contention"]),
        Case(fixture: "swift-sequential", model: .sequential, change: false),
        // CPU-bound Python threads: the GIL serializes them.
        Case(fixture: "viztracer-cpu_threads", model: .processes, warnings: ["cpu-serialized"], change: true),
        Case(fixture: "viztracer-io_threads", model: .threads, change: false),
        Case(fixture: "viztracer-joinonly", model: .threads, change: false),
        Case(fixture: "viztracer-queuecons", model: .threads, change: false),
        Case(fixture: "viztracer-sockthreads", model: .threads, change: false),
        Case(fixture: "viztracer-lockc", model: .threads, warnings: ["lock-contention"]),
        Case(fixture: "viztracer-mp", model: .processes, change: false),
        Case(fixture: "viztracer-ppe", model: .processes, change: false),
        Case(fixture: "viztracer-mpbig", model: .sequential, warnings: ["ipc-overhead"], change: true),
        Case(fixture: "viztracer-aio", model: .hybrid, warnings: ["blocked-event-loop"]),
        Case(fixture: "viztracer-aioclean", model: .async, change: false),
        Case(fixture: "viztracer-seq", model: .sequential, change: false),
        Case(fixture: "viztracer-seqitems", model: .processes, change: true),
        // hashlib releases the GIL: its calls overlap across threads, so threads are right.
        Case(fixture: "viztracer-hashthreads", model: .threads, change: false),
        Case(fixture: "viztracer-tpecpu", model: .processes, warnings: ["cpu-serialized"], change: true),
        // A pool of processes for tiny tasks: the pickling and pipes cost more than the work.
        Case(fixture: "viztracer-mptiny", model: .sequential, warnings: ["ipc-overhead"], change: true),
        Case(fixture: "viztracer-aiocpu", model: .async, change: false),
        // Per-task rows (--log_async): tasks, not threads; the blocking call is named.
        Case(fixture: "viztracer-aiotasks", model: .hybrid, warnings: ["blocked-event-loop"]),
        // A Queue moving 4 MiB payloads: GIL waits while the feeder pickles and the queue's
        // flow control are not lock contention; the copies outweigh the work.
        Case(fixture: "viztracer-mpqueue", model: .sequential, warnings: ["ipc-overhead"], change: true),
    ]

    /// viztracer's per-task rows are tasks: the trace has one thread, and the offender of the
    /// blocked loop is the function the coroutine called, found on the task's row — not the
    /// loop's plumbing (`Context.run`, `Handle._run`).
    @Test func asyncioTaskRowsAreTasks() throws {
        let report = try fixtureReport("viztracer-aiotasks")
        #expect(report.summary.threads.count - report.summary.taskRowCount == 1)
        #expect(report.summary.taskCount >= 30)
        let loop = try #require(report.analysis.findings.loops.loops.first)
        #expect(loop.offenders == ["render_report"], "\(loop.offenders)")
        for e in loop.evidence {
            guard case .blockedLoop(_, _, let nature, let task, _, _) = e.kind else { continue }
            #expect(nature == .blockingInferred && (task ?? "").hasPrefix("Task-"))
        }
    }

    @Test(arguments: cases)
    func verdict(_ c: Case) throws {
        let report = try fixtureReport(c.fixture)
        #expect(report.recommendation.model == c.model, "\(report.reasons)")
        let warned = Set(report.findings.filter { $0.severity == .warning }.map(\.id))
        #expect(warned == Set(c.warnings), "\(report.findings.map { "\($0.severity) \($0.id): \($0.summary)" })")
        if let change = c.change { #expect(report.recommendation.change == change) }
    }

    /// Every recorded trace's text report, compared with `golden/reports/<name>.txt`
    /// (CCTRACE_UPDATE_GOLDEN=1 rewrites them; review the diff).
    @Test(arguments: cases.map(\.fixture))
    func textReportMatchesGolden(_ name: String) throws {
        let actual = ReportRenderer.render(try fixtureReport(name), path: name + ".json.gz", format: .text)
        let golden = fixtures.appendingPathComponent("golden/reports/\(name).txt")
        if ProcessInfo.processInfo.environment["CCTRACE_UPDATE_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(
                at: golden.deletingLastPathComponent(), withIntermediateDirectories: true)
            try actual.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(actual == expected, "golden report \(name) differs; run with CCTRACE_UPDATE_GOLDEN=1 and review")
        for line in actual.split(separator: "\n") {
            #expect(line.count <= 80, "wider than 80 columns: \(line)")
        }
    }
}

/// The JSON report's documented schema (docs/report-schema.md).
@Suite struct ReportSchemaTests {
    @Test func jsonHasTheDocumentedShape() throws {
        let text = ReportRenderer.render(try fixtureReport("swift-blocked-loop"), path: "x", format: .json)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(json["schema_version"] as? Int == ReportRenderer.schemaVersion)
        let rec = try #require(json["recommendation"] as? [String: Any])
        for key in [
            "model", "current_model", "current_detail", "change", "confidence", "expected_speedup", "headline",
            "advice", "reasons", "inferred", "what_if", "expected_speedup_range", "expected_speedup_from",
            "what_if_replayed_ms",
        ] {
            #expect(rec[key] != nil, "recommendation.\(key)")
        }
        let rows = try #require(rec["what_if"] as? [[String: Any]])
        #expect(rows.count >= 2)
        #expect(rows.filter { $0["current"] as? Bool == true }.count == 1)
        for row in rows {
            #expect(ConcurrencyModel(rawValue: row["model"] as? String ?? "") != nil)
            for key in ["workers", "predicted_ms", "low_ms", "high_ms"] {
                #expect(row[key] is Double, "what_if.\(key)")
            }
        }
        #expect(ConcurrencyModel(rawValue: rec["model"] as? String ?? "") != nil)
        let findings = try #require(json["findings"] as? [[String: Any]])
        #expect(!findings.isEmpty)
        for f in findings {
            #expect(AnalysisReport.analyzerIDs.contains(f["id"] as? String ?? ""))
            #expect(Severity(rawValue: f["severity"] as? String ?? "") != nil)
            for key in ["subject", "summary", "inferred", "metrics", "evidence"] {
                #expect(f[key] != nil, "finding.\(key)")
            }
        }
        let blocked = try #require(findings.first { $0["id"] as? String == "blocked-event-loop" })
        let evidence = try #require((blocked["evidence"] as? [[String: Any]])?.first)
        for key in ["description", "pid", "tid", "ts_us", "dur_us"] { #expect(evidence[key] != nil, "evidence.\(key)") }
        let work = try #require(json["work"] as? [String: Any])
        for key in ["window_ms", "cores", "parallelism", "cpu_share", "critical_path_ms", "total", "threads"] {
            #expect(work[key] != nil, "work.\(key)")
        }
        for key in ["event_count", "duration_ms", "processes", "threads", "busiest_spans", "session", "diagnostics"] {
            #expect(json[key] != nil, "\(key)")
        }
    }

    /// Markdown escapes what came from the trace.
    @Test func markdownEscapesTraceText() throws {
        var b = TraceBuilder()
        for i in 0..<4 {
            b.slice("<img src=x onerror=alert(1)>|*x*", tid: 2, ts: Double(i) * 1000, dur: 900)
            b.slice("_thread.lock.acquire", tid: 2, ts: Double(i) * 1000 + 1, dur: 800)
        }
        let md = ReportRenderer.render(try b.report(), path: "t", format: .markdown)
        #expect(md.contains("**Recommendation:"))
        #expect(!md.contains("<img"))
        #expect(md.contains("&lt;img"))
    }
}

/// Frames in text reports: the compiler's specialization wrappers dropped, C++ runtime frames
/// demangled; anything else unchanged.
@Suite struct ReadableFrameTests {
    @Test func specializationsAndCxx() {
        #expect(
            ReportRenderer.readableFunction("generic specialization <Swift.Array<Swift.Int>> of App.sum<A>(A) -> A")
                == "App.sum<A>(A) -> A")
        #expect(
            ReportRenderer.readableFunction(
                "function signature specialization <Arg[0] = Dead, Arg[1] = Owned To Guaranteed> of App.f(Swift.Int) -> ()"
            ) == "App.f(Swift.Int) -> ()")
        #expect(ReportRenderer.readableFunction("merged App.g() -> ()") == "App.g() -> ()")
        #expect(
            ReportRenderer.readableFunction("_ZN5swift9threading5fatalEPKcz + 0x10 (libswiftCore.so)")
                == "swift::threading::fatal(char const*, ...) + 0x10 (libswiftCore.so)")
        #expect(ReportRenderer.readableFunction("App.plain() -> ()") == "App.plain() -> ()")
        #expect(ReportRenderer.readableFunction("_Znot a symbol") == "_Znot a symbol")
    }
}
