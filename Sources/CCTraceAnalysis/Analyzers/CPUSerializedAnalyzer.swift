import CCTraceFormat

/// `cpu-serialized`: CPU-bound work spread over threads that never actually runs in parallel —
/// because every thread needs one lock for its work (a global interpreter lock behaves exactly
/// like this), or because one thread does nearly all of it while the others wait.
///
/// Measured from the scheduler's statistics when the trace has them (threads on a CPU at once,
/// against the cores). For CPython traces without them, threads running Python code are
/// serialized by the GIL by construction; the finding says so and is marked inferred.
public enum CPUSerializedAnalyzer {
    public static let id = "cpu-serialized"

    public static func analyze(_ model: TraceModel, profile: WorkProfile, options: AnalysisOptions) -> [Finding] {
        let loopThreads = Set(profile.loops.map(\.thread))
        var findings: [Finding] = []
        for pid in profile.workerProcesses {
            let workers = profile.workers.filter { $0.pid == pid && !loopThreads.contains($0.thread) }
            guard workers.count >= 2 else { continue }
            let split = workers.reduce(TimeSplit()) { $0 + $1.split }
            guard split.cpuShare >= options.cpuBound else { continue }
            let start = workers.map(\.start.nanoseconds).min()!
            let end = workers.map(\.end.nanoseconds).max()!
            let span = max(end - start, 1)
            let parallel = Double(split.running) / Double(span)
            let potential = min(workers.count, max(profile.cores, 1))
            let label = processLabel(pid, model)
            let measured = workers.allSatisfy(\.cpuMeasured)
            if measured {
                // CPU-bound means the CPU was busy: at least half a core on average, not a sliver
                // of CPU between long waits the trace did not name.
                guard potential >= 2, parallel <= 1.3, Double(split.running + split.runnable) >= 0.5 * Double(span)
                else { continue }
                let lockShare = split.busy > 0 ? Double(split.lockWait) / Double(split.busy) : 0
                let busiest = workers.max { $0.split.running < $1.split.running }!
                let busiestShare = split.running > 0 ? Double(busiest.split.running) / Double(split.running) : 0
                var cause: String
                var evidence: [Evidence] = []
                var subject: String
                if lockShare >= 0.25 {
                    let lock = topLock(pid: pid, model: model)
                    subject = lock.map { "lock '\($0.name)'" } ?? "one lock"
                    cause =
                        "they took turns on \(subject): \(Text.pct(lockShare)) of their busy time was spent waiting for it"
                    if let l = lock {
                        evidence.append(.slice(l.longest, in: model, "the longest wait for '\(l.name)'"))
                    }
                } else if busiestShare >= 0.8 {
                    subject = busiest.label
                    cause = "\(busiest.label) did \(Text.pct(busiestShare)) of the CPU work while the others waited"
                } else if split.runnable > split.running {
                    // Starved by other load on the machine, not serialized by the program.
                    continue
                } else if profile.language == .python {
                    subject = "the GIL"
                    cause =
                        "CPython's global interpreter lock lets one thread run Python code at a time (they queue "
                        + "for it in condition waits)"
                } else {
                    subject = "threads"
                    cause = "the threads rarely ran at the same time"
                }
                let workerThreads = Set(workers.map(\.thread))
                let sampled = model.samples.filter { workerThreads.contains($0.thread) && $0.name != "loop stall" }
                if let hot = HotStacks.rank(sampled, in: model, top: 1).first {
                    evidence.append(
                        Evidence(
                            "the workers' hottest stack (\(Text.pct(hot.share)) of \(sampled.count) CPU samples)",
                            stack: hot.frames))
                }
                for w in workers.prefix(options.evidenceLimit) {
                    evidence.append(
                        Evidence(
                            "\(w.label): on CPU \(Text.ms(w.split.running)), lock wait \(Text.ms(w.split.lockWait)), "
                                + "runnable \(Text.ms(w.split.runnable))", pid: w.pid, tid: w.tid, start: w.start,
                            duration: TraceDuration(nanoseconds: w.life)))
                }
                findings.append(
                    Finding(
                        id: id, severity: .warning, subject: subject,
                        summary:
                            "CPU-bound work on \(workers.count) threads of \(label) ran on \(SummaryRenderer.format3(parallel)) "
                            + "core\(parallel == 1 ? "" : "s") at a time out of \(potential) available: \(cause).",
                        metrics: [
                            ("threads", Double(workers.count)), ("parallelism", parallel),
                            ("potential_parallelism", Double(potential)), ("cpu_share", split.cpuShare),
                            ("lock_share", lockShare),
                        ], evidence: evidence))
            } else if profile.language == .python, !nativeWorkRanInParallel(workers, model: model, profile: profile) {
                var evidence: [Evidence] = []
                for w in workers.prefix(options.evidenceLimit) {
                    evidence.append(
                        Evidence(
                            "\(w.label): \(Text.ms(w.split.running)) in Python work", pid: w.pid, tid: w.tid,
                            start: w.start, duration: TraceDuration(nanoseconds: w.life)))
                }
                findings.append(
                    Finding(
                        id: id, severity: .warning, subject: "the GIL",
                        summary:
                            "CPU-bound Python work on \(workers.count) threads of \(label) (\(Text.pct(split.cpuShare)) "
                            + "of their busy time is work, not waiting): CPython's global interpreter lock runs one "
                            + "thread's Python code at a time, so they share one core.",
                        inferred: true,
                        metrics: [
                            ("threads", Double(workers.count)), ("parallelism", 1),
                            ("potential_parallelism", Double(potential)), ("cpu_share", split.cpuShare),
                        ], evidence: evidence))
            }
        }
        if findings.isEmpty {
            let text =
                profile.workers.count >= 2
                ? "CPU work ran in parallel where there was any (\(SummaryRenderer.format3(profile.parallelism)) threads on a CPU on average)."
                : "No CPU-bound work spread over several threads."
            return [Finding(id: id, severity: .ok, summary: text, inferred: !profile.cpuMeasured)]
        }
        return findings
    }

