import CCTraceFormat

/// How sure the recommendation is.
public enum Confidence: String, Sendable {
    case high, medium, low
}

/// What the recommendation tells the user to do (the renderers say it in the program's idiom).
public enum RecommendedAction: Sendable, Equatable {
    /// No thread did measurable work.
    case nothingToDo
    /// Keep the event loop; move the work that blocks it elsewhere.
    case offloadFromLoop
    /// Keep Swift Concurrency; move these blocking calls off the cooperative pool.
    case offloadFromPool(functions: [String])
    /// IPC outweighs the processes: do the work in one process (Python).
    case dropProcessPool
    /// IPC outweighs the processes: threads sharing the data.
    case shareDataBetweenThreads
    /// One chain of dependent steps: nothing to overlap.
    case staySequential
    /// Several workers queueing for one file lock: one writer, batching its updates.
    case singleWriter(lock: String)
    /// Serialized CPU work: a process pool (`keep` when the program has one).
    case processPool(keep: Bool, serializedByLock: Bool)
    /// Threads serialized by a lock held across part of their work: move the work out of the
    /// critical section (`holdShare` of the CPU time is inside it now); `keep` the threads.
    case narrowCriticalSection(lock: String?, holdShare: Double, keep: Bool)
    /// A process pool that works: size it to the cores.
    case keepProcessPool
    /// CPU-bound threads that ran in parallel.
    case keepThreads(workers: Int)
    /// Independent CPU-bound items run one at a time: spread them.
    case spreadOverProcesses
    case spreadOverThreads(workers: Int)
    /// Many or slow waits: an event loop (`keep` when the program has one).
    case async(keep: Bool)
    /// Few, short waits: a small thread pool.
    case ioThreads(keep: Bool)
    /// Mixed work: an event loop with a worker pool.
    case hybrid(keep: Bool)
}

/// Why, each with its figures (the renderers write the sentence).
public enum Reason: Sendable {
    /// How the busy time splits.
    case workSplit(TimeSplit, cpuShare: Double, measured: Bool)
    /// Workers, processes, window, parallelism and cores.
    case workers(threads: Int, processes: Int, window: Int64, parallelism: Double, cores: CoreCount)
    case waitsInFlight(WaitConcurrency)
    case noWork
    /// The worst blocked loop, and one of its offenders.
    case loopBlocked(LoopStats)
    case poolBlocked(PoolStats)
    case offender(Evidence)
    /// IPC costs `tax` × the compute it feeds (`nil`: there was no compute).
    case ipcOutweighs(tax: Double?)
    case chain(criticalPath: Int64, share: Double)
    /// The busy thread's spans do not show its structure (a chain, or independent items).
    case structureUnknown
    /// Workers queued for one file lock for `share` of their busy time.
    case fileLockQueue(lock: String, waiters: Int, share: Double)
    case serialized(SerializedWork)
    case ipcTax(Double?, batch: Bool)
    case processesRan(parallelism: Double, cores: Int)
    case threadsRan(parallelism: Double, potential: Int, noGlobalLock: Bool)
    case independentItems(criticalPathShare: Double)
    case manyWaits(Int)
    case slowWaits(p50: Int64)
    case loopOverlaps(maxInFlight: Int)
    case fewShortWaits(count: Int, p50: Int64)
    case fewWaits
    case lockShare(Double)
    case mixed(cpuShare: Double)
    /// Event loops never blocked and left cores idle.
    case loopsKeepUp(parallelism: Double, cores: Int)
    /// The trace is longer than the analysis takes on.
    case traceTooLong(TraceDuration, limit: TraceDuration)
}

/// The concurrency model that fits the traced workload, with the evidence and the expected gain.
public struct Recommendation: Sendable {
    /// The model that fits.
    public var model: ConcurrencyModel
    /// The model the program uses now.
    public var current: CurrentModel
    /// Whether the advice is to change something (a different model, or offloading work).
    public var change: Bool
    public var confidence: Confidence
    /// Expected speedup of the work window (1 = none); never more than the cores over
    /// ``currentParallelism``.
    public var expectedSpeedup: Double
    /// The cores the program keeps busy now, as the recommendation reasons: the window's
    /// parallelism, or a serialized process's when that is what the advice is about (spans of
    /// CPython threads without CPU readings overstate it: they include queueing for the GIL).
    public var currentParallelism: Double
    /// What to do.
    public var action: RecommendedAction
    /// Why.
    public var reasons: [Reason]
    /// Whether figures the decision rests on were inferred from names.
    public var inferred: Bool
    /// What the advice is phrased for.
    public var language: SourceLanguage
    public var cores: Int
    /// The range of ``expectedSpeedup`` and the what-if row it came from, when it came from the
    /// replay (``WhatIf``) rather than a formula.
    public var speedupRange: ClosedRange<Double>? = nil
    public var speedupFrom: ConcurrencyModel? = nil
}
