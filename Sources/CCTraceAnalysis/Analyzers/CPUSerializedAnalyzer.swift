import CCTraceFormat

/// CPU-bound work on several threads of one process that did not run in parallel, and why.
public struct SerializedWork: Sendable {
    /// What serialized it.
    public enum Cause: Sendable, Equatable {
        /// The threads took turns on one lock (its name when the trace has one).
        case lock(name: String?)
        /// CPython's global interpreter lock — measured (one core at a time, queueing in
        /// condition waits) or inferred (Python work on several threads without CPU readings).
        case gil(inferred: Bool)
        /// One thread did `share` of the CPU work while the others waited.
        case oneBusyThread(label: String, share: Double)
        /// The threads rarely ran at the same time, for no reason the trace shows.
        case unknown
    }

    public var pid: Int64
    /// The process's name and pid.
    public var process: String
    public var threads: Int
    /// Cores the threads ran on at once, and the most they could have.
    public var parallelism: Double
    public var potential: Int
    public var cpuShare: Double
    /// Lock waits' share of the threads' busy time (measured only).
    public var lockShare: Double?
    /// For a lock: the share of the threads' CPU time (running and runnable) spent holding it,
    /// when the trace has its holds. Near 1 the lock covers all the work (a global lock);
    /// below, it is a critical section around part of it.
    public var holdShare: Double? = nil
    /// Whether the lock guards only part of the work (``holdShare`` below
    /// ``Heuristics/globalLockHold``), so narrowing it lets threads overlap: then the
    /// serialization is the lock contention's consequence, reported once, by the lock.
    public var partialCriticalSection = false
    public var cause: Cause
    public var evidence: [Evidence]

    /// Whether the verdict was inferred rather than measured.
    public var inferred: Bool { cause == .gil(inferred: true) }
}

/// `cpu-serialized`: what the analyzer found.
public struct CPUSerialization: Sendable {
    /// Processes whose CPU-bound threads were serialized.
    public var serialized: [SerializedWork]
    /// For the all-clear: how many workers, and the window's parallelism.
    public var workers: Int
    public var parallelism: Double
    public var cpuMeasured: Bool
}

/// `cpu-serialized`: CPU-bound work spread over threads that never actually runs in parallel —
/// because every thread needs one lock for its work (a global interpreter lock behaves exactly
/// like this), or because one thread does nearly all of it while the others wait.
///
/// Measured from the scheduler's statistics when the trace has them (threads on a CPU at once,
/// against the cores). For CPython traces without them, threads running Python code are
/// serialized by the GIL by construction; the result says so and is marked inferred.
public enum CPUSerializedAnalyzer {
    public static let id = "cpu-serialized"

    public static func analyze(_ model: TraceModel, profile: WorkProfile, options: AnalysisOptions)
        -> CPUSerialization
    {
        let h = options.heuristics
        let loopThreads = Set(profile.loops.map(\.thread))
        var out: [SerializedWork] = []
        for pid in profile.workerProcesses {
            let workers = profile.workers.filter { $0.pid == pid && !loopThreads.contains($0.thread) }
            guard workers.count >= 2 else { continue }
            let split = workers.reduce(TimeSplit()) { $0 + $1.split }
            guard split.cpuShare >= h.cpuBound else { continue }
            let start = workers.map(\.start.nanoseconds).min()!
            let end = workers.map(\.end.nanoseconds).max()!
            let span = max(end - start, 1)
            let parallel = Double(split.running) / Double(span)  // ≤ cores: running is capped (CPUCapacity)
            let potential = min(workers.count, max(profile.cores, 1))
            let label = processLabel(pid, model)
            if workers.allSatisfy(\.cpuMeasured) {
                // CPU-bound means the CPU was busy: at least half a core on average, not a sliver
                // of CPU between long waits the trace did not name.
                guard potential >= 2, parallel <= h.serializedParallelism,
                    Double(split.running + split.runnable) >= h.serializedMinimumCPU * Double(span)
                else { continue }
                let lockShare = split.busy > 0 ? Double(split.lockWait) / Double(split.busy) : 0
                let busiest = workers.max { $0.split.running < $1.split.running }!
                let busiestShare = split.running > 0 ? Double(busiest.split.running) / Double(split.running) : 0
                var evidence: [Evidence] = []
                let cause: SerializedWork.Cause
                var holdShare: Double?
                // Waits for the GIL (recognized by the interpreter's functions that waited):
                // when they are most of the lock waits, the GIL is the cause, measured.
                let workerThreadSet = Set(workers.map(\.thread))
                let gilWait = profile.classification.gilWaits.reduce(Int64(0)) {
                    workerThreadSet.contains(model.slices[$1].thread) ? $0 + model.slices[$1].duration.nanoseconds : $0
                }
                if gilWait > 0 && gilWait * 2 >= split.lockWait && lockShare >= h.serializedLockShare {
                    cause = .gil(inferred: false)
                } else if lockShare >= h.serializedLockShare {
                    let lock = topLock(pid: pid, model: model)
                    cause = .lock(name: lock?.name)
                    if let l = lock {
                        evidence.append(.slice(l.longest, in: model, .longestLockWait(lock: l.name)))
                        holdShare = Self.holdShare(
                            of: l.name, threads: Set(workers.map(\.thread)),
                            cpu: split.running + split.runnable, model: model)
                    }
                } else if busiestShare >= h.oneThreadShare {
                    cause = .oneBusyThread(label: busiest.label, share: busiestShare)
                } else if split.runnable > split.running {
                    // Starved by other load on the machine, not serialized by the program.
                    continue
                } else if profile.language == .python {
                    cause = .gil(inferred: false)
                } else {
                    cause = .unknown
                }
                let workerThreads = Set(workers.map(\.thread))
                let stall = TraceVocabulary.Event.loopStall.string
                let sampled = model.samples.filter { workerThreads.contains($0.thread) && $0.name != stall }
                if let hot = HotStacks.rank(sampled, in: model, top: 1).first {
                    evidence.append(
                        Evidence(.hottestStack(share: hot.share, samples: sampled.count), stack: hot.frames))
                }
                for w in workers.prefix(options.evidenceLimit) {
                    evidence.append(
                        .thread(
                            w,
                            .workerTime(
                                thread: w.label, running: w.split.running, lockWait: w.split.lockWait,
                                runnable: w.split.runnable)))
                }
                out.append(
                    SerializedWork(
                        pid: pid, process: label, threads: workers.count, parallelism: parallel,
                        potential: potential, cpuShare: split.cpuShare, lockShare: lockShare,
                        holdShare: holdShare, partialCriticalSection: holdShare.map { $0 < h.globalLockHold } ?? false,
                        cause: cause, evidence: evidence))
            } else if profile.language == .python,
                !nativeWorkRanInParallel(workers, model: model, profile: profile, heuristics: h)
            {
                let evidence = workers.prefix(options.evidenceLimit).map {
                    Evidence.thread($0, .pythonWork(thread: $0.label, running: $0.split.running))
                }
                out.append(
                    SerializedWork(
                        pid: pid, process: label, threads: workers.count, parallelism: 1, potential: potential,
                        cpuShare: split.cpuShare, lockShare: nil, cause: .gil(inferred: true), evidence: evidence))
            }
        }
        return CPUSerialization(
            serialized: out, workers: profile.workers.count, parallelism: profile.parallelism,
            cpuMeasured: profile.cpuMeasured)
    }

