import CCTraceFormat

/// Renders an ``AnalysisReport`` as terminal text, Markdown or JSON.
///
/// The JSON schema (`schema_version` 4) is documented in `docs/report-schema.md` and checked by
/// tests: top level `recommendation` (with `model`), `findings` (each with `id`, `severity`),
/// `work`, and the summary's fields.
public enum ReportRenderer {
    /// The JSON schema version of `cctrace report --format json`.
    public static let schemaVersion = 4

    /// The report in `format`; `color` adds ANSI colours to text (only on a terminal).
    public static func render(_ r: AnalysisReport, path: String, format: ReportFormat, color: Bool = false) -> String {
        switch format {
        case .json: return json(r, path: path).serialized(indent: 2) + "\n"
        case .markdown: return markdown(r, path: path)
        default: return text(r, path: path, color: color)
        }
    }

    // MARK: - Text

    static func text(_ r: AnalysisReport, path: String, color: Bool) -> String {
        func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
        let rec = r.recommendation
        let summaryText = SummaryRenderer.text(r.summary, path: path)
        var lines = summaryText.split(separator: "\n", omittingEmptySubsequences: false)
        // Header (title + counts + recorder line), then the verdict, then the details.
        var head: [Substring] = []
        while let first = lines.first, !first.isEmpty {
            head.append(first)
            lines.removeFirst()
        }
        var out = head.joined(separator: "\n") + "\n\n"
        let title = "Recommendation: \(rec.model.rawValue.uppercased())"
        var headline = wrap(title + " — " + r.headline, indent: "", hanging: "  ")
        if color { headline = paint(title, "1") + String(headline.dropFirst(title.count)) }
        out += headline
        out += wrap(
            "now: \(rec.current.model.rawValue) (\(SummaryRenderer.terminalSafe(r.currentDetail))) · change: "
                + "\(rec.change ? "yes" : "no") · confidence: \(rec.confidence.rawValue) · expected speedup "
                + "≈ \(SummaryRenderer.format3(rec.expectedSpeedup))×"
                + (rec.inferred ? " · some figures inferred" : ""),
            indent: "  ")
        out += wrap("how: " + SummaryRenderer.terminalSafe(r.advice), indent: "  ", hanging: "       ")
        out += "  why:\n"
        for reason in r.reasons {
            out += wrap("• " + SummaryRenderer.terminalSafe(reason), indent: "    ", hanging: "      ")
        }
        out += whatIfText(r.analysis.whatIf)
        out += "\nFindings\n"
        for f in r.findings {
            let head = "[\(f.severity.rawValue)] \(f.id)" + (f.inferred ? " (inferred)" : "") + ": "
            var block = wrap(head + SummaryRenderer.terminalSafe(f.summary), indent: "  ", hanging: "      ")
            if color {
                let code = f.severity == .warning ? "33;1" : f.severity == .info ? "36" : "32"
                block =
                    "  [" + paint(f.severity.rawValue, code) + String(block.dropFirst(3 + f.severity.rawValue.count))
            }
            out += block
            for e in f.evidence {
                out += wrap(
                    "- " + SummaryRenderer.terminalSafe(FindingText.describe(e)) + location(e), indent: "      ",
                    hanging: "        ")
                if !e.stack.isEmpty {
                    for frame in e.stack.prefix(6) {
                        out += "          " + SummaryRenderer.clip(compactFrame(frame), 68) + "\n"
                    }
                }
            }
        }
        out += "\nWork classification (share of each thread's life"
        out += r.profile.cpuMeasured ? "; CPU measured)\n" : "; CPU inferred from spans)\n"
        out +=
            "  " + SummaryRenderer.pad("thread", 22)
            + ["life", "run", "queue", "lock", "I/O", "IPC", "idle"].map {
                SummaryRenderer.pad($0, $0 == "life" ? 9 : 7, right: true)
            }.joined() + "\n"
        for t in r.profile.threads.prefix(16) {
            let life = Double(max(t.split.total, 1))
            func share(_ v: Int64) -> String { SummaryRenderer.pad(Text.pct(Double(v) / life), 7, right: true) }
            out +=
                "  " + SummaryRenderer.pad(SummaryRenderer.clip(t.label, 21), 22)
                + SummaryRenderer.pad(Text.ms(t.life), 9, right: true) + share(t.split.running)
                + share(t.split.runnable)
                + share(t.split.lockWait) + share(t.split.ioWait) + share(t.split.ipc) + share(t.split.idle) + "\n"
        }
        if r.profile.threads.count > 16 { out += "  … \(r.profile.threads.count - 16) more\n" }
        let p = r.profile
        out += wrap(
            "critical path ≈ \(Text.ms(p.criticalPath)) (\(Text.pct(p.criticalPathShare)) of the \(Text.ms(p.window)) "
                + "window); parallelism \(SummaryRenderer.format3(p.parallelism)) of \(p.cores) cores"
                + (p.coresKnown ? "" : " (assumed)") + "; language: \(p.language.rawValue)",
            indent: "  ")
        let hosts = hostSplits(r)
        if hosts.count > 1 {
            out += "\nHosts (merged trace; share of each host's busy thread time)\n"
            out +=
                "  " + SummaryRenderer.pad("host", 22) + SummaryRenderer.pad("busy", 9, right: true)
                + ["run", "queue", "lock", "I/O", "IPC"].map { SummaryRenderer.pad($0, 7, right: true) }.joined()
                + "  processes\n"
            for h in hosts {
                let busy = Double(max(h.split.busy, 1))
                func share(_ v: Int64) -> String { SummaryRenderer.pad(Text.pct(Double(v) / busy), 7, right: true) }
                out +=
                    "  " + SummaryRenderer.pad(SummaryRenderer.clip(SummaryRenderer.terminalSafe(h.host), 21), 22)
                    + SummaryRenderer.pad(Text.ms(h.split.busy), 9, right: true) + share(h.split.running)
                    + share(h.split.runnable) + share(h.split.lockWait) + share(h.split.ioWait) + share(h.split.ipc)
                    + "  \(h.pids.count)\n"
            }
        }
        if !r.hotStacks.threads.isEmpty {
            out += "\nHot stacks (CPU samples)\n"
            for t in r.hotStacks.threads.prefix(6) {
                out += "  " + SummaryRenderer.clip(t.label, 60) + " — \(t.samples) samples\n"
                for stack in t.stacks.prefix(2) {
                    out += "    " + SummaryRenderer.pad(Text.pct(stack.share), 6, right: true) + "  "
                    out +=
                        SummaryRenderer.clip(stack.frames.prefix(3).map(compactFrame).joined(separator: " ← "), 66)
                        + "\n"
                }
            }
        }
        // The rest of the summary (processes, threads, spans, tasks, diagnostics).
        out += lines.joined(separator: "\n")
        return out
    }

