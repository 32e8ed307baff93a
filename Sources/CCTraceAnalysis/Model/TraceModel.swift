import CCTraceFormat

/// A trace after import: processes, threads, slices with their nesting, async tracks, flows,
/// counters and metadata, every timestamp in nanoseconds on one clock. Immutable.
///
/// Analyzers read only this model; the importer (``TraceImporter``) is the only code that
/// understands raw events.
public struct TraceModel: Sendable {
    /// Processes by pid, in pid order.
    public var processes: [ProcessInfo]
    /// Threads, keyed by (pid, tid); ``Slice/thread`` indexes this array.
    public var threads: [ThreadInfo]
    /// Thread slices (from `X` and matched `B`/`E`), sorted by thread, then start, then
    /// longest first, so a parent precedes its children.
    public var slices: [Slice]
    /// Async slices (`b`/`e`, legacy `S`/`F`), including cctrace's task lives.
    public var asyncSlices: [AsyncSlice]
    /// Instant events.
    public var instants: [Instant]
    /// Counter series, one per (pid, counter name, arg key).
    public var counters: [CounterSeries]
    /// Flow arrows that have both ends (v1 `s`/`t`/`f` events and v2 `bind_id` +
    /// `flow_out`/`flow_in` on slices).
    public var flows: [Flow]
    /// Stack frames by id, from the object form's `stackFrames`.
    public var stackFrames: [String: StackFrame]
    /// CPU profile samples (`P` events and the object form's `samples`), sorted by time.
    public var samples: [Sample]
    /// Object events (`N`/`O`/`D`) seen; cctrace does not model object lifetimes.
    public var objectEventCount: Int
    /// Contended lock acquires (cctrace's `cctrace.lock` `lock wait` slices).
    public var lockWaits: [LockWait] = []
    /// Holds that made others wait (`lock hold` slices).
    public var lockHolds: [LockHold] = []
    /// Event loops (from `cctrace.loop` slices and `loop lag` counters).
    public var eventLoops: [EventLoopInfo] = []
    /// IPC messages (`cctrace.ipc` flows with their send's byte count).
    public var ipcMessages: [IPCMessage] = []
    /// Session metadata (cctrace's `cctrace.session` args, or the object form's `metadata`).
    public var session: [String: JSONValue]
    /// Import diagnostics.
    public var diagnostics: [ImportDiagnostic]
    /// Raw `args` of slices and instants.
    public var arguments: TraceArgumentStore
    /// Earliest and latest timestamp in the trace.
    public var bounds: ClosedRange<TraceTimestamp>
    /// Events read.
    public var eventCount: Int
    /// ``SliceNames`` of ``slices`` when the importer found them (on a core its serial tail
    /// leaves idle), with the slices they were found from: see ``sliceNames()``.
    var foundNames: (slices: [Slice], names: SliceNames)? = nil

    /// Every slice's (name, category) pair: the importer's, when ``slices`` is still the
    /// array it found them from, else found now. The importer's copy holds that array, so a
    /// change to ``slices`` copies it first and the two can never be the same buffer with
    /// different contents.
    public func sliceNames() -> SliceNames {
        if let found = foundNames, found.slices.count == slices.count,
            found.slices.withUnsafeBufferPointer({ a in
                slices.withUnsafeBufferPointer { a.baseAddress == $0.baseAddress }
            })
        {
            return found.names
        }
        return SliceNames(slices: slices)
    }

    /// Wall time covered by the trace.
    public var duration: TraceDuration { bounds.upperBound.duration(since: bounds.lowerBound) }

    /// The slices of thread `index` (contiguous in ``slices``).
    public func slices(ofThread index: Int) -> ArraySlice<Slice> {
        let t = threads[index]
        return slices[t.sliceRange]
    }
}

/// A process in the trace.
public struct ProcessInfo: Sendable {
    /// The OS pid (or a synthetic id when the file named it with a string).
    public var pid: Int64
    /// `process_name` metadata, if any.
    public var name: String?
    /// `process_sort_index`, if any.
    public var sortIndex: Int?
    /// `process_labels`, if any.
    public var labels: String?
    /// Indexes into ``TraceModel/threads``.
    public var threads: [Int]
}

/// A thread, identified by (pid, tid) — tids repeat across processes.
public struct ThreadInfo: Sendable {
    /// The owning process.
    public var pid: Int64
    /// The OS thread id.
    public var tid: Int64
    /// `thread_name` metadata, if any.
    public var name: String?
    /// `thread_sort_index`, if any.
    public var sortIndex: Int?
    /// Where this thread's slices are in ``TraceModel/slices``.
    public var sliceRange: Range<Int>
    /// CPU accounting for this thread, when the trace has it (cctrace's `cpu <tid>` counters).
    public var cpu: CPUAccounting?

