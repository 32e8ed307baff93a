import CCTraceFormat

/// What the analyzers found, as the recommender reads it.
public struct Findings: Sendable {
    public var serialization: CPUSerialization
    public var locks: LockContention
    public var loops: LoopBlocking
    public var pools: PoolBlocking
    public var actors: ActorContention
    public var ipc: IPCOverhead
    /// Requests between processes and hosts (distributed-tracing spans).
    public var requests: RequestPaths = RequestPaths(hops: [], dominant: [], roots: 0)
}

/// Stage 5 — turns the work profile and the analyzers' results into a ``Recommendation``,
/// following the decision guide: CPU-bound and serialized → processes; CPU-bound and parallel →
/// keep threads; wait-bound with many or slow waits → async, with few fast waits → threads; a
/// blocked loop → keep async and offload (hybrid); mixed → hybrid; no parallel slack →
/// sequential.
public enum Recommender {
    public static func recommend(
        profile p: WorkProfile, findings f: Findings, whatIf: WhatIf, options o: AnalysisOptions
    ) -> Recommendation {
        let h = o.heuristics
        let t = p.total
        let cpu = p.cpuShare
        let k = max(p.cores, 1)
        let lang = p.language
        var reasons: [Reason] = [
            .workSplit(t, cpuShare: cpu, measured: p.cpuMeasured),
            .workers(
                threads: p.workers.count, processes: p.workerProcesses.count, window: p.window,
                parallelism: p.parallelism, cores: p.coreCount),
        ]
        if let w = p.waits, w.maxInFlight > 0 { reasons.append(.waitsInFlight(w)) }
        let blocked = f.loops.loops.filter { $0.severity == .warning }
        let serialized = f.serialization.serialized.first
        let worstTax = f.ipc.worstTax
        let ipcTax = worstTax ?? 0
        let inferred = !p.cpuMeasured || p.namesInferred
        var confidence: Confidence = inferred ? .medium : .high
        if p.window < h.minimumWindow.nanoseconds || t.busy == 0 { confidence = .low }
        // No model makes the window shorter than its work spread over every core: the speedup
        // is at most the cores over the cores in use now.
        var now = p.parallelism

        func make(
            _ model: ConcurrencyModel, speedup: Double, _ action: RecommendedAction, change: Bool? = nil,
            whatIf target: ConcurrencyModel? = nil
        ) -> Recommendation {
            // A switch of model gets its gain from the what-if replay when it has a row for it;
            // the formulas below remain for advice within a model (narrow a critical section,
            // size a pool) and when nothing could be replayed.
            if let target, target != p.currentModel, let row = whatIf.row(target), row.predicted > 0 {
                let w = Double(whatIf.measured)
                return Recommendation(
                    model: model, current: p.shape.current, change: change ?? (model != p.currentModel),
                    confidence: confidence, expectedSpeedup: max(1, w / Double(row.predicted)), currentParallelism: now,
                    action: action, reasons: reasons, inferred: inferred, language: lang, cores: k,
                    speedupRange: max(1, w / Double(max(row.high, 1)))...max(1, w / Double(max(row.low, 1))),
                    speedupFrom: target)
            }
            let s = speedup.isFinite ? speedup : 1
            let ceiling = now > 0 ? max(1, Double(k) / now) : Double(k)
            return Recommendation(
                model: model, current: p.shape.current, change: change ?? (model != p.currentModel),
                confidence: confidence, expectedSpeedup: max(1, min(s, ceiling)), currentParallelism: now,
                action: action, reasons: reasons, inferred: inferred, language: lang, cores: k)
        }

        guard t.busy > 0 else {
            reasons = [.noWork]
            confidence = .low
            return make(.sequential, speedup: 1, .nothingToDo)
        }

        // Swift's cooperative pool blocked in the kernel: keep async, move the blocking calls off
        // the pool (before event loops: the pool is the program's only executor of tasks).
        if let pool = f.pools.pools.first(where: { $0.severity == .warning }) {
            reasons.append(.poolBlocked(pool))
            for e in pool.evidence.prefix(3) { reasons.append(.offender(e)) }
            let speedup = Double(pool.window) / Double(max(pool.expectedWindow, 1))
            return make(
                .async, speedup: speedup, .offloadFromPool(functions: pool.blockers.map(\.function)), change: true,
                whatIf: .hybrid)
        }

        // A blocked event loop: keep the loop, move the blocking work off it.
        if let worst = blocked.first {
            reasons.append(.loopBlocked(worst))
            for e in blocked.flatMap(\.evidence).prefix(4) { reasons.append(.offender(e)) }
            // Offloaded, the blocking work runs beside the loop: the window shrinks to the longer
            // of what stays on the loop and the longest offloaded callback.
            let blockedTime = Double(blocked.reduce(Int64(0)) { $0 + $1.blocked })
            let longest = Double(blocked.map(\.longest).max() ?? 0)
            let window = Double(max(p.window, 1))
            let after = max(window - blockedTime, longest, window * h.offloadFloor)
            return make(.hybrid, speedup: window / after, .offloadFromLoop, change: true, whatIf: .hybrid)
        }

        // Processes whose messages cost more than the compute they feed.
        if p.currentModel == .processes, let tax = worstTax, tax >= h.ipcOutweighs {
            reasons.append(.ipcOutweighs(tax: tax.isFinite ? tax : nil))
            // Without the copies, the window loses the IPC time of the busiest process.
            let window = Double(max(p.window, 1))
            let perProcess = Double(t.ipc) / Double(max(p.workerProcesses.count, 1))
            let ipcShare = min(0.9, perProcess / window)
            if lang == .python {
                return make(.sequential, speedup: 1 / (1 - ipcShare), .dropProcessPool, whatIf: .sequential)
            }
            return make(.threads, speedup: 1 / (1 - ipcShare), .shareDataBetweenThreads, whatIf: .threads)
        }

        // Event loops that never blocked, with cores to spare, keep up with their load: keep
        // them (with advice on scaling out for when they saturate). Before the chain test: a
        // loop thread waiting in its poll multiplexes waits, it is not one chain of work.
        if p.currentModel == .async && Double(k) - p.parallelism >= h.idleCapacity {
            reasons.append(.loopsKeepUp(parallelism: p.parallelism, cores: k))
            return make(.async, speedup: 1, .async(keep: true))
        }

        // Workers taking turns on one file lock (a database, a cache directory): the kernel
        // grants it to one at a time, so more writers only queue — keep one, batching.
        if let top = f.locks.locks.first, top.severity == .warning, case .named(let name) = top.lock,
            POSIXCalls.isFileLock(name), top.waiters >= 2, t.busy > 0,
            Double(t.lockWait) >= h.fileLockQueue * Double(t.busy)
        {
            reasons.append(.fileLockQueue(lock: name, waiters: top.waiters, share: Double(t.lockWait) / Double(t.busy)))
            return make(.sequential, speedup: 1, .singleWriter(lock: name))
        }

        // One dependent chain and nothing to overlap.
        if (p.currentModel == .sequential || p.workers.count <= 1) && p.chainLike
            && p.criticalPathShare >= h.sequentialCriticalPath && (p.waits?.maxInFlight ?? 0) <= 1
        {
            if p.shape.structureKnown {
                reasons.append(.chain(criticalPath: p.criticalPath, share: p.criticalPathShare))
            } else {
                // Seen from outside, one computing thread may be a chain or independent items.
                reasons.append(.structureUnknown)
                confidence = .low
            }
            return make(.sequential, speedup: 1, .staySequential)
        }

        // CPU-bound needs the CPU to have been busy; a sliver of CPU between waits the trace
        // did not name is not CPU-bound work.
        if cpu >= h.cpuBound && (p.parallelism >= h.cpuBoundMinimumParallelism || !p.cpuMeasured) {
            // Serialized for a reason processes remove (a lock or interpreter lock each worker
            // would have its own of) → processes; for no reason the trace shows, or one thread
            // doing most of it, a pool of processes would be serialized the same way: that is
            // the program's own structure (a sequential merge phase, say), judged below as
            // threads.
            let byProcesses = serialized.flatMap { s -> SerializedWork? in
                switch s.cause {
                case .unknown, .oneBusyThread: return lang == .python ? s : nil
                default: return s
                }
            }
            if let s = byProcesses {
                reasons.append(.serialized(s))
                now = min(now, s.parallelism)
                let target = Double(min(k, max(p.workers.count, 1)))
                let speedup = target / max(s.parallelism, 0.5) * (1 - min(0.5, ipcTax))
                // A critical section around part of the work: threads overlap once the work
                // moves out of it, and the state it guards stays shared (processes would have to
                // copy it). At most 1/holdShare threads fit through it as it is.
                if s.partialCriticalSection, let hold = s.holdShare {
                    let narrowed = Double(min(k, max(p.workers.count, 1))) / max(s.parallelism, 0.5)
                    return make(
                        .threads, speedup: narrowed * h.threadEfficiency,
                        .narrowCriticalSection(
                            lock: { if case .lock(let name) = s.cause { return name } else { return nil } }(),
                            holdShare: hold, keep: p.currentModel == .threads))
                }
                var byLock = false
                if case .lock = s.cause { byLock = true }
                return make(
                    .processes, speedup: speedup,
                    .processPool(keep: p.currentModel == .processes, serializedByLock: byLock), whatIf: .processes)
            }
            if p.currentModel == .processes {
                reasons.append(.ipcTax(worstTax.map { $0.isFinite ? $0 : nil } ?? 0, batch: ipcTax >= h.ipcTax))
                reasons.append(.processesRan(parallelism: p.parallelism, cores: k))
                return make(.processes, speedup: 1, .keepProcessPool)
            }
            let potential = min(k, max(p.workers.count, 1))
            if p.currentModel == .threads {
                reasons.append(
                    .threadsRan(parallelism: p.parallelism, potential: potential, noGlobalLock: lang == .swift))
                return make(
                    .threads, speedup: Double(potential) / max(p.parallelism, 0.5) * h.threadEfficiency,
                    .keepThreads(workers: p.workers.count))
            }
            // Sequential (or async) CPU work with independent items: spread it (Amdahl).
            reasons.append(.independentItems(criticalPathShare: p.criticalPathShare))
            let serial = p.criticalPathShare
            let speedup = 1 / (serial + (1 - serial) / Double(k))
            if lang == .python { return make(.processes, speedup: speedup, .spreadOverProcesses, whatIf: .processes) }
            return make(.threads, speedup: speedup, .spreadOverThreads(workers: k), whatIf: .threads)
        }

        if cpu <= h.waitBound || (p.cpuMeasured && p.parallelism < h.cpuBoundMinimumParallelism && cpu >= h.cpuBound) {
            let w = p.waits
            let inFlight = w?.maxInFlight ?? 0
            let many = inFlight >= h.manyWaits
            // Slow waits favour an event loop once there are more of them than a small pool of
            // threads holds comfortably.
            let slow = (w?.p50 ?? 0) >= h.slowWait.nanoseconds && inFlight >= h.slowWaitsInFlight
            if many || slow || p.currentModel == .async {
                if many {
                    reasons.append(.manyWaits(inFlight))
                } else if slow {
                    reasons.append(.slowWaits(p50: w?.p50 ?? 0))
                } else {
                    reasons.append(.loopOverlaps(maxInFlight: inFlight))
                }
                return make(.async, speedup: 1, .async(keep: p.currentModel == .async), whatIf: .async)
            }
            if let w, w.maxInFlight > 0 {
                reasons.append(.fewShortWaits(count: w.maxInFlight, p50: w.p50))
            } else {
                reasons.append(.fewWaits)
            }
            let lockShare = Double(t.lockWait) / Double(max(t.busy, 1))
            if lockShare >= h.lockShareAdvice { reasons.append(.lockShare(lockShare)) }
            return make(.threads, speedup: 1, .ioThreads(keep: p.currentModel == .threads), whatIf: .threads)
        }

        reasons.append(.mixed(cpuShare: cpu))
        return make(.hybrid, speedup: 1, .hybrid(keep: p.currentModel == .hybrid), whatIf: .hybrid)
    }
}
