import CCTraceFormat

/// Every threshold the analysis uses, in one value: what each decides, its default, why the
/// default is what it is, and where it came from (``Heuristics/all`` describes them all;
/// `cctrace heuristics` prints that table and `cctrace report --set KEY=VALUE` overrides one).
///
/// A threshold that is not here is a bug: stages read these fields, never literals. Defaults
/// were chosen from how programs behave in general, stated next to each — none is fitted to
/// one trace.
public struct Heuristics: Sendable {
    // MARK: - Classification

    /// A Python library function whose own time (between its traced calls) is at least this
    /// long and over half its span called something the tracer did not see (a C function
    /// called from C, e.g. a queue `get` behind `iter()`): that gap is waiting, not work.
    public var untracedCallGap = TraceDuration(nanoseconds: 1_000_000)
    /// The stretch before the first traced call of a `with lock:` block longer than this is
    /// the (untraced) acquire.
    public var withLockMinimumWait = TraceDuration(nanoseconds: 10_000)

    // MARK: - Accounting and window

    /// A process that shared less than this share of its life with the busiest one ran before
    /// or after the program's work (a launcher): left out.
    public var launcherOverlap = 0.5
    /// A thread is a worker when its busy time is at least this share of the window.
    public var workerBusyShare = 0.1
    /// At least this many short-lived threads of one process, together busy for
    /// ``workerBusyShare`` of the window, are workers too (a thread per connection).
    public var transientWorkers = 4
    /// A thread that spent this share of its busy time in one wait is parked, not a worker.
    public var parkedThread = 0.9
    /// A Python lock acquire is a wait for the GIL when another thread's one native call
    /// covered this share of it.
    public var gilHeldShare = 0.5
    /// A process is part of the work when its threads' busy time (lock waits excluded) is at
    /// least this share of the window.
    public var workerProcessShare = 0.02
    /// CPU readings below this running share do not make a thread part of the work window
    /// (an idle thread's scheduler noise).
    public var windowCPUShare = 0.01

    // MARK: - Program shape

    /// Top-level spans that repeat at least this many times, with few distinct names, are
    /// independent items rather than steps of one chain.
    public var repeatedItems = 4
    /// …and with at most this many distinct names per span.
    public var repeatedItemsDistinctShare = 0.5
    /// …and each worth a task: at least this long on average.
    public var independentItem = TraceDuration(nanoseconds: 200_000)
    /// While one span holds this share of a level's time, the units of work are its children.
    public var dominantSpanShare = 0.9
    /// This many traced tasks alive at once make the program async (without an event loop).
    public var asyncTasksInFlight = 8
    /// A non-loop thread that spent this share of its busy time sleeping or polling is
    /// housekeeping (timers, maintenance, a listener), not work offloaded from a loop.
    public var housekeepingWaitShare = 0.9
    /// Evidence of CPython among the first ``languageScanSlices`` slice names.
    public var languageNameEvidence = 3
    public var languageScanSlices = 20_000
    /// A thread is an event loop seen from outside when it made this many poll-family calls…
    public var loopPollCalls = 10
    /// …or spent this share of its life in recorded polls…
    public var loopPollShare = 0.2
    /// …and did at least this share of its process's CPU work.
    public var loopCPUShare = 0.3

    // MARK: - Analyzers

    /// A callback/tick/job at least this long blocks its loop.
    public var slowCallback = TraceDuration(nanoseconds: 100_000_000)
    /// A part of a slow tick at least this share of ``slowCallback`` is named as an offender;
    /// a loop whose longest callback reaches it is worth an info.
    public var slowCallbackPart = 0.25
    /// A callback is CPU work when at least this share of it was on a CPU.
    public var cpuWorkShare = 0.5
    /// CPU-bound threads that ran on at most this many cores at once were serialized.
    public var serializedParallelism = 1.3
    /// Serialized CPU work must have kept at least this many cores busy on average.
    public var serializedMinimumCPU = 0.5
    /// Lock waits at least this share of the workers' busy time make a lock the cause.
    public var serializedLockShare = 0.25
    /// A serializing lock held for at least this share of the threads' CPU time covers all the
    /// work (a global lock: processes); below, it is a critical section to narrow (threads).
    public var globalLockHold = 0.7
    /// One thread doing this share of the CPU work is the cause.
    public var oneThreadShare = 0.8
    /// Native (C) calls at least this long count when telling whether a GIL was released.
    public var nativeCallMinimum = TraceDuration(nanoseconds: 100_000)
    /// …native calls must be at least this share of the work…
    public var nativeWorkShare = 0.5
    /// …and overlap across threads by at least this factor.
    public var nativeOverlap = 1.3
    /// Acquires of a lock recognized by name shorter than this are not waits.
    public var inferredLockWait = TraceDuration(nanoseconds: 10_000)
    /// Contention is a warning only when threads queued at least this many times…
    public var contentionWaits = 3
    /// …and waiting was this share of the waiters' busy time…
    public var contentionShare = 0.1
    /// …or this share, when the waiting was also ``contentionWindowShare`` of the window.
    public var contentionShareLow = 0.05
    public var contentionWindowShare = 0.1
    /// Less waiting than this in total is not worth an info.
    public var contentionInfo = TraceDuration(nanoseconds: 1_000_000)
    /// IPC time ÷ compute at or above which IPC is a warning.
    public var ipcTax = 0.2
    /// Child start-up ÷ the work each child then did at or above which start-up is a warning.
    public var startupShare = 0.1

