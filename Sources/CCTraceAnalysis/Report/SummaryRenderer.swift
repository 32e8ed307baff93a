import CCTraceFormat

/// Renders a ``TraceSummary`` as text or JSON.
public enum SummaryRenderer {
    /// The JSON schema version of `cctrace report --format json`.
    public static let schemaVersion = 1

    /// The summary in `format`, for the trace read from `path`.
    public static func render(_ summary: TraceSummary, path: String, format: ReportFormat) -> String {
        format == .json ? json(summary, path: path).serialized(indent: 2) + "\n" : text(summary, path: path)
    }

    // MARK: - Text

    static func text(_ s: TraceSummary, path: String) -> String {
        var out = "cctrace report — \(terminalSafe(path))\n"
        out += "\(s.eventCount) events over \(formatDuration(s.duration)); "
        out += "\(s.processes.count) process\(s.processes.count == 1 ? "" : "es"), "
        let threads = s.threads.count - s.taskRowCount
        out += "\(threads) thread\(threads == 1 ? "" : "s"), "
        out += "\(s.taskCount) task\(s.taskCount == 1 ? "" : "s")\n"
        typealias Key = TraceVocabulary.Session
        if let cores = s.session[Key.cores.string]?.intValue, let clock = s.session[Key.clock.string]?.stringValue {
            let version = clip(s.session[Key.version.string]?.stringValue ?? "?", 20)
            out += "recorded by cctrace \(version) on \(cores) cores, clock \(clip(clock, 30))\n"
        }
        out += "\nProcesses\n"
        for p in s.processes {
            out += "  " + pad("\(p.pid)", 10) + pad(clip(p.name ?? "-", 39), 40) + "\(p.threadCount) threads\n"
        }
        out += "\nThreads (by time in top-level spans)\n"
        out +=
            "  " + pad("thread", 30) + pad("spans", 9, right: true) + pad("busy", 11, right: true)
            + pad("on CPU", 11, right: true) + pad("runnable", 11, right: true) + "\n"
        for t in s.threads.prefix(20) {
            let label = t.name.map { "\($0) (\(t.tid))" } ?? "tid \(t.tid)"
            out +=
                "  " + pad(clip(label, 29), 30) + pad("\(t.sliceCount)", 9, right: true)
                + pad(formatDuration(t.busy), 11, right: true)
                + pad(t.running.map(formatDuration) ?? "-", 11, right: true)
                + pad(t.runnable.map(formatDuration) ?? "-", 11, right: true) + "\n"
        }
        if s.threads.count > 20 { out += "  … \(s.threads.count - 20) more\n" }
        if !s.busiestSpans.isEmpty {
            out += "\nBusiest spans (by self time)\n"
            out +=
                "  " + pad("span", 34) + pad("count", 8, right: true) + pad("self", 11, right: true)
                + pad("total", 11, right: true) + pad("longest", 11, right: true) + "\n"
            for b in s.busiestSpans {
                out +=
                    "  " + pad(clip(b.name, 33), 34) + pad("\(b.count)", 8, right: true)
                    + pad(formatDuration(b.selfTotal), 11, right: true) + pad(formatDuration(b.total), 11, right: true)
                    + pad(formatDuration(b.longest), 11, right: true) + "\n"
            }
        }
        if !s.longestTasks.isEmpty {
            out += "\nLongest tasks\n"
            for t in s.longestTasks {
                out +=
                    "  " + pad(clip(t.name, 50), 51) + pad("id " + clip(t.id, 10), 14)
                    + pad(formatDuration(t.duration), 11, right: true) + "\n"
            }
        }
        if !s.diagnostics.isEmpty {
            out += "\nImport diagnostics\n"
            for d in s.diagnostics {
                let at =
                    d.line > 0
                    ? " (first at line \(d.line), byte \(d.byteOffset))"
                    : d.byteOffset >= 0 ? " (first at byte \(d.byteOffset))" : ""
                out += "  \(d.kind) ×\(d.count): \(terminalSafe(d.message))\(at)\n"
            }
        }
        return out
    }

    // MARK: - JSON