    /// The what-if table: each model's predicted window, × vs now, and range.
    static func whatIfText(_ w: WhatIf) -> String {
        guard w.rows.count > 1 else { return "" }
        var out = "\nWhat if (the recorded work replayed under each model; `docs/what-if.md`)\n"
        out +=
            "  " + SummaryRenderer.pad("model", 17) + SummaryRenderer.pad("workers", 8, right: true)
            + SummaryRenderer.pad("predicted", 11, right: true) + SummaryRenderer.pad("× vs now", 10, right: true)
            + "  range\n"
        for row in w.rows {
            let x = Double(w.measured) / Double(max(row.predicted, 1))
            out +=
                "  " + SummaryRenderer.pad(row.model.rawValue + (row.isCurrent ? " (now)" : ""), 17)
                + SummaryRenderer.pad("\(row.workers)", 8, right: true)
                + SummaryRenderer.pad(Text.ms(row.predicted), 11, right: true)
                + SummaryRenderer.pad(row.isCurrent ? "1" : SummaryRenderer.format3(x) + "×", 10, right: true)
                + (row.isCurrent ? "  measured" : "  \(Text.ms(row.low))–\(Text.ms(row.high))") + "\n"
        }
        var notes: [String] = []
        if let replayed = w.replayed {
            notes.append("replay of now \(Text.ms(replayed)) vs \(Text.ms(w.measured)) measured")
        }
        if w.cpuScale < 1 { notes.append("span CPU scaled ×\(SummaryRenderer.format3(w.cpuScale)) (not measured)") }
        if w.rows.contains(where: { $0.model == .processes && !$0.isCurrent }) {
            notes.append(
                "process start \(Text.ms(w.processStart))" + (w.processStartMeasured ? " (measured)" : " (assumed)"))
        }
        if w.gil { notes.append("one GIL per process") }
        out += wrap(notes.joined(separator: "; "), indent: "  ")
        return out
    }

