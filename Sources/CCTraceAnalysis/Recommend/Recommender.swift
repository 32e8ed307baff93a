import CCTraceFormat

/// How sure the recommendation is.
public enum Confidence: String, Sendable {
    case high, medium, low
}

/// The concurrency model that fits the traced workload, with the evidence and the expected gain.
public struct Recommendation: Sendable {
    /// The model that fits.
    public var model: ConcurrencyModel
    /// The model the program uses now, and a phrase describing it.
    public var current: ConcurrencyModel
    public var currentDetail: String
    /// Whether the advice is to change something (a different model, or offloading work).
    public var change: Bool
    public var confidence: Confidence
    /// Expected speedup of the work window (Amdahl-style from the measured shares; 1 = none).
    public var expectedSpeedup: Double
    /// One line: what to do.
    public var headline: String
    /// How, in the idiom of the program's language.
    public var advice: String
    /// Why, each citing numbers.
    public var reasons: [String]
    /// Whether figures the decision rests on were inferred from names.
    public var inferred: Bool
}

/// Turns the work profile and the findings into a ``Recommendation``, following the decision
/// guide: CPU-bound and serialized → processes; CPU-bound and parallel → keep threads;
/// wait-bound with many or slow waits → async, with few fast waits → threads; a blocked loop →
/// keep async and offload (hybrid); mixed → hybrid; no parallel slack → sequential.
public enum Recommender {
    public static func recommend(profile p: WorkProfile, findings: [Finding], options o: AnalysisOptions)
        -> Recommendation
    {
        let t = p.total
        let busy = max(t.busy, 1)
        let cpu = p.cpuShare
        let k = max(p.cores, 1)
        let lang = p.language
        var reasons: [String] = []
        let measured = p.cpuMeasured ? "measured" : "inferred from span names"
        reasons.append(
            "Work is \(Text.pct(cpu)) CPU (running \(Text.pct(Double(t.running) / Double(busy))), runnable "
                + "\(Text.pct(Double(t.runnable) / Double(busy)))), I/O wait \(Text.pct(Double(t.ioWait) / Double(busy))), "
                + "lock wait \(Text.pct(Double(t.lockWait) / Double(busy))), IPC \(Text.pct(Double(t.ipc) / Double(busy))) "
                + "of \(Text.ms(t.busy)) busy thread time (\(measured)).")
        reasons.append(
            "\(p.workers.count) busy thread\(p.workers.count == 1 ? "" : "s") in \(p.workerProcesses.count) "
                + "process\(p.workerProcesses.count == 1 ? "" : "es") over \(Text.ms(p.window)); "
                + "\(SummaryRenderer.format3(p.parallelism)) on a CPU at a time on average, \(k) core\(k == 1 ? "" : "s")"
                + (p.coresKnown ? "." : " (assumed: the trace does not say)."))
        if let w = p.waits, w.maxInFlight > 0 {
            reasons.append(
                "Up to \(w.maxInFlight) wait\(w.maxInFlight == 1 ? "" : "s") in flight at once (\(w.source), mean \(SummaryRenderer.format3(w.meanInFlight))"
                    + (w.p50 > 0 ? ", p50 latency \(Text.ms(w.p50))" : "") + ")" + (w.inferred ? ", inferred." : "."))
        }
        let warnings = { (id: String) in findings.filter { $0.id == id && $0.severity == .warning } }
        let blocked = warnings(BlockedEventLoopAnalyzer.id)
        let serialized = warnings(CPUSerializedAnalyzer.id)
        let ipcTax =
            findings.filter { $0.id == IPCOverheadAnalyzer.id && $0.metric("ipc_tax") != nil }
            .compactMap { $0.metric("ipc_tax") }.max() ?? 0
        let inferred = !p.cpuMeasured || p.namesInferred
        var confidence: Confidence = inferred ? .medium : .high
        if p.window < 20_000_000 || t.busy == 0 { confidence = .low }

        func make(_ model: ConcurrencyModel, speedup: Double, headline: String, advice: String, change: Bool? = nil)
            -> Recommendation
        {
            Recommendation(
                model: model, current: p.currentModel, currentDetail: p.currentModelDetail,
                change: change ?? (model != p.currentModel), confidence: confidence, expectedSpeedup: max(1, speedup),
                headline: headline, advice: advice, reasons: reasons, inferred: inferred)
        }

        guard t.busy > 0 else {
            reasons = ["No thread in the trace did measurable work."]
            confidence = .low
            return make(.sequential, speedup: 1, headline: "Nothing to parallelize in this trace.", advice: "—")
        }

        // A blocked event loop: keep the loop, move the blocking work off it.
        if let worst = blocked.first {
            let share = blocked.compactMap { $0.metric("blocked_share") }.max() ?? 0
            reasons.append(worst.summary)
            let offenders = blocked.flatMap { $0.evidence.map(\.description) }.prefix(4)
            let advice: String
            switch lang {
            case .python:
                advice =
                    "Keep asyncio; run blocking calls with asyncio.to_thread() and CPU-heavy work with "
                    + "loop.run_in_executor(ProcessPoolExecutor()) so no callback holds the loop."
            case .swift:
                advice =
                    "Keep the event loop (SwiftNIO / async code); move the blocking and CPU-heavy handlers off it — "
                    + "NIOThreadPool.runIfActive or a dedicated thread/executor for blocking calls, a TaskGroup "
                    + "or child processes for CPU work."
            case .unknown:
                advice = "Keep the event loop; move blocking and CPU-heavy handlers to a worker pool."
            }
            reasons.append(contentsOf: offenders.map { "Offender: \($0)." })
            // Offloaded, the blocking work runs beside the loop: the window shrinks to the longer
            // of what stays on the loop and the longest offloaded callback.
            let blockedTime = blocked.compactMap { $0.metric("blocked_ms") }.reduce(0, +) * 1e6
            let longest = blocked.compactMap { $0.metric("longest_ms") }.max() ?? 0
            let window = Double(max(p.window, 1))
            let after = max(window - blockedTime, longest * 1e6, window * 0.05)
            _ = share
            return make(
                .hybrid, speedup: window / after,
                headline: "Keep the event loop and offload the work that blocks it (hybrid).", advice: advice,
                change: true)
        }

        // Processes whose messages cost more than the compute they feed.
        if p.currentModel == .processes && ipcTax >= 1 {
            reasons.append(
                "IPC costs \(Text.x(ipcTax)) the compute it feeds: copying data between processes outweighs the "
                    + "parallelism they buy.")
            // Without the copies, the window loses the IPC time of the busiest process.
            let window = Double(max(p.window, 1))
            let perProcess = Double(t.ipc) / Double(max(p.workerProcesses.count, 1))
            let ipcShare = min(0.9, perProcess / window)
            if lang == .python {
                return make(
                    .sequential, speedup: 1 / (1 - ipcShare),
                    headline: "Drop the process pool: do the work in one process.",
                    advice:
                        "Do the work where the data is (no pickling); if it must be parallel, use a "
                        + "ThreadPoolExecutor over code that releases the GIL (NumPy, I/O) or shared memory "
                        + "(multiprocessing.shared_memory).")
            }
            return make(
                .threads, speedup: 1 / (1 - ipcShare),
                headline: "Use threads that share the data instead of shipping it to processes.",
                advice:
                    lang == .swift
                    ? "Share the payload by reference between threads (a TaskGroup over slices of one buffer) instead "
                        + "of serializing it through pipes to child processes."
                    : "Share the data between threads of one process instead of copying it between processes.")
        }

        // One dependent chain and nothing to overlap.
        if (p.currentModel == .sequential || p.workers.count <= 1) && p.chainLike && p.criticalPathShare >= 0.9
            && (p.waits?.maxInFlight ?? 0) <= 1
        {
            reasons.append(
                "The critical path is \(Text.ms(p.criticalPath)) (\(Text.pct(p.criticalPathShare)) of the window): "
                    + "one chain of dependent steps that no model can overlap.")
            return make(
                .sequential, speedup: 1, headline: "Stay sequential: concurrency has nothing to overlap here.",
                advice:
                    "Make the steps themselves faster (profile the hottest span); adding threads, tasks or processes "
                    + "would only add overhead.")
        }

        let idioms = Idioms(language: lang, cores: k)
        // CPU-bound needs the CPU to have been busy (a third of a core on average); a sliver of
        // CPU between waits the trace did not name is not CPU-bound work.
        if cpu >= o.cpuBound && (p.parallelism >= 0.3 || !p.cpuMeasured) {
            if let s = serialized.first {
                reasons.append(s.summary)
                let target = Double(min(k, max(p.workers.count, 1)))
                let now = s.metric("parallelism") ?? p.parallelism
                let speedup = target / max(now, 0.5) * (1 - min(0.5, ipcTax))
                return make(
                    .processes, speedup: speedup,
                    headline: p.currentModel == .processes
                        ? "Keep the process pool." : "Move the CPU work to a process pool.",
                    advice: idioms.processes(serializedByLock: s.subject.hasPrefix("lock")))
            }
            if p.currentModel == .processes {
                if ipcTax >= o.ipcTax {
                    reasons.append(
                        "IPC costs \(Text.pct(ipcTax)) of the compute: batch work into fewer, larger tasks.")
                } else {
                    reasons.append("IPC costs \(Text.pct(ipcTax)) of the compute it feeds: cheap.")
                }
                reasons.append(
                    "The processes ran \(SummaryRenderer.format3(p.parallelism)) at a time on \(k) cores.")
                return make(
                    .processes, speedup: 1, headline: "Keep the process pool.",
                    advice: "Size the pool to the cores (\(k)); keep messages small.")
            }
            let potential = Double(min(k, max(p.workers.count, 1)))
            if p.currentModel == .threads {
                reasons.append(
                    "The threads ran \(SummaryRenderer.format3(p.parallelism)) at a time out of \(Int(potential)) possible"
                        + (lang == .swift ? " (Swift threads have no global lock)." : "."))
                return make(
                    .threads, speedup: max(1, potential / max(p.parallelism, 0.5) * 0.9),
                    headline: "Keep the threads.", advice: idioms.keepThreads(workers: p.workers.count))
            }
            // Sequential (or async) CPU work with independent items: spread it.
            reasons.append(
                "The critical path is \(Text.pct(p.criticalPathShare)) of the window: independent items can run in parallel."
            )
            let serial = p.criticalPathShare
            let speedup = 1 / (serial + (1 - serial) / Double(k))
            if lang == .python {
                return make(
                    .processes, speedup: speedup, headline: "Spread the CPU work over a process pool.",
                    advice: idioms.processes(serializedByLock: false))
            }
            return make(
                .threads, speedup: speedup, headline: "Spread the CPU work over threads.",
                advice: idioms.keepThreads(workers: k))
        }

        if cpu <= o.waitBound || (p.cpuMeasured && p.parallelism < 0.3 && cpu >= o.cpuBound) {
            let w = p.waits
            let many = (w?.maxInFlight ?? 0) >= o.manyWaits
            // Slow waits favour an event loop once there are more of them than a small pool
            // of threads holds comfortably.
            let slow = (w?.p50 ?? 0) >= o.slowWait.nanoseconds && (w?.maxInFlight ?? 0) >= 16
            if many || slow || p.currentModel == .async {
                if many {
                    reasons.append(
                        "\(w!.maxInFlight) waits in flight at once: an event loop multiplexes them without a thread each."
                    )
                } else if slow {
                    reasons.append("Waits are slow (p50 \(Text.ms(w!.p50))): threads would sit blocked holding memory.")
                } else {
                    reasons.append(
                        "The event loop already overlaps the waits (up to \(w?.maxInFlight ?? 0) at once) and no "
                            + "callback blocks it: threads would add switching, not speed.")
                }
                let keep = p.currentModel == .async
                return make(
                    .async, speedup: 1,
                    headline: keep ? "Keep the async design." : "Move the waiting to an async event loop.",
                    advice: idioms.async)
            }
            if let w, w.maxInFlight > 0 {
                reasons.append(
                    "Few waits in flight (\(w.maxInFlight)) and they are short (p50 \(Text.ms(w.p50))): "
                        + "a small thread pool overlaps them simply.")
            } else {
                reasons.append("The waits are few and short: a small thread pool overlaps them simply.")
            }
            let lockShare = Double(t.lockWait) / Double(busy)
            if lockShare >= 0.3 {
                reasons.append(
                    "Lock waits take \(Text.pct(lockShare)) of the busy time: shorten the critical sections "
                        + "(see lock-contention) before adding threads.")
            }
            let keep = p.currentModel == .threads
            return make(
                .threads, speedup: 1,
                headline: keep ? "Keep the threads." : "Overlap the waits with a small thread pool.",
                advice: idioms.ioThreads)
        }

        reasons.append(
            "The work is mixed: \(Text.pct(cpu)) CPU and \(Text.pct(1 - cpu)) waiting.")
        return make(
            .hybrid, speedup: 1,
            headline: p.currentModel == .hybrid ? "Keep the hybrid design." : "Use a hybrid design.",
            advice: idioms.hybrid)
    }
}

