import CCTraceFormat

/// Renders a ``TraceDiff`` as terminal text, Markdown or JSON (`docs/diff-schema.md`).
public enum DiffRenderer {
    /// The JSON schema version of `cctrace diff --format json`.
    public static let schemaVersion = 1

    /// `d` as terminal text, Markdown or JSON.
    public static func render(_ d: TraceDiff, format: ReportFormat) -> String {
        switch format {
        case .json: return json(d).serialized(indent: 2) + "\n"
        case .markdown: return markdown(d)
        default: return text(d)
        }
    }

    // MARK: - Words shared by text and Markdown

    /// One sentence: faster or slower by how much, and whether beyond noise.
    static func verdict(_ d: TraceDiff) -> String {
        guard let s = d.speedup, let wall = d.figures.first(where: { $0.key == "wall_ms" }) else {
            return "No work window in one of the runs: nothing to compare the time of."
        }
        let times =
            "(\(TraceDiff.format(wall.before, .milliseconds)) → \(TraceDiff.format(wall.after, .milliseconds)))"
        guard d.speedupBeyondNoise else {
            return "Same speed within noise \(times): ±\(Text.pct(d.before.noise)) / ±\(Text.pct(d.after.noise))."
        }
        return s >= 1
            ? "\(Text.x(s)) faster \(times), beyond noise."
            : "\(Text.x(1 / s)) slower \(times), beyond noise."
    }

    static func findingsLine(_ d: TraceDiff) -> String {
        let gone = d.findings.filter { $0.status == .gone }.count
        let new = d.findings.filter { $0.status == .new }.count
        let better = d.findings.filter { $0.status == .better }.count
        let worse = d.findings.filter { $0.status == .worse }.count
        var parts = ["\(gone) \(Text.plural(gone, "finding")) gone", "\(new) new"]
        if better > 0 { parts.append("\(better) better") }
        if worse > 0 { parts.append("\(worse) worse") }
        let regressions =
            d.regressions.isEmpty
            ? "no regressions" : "\(d.regressions.count) \(Text.plural(d.regressions.count, "regression"))"
        return parts.joined(separator: ", ") + "; " + regressions + "."
    }

    /// What the before run's report expected, against what happened.
    static func expectation(_ d: TraceDiff) -> String? {
        guard d.before.change, let s = d.speedup else { return nil }
        var line =
            "The before run's report recommended \(d.before.model.rawValue) (expected ≈ "
            + "\(Text.x(d.before.expectedSpeedup))); the after run "
        line +=
            d.after.currentModel == d.before.model
            ? "is \(d.after.currentModel.rawValue) and measured \(Text.x(s))."
            : "is \(d.after.currentModel.rawValue), not \(d.before.model.rawValue); measured \(Text.x(s))."
        return line
    }

    static func side(_ s: TraceDiff.Side) -> String {
        let rec = s.change ? "recommends \(s.model.rawValue)" : "keep \(s.model.rawValue)"
        let noise = "±\(Text.pct(s.noise))" + (s.items > 0 ? " (\(s.items) repeated items)" : " (floor)")
        return "\(s.currentModel.rawValue) (\(s.currentDetail)); \(rec); noise \(noise)"
    }

    static func findingLine(_ f: TraceDiff.FindingChange) -> String {
        let severities = "\(f.before?.rawValue ?? "—") → \(f.after?.rawValue ?? "—")"
        var line = f.id + (f.subject.isEmpty ? "" : " (\(f.subject))") + ": " + severities
        if let m = f.metric {
            line +=
                "; \(m.label) \(TraceDiff.format(m.before, m.unit)) → \(TraceDiff.format(m.after, m.unit))"
                + (m.change == .unchanged ? " (within noise)" : " (\(TraceDiff.delta(m)))")
        } else if let label = f.metricLabel, f.beforeValue != nil || f.afterValue != nil {
            let b = f.beforeValue.map { TraceDiff.format($0, f.metricUnit) } ?? "—"
            let a = f.afterValue.map { TraceDiff.format($0, f.metricUnit) } ?? "—"
            line += "; \(label) \(b) → \(a)"
        }
        return line
    }

    // MARK: - Text

    static func text(_ d: TraceDiff) -> String {
        let safe = SummaryRenderer.terminalSafe
        var out = "cctrace diff\n"
        out += "  before: \(safe(d.before.path)) (\(d.before.events) events)\n"
        out += ReportRenderer.wrap(safe(side(d.before)), indent: "          ")
        out += "  after:  \(safe(d.after.path)) (\(d.after.events) events)\n"
        out += ReportRenderer.wrap(safe(side(d.after)), indent: "          ")
        out += "\n" + ReportRenderer.wrap(verdict(d) + " " + findingsLine(d), indent: "")
        if let e = expectation(d) { out += ReportRenderer.wrap(e, indent: "") }
        out += "\n" + pad("", 36) + lpad("before", 11) + lpad("after", 11) + "  " + pad("change", 10) + "\n"
        for f in d.figures {
            out += pad(f.label, 36) + lpad(TraceDiff.format(f.before, f.unit), 11)
            out += lpad(TraceDiff.format(f.after, f.unit), 11) + "  " + pad(TraceDiff.delta(f), 10)
            out += f.change == .unchanged ? "within noise\n" : "\(f.change.rawValue)\n"
        }
        out += "(shares of the threads' busy time; idle of all their time)\n"
        out += "\nFindings\n"
        if d.findings.isEmpty { out += "  none in either run\n" }
        for f in d.findings {
            out += ReportRenderer.wrap(
                f.status.rawValue + " — " + safe(findingLine(f)), indent: "  ", hanging: "      ")
        }
        out += "\nRecommendation\n"
        out += ReportRenderer.wrap(
            "before: \(d.before.model.rawValue.uppercased()) — \(safe(d.before.headline))", indent: "  ",
            hanging: "          ")
        out += ReportRenderer.wrap(
            "after: \(d.after.model.rawValue.uppercased()) — \(safe(d.after.headline))", indent: "  ",
            hanging: "          ")
        if !d.regressions.isEmpty {
            out += "\nRegressions\n"
            for r in d.regressions { out += ReportRenderer.wrap("• " + safe(r), indent: "  ", hanging: "    ") }
        }
        return out
    }

