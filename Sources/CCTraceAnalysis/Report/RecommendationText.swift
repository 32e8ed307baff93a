import CCTraceFormat

/// The recommendation in words: the headline, the advice in the program's idiom, the reasons
/// and the current model.
enum RecommendationText {
    static func headline(_ r: Recommendation) -> String {
        switch r.action {
        case .nothingToDo: "Nothing to parallelize in this trace."
        case .offloadFromLoop: "Keep the event loop and offload the work that blocks it (hybrid)."
        case .offloadFromPool: "Keep Swift Concurrency and move the blocking calls off the cooperative pool."
        case .dropProcessPool: "Drop the process pool: do the work in one process."
        case .shareDataBetweenThreads: "Use threads that share the data instead of shipping it to processes."
        case .staySequential: "Stay sequential: concurrency has nothing to overlap here."
        case .singleWriter: "Use one writer: the workers take turns on a file lock."
        case .processPool(let keep, _): keep ? "Keep the process pool." : "Move the CPU work to a process pool."
        case .keepProcessPool: "Keep the process pool."
        case .narrowCriticalSection(let lock, _, let keep):
            (keep ? "Keep the threads" : "Use threads")
                + " and narrow the critical section of \(lock.map { "'\($0)'" } ?? "the lock")."
        case .keepThreads: "Keep the threads."
        case .spreadOverProcesses: "Spread the CPU work over a process pool."
        case .spreadOverThreads: "Spread the CPU work over threads."
        case .async(let keep): keep ? "Keep the async design." : "Move the waiting to an async event loop."
        case .ioThreads(let keep): keep ? "Keep the threads." : "Overlap the waits with a small thread pool."
        case .hybrid(let keep): keep ? "Keep the hybrid design." : "Use a hybrid design."
        }
    }

    static func advice(_ r: Recommendation) -> String {
        let idioms = Idioms(language: r.language, cores: r.cores)
        switch r.action {
        case .nothingToDo: return "—"
        case .offloadFromLoop: return idioms.offload
        case .offloadFromPool(let functions):
            let named = Text.list(functions.prefix(3).map { "'\($0)'" })
            return "Call \(named.isEmpty ? "the blocking functions" : named) where blocking is allowed: an async API "
                + "for the same work (a non-blocking client, `Task.sleep` instead of sleeping), or a thread or "
                + "DispatchQueue of its own awaited through `withCheckedContinuation`; the pool has one thread per "
                + "core and must never wait in the kernel."
        case .dropProcessPool:
            return "Do the work where the data is (no pickling); if it must be parallel, use a "
                + "ThreadPoolExecutor over code that releases the GIL (NumPy, I/O) or shared memory "
                + "(multiprocessing.shared_memory)."
        case .shareDataBetweenThreads:
            return r.language == .swift
                ? "Share the payload by reference between threads (a TaskGroup over slices of one buffer) instead "
                    + "of serializing it through pipes to child processes."
                : "Share the data between threads of one process instead of copying it between processes."
        case .singleWriter(let lock):
            return "Let one process (or thread) do the updates under \(lock) and batch them (one transaction for "
                + "many rows); the other workers hand it their data instead of waiting for the lock."
        case .staySequential:
            return "Make the steps themselves faster (profile the hottest span); adding threads, tasks or processes "
                + "would only add overhead."
        case .processPool(_, let byLock): return idioms.processes(serializedByLock: byLock)
        case .keepProcessPool: return "Size the pool to the cores (\(r.cores)); keep messages small."
        case .narrowCriticalSection(_, let hold, _):
            return "The lock is held for \(Text.pct(hold)) of the threads' CPU time, so at most "
                + "\(SummaryRenderer.format3(1 / max(hold, 0.01))) threads fit through it: compute outside it and "
                + "hold it only to publish the result (or shard the state it guards); keep \(r.cores) threads."
        case .keepThreads(let workers): return idioms.keepThreads(workers: workers)
        case .spreadOverProcesses: return idioms.processes(serializedByLock: false)
        case .spreadOverThreads(let workers): return idioms.keepThreads(workers: workers)
        case .async: return idioms.async
        case .ioThreads: return idioms.ioThreads
        case .hybrid: return idioms.hybrid
        }
    }

