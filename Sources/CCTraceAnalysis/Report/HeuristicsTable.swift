import CCTraceFormat

/// ``Heuristics/all`` as a table: `cctrace heuristics` prints it, `docs/heuristics.md` is it.
public enum HeuristicsTable {
    /// A value in its unit, as `--set` takes it.
    public static func format(_ value: Double, _ unit: Heuristic.Unit) -> String {
        switch unit {
        case .count: return String(Int(value))
        default: return SummaryRenderer.format3(value)
        }
    }

    /// For the terminal: one block per threshold.
    public static func text(_ h: Heuristics = Heuristics()) -> String {
        var out = "Analysis thresholds (override with: cctrace report --set KEY=VALUE)\n"
        for d in Heuristics.all {
            out += "\n\(d.key) = \(format(d.value(in: h), d.unit)) \(d.unit.rawValue)\n"
            out += ReportRenderer.wrap(d.meaning, indent: "  ")
            out += ReportRenderer.wrap("why: " + d.reason, indent: "  ", hanging: "       ")
            out += ReportRenderer.wrap("from: " + d.source, indent: "  ", hanging: "        ")
        }
        return out
    }

    /// The Markdown document (`docs/heuristics.md`).
    public static func markdown(_ h: Heuristics = Heuristics()) -> String {
        func cell(_ s: String) -> String { s.replacingPipes() }
        var out = "# Analysis heuristics\n\n"
        out += "Every threshold `cctrace report` uses, with its default, what it decides, why the default is what "
        out += "it is and where it came from. Override one with `cctrace report --set KEY=VALUE` (the unit is "
        out += "the one listed: shares 0…1, milliseconds, counts, factors); `cctrace heuristics` prints this table. "
        out += "Generated from `Heuristics` (Sources/CCTraceAnalysis/Heuristics); a test keeps this file in sync.\n\n"
        out += "| key | default | unit | decides | why | from |\n|---|---:|---|---|---|---|\n"
        for d in Heuristics.all {
            out += "| `\(d.key)` | \(format(d.value(in: h), d.unit)) | \(d.unit.rawValue) | \(cell(d.meaning)) | "
            out += "\(cell(d.reason)) | \(cell(d.source)) |\n"
        }
        return out
    }
}

extension String {
    fileprivate func replacingPipes() -> String {
        var out = ""
        for c in self { if c == "|" { out += "\\|" } else { out.append(c) } }
        return out
    }
}