/// How to say each model in the program's language.
struct Idioms {
    var language: SourceLanguage
    var cores: Int

    func processes(serializedByLock: Bool) -> String {
        switch language {
        case .python:
            return "Use concurrent.futures.ProcessPoolExecutor (or multiprocessing.Pool) with \(cores) workers; "
                + "send each worker small inputs, not large objects."
        case .swift:
            return "Run the work in \(cores) child processes (posix_spawn / TracedProcess) each with its own state, "
                + "exchanging small messages"
                + (serializedByLock
                    ? " — or, if the lock guards nothing the work truly shares, remove it and keep threads." : ".")
        case .unknown:
            return "Use a pool of \(cores) worker processes exchanging small messages."
        }
    }

    func keepThreads(workers: Int) -> String {
        switch language {
        case .python:
            return "Keep the ThreadPoolExecutor only for code that releases the GIL; size it to \(cores) workers."
        case .swift:
            return "Keep the threads (or a TaskGroup on the cooperative pool); size the pool to \(cores) cores"
                + (workers > cores ? " — \(workers) CPU-bound threads only queue for them." : ".")
        case .unknown:
            return "Keep a thread pool sized to the \(cores) cores."
        }
    }

    var async: String {
        switch language {
        case .python: return "Use asyncio (one event loop, a coroutine per connection; asyncio.gather)."
        case .swift: return "Use Swift concurrency (async/await, a TaskGroup per batch) or SwiftNIO channels."
        case .unknown: return "Use an async event loop with one lightweight task per connection."
        }
    }

    var ioThreads: String {
        switch language {
        case .python:
            return "Use a concurrent.futures.ThreadPoolExecutor sized to the connections (I/O releases the GIL)."
        case .swift: return "Use a few threads (or Dispatch queues) with blocking I/O, one per connection."
        case .unknown: return "Use a small thread pool with blocking I/O."
        }
    }

    var hybrid: String {
        switch language {
        case .python:
            return "Run I/O in asyncio and CPU work with loop.run_in_executor(ProcessPoolExecutor())."
        case .swift:
            return "Run I/O on SwiftNIO or async code and CPU work on a TaskGroup or thread pool."
        case .unknown:
            return "Run I/O on an event loop and CPU work on a worker pool."
        }
    }
}