    /// Whether the workers' CPU work was mostly in native calls (C functions: names without a
    /// Python `(file:line)`) that overlapped across threads. Native code that releases the GIL
    /// (hashing, compression, NumPy) runs in parallel; native code that holds it cannot even
    /// start while another thread runs, so overlapping native calls prove the GIL was released.
    static func nativeWorkRanInParallel(_ workers: [ThreadWork], model: TraceModel, profile: WorkProfile) -> Bool {
        var intervals: [(Int64, Int64)] = []
        var native: Int64 = 0
        var work: Int64 = 0
        for w in workers {
            for i in model.threads[w.thread].sliceRange where profile.sliceKinds[i] == nil {
                let s = model.slices[i]
                work += s.selfDuration.nanoseconds
                if !s.name.hasSuffix(")") && s.selfDuration.nanoseconds >= 100_000 {
                    native += s.selfDuration.nanoseconds
                    intervals.append((s.start.nanoseconds, s.end.nanoseconds))
                }
            }
        }
        guard work > 0, native * 2 >= work, !intervals.isEmpty else { return false }
        // Parallelism of the native calls: their total time over the time any of them ran.
        intervals.sort { $0.0 < $1.0 }
        var union: Int64 = 0
        var (lo, hi) = intervals[0]
        for (a, b) in intervals.dropFirst() {
            if a > hi {
                union += hi - lo
                (lo, hi) = (a, b)
            } else {
                hi = max(hi, b)
            }
        }
        union += hi - lo
        return union > 0 && Double(native) / Double(union) >= 1.3
    }

    static func processLabel(_ pid: Int64, _ model: TraceModel) -> String {
        let name = model.processes.first { $0.pid == pid }?.name
        return name.map { "\($0) (\(pid))" } ?? "process \(pid)"
    }

    /// The lock with the most waiting in `pid`, with its longest wait.
    static func topLock(pid: Int64, model: TraceModel) -> (name: String, longest: Int)? {
        var totals: [String: (Int64, Int)] = [:]
        for w in model.lockWaits where model.threads[model.slices[w.slice].thread].pid == pid {
            let d = model.slices[w.slice].duration.nanoseconds
            var t = totals[w.lock] ?? (0, w.slice)
            t.0 += d
            if d > model.slices[t.1].duration.nanoseconds { t.1 = w.slice }
            totals[w.lock] = t
        }
        return totals.max { $0.value.0 < $1.value.0 }.map { ($0.key, $0.value.1) }
    }
}