    /// Whether the workers' CPU work was mostly in native calls (C functions) that overlapped
    /// across threads. Native code that releases the GIL (hashing, compression, NumPy) runs in
    /// parallel; native code that holds it cannot even start while another thread runs, so
    /// overlapping native calls prove the GIL was released.
    static func nativeWorkRanInParallel(
        _ workers: [ThreadWork], model: TraceModel, profile: WorkProfile, heuristics h: Heuristics
    ) -> Bool {
        var intervals: [(Int64, Int64)] = []
        var native: Int64 = 0
        var work: Int64 = 0
        for w in workers {
            for i in model.threads[w.thread].sliceRange where profile.sliceKinds[i] == nil {
                let s = model.slices[i]
                work += s.selfDuration.nanoseconds
                if CPython.isNativeCall(s.name) && s.selfDuration.nanoseconds >= h.nativeCallMinimum.nanoseconds {
                    native += s.selfDuration.nanoseconds
                    intervals.append((s.start.nanoseconds, s.end.nanoseconds))
                }
            }
        }
        guard work > 0, Double(native) >= h.nativeWorkShare * Double(work), !intervals.isEmpty else { return false }
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
        return union > 0 && Double(native) / Double(union) >= h.nativeOverlap
    }

    static func processLabel(_ pid: Int64, _ model: TraceModel) -> String {
        let name = model.processes.first { $0.pid == pid }?.name
        return name.map { "\($0) (\(pid))" } ?? "process \(pid)"
    }

    /// The time `lock` was held while `threads` worked, over their CPU time; nil when the
    /// trace has no holds of it. A thread's holds are recorded only after it waited for the
    /// lock (see the shim), and a thread that keeps re-taking an unfair lock may never wait;
    /// but whenever someone waits for a lock, someone holds it. So the held time is the union
    /// of the recorded holds and the recorded waits (read and write waits of a read-write lock
    /// alike, by lock id): a global lock comes out held nearly all the time its threads ran,
    /// a critical section for its share of the work (plus the hand-offs' latency).
    static func holdShare(of lock: String, threads: Set<Int>, cpu: Int64, model: TraceModel) -> Double? {
        guard cpu > 0 else { return nil }
        let id = model.lockWaits.first { $0.lock == lock }?.lockID ?? -1
        func same(_ name: String, _ lockID: Int64) -> Bool { id >= 0 ? lockID == id : name == lock }
        var intervals: [(Int64, Int64)] = []
        var anyHold = false
        for hold in model.lockHolds where same(hold.lock, hold.lockID) {
            let s = model.slices[hold.slice]
            guard threads.contains(s.thread) else { continue }
            intervals.append((s.start.nanoseconds, s.end.nanoseconds))
            anyHold = true
        }
        guard anyHold else { return nil }
        for wait in model.lockWaits where same(wait.lock, wait.lockID) {
            let s = model.slices[wait.slice]
            if threads.contains(s.thread) { intervals.append((s.start.nanoseconds, s.end.nanoseconds)) }
        }
        intervals.sort { $0.0 < $1.0 }
        var held: Int64 = 0
        var current: (Int64, Int64)?
        for i in intervals {
            if let c = current, i.0 <= c.1 {
                current = (c.0, max(c.1, i.1))
            } else {
                if let c = current { held += c.1 - c.0 }
                current = i
            }
        }
        if let c = current { held += c.1 - c.0 }
        return min(1, Double(held) / Double(cpu))
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
        return totals.max { ($0.value.0, $1.key) < ($1.value.0, $0.key) }.map { ($0.key, $0.value.1) }
    }
}