    static func json(_ s: TraceSummary, path: String) -> JSONValue {
        func ms(_ d: TraceDuration) -> JSONValue { .number((d.milliseconds * 1000).rounded() / 1000) }
        var members: [(String, JSONValue)] = [
            ("schema_version", .number(Double(schemaVersion))),
            ("trace", .string(path)),
            ("event_count", .number(Double(s.eventCount))),
            ("duration_ms", ms(s.duration)),
            ("task_count", .number(Double(s.taskCount))),
        ]
        members.append(
            (
                "processes",
                .array(
                    s.processes.map { p in
                        .object([
                            ("pid", .number(Double(p.pid))), ("name", p.name.map(JSONValue.string) ?? .null),
                            ("thread_count", .number(Double(p.threadCount))),
                        ])
                    })
            ))
        members.append(
            (
                "threads",
                .array(
                    s.threads.map { t in
                        .object([
                            ("pid", .number(Double(t.pid))), ("tid", .number(Double(t.tid))),
                            ("name", t.name.map(JSONValue.string) ?? .null),
                            ("span_count", .number(Double(t.sliceCount))), ("busy_ms", ms(t.busy)),
                            ("running_ms", t.running.map(ms) ?? .null), ("runnable_ms", t.runnable.map(ms) ?? .null),
                        ])
                    })
            ))
        members.append(
            (
                "busiest_spans",
                .array(
                    s.busiestSpans.map { b in
                        .object([
                            ("name", .string(b.name)), ("category", .string(b.category)),
                            ("count", .number(Double(b.count))), ("self_ms", ms(b.selfTotal)),
                            ("total_ms", ms(b.total)), ("longest_ms", ms(b.longest)),
                        ])
                    })
            ))
        members.append(
            (
                "longest_tasks",
                .array(
                    s.longestTasks.map { t in
                        .object([
                            ("name", .string(t.name)), ("id", .string(t.id)), ("pid", .number(Double(t.pid))),
                            ("duration_ms", ms(t.duration)),
                        ])
                    })
            ))
        members.append(("session", .object(s.session.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })))
        members.append(
            (
                "diagnostics",
                .array(
                    s.diagnostics.map { d in
                        .object([
                            ("kind", .string(d.kind.rawValue)), ("count", .number(Double(d.count))),
                            ("byte_offset", .number(Double(d.byteOffset))), ("line", .number(Double(d.line))),
                            ("file", d.file.map(JSONValue.string) ?? .null),
                            ("message", .string(d.message)),
                        ])
                    })
            ))
        return .object(members)
    }

    // MARK: - Formatting

    /// `1.23 s`, `45.6 ms`, `789 µs`, `12 ns`.
    public static func formatDuration(_ d: TraceDuration) -> String {
        let ns = Double(d.nanoseconds)
        switch abs(ns) {
        case 1e9...: return String(format3(ns / 1e9)) + " s"
        case 1e6...: return String(format3(ns / 1e6)) + " ms"
        case 1e3...: return String(format3(ns / 1e3)) + " µs"
        default: return "\(d.nanoseconds) ns"
        }
    }

    /// Three significant digits.
    static func format3(_ v: Double) -> String {
        let digits = v >= 100 ? 0 : v >= 10 ? 1 : 2
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let r = (v * scale).rounded() / scale
        var s = String(r)
        if digits == 0, s.hasSuffix(".0") { s.removeLast(2) }
        return s
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let n = s.count
        guard n < width else { return s + " " }
        let space = String(repeating: " ", count: width - n)
        return right ? space + s : s + space
    }

    /// `s` shortened to `width` characters, with control characters (a trace could carry
    /// terminal escape sequences) shown as `\u{…}`.
    static func clip(_ s: String, _ width: Int) -> String {
        let safe = terminalSafe(s)
        return safe.count <= width ? safe : String(safe.prefix(width - 1)) + "…"
    }

    /// `s` with control characters escaped, for printing trace-supplied text to a terminal.
    public static func terminalSafe(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: { $0.value < 0x20 || ($0.value >= 0x7F && $0.value < 0xA0) }) else {
            return s
        }
        var out = ""
        for scalar in s.unicodeScalars {
            if scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