    static func current(_ m: CurrentModel) -> String {
        switch m {
        case .hybrid(let n): return "an event loop with work on \(n) other thread(s)"
        case .async(let loops, let tasks, let most):
            // Loops found from outside are already named "event loop on …".
            let names = loops.prefix(3).map { $0.contains("loop") ? $0 : "event loop \($0)" }
            return (loops.isEmpty ? "" : names.joined(separator: ", "))
                + (loops.isEmpty || tasks == 0 ? "" : ", ")
                + (tasks > 0 ? "\(tasks) tasks" + (most > 0 ? " (up to \(most) at once)" : "") : "")
        case .processes(let count, let children):
            return "\(count) processes (\(children) child process(es) doing work)"
        case .threads(let n): return "\(n) threads doing work"
        case .sequential(let label): return label.map { "one thread (\($0))" } ?? "no busy thread"
        }
    }

    static func waitSource(_ s: WaitSource) -> String {
        switch s {
        case .threadsInIO: "threads blocked in I/O"
        case .tasksAlive: "tasks alive"
        case .asyncOperations: "async operations"
        case .readyCallbacks(let loop): "callbacks made ready at once on \(loop)"
        }
    }

    static func reasons(_ r: Recommendation, slowCallback: Int64) -> [String] {
        r.reasons.map { reason($0, slowCallback: slowCallback) }
    }

    static func reason(_ reason: Reason, slowCallback: Int64) -> String {
        switch reason {
        case .workSplit(let t, let cpu, let measured):
            let busy = Double(max(t.busy, 1))
            return "Work is \(Text.pct(cpu)) CPU (running \(Text.pct(Double(t.running) / busy)), runnable "
                + "\(Text.pct(Double(t.runnable) / busy))), I/O wait \(Text.pct(Double(t.ioWait) / busy)), "
                + "lock wait \(Text.pct(Double(t.lockWait) / busy)), IPC \(Text.pct(Double(t.ipc) / busy)) "
                + "of \(Text.ms(t.busy)) busy thread time (\(measured ? "measured" : "inferred from span names"))."
        case .workers(let threads, let processes, let window, let parallelism, let cores):
            let k = cores.count
            let source: String =
                switch cores.source {
                case .trace: "."
                case .option: " (as given: the trace does not say)."
                case .assumed: " (assumed: the trace does not say)."
                }
            return "\(threads) busy \(Text.plural(threads, "thread")) in \(processes) "
                + "\(Text.plural(processes, "process", "processes")) over \(Text.ms(window)); "
                + "\(SummaryRenderer.format3(parallelism)) on a CPU at a time on average, \(k) \(Text.plural(k, "core"))"
                + source
        case .waitsInFlight(let w):
            return "Up to \(w.maxInFlight) \(Text.plural(w.maxInFlight, "wait")) in flight at once "
                + "(\(waitSource(w.source)), mean \(SummaryRenderer.format3(w.meanInFlight))"
                + (w.p50 > 0 ? ", p50 latency \(Text.ms(w.p50))" : "") + ")" + (w.inferred ? ", inferred." : ".")
        case .noWork: return "No thread in the trace did measurable work."
        case .loopBlocked(let l): return FindingText.loopSummary(l, slow: slowCallback)
        case .poolBlocked(let p):
            return FindingText.poolSummary(p) + " With the calls off the pool, the window would be about "
                + "\(Text.ms(p.expectedWindow)) instead of \(Text.ms(p.window)): between \(Text.ms(max(p.computeBound, p.latencyBound))) "
                + "and \(Text.ms(p.computeBound + p.latencyBound)) — the pool's CPU work on its \(p.threads) "
                + "\(Text.plural(p.threads, "thread")) (\(Text.ms(p.computeBound))) and the tasks' waits, the moved calls "
                + "included, \(p.blockingTasksInFlight) at a time (\(Text.ms(p.latencyBound))), overlapped or not."
        case .offender(let e): return "Offender: \(FindingText.describe(e))."
        case .ipcOutweighs(let tax):
            return
                (tax.map { "IPC costs \(Text.x($0)) the compute it feeds" }
                ?? "IPC costs more than the compute it feeds (the processes did no measurable compute)")
                + ": copying data between processes outweighs the parallelism they buy."
        case .chain(let path, let share):
            return "The critical path is \(Text.ms(path)) (\(Text.pct(share)) of the window): "
                + "one chain of dependent steps that no model can overlap."
        case .structureUnknown:
            return "One thread did the work, and the trace does not show how it is divided (it has no spans for "
                + "it): if it is made of independent items, they could run in parallel; record spans around them "
                + "to tell."
        case .serialized(let s):
            return FindingText.serialization(
                CPUSerialization(serialized: [s], workers: s.threads, parallelism: s.parallelism, cpuMeasured: true)
            ).first?.summary ?? ""
        case .ipcTax(let tax, let batch):
            let figure = tax.map { Text.pct($0) } ?? "more than all"
            return batch
                ? "IPC costs \(figure) of the compute: batch work into fewer, larger tasks."
                : "IPC costs \(figure) of the compute it feeds: cheap."
        case .processesRan(let parallelism, let cores):
            return "The processes ran \(SummaryRenderer.format3(parallelism)) at a time on \(cores) cores."
        case .threadsRan(let parallelism, let potential, let noGlobalLock):
            return "The threads ran \(SummaryRenderer.format3(parallelism)) at a time out of \(potential) possible"
                + (noGlobalLock ? " (Swift threads have no global lock)." : ".")
        case .independentItems(let share):
            return "The critical path is \(Text.pct(share)) of the window: independent items can run in parallel."
        case .manyWaits(let n):
            return "\(n) waits in flight at once: an event loop multiplexes them without a thread each."
        case .slowWaits(let p50):
            return "Waits are slow (p50 \(Text.ms(p50))): threads would sit blocked holding memory."
        case .loopOverlaps(let n):
            return "The event loop already overlaps the waits (up to \(n) at once) and no "
                + "callback blocks it: threads would add switching, not speed."
        case .fewShortWaits(let n, let p50):
            return "Few waits in flight (\(n)) and they are short (p50 \(Text.ms(p50))): "
                + "a small thread pool overlaps them simply."
        case .fewWaits: return "The waits are few and short: a small thread pool overlaps them simply."
        case .fileLockQueue(let lock, let waiters, let share):
            return "\(waiters) workers queued for \(lock) for \(Text.pct(share)) of their busy time: the kernel "
                + "grants a file lock to one holder at a time, so more writers only wait."
        case .lockShare(let share):
            return "Lock waits take \(Text.pct(share)) of the busy time: shorten the critical sections "
                + "(see lock-contention) before adding threads."
        case .loopsKeepUp(let parallelism, let cores):
            return "The event loops were never blocked and kept \(SummaryRenderer.format3(parallelism)) of \(cores) "
                + "cores busy: they keep up with the load. When they saturate, scale out with one loop per core "
                + "(processes, or sharding the state), not threads."
        case .mixed(let cpu): return "The work is mixed: \(Text.pct(cpu)) CPU and \(Text.pct(1 - cpu)) waiting."
        case .traceTooLong(let d, let limit):
            return "The trace spans \(SummaryRenderer.formatDuration(d)); cctrace analyzes traces up to "
                + "\(SummaryRenderer.formatDuration(limit)) (mixed clocks?)."
        }
    }
}