    // MARK: - Recommendation

    /// CPU share at or above which work is CPU-bound.
    public var cpuBound = 0.7
    /// CPU share at or below which work is wait-bound.
    public var waitBound = 0.3
    /// CPU-bound work must have kept at least this many cores busy on average.
    public var cpuBoundMinimumParallelism = 0.3
    /// Waits in flight at which an event loop beats threads.
    public var manyWaits = 100
    /// A wait at least this long (p50) is slow…
    public var slowWait = TraceDuration(nanoseconds: 50_000_000)
    /// …and slow waits favour an event loop from this many in flight.
    public var slowWaitsInFlight = 16
    /// IPC costing at least this many times the compute it feeds outweighs the processes.
    public var ipcOutweighs = 1.0
    /// A critical path at least this share of the window, one chain, leaves nothing to overlap.
    public var sequentialCriticalPath = 0.9
    /// Lock waits over this share of the busy time of wait-bound threads earn advice.
    public var lockShareAdvice = 0.3
    /// A window shorter than this gives low confidence.
    public var minimumWindow = TraceDuration(nanoseconds: 20_000_000)
    /// What offloading leaves of a blocked loop's window, at least (the loop still dispatches).
    public var offloadFloor = 0.05
    /// Swift's cooperative pool is blocked when its jobs spend this share of their time off a
    /// CPU without being runnable (in the kernel: sleeping, file or socket I/O, lock waits)…
    public var poolBlockedShare = 0.25
    /// …while jobs that were ready waited this long for a pool thread on average.
    public var poolQueueDelay = TraceDuration(nanoseconds: 1_000_000)
    /// A Swift actor whose contended runs were on a CPU this share of the window serializes the
    /// program.
    public var actorBusyShare = 0.5
    /// Event loops that never blocked and left at least this many cores idle keep up: keep them.
    public var idleCapacity = 0.5
    /// Workers that spend this share of their busy time queueing for one file lock are one
    /// writer's work spread over several: keep one.
    public var fileLockQueue = 0.5
    /// How much of the ideal scaling CPU-bound threads keep.
    public var threadEfficiency = 0.9

    // MARK: - What-if

    /// A unit of work that starts after its thread sat idle this long arrived then (a request,
    /// a timer, a message): no model starts it earlier.
    public var arrivalGap = TraceDuration(nanoseconds: 1_000_000)
    /// A prediction's range is at least this share either side.
    public var whatIfMargin = 0.1
    /// Start-up of a new compiled program's process when the trace measured none.
    public var processStart = TraceDuration(nanoseconds: 5_000_000)
    /// …and of a new Python interpreter's.
    public var processStartPython = TraceDuration(nanoseconds: 30_000_000)
    /// The most units of work the what-if replays (its cost grows with them).
    public var whatIfUnits = 500_000

    // MARK: - Diff

    /// A figure of one run is known to at least this share either side (`cctrace diff`); the
    /// trace's own repeated items can only widen it.
    public var diffNoise = 0.05
    /// A duration that changed by less than this did not change (`cctrace diff`).
    public var diffMinimumChange = TraceDuration(nanoseconds: 1_000_000)
    /// A share that changed by less than this (absolute, 0…1) did not change (`cctrace diff`).
    public var diffMinimumShareChange = 0.02
    /// Parallelism that changed by less than this many cores did not change (`cctrace diff`).
    public var diffMinimumParallelismChange = 0.1

    /// Cores assumed when neither the trace nor the options say.
    public var assumedCores = 4

    /// The defaults.
    public init() {}
}