    static func pad(_ s: String, _ width: Int) -> String { SummaryRenderer.pad(s, width) }
    static func lpad(_ s: String, _ width: Int) -> String { SummaryRenderer.pad(s, width, right: true) }

    // MARK: - Markdown

    static func markdown(_ d: TraceDiff) -> String {
        let esc = ReportRenderer.markdownEscape
        var out = "## cctrace diff\n\n"
        out += "- Before: `\(d.before.path.map { $0 == "`" ? "'" : $0 })` — \(esc(side(d.before)))\n"
        out += "- After: `\(d.after.path.map { $0 == "`" ? "'" : $0 })` — \(esc(side(d.after)))\n\n"
        out += "**\(esc(verdict(d)))** \(esc(findingsLine(d)))\n\n"
        if let e = expectation(d) { out += esc(e) + "\n\n" }
        out += "| figure | before | after | change | |\n|---|---:|---:|---:|---|\n"
        for f in d.figures {
            out += "| \(esc(f.label)) | \(TraceDiff.format(f.before, f.unit)) | \(TraceDiff.format(f.after, f.unit)) | "
            out += "\(TraceDiff.delta(f)) | \(f.change == .unchanged ? "within noise" : f.change.rawValue) |\n"
        }
        out += "\n### Findings\n\n| status | finding |\n|---|---|\n"
        for f in d.findings { out += "| \(f.status.rawValue) | \(esc(findingLine(f))) |\n" }
        out += "\n### Recommendation\n\n"
        out += "- Before: **\(d.before.model.rawValue)** — \(esc(d.before.headline))\n"
        out += "- After: **\(d.after.model.rawValue)** — \(esc(d.after.headline))\n"
        if !d.regressions.isEmpty {
            out += "\n### Regressions\n\n"
            for r in d.regressions { out += "- \(esc(r))\n" }
        }
        return out
    }

    // MARK: - JSON

    static func json(_ d: TraceDiff) -> JSONValue {
        func num(_ v: Double) -> JSONValue { .number(v.isFinite ? (v * 1000).rounded() / 1000 : 0) }
        func figure(_ f: TraceDiff.Figure) -> JSONValue {
            .object([
                ("key", .string(f.key)), ("label", .string(f.label)), ("unit", .string(f.unit.rawValue)),
                ("better", .string(f.direction.rawValue)), ("before", num(f.before)), ("after", num(f.after)),
                ("before_range", .array([num(f.beforeRange.lowerBound), num(f.beforeRange.upperBound)])),
                ("after_range", .array([num(f.afterRange.lowerBound), num(f.afterRange.upperBound)])),
                ("change", .string(f.change.rawValue)), ("beyond_noise", .bool(f.change != .unchanged)),
            ])
        }
        func side(_ s: TraceDiff.Side) -> JSONValue {
            .object([
                ("trace", .string(s.path)), ("event_count", .number(Double(s.events))),
                ("current_model", .string(s.currentModel.rawValue)), ("current_detail", .string(s.currentDetail)),
                ("recommended_model", .string(s.model.rawValue)), ("change", .bool(s.change)),
                ("expected_speedup", num(s.expectedSpeedup)), ("headline", .string(s.headline)),
                ("noise", num(s.noise)), ("noise_items", .number(Double(s.items))),
            ])
        }
        let findings: [JSONValue] = d.findings.map { f in
            .object([
                ("id", .string(f.id)), ("subject", .string(f.subject)),
                ("before_severity", f.before.map { .string($0.rawValue) } ?? .null),
                ("after_severity", f.after.map { .string($0.rawValue) } ?? .null),
                ("status", .string(f.status.rawValue)), ("regression", .bool(f.regression)),
                ("metric", f.metric.map(figure) ?? .null),
                ("before_summary", f.summaryBefore.map(JSONValue.string) ?? .null),
                ("after_summary", f.summaryAfter.map(JSONValue.string) ?? .null),
            ])
        }
        return .object([
            ("schema_version", .number(Double(schemaVersion))),
            ("before", side(d.before)), ("after", side(d.after)),
            ("speedup", d.speedup.map(num) ?? .null), ("speedup_beyond_noise", .bool(d.speedupBeyondNoise)),
            ("figures", .array(d.figures.map(figure))), ("findings", .array(findings)),
            ("regressions", .array(d.regressions.map(JSONValue.string))),
        ])
    }
}
