import CCTraceFormat
import CCTraceNative
import Synchronization

/// What a 32-byte record in a thread buffer stands for.
@usableFromInline
enum EventKind {
    /// A span on this thread: `ts` begin, `end` end.
    @usableFromInline static let complete: UInt8 = 1
    /// An instant on this thread at `ts`.
    @usableFromInline static let instant: UInt8 = 2
    /// A process counter: `end` holds the `Double` bit pattern.
    @usableFromInline static let counter: UInt8 = 3
    /// Begin of an async slice: `end` holds the id.
    @usableFromInline static let asyncBegin: UInt8 = 4
    /// End of an async slice: `end` holds the id.
    @usableFromInline static let asyncEnd: UInt8 = 5
    /// Binds a Swift task (pointer in `ts`) to a traced task id (`end`) and name.
    @usableFromInline static let taskBind: UInt8 = 6
    /// One executor job run from `ts` to `end`; `name` holds the job pointer.
    @usableFromInline static let jobRun: UInt8 = 7
    /// The thread's name changed to `name`.
    @usableFromInline static let threadName: UInt8 = 8
    /// Thread CPU time (`ts` begin, `end` end, in ns) of the span that follows, which begins
    /// at tick `name`.
    @usableFromInline static let threadCPU: UInt8 = 9
    /// A process counter at `ts` in monotonic nanoseconds (not ticks): `end` holds the `Double`
    /// bit pattern, `name_len` the interned id of its arg key.
    @usableFromInline static let counterAt: UInt8 = 10
    /// A flow arrow starts at `ts`; `end` holds its id.
    @usableFromInline static let flowStart: UInt8 = 11
    /// A flow arrow ends at `ts` (binding to the enclosing slice); `end` holds its id.
    @usableFromInline static let flowEnd: UInt8 = 12
    /// A process instant (`s`: `p`) at `ts`.
    @usableFromInline static let processInstant: UInt8 = 13
    /// A job the Swift runtime's global executor ran (CCTRACE_KIND_SWIFT_JOB, cctrace_tasks.c).
    static let swiftJob = UInt8(CCTRACE_KIND_SWIFT_JOB)
    /// When that job became ready and which actor it is (CCTRACE_KIND_SWIFT_JOB_READY).
    static let swiftJobReady = UInt8(CCTRACE_KIND_SWIFT_JOB_READY)
    /// A Swift task slept (CCTRACE_KIND_SWIFT_SLEEP).
    static let swiftSleep = UInt8(CCTRACE_KIND_SWIFT_SLEEP)
    /// The functions a Swift job's fragment returns to (CCTRACE_KIND_SWIFT_JOB_CALLERS).
    static let swiftJobCallers = UInt8(CCTRACE_KIND_SWIFT_JOB_CALLERS)
}

/// Categories packed into the upper four bits of an event's flags.
@usableFromInline
enum EventCategory {
    @usableFromInline static let span: UInt8 = 0
    @usableFromInline static let task: UInt8 = 1
    @usableFromInline static let lock: UInt8 = 2
    @usableFromInline static let loop: UInt8 = 3
    @usableFromInline static let ipc: UInt8 = 4
    @usableFromInline static let process: UInt8 = 5
    @usableFromInline static let tracing: UInt8 = 6

    /// The `cat` strings, indexed by the values above.
    static let names: [StaticString] = [
        TraceVocabulary.Category.span.text, TraceVocabulary.Category.task.text, TraceVocabulary.Category.lock.text,
        TraceVocabulary.Category.loop.text, TraceVocabulary.Category.ipc.text, TraceVocabulary.Category.process.text,
        TraceVocabulary.Category.tracing.text,
    ]

    @inlinable @inline(__always)
    static func flags(_ category: UInt8, interned: Bool, monotonic: Bool = false) -> UInt8 {
        (category << 4) | (interned ? UInt8(CCTRACE_FLAG_INTERNED) : 0)
            | (monotonic ? UInt8(CCTRACE_FLAG_MONOTONIC_NS) : 0)
    }
}

/// One thread's recording state for one session.
///
/// The owning thread appends through the C state (`cctrace_tls_state`); the writer reads
/// behind it through the fields marked "writer". Nothing here is shared between two recording
/// threads.
final class ThreadBuffer: @unchecked Sendable {
    let state: UnsafeMutablePointer<cctrace_thread_state>
    let tid: UInt32
    /// Set (by the exit hook) when the thread has exited; the writer retires the buffer after
    /// its last drain.
    let exited = Atomic<Bool>(false)

    // MARK: Owner

    /// Names this thread interned already.
    var nameCache: [String: UInt32] = [:]

    // MARK: Writer

    @exclusivity(unchecked) var readChunk: UnsafeMutablePointer<cctrace_chunk>
    @exclusivity(unchecked) var readIndex = 0
    /// Where the current drain stops, fixed by its first pass.
    @exclusivity(unchecked) var limitChunk: UnsafeMutablePointer<cctrace_chunk>
    @exclusivity(unchecked) var limitIndex = 0
    /// Open intervals (begin, end in ns) of the spans written for this thread, innermost last,
    /// used to turn spans that overlap without nesting into async slices. A ring: when more
    /// than `nestingCapacity` disjoint spans are open at one level, the oldest is forgotten.
    let nesting: UnsafeMutablePointer<(Int64, Int64)>
    @exclusivity(unchecked) var nestingBase = 0
    @exclusivity(unchecked) var nestingDepth = 0
    static let nestingCapacity = 256
    /// Thread CPU time waiting for the span it belongs to: (span begin tick, cpu begin, cpu end).
    @exclusivity(unchecked) var pendingCPU: (UInt64, UInt64, UInt64)?
    /// The ready record of the Swift job that follows: (ready tick, actor instance or 0, entry).
    @exclusivity(unchecked) var pendingReady: (UInt64, UInt64, UInt64)?
    /// The functions the next Swift job's fragment returns to, nearest first.
    @exclusivity(unchecked) var pendingCallers: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0)
    var retired = false

    init(state: UnsafeMutablePointer<cctrace_thread_state>, firstChunk: UnsafeMutablePointer<cctrace_chunk>) {
        self.state = state
        self.tid = state.pointee.tid
        self.readChunk = firstChunk
        self.limitChunk = firstChunk
        self.nesting = .allocate(capacity: Self.nestingCapacity)
    }

    deinit {
        nesting.deallocate()
    }

    /// Records `(begin, end)` as written and reports whether it nests with what was written
    /// before: every earlier span on this thread either ended before it began or lies inside it.
    func admitNested(begin: Int64, end: Int64) -> Bool {
        let mask = Self.nestingCapacity - 1
        var depth = nestingDepth
        while depth > 0 && nesting[(nestingBase + depth - 1) & mask].0 >= begin {
            depth -= 1
        }
        if depth > 0 {
            let top = nesting[(nestingBase + depth - 1) & mask]
            if top.1 > begin && top.1 < end {
                nestingDepth = depth
                return false
            }
        }
        if depth == Self.nestingCapacity {
            nestingBase = (nestingBase + 1) & mask
            depth -= 1
        }
        nesting[(nestingBase + depth) & mask] = (begin, end)
        nestingDepth = depth + 1
        return true
    }
}
