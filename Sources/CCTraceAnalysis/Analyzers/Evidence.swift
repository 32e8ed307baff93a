import CCTraceFormat

/// How much a finding matters.
public enum Severity: String, Sendable, Comparable, CaseIterable {
    /// Looked, found nothing wrong.
    case ok
    /// Worth knowing; not holding the program back much.
    case info
    /// Holding the program back.
    case warning

    var rank: Int {
        switch self {
        case .ok: 0
        case .info: 1
        case .warning: 2
        }
    }

    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// One step of a wait-for chain: `waiter` waited for `lock` while `holder` held it.
public struct ChainLink: Sendable, Equatable {
    public var waiter: String
    public var lock: LockName
    public var holder: String
    /// The wait (index into ``TraceModel/slices``).
    public var slice: Int
}

/// Whether a stretch of a thread computed or waited, and how much of it was on a CPU.
public enum WorkNature: Sendable, Equatable {
    /// Measured: this share of it on a CPU (running or runnable).
    case cpu(share: Double)
    case blocking(share: Double)
    /// Inferred from the kinds of the spans inside it.
    case cpuInferred
    case blockingInferred
}

/// What a piece of evidence shows (the renderers say it in words).
public enum EvidenceKind: Sendable, Equatable {
    /// The longest wait for a lock.
    case longestLockWait(lock: String)
    /// The hottest sampled stack of a group of threads: its share of their samples.
    case hottestStack(share: Double, samples: Int)
    /// A worker's time on a CPU, waiting for locks and queued for a core.
    case workerTime(thread: String, running: Int64, lockWait: Int64, runnable: Int64)
    /// A worker's time in Python code (inferred from spans).
    case pythonWork(thread: String, running: Int64)
    /// The waiters' most common stack, and how long they waited in it.
    case waitersStack(waiting: Int64)
    /// The spans enclosing a wait (the stack, for traces without stacks).
    case waiterSpans
    /// One wait for a lock, with its holder and what the holder was doing, when known.
    case lockWait(waiter: String, waited: Int64, holder: String?, holderDoing: String?)
    /// Where the holder released the lock a waiter waited for.
    case heldUntilHere(holder: String)
    /// A wait-for chain whose waits all overlap in time.
    case waitForChain([ChainLink])
    /// A callback that held an event loop.
    case blockedLoop(
        offender: String, held: Int64, nature: WorkNature, task: String?, sampledCount: Int, sampledIn: [String])
    /// A job of Swift's cooperative pool blocked in `function`, with that function's blocked
    /// time over all jobs and how many jobs it blocked.
    case poolBlocked(function: String, blocked: Int64, jobs: Int)
    /// A pool job that computed for long without a suspension point while short jobs queued.
    case poolHog(function: String, held: Int64)
    /// The longest run of an actor's queue, and where tasks awaited the actor from.
    case actorQueue(actor: String, awaitedFrom: String?)
    /// The longest send of a channel.
    case longestSend
    /// The slowest child process start.
    case slowestStart
    /// The slowest request of a hop between processes, split into its parts.
    case slowestRequest(parts: [String])
}

/// A place in the trace that backs a finding: a slice, a thread, a stack.
public struct Evidence: Sendable {
    /// What it shows.
    public var kind: EvidenceKind
    /// The slice (index into ``TraceModel/slices``), when it is one.
    public var slice: Int?
    /// Where and when (for the viewer to jump to).
    public var pid: Int64?
    public var tid: Int64?
    public var start: TraceTimestamp?
    public var duration: TraceDuration?
    /// Frames, innermost first, when a stack is known.
    public var stack: [String]

    public init(
        _ kind: EvidenceKind, slice: Int? = nil, pid: Int64? = nil, tid: Int64? = nil, start: TraceTimestamp? = nil,
        duration: TraceDuration? = nil, stack: [String] = []
    ) {
        self.kind = kind
        self.slice = slice
        self.pid = pid
        self.tid = tid
        self.start = start
        self.duration = duration
        self.stack = stack
    }

    /// Evidence pointing at slice `index` of `model`.
    public static func slice(_ index: Int, in model: TraceModel, _ kind: EvidenceKind, stack: [String] = [])
        -> Evidence
    {
        let s = model.slices[index]
        let t = model.threads[s.thread]
        return Evidence(kind, slice: index, pid: t.pid, tid: t.tid, start: s.start, duration: s.duration, stack: stack)
    }

    /// Evidence pointing at a thread's whole life.
    static func thread(_ w: ThreadWork, _ kind: EvidenceKind) -> Evidence {
        Evidence(kind, pid: w.pid, tid: w.tid, start: w.start, duration: TraceDuration(nanoseconds: w.life))
    }
}
