import CCTraceFormat

/// What must hold for every analysis of every trace, whatever its source: the figures a report
/// prints cannot contradict each other or the machine. Tests assert these on every fixture,
/// sample and hand-built trace; the fuzzer traps on a violation.
public enum AnalysisInvariants {
    /// Every invariant `analysis` of `model` breaks, one line each (empty when all hold).
    public static func violations(of a: Analysis, model: TraceModel) -> [String] {
        var out: [String] = []
        let p = a.profile
        let cores = Double(p.cores)
        // Rounding of sums over nanoseconds, relative to the figures compared.
        let slack = 1e-9 * max(1, cores)
        // Parallelism never exceeds the cores, for the program or any process of it.
        if !(p.parallelism <= cores + slack) { out.append("parallelism \(p.parallelism) > \(p.cores) cores") }
        for s in a.findings.serialization.serialized where !(s.parallelism <= cores + slack) {
            out.append("process \(s.pid): parallelism \(s.parallelism) > \(p.cores) cores")
        }
        // The expected speedup never exceeds the cores over the parallelism now (the window's,
        // or the serialized process's the advice is about — never more than the window's).
        let now = a.recommendation.currentParallelism
        if !(now <= p.parallelism + slack) {
            out.append("current parallelism \(now) > the window's \(p.parallelism)")
        }
        let ceiling = now > 0 ? max(1, cores / now) : cores
        let speedup = a.recommendation.expectedSpeedup
        if let model = a.recommendation.speedupFrom {
            // From the what-if: the measured window over the row's prediction (waits that
            // overlap, IPC that goes away, can beat the cores' ceiling), inside its range.
            if let row = a.whatIf.row(model), row.predicted > 0 {
                let expected = max(1, Double(a.whatIf.measured) / Double(row.predicted))
                if abs(expected - speedup) > 1e-9 * expected {
                    out.append("expected speedup \(speedup) is not the what-if's \(expected) for \(model)")
                }
                if let r = a.recommendation.speedupRange, !r.contains(speedup) {
                    out.append("expected speedup \(speedup) outside its range \(r)")
                }
            } else {
                out.append("expected speedup from a what-if row \(model) that is not there")
            }
        } else if !(speedup >= 1 && speedup <= ceiling * (1 + slack)) {
            out.append("expected speedup \(speedup) outside 1…\(ceiling) (cores \(p.cores) / parallelism \(now))")
        }
        for row in a.whatIf.rows where !(row.predicted > 0 && row.low <= row.predicted && row.predicted <= row.high) {
            out.append("what-if \(row.model): \(row.predicted) ns outside its range \(row.low)…\(row.high)")
        }
        // Each thread's shares are parts of its life: none negative, summing to 100 %.
        for t in p.threads {
            let s = t.split
            if [s.running, s.runnable, s.lockWait, s.ioWait, s.ipc, s.idle].contains(where: { $0 < 0 }) {
                out.append("\(t.label): a negative share \(s)")
            }
            if s.total != t.life { out.append("\(t.label): shares sum to \(s.total) ns, life is \(t.life) ns") }
        }
        // The window covers every accounted thread's recorded work and CPU.
        let lo = p.workWindow.start.nanoseconds
        let hi = p.workWindow.end.nanoseconds
        for (thread, span) in p.accounting.activity where span.from < lo || span.to > hi {
            out.append(
                "thread \(model.threads[thread].label): active \(span.from)…\(span.to) outside the window \(lo)…\(hi)")
        }
        // A wait-for chain links only waits that were in progress together.
        for l in a.findings.locks.locks {
            guard let chain = l.chain else { continue }
            let waits = chain.map { model.slices[$0.slice] }
            let latestStart = waits.map(\.start.nanoseconds).max() ?? 0
            let earliestEnd = waits.map(\.end.nanoseconds).min() ?? 0
            if latestStart > earliestEnd {
                out.append("wait-for chain through \(l.lock) links waits that never overlap")
            }
        }
        return out
    }
}