/// How to say each model in the program's language.
struct Idioms {
    var language: SourceLanguage
    var cores: Int

    var offload: String {
        switch language {
        case .python:
            "Keep asyncio; run blocking calls with asyncio.to_thread() and CPU-heavy work with "
                + "loop.run_in_executor(ProcessPoolExecutor()) so no callback holds the loop."
        case .swift:
            "Keep the event loop (SwiftNIO / async code); move the blocking and CPU-heavy handlers off it — "
                + "NIOThreadPool.runIfActive or a dedicated thread/executor for blocking calls, a TaskGroup "
                + "or child processes for CPU work."
        case .unknown: "Keep the event loop; move blocking and CPU-heavy handlers to a worker pool."
        }
    }

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
        case .python: "Use asyncio (one event loop, a coroutine per connection; asyncio.gather)."
        case .swift: "Use Swift concurrency (async/await, a TaskGroup per batch) or SwiftNIO channels."
        case .unknown: "Use an async event loop with one lightweight task per connection."
        }
    }

    var ioThreads: String {
        switch language {
        case .python: "Use a concurrent.futures.ThreadPoolExecutor sized to the connections (I/O releases the GIL)."
        case .swift: "Use a few threads (or Dispatch queues) with blocking I/O, one per connection."
        case .unknown: "Use a small thread pool with blocking I/O."
        }
    }

    var hybrid: String {
        switch language {
        case .python: "Run I/O in asyncio and CPU work with loop.run_in_executor(ProcessPoolExecutor())."
        case .swift: "Run I/O on SwiftNIO or async code and CPU work on a TaskGroup or thread pool."
        case .unknown: "Run I/O on an event loop and CPU work on a worker pool."
        }
    }
}