    /// A frame for an 80-column line: without a Swift return type, keeping `at file:line`.
    static func compactFrame(_ frame: String) -> String {
        let at = frame.split(separator: " at ", maxSplits: 1, omittingEmptySubsequences: false)
        var name = readableFunction(String(at[0]))
        if let arrow = name.split(separator: " -> ", maxSplits: 1, omittingEmptySubsequences: false).first,
            name.contains(" -> "), !name.hasPrefix("closure")
        {
            name = String(arrow)
        }
        return at.count > 1 ? "\(name) at \(at[1])" : name
    }

    /// A frame's function for reading (text only; JSON keeps the frame whole): the compiler's
    /// specialization wrappers dropped (`generic specialization <…> of `, `function signature
    /// specialization <Arg[0] = Dead> of `, `merged `), and a C++ symbol (`_Z…`, the Swift
    /// runtime's own frames) demangled.
    public static func readableFunction(_ name: String) -> String {
        var s = name
        for wrapper in [
            "generic specialization ", "function signature specialization ", "merged ", "partial apply for ",
        ] {
            while let range = s.firstRange(of: wrapper) {
                var end = range.upperBound
                // Skip a balanced `<…>` and the ` of ` after it.
                if s[end...].hasPrefix("<") {
                    var depth = 0
                    var i = end
                    while i < s.endIndex {
                        if s[i] == "<" { depth += 1 }
                        if s[i] == ">" {
                            depth -= 1
                            if depth == 0 {
                                i = s.index(after: i)
                                break
                            }
                        }
                        i = s.index(after: i)
                    }
                    end = i
                }
                if s[end...].hasPrefix(" of ") { end = s.index(end, offsetBy: 4) }
                s.removeSubrange(range.lowerBound..<end)
            }
        }
        if s.hasPrefix("_Z"), let demangled = CxxDemangler.demangle(s) { return demangled }
        return s
    }

    static func location(_ e: Evidence) -> String {
        guard let start = e.start, let tid = e.tid else { return "" }
        return " [tid \(tid) at \(SummaryRenderer.format3(start.microseconds / 1e6)) s]"
    }

    /// Word-wraps `text` to 80 columns; continuation lines start with `hanging`.
    static func wrap(_ text: String, indent: String, hanging: String? = nil) -> String {
        let next = hanging ?? indent
        var out = ""
        var line = indent
        var fresh = true
        for word in text.split(separator: " ") {
            if !fresh && line.count + 1 + word.count > 80 {
                out += line + "\n"
                line = next
                fresh = true
            }
            if !fresh { line += " " }
            line += word
            fresh = false
        }
        return out + line + "\n"
    }

    // MARK: - Markdown

    /// `s` as Markdown table-cell text: terminal-safe, with Markdown's specials escaped.
    static func markdownEscape(_ s: String) -> String {
        var out = ""
        for c in SummaryRenderer.terminalSafe(s) {
            switch c {
            case "|": out += "\\|"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "*", "_", "`", "[", "]": out += "\\\(c)"
            case "\n": out += " "
            default: out.append(c)
            }
        }
        return out
    }

    static func markdown(_ r: AnalysisReport, path: String) -> String {
        let esc = markdownEscape
        let rec = r.recommendation
        var out = "## cctrace report — `\(String(path.map { $0 == "`" ? "'" : $0 }))`\n\n"
        out += "**Recommendation: \(rec.model.rawValue)** — \(esc(r.headline))\n\n"
        out += "- Now: \(rec.current.model.rawValue) (\(esc(r.currentDetail)))\n"
        out += "- Change: \(rec.change ? "yes" : "no") · confidence: \(rec.confidence.rawValue) · expected speedup ≈ "
        out += "\(SummaryRenderer.format3(rec.expectedSpeedup))×\(rec.inferred ? " · some figures inferred" : "")\n"
        out += "- How: \(esc(r.advice))\n\n"
        out += "Why:\n\n"
        for reason in r.reasons { out += "- \(esc(reason))\n" }
        out += "\n### Findings\n\n| severity | finding | summary |\n|---|---|---|\n"
        for f in r.findings {
            out += "| \(f.severity.rawValue) | `\(f.id)`\(f.inferred ? " (inferred)" : "") | \(esc(f.summary)) |\n"
        }
        let details = r.findings.filter { !$0.evidence.isEmpty && $0.severity != .ok }
        if !details.isEmpty {
            out += "\n<details><summary>Evidence</summary>\n\n"
            for f in details {
                out += "**\(f.id)**\(f.subject.isEmpty ? "" : " — \(esc(f.subject))")\n\n"
                for e in f.evidence {
                    out += "- \(esc(FindingText.describe(e)))\n"
                    if !e.stack.isEmpty { out += "  - stack: \(e.stack.prefix(6).map(esc).joined(separator: " ← "))\n" }
                }
                out += "\n"
            }
            out += "</details>\n"
        }
        out += "\n### Work classification\n\n| thread | life | running | runnable | lock | I/O | IPC | idle |\n"
        out += "|---|---:|---:|---:|---:|---:|---:|---:|\n"
        for t in r.profile.threads.prefix(20) {
            let life = Double(max(t.split.total, 1))
            let cells = [
                t.split.running, t.split.runnable, t.split.lockWait, t.split.ioWait, t.split.ipc, t.split.idle,
            ]
            .map { Text.pct(Double($0) / life) }
            out += "| \(esc(t.label)) | \(Text.ms(t.life)) | " + cells.joined(separator: " | ") + " |\n"
        }
        return out
    }