    /// A label for reports: the name, or `tid N`.
    public var label: String { name.map { "\($0) (\(tid))" } ?? "tid \(tid)" }
}

/// Time a thread spent on a CPU and waiting for one, from the scheduler's statistics.
public struct CPUAccounting: Sendable {
    /// Samples: (interval start, interval end, running share 0…1, runnable share 0…1).
    public var samples: [(start: TraceTimestamp, end: TraceTimestamp, running: Double, runnable: Double)]

    /// Time on a CPU and in the run queue within `range`.
    public func usage(in range: ClosedRange<TraceTimestamp>) -> (running: TraceDuration, runnable: TraceDuration) {
        var running = 0.0
        var runnable = 0.0
        for s in samples where s.end > range.lowerBound && s.start < range.upperBound {
            let overlap = Double(
                min(s.end, range.upperBound).nanoseconds - max(s.start, range.lowerBound).nanoseconds)
            running += overlap * s.running
            runnable += overlap * s.runnable
        }
        func clamp(_ ns: Double) -> TraceDuration {
            TraceDuration(nanoseconds: ns.isFinite ? Int64(max(0, min(ns, 9e18))) : 0)
        }
        return (clamp(running), clamp(runnable))
    }
}

/// A span of time on one thread.
///
/// Plain data in 72 bytes (a trace of 10 M events holds 10 M of these, and every analysis pass
/// reads them): name and category as ids into ``InternedNames``, indices as 32-bit integers,
/// the optional CPU time as a sentinel — copied as bytes, with no reference counting.
public struct Slice: Sendable {
    /// Begin.
    public var start: TraceTimestamp
    /// Length (0 for an `X` without `dur`).
    public var duration: TraceDuration
    /// Time not covered by child slices.
    public var selfDuration: TraceDuration
    private var threadNanoseconds: Int64
    /// The raw `args`, if any.
    public var args: TraceArgumentStore.Reference?
    private var threadIndex: Int32
    private var parentIndex: Int32
    private var nesting: Int32
    /// `name` as an ``InternedNames`` id (equal ids, equal names).
    public private(set) var nameID: UInt32
    /// `cat` as an ``InternedNames`` id.
    public private(set) var categoryID: UInt32

    /// `name`.
    public var name: String {
        get { InternedNames.name(nameID) }
        set { nameID = InternedNames.id(newValue) }
    }
    /// `cat`.
    public var category: String {
        get { InternedNames.name(categoryID) }
        set { categoryID = InternedNames.id(newValue) }
    }
    /// Index into ``TraceModel/threads``.
    public var thread: Int {
        get { Int(threadIndex) }
        set { threadIndex = Int32(truncatingIfNeeded: newValue) }
    }
    /// Nesting depth on the thread (0 = top level).
    public var depth: Int {
        get { Int(nesting) }
        set { nesting = Int32(truncatingIfNeeded: newValue) }
    }
    /// Index of the enclosing slice in ``TraceModel/slices``, or -1.
    public var parent: Int {
        get { Int(parentIndex) }
        set { parentIndex = Int32(truncatingIfNeeded: newValue) }
    }
    /// Thread CPU time (`tdur`), when the trace recorded it.
    public var threadDuration: TraceDuration? {
        get { threadNanoseconds == .min ? nil : TraceDuration(nanoseconds: threadNanoseconds) }
        set { threadNanoseconds = newValue?.nanoseconds ?? .min }
    }

    /// A slice. Indices (thread, parent) must fit in 32 bits: a trace has fewer than 2³¹ slices.
    public init(
        name: String, category: String, start: TraceTimestamp, duration: TraceDuration, thread: Int, depth: Int,
        parent: Int, selfDuration: TraceDuration, threadDuration: TraceDuration?, args: TraceArgumentStore.Reference?
    ) {
        self.init(
            nameID: InternedNames.id(name), categoryID: InternedNames.id(category), start: start, duration: duration,
            thread: thread, depth: depth, parent: parent, selfDuration: selfDuration, threadDuration: threadDuration,
            args: args)
    }

    /// A slice whose name and category are already interned.
    public init(
        nameID: UInt32, categoryID: UInt32, start: TraceTimestamp, duration: TraceDuration, thread: Int, depth: Int,
        parent: Int, selfDuration: TraceDuration, threadDuration: TraceDuration?, args: TraceArgumentStore.Reference?
    ) {
        self.nameID = nameID
        self.categoryID = categoryID
        self.start = start
        self.duration = duration
        self.selfDuration = selfDuration
        self.threadNanoseconds = threadDuration?.nanoseconds ?? .min
        self.args = args
        self.threadIndex = Int32(truncatingIfNeeded: thread)
        self.parentIndex = Int32(truncatingIfNeeded: parent)
        self.nesting = Int32(truncatingIfNeeded: depth)
    }

    /// End.
    public var end: TraceTimestamp { start.advanced(by: duration) }
}

/// A slice on an async track (a task, a request, anything keyed by an id rather than a thread).
public struct AsyncSlice: Sendable {
    /// `name`.
    public var name: String
    /// `cat`.
    public var category: String
    /// The id that matched begin and end.
    public var id: String
    /// The process it belongs to.
    public var pid: Int64
    /// Begin.
    public var start: TraceTimestamp
    /// Length.
    public var duration: TraceDuration
    /// Nesting depth among slices with the same id.
    public var depth: Int
    /// The begin event's raw `args`.
    public var args: TraceArgumentStore.Reference?

    /// End.
    public var end: TraceTimestamp { start.advanced(by: duration) }
}

/// An instant event.
public struct Instant: Sendable {
    /// `name`.
    public var name: String
    /// `cat`.
    public var category: String
    /// When.
    public var timestamp: TraceTimestamp
    /// The process.
    public var pid: Int64
    /// The thread, or -1 for process- and global-scoped instants.
    public var thread: Int
    /// Raw `args`.
    public var args: TraceArgumentStore.Reference?
}

/// Samples of one counter.
public struct CounterSeries: Sendable {
    /// The process.
    public var pid: Int64
    /// Counter name (with ` key` appended when the event had several args).
    public var name: String
    /// The `C` event's name.
    public var counter: String
    /// The arg key.
    public var key: String
    /// (time, value), sorted by time.
    public var points: [(TraceTimestamp, Double)]
}

/// A flow arrow from one point to another (possibly in another process).
public struct Flow: Sendable {
    /// The flow id.
    public var id: String
    /// `name`.
    public var name: String
    /// `cat`.
    public var category: String
    /// Where it starts: process, thread index, time.
    public var from: (pid: Int64, thread: Int, timestamp: TraceTimestamp)
    /// Where it ends.
    public var to: (pid: Int64, thread: Int, timestamp: TraceTimestamp)
}

/// One frame of a sampled stack: a function, and the frame that called it.
public struct StackFrame: Sendable, Hashable {
    /// The function (or whatever the tool put in `name`).
    public var name: String
    /// The id of the calling frame, if any.
    public var parent: String?
    /// `category` (often the library), if any.
    public var category: String?
}

/// A CPU profile sample: where a thread was at a moment.
public struct Sample: Sendable {
    /// When.
    public var timestamp: TraceTimestamp
    /// The process.
    public var pid: Int64
    /// Index into ``TraceModel/threads``.
    public var thread: Int
    /// The innermost frame's id in ``TraceModel/stackFrames``, if any.
    public var stackFrame: String?
    /// The sample's `name`, if any.
    public var name: String
    /// `weight` (1 when absent).
    public var weight: Double
}

extension TraceModel {
    /// Whether `a` is a distributed-tracing span (`cctrace.tracing`) whose parent span is in
    /// the same process (it has a `parent_span_id` that did not come from another process).
    public func hasLocalTracingParent(_ a: AsyncSlice) -> Bool {
        guard a.category == TraceCategory.tracing.rawValue, let ref = a.args,
            case .object(let members)? = arguments.value(ref)
        else { return false }
        let parent = members.contains { $0.0 == TraceVocabulary.Arg.parentSpanID.string }
        let remote = members.contains { $0.0 == TraceVocabulary.Arg.remoteParent.string && $0.1 == .bool(true) }
        return parent && !remote
    }

    /// The call stack of a frame id, innermost first (cycles and dangling parents end it).
    public func stack(of frame: String) -> [StackFrame] {
        var result: [StackFrame] = []
        var seen: Set<String> = []
        var current: String? = frame
        while let id = current, !seen.contains(id), let f = stackFrames[id], result.count < 1024 {
            seen.insert(id)
            result.append(f)
            current = f.parent
        }
        return result
    }
}