    /// The work split per host, for traces whose processes say their host (merged traces).
    static func hostSplits(_ r: AnalysisReport) -> [(host: String, pids: [Int64], split: TimeSplit)] {
        var hostOf: [Int64: String] = [:]
        for p in r.summary.processes { if let h = p.host { hostOf[p.pid] = h } }
        guard !hostOf.isEmpty else { return [] }
        var out: [String: (pids: Set<Int64>, split: TimeSplit)] = [:]
        for t in r.profile.threads {
            let host = hostOf[t.pid] ?? "unknown"
            out[host, default: ([], TimeSplit())].pids.insert(t.pid)
            out[host]!.split = out[host]!.split + t.split
        }
        return out.map { ($0.key, $0.value.pids.sorted(), $0.value.split) }.sorted { $0.host < $1.host }
    }

    // MARK: - JSON

    static func whatIfRow(_ row: WhatIfRow) -> JSONValue {
        .object([
            ("model", .string(row.model.rawValue)), ("workers", .number(Double(row.workers))),
            ("predicted_ms", .number(Text.millis(row.predicted))), ("low_ms", .number(Text.millis(row.low))),
            ("high_ms", .number(Text.millis(row.high))), ("current", .bool(row.isCurrent)),
        ])
    }

    static func json(_ r: AnalysisReport, path: String) -> JSONValue {
        func num(_ v: Double) -> JSONValue { .number(v.isFinite ? (v * 1000).rounded() / 1000 : 0) }
        func ms(_ ns: Int64) -> JSONValue { .number(Text.millis(ns)) }
        let rec = r.recommendation
        var members: [(String, JSONValue)] = [("schema_version", .number(Double(schemaVersion)))]
        members.append(
            (
                "recommendation",
                .object([
                    ("model", .string(rec.model.rawValue)), ("current_model", .string(rec.current.model.rawValue)),
                    ("current_detail", .string(r.currentDetail)), ("change", .bool(rec.change)),
                    ("confidence", .string(rec.confidence.rawValue)), ("expected_speedup", num(rec.expectedSpeedup)),
                    ("current_parallelism", num(rec.currentParallelism)),
                    ("headline", .string(r.headline)), ("advice", .string(r.advice)),
                    ("reasons", .array(r.reasons.map(JSONValue.string))), ("inferred", .bool(rec.inferred)),
                    (
                        "expected_speedup_range",
                        rec.speedupRange.map { .array([num($0.lowerBound), num($0.upperBound)]) } ?? .null
                    ),
                    ("expected_speedup_from", rec.speedupFrom.map { .string($0.rawValue) } ?? .null),
                    ("what_if", .array(r.analysis.whatIf.rows.map(whatIfRow))),
                    ("what_if_replayed_ms", r.analysis.whatIf.replayed.map(ms) ?? .null),
                ])
            ))
        members.append(
            (
                "findings",
                .array(
                    r.findings.map { f in
                        .object([
                            ("id", .string(f.id)), ("severity", .string(f.severity.rawValue)),
                            ("subject", .string(f.subject)), ("summary", .string(f.summary)),
                            ("inferred", .bool(f.inferred)),
                            ("metrics", .object(f.metrics.map { ($0.0, $0.1.map(num) ?? .null) })),
                            ("evidence", .array(f.evidence.map(evidence))),
                        ])
                    })
            ))
        let p = r.profile
        func split(_ s: TimeSplit) -> [(String, JSONValue)] {
            [
                ("running_ms", ms(s.running)), ("runnable_ms", ms(s.runnable)), ("lock_wait_ms", ms(s.lockWait)),
                ("io_wait_ms", ms(s.ioWait)), ("ipc_ms", ms(s.ipc)), ("idle_ms", ms(s.idle)),
            ]
        }
        var work: [(String, JSONValue)] = [
            ("window_ms", ms(p.window)), ("cores", .number(Double(p.cores))), ("cores_known", .bool(p.coresKnown)),
            ("cores_source", .string(p.coreCount.source.rawValue)),
            ("parallelism", num(p.parallelism)), ("cpu_share", num(p.cpuShare)), ("cpu_measured", .bool(p.cpuMeasured)),
            ("names_inferred", .bool(p.namesInferred)), ("language", .string(p.language.rawValue)),
            ("critical_path_ms", ms(p.criticalPath)), ("critical_path_share", num(p.criticalPathShare)),
            ("task_count", .number(Double(p.taskCount))), ("max_tasks_in_flight", .number(Double(p.maxTasksInFlight))),
            ("total", .object(split(p.total))),
        ]
        if let w = p.waits {
            work.append(
                (
                    "waits",
                    .object([
                        ("source", .string(RecommendationText.waitSource(w.source))),
                        ("count", .number(Double(w.count))),
                        ("max_in_flight", .number(Double(w.maxInFlight))), ("mean_in_flight", num(w.meanInFlight)),
                        ("p50_ms", ms(w.p50)), ("p95_ms", ms(w.p95)), ("inferred", .bool(w.inferred)),
                    ])
                ))
        }
        var byPid: [Int64: TimeSplit] = [:]
        for t in p.threads { byPid[t.pid, default: TimeSplit()] = byPid[t.pid, default: TimeSplit()] + t.split }
        let hosts = hostSplits(r)
        if hosts.count > 1 {
            work.append(
                (
                    "hosts",
                    .array(
                        hosts.map { h in
                            .object(
                                [("host", .string(h.host)), ("pids", .array(h.pids.map { .number(Double($0)) }))]
                                    + split(h.split))
                        })
                ))
        }
        work.append(
            (
                "processes",
                .array(
                    byPid.keys.sorted().map { pid in
                        .object([("pid", .number(Double(pid)))] + split(byPid[pid]!))
                    })
            ))
        work.append(
            (
                "tasks",
                .object([
                    ("count", .number(Double(p.taskCount))), ("max_in_flight", .number(Double(p.maxTasksInFlight))),
                    ("suspended_ms", ms(p.suspendedTaskTime)),
                ])
            ))
        work.append(
            (
                "threads",
                .array(
                    p.threads.map { t in
                        .object(
                            [
                                ("pid", .number(Double(t.pid))), ("tid", .number(Double(t.tid))),
                                ("label", .string(t.label)), ("life_ms", ms(t.life)),
                                ("cpu_measured", .bool(t.cpuMeasured)), ("names_inferred", .bool(t.namesInferred)),
                            ] + split(t.split))
                    })
            ))
        members.append(("work", .object(work)))
        members.append(
            (
                "hot_stacks",
                .array(
                    r.hotStacks.threads.map { t in
                        .object([
                            ("label", .string(t.label)), ("samples", .number(Double(t.samples))),
                            (
                                "stacks",
                                .array(
                                    t.stacks.map { s in
                                        .object([
                                            ("count", .number(Double(s.count))), ("share", num(s.share)),
                                            ("frames", .array(s.frames.map(JSONValue.string))),
                                        ])
                                    })
                            ),
                        ])
                    })
            ))
        if case .object(let summary) = SummaryRenderer.json(r.summary, path: path) {
            members += summary.filter { $0.0 != "schema_version" }
        }
        return .object(members)
    }

    static func evidence(_ e: Evidence) -> JSONValue {
        var m: [(String, JSONValue)] = [("description", .string(FindingText.describe(e)))]
        if let pid = e.pid { m.append(("pid", .number(Double(pid)))) }
        if let tid = e.tid { m.append(("tid", .number(Double(tid)))) }
        if let s = e.start { m.append(("ts_us", .number((s.microseconds * 1000).rounded() / 1000))) }
        if let d = e.duration { m.append(("dur_us", .number((d.microseconds * 1000).rounded() / 1000))) }
        if let i = e.slice { m.append(("slice", .number(Double(i)))) }
        if !e.stack.isEmpty { m.append(("stack", .array(e.stack.map(JSONValue.string)))) }
        return .object(m)
    }
}
