import CCTraceFormat
import CCTraceNative
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The traced task (or async span) the current Swift task belongs to.
struct TracedTaskContext: Sendable {
    var id: UInt64
    var nameID: UInt32
    /// The Swift task it was set in: child tasks inherit task-local values, so a child that
    /// reads its parent's context must not take its id (concurrent spans would share it).
    var task: UInt = 0
}

/// The running Swift task's address, or 0 outside a task.
func currentTaskAddress() -> UInt {
    withUnsafeCurrentTask { task in task.map { UInt(bitPattern: unsafeBitCast($0, to: Int.self)) } ?? 0 }
}

enum TracedTaskLocal {
    @TaskLocal static var current: TracedTaskContext?
}

extension CCTrace {
    /// Starts an unstructured task that the trace follows: its life is an async slice keyed by a
    /// stable task id (with its name and parent task), and each run of it on a thread is a slice
    /// named after it.
    ///
    /// The task runs where a plain `Task` would — the runtime hooks see its jobs — unless you
    /// pass an `executor`. Only when the hooks could not be installed (another tool owns them)
    /// does it run on ``TracedTaskExecutor/shared``, which records its jobs itself. For a child
    /// of a task group, which keeps the group's structure and cancellation, use
    /// `group.addTracedTask(_:operation:)`.
    @discardableResult
    public static func task<Success: Sendable>(
        _ name: String, priority: TaskPriority? = nil, executor: (any TaskExecutor)? = nil,
        operation: sending @escaping @isolated(any) () async throws -> Success
    ) -> Task<Success, any Error> {
        let recording = cctrace_is_enabled()
        let parent = TracedTaskLocal.current
        let id = Recorder.shared.nextAsyncID.add(1, ordering: .relaxed).oldValue
        let nameID = recording ? Recorder.shared.intern(name) : 0
        var preferred = executor
        if recording && preferred == nil && cctrace_tasks_installed() == 0 { preferred = TracedTaskExecutor.shared }
        if recording, let pool = preferred as? TracedTaskExecutor { pool.startHeartbeat() }
        return Task(executorPreference: preferred, priority: priority) {
            try await runTraced(id: id, nameID: nameID, parent: parent, operation)
        }
    }

    /// Runs `operation` as the traced task `id`: its life an async slice, its runs bound to it.
    static func runTraced<R>(
        id: UInt64, nameID: UInt32, parent: TracedTaskContext?, _ operation: () async throws -> R
    ) async throws -> R {
        let context = TracedTaskContext(id: id, nameID: nameID, task: currentTaskAddress())
        return try await TracedTaskLocal.$current.withValue(context) {
            let began = beginTracedTask(context, parent: parent)
            defer { if began { endTracedTask(context) } }
            return try await operation()
        }
    }

    /// The same for an operation that cannot throw.
    static func runTraced<R>(
        id: UInt64, nameID: UInt32, parent: TracedTaskContext?, nonThrowing operation: () async -> R
    ) async -> R {
        let context = TracedTaskContext(id: id, nameID: nameID, task: currentTaskAddress())
        return await TracedTaskLocal.$current.withValue(context) {
            let began = beginTracedTask(context, parent: parent)
            defer { if began { endTracedTask(context) } }
            return await operation()
        }
    }

    /// Binds the running Swift task to `context` and opens its life (returns false when not
    /// recording).
    private static func beginTracedTask(_ context: TracedTaskContext, parent: TracedTaskContext?) -> Bool {
        guard cctrace_is_enabled() else { return false }
        bindCurrentTask(context)
        let args: TraceArguments =
            parent.map {
                [
                    TraceVocabulary.Arg.taskID.string: TraceArgument(Int(context.id)),
                    TraceVocabulary.Arg.parentTaskID.string: TraceArgument(Int($0.id)),
                ]
            }
            ?? [TraceVocabulary.Arg.taskID.string: TraceArgument(Int(context.id))]
        let aux = Recorder.shared.storeArguments(ArgumentEncoder.encode(args))
        let flags = EventCategory.flags(EventCategory.task, interned: true)
        _append(EventKind.asyncBegin, flags, UInt64(context.nameID), 0, cctrace_now(), context.id, aux)
        return true
    }

    private static func endTracedTask(_ context: TracedTaskContext) {
        let flags = EventCategory.flags(EventCategory.task, interned: true)
        _append(EventKind.asyncEnd, flags, UInt64(context.nameID), 0, cctrace_now(), context.id, 0)
    }

    /// The pieces a traced child task needs, taken in its parent: its id, name and parent.
    static func tracedChild(_ name: String) -> (id: UInt64, nameID: UInt32, parent: TracedTaskContext?) {
        let id = Recorder.shared.nextAsyncID.add(1, ordering: .relaxed).oldValue
        return (id, cctrace_is_enabled() ? Recorder.shared.intern(name) : 0, TracedTaskLocal.current)
    }

    /// Runs async `body` as an async span, since async code may hop threads between its
    /// suspension points: nested in the current traced task's track when called from that
    /// task itself, and on a track of its own (a fresh id, which the spans nested in it share)
    /// when called from another Swift task — a child task of a task group or an `async let`
    /// inherits its parent's context, and concurrent spans must never share an id.
    ///
    /// ```swift
    /// let user = try await CCTrace.withSpan(named: "fetch user") { try await db.user(id) }
    /// ```
    @discardableResult
    public static func withSpan<R>(
        named name: String, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> R
    ) async rethrows -> R {
        guard cctrace_is_enabled() else { return try await body() }
        let nameID = Recorder.shared.intern(name)
        let flags = EventCategory.flags(EventCategory.task, interned: true)
        let here = currentTaskAddress()
        if let context = TracedTaskLocal.current, context.task == here, here != 0 {
            _append(EventKind.asyncBegin, flags, UInt64(nameID), 0, cctrace_now(), context.id, 0)
            defer { _append(EventKind.asyncEnd, flags, UInt64(nameID), 0, cctrace_now(), context.id, 0) }
            return try await body()
        }
        let id = Recorder.shared.nextAsyncID.add(1, ordering: .relaxed).oldValue
        _append(EventKind.asyncBegin, flags, UInt64(nameID), 0, cctrace_now(), id, 0)
        defer { _append(EventKind.asyncEnd, flags, UInt64(nameID), 0, cctrace_now(), id, 0) }
        return try await TracedTaskLocal.$current.withValue(TracedTaskContext(id: id, nameID: nameID, task: here)) {
            try await body()
        }
    }

    /// Tells the writer which traced task the running Swift task is, so its job runs get the
    /// task's name and id.
    static func bindCurrentTask(_ context: TracedTaskContext) {
        let pointer = UInt64(currentTaskAddress())
        guard pointer != 0 else { return }
        _append(
            EventKind.taskBind, EventCategory.flags(EventCategory.task, interned: true), UInt64(context.nameID), 0,
            pointer, context.id, 0)
    }
}

/// A task executor that records each job it runs as a slice on the thread that ran it.
///
/// A job is the stretch of a task between two suspension points. A job that runs for long keeps
/// its thread from every other task — the Swift form of blocking an event loop — and shows up
/// here as a long slice named after its task. The executor is a fixed pool of threads (one per
/// core by default) fed from one queue.
public final class TracedTaskExecutor: TaskExecutor, @unchecked Sendable {
    /// The pool ``CCTrace/task(_:priority:operation:)`` runs on: one thread per core.
    public static let shared = TracedTaskExecutor(
        name: "cctrace-pool", threads: max(Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), 1))

    private let name: String
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var queue: [UnownedJob] = []
    private var head = 0

    /// The number of worker threads.
    public let threadCount: Int
    private let monitor: EventLoopMonitor
    private let label: UInt32
    private let heartbeatRunning = Atomic<Bool>(false)

    /// A pool of `threads` threads named `name-N`.
    public init(name: String, threads: Int) {
        self.name = name
        self.threadCount = max(threads, 1)
        self.monitor = EventLoopMonitor(name: name)
        self.label = NameTable.shared.intern(name)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&condition, nil)
        queue.reserveCapacity(1024)
        for i in 0..<max(threads, 1) {
            _ = startRecorderThread(detached: true) { self.work(index: i) }
        }
    }

    /// Starts (once per session) a heartbeat: every 10 ms a tiny task is enqueued on this pool
    /// and how late it runs is the counter `loop lag <name>` — high when every pool thread is
    /// busy with long jobs, the Swift form of a blocked event loop. It stops with the session.
    public func startHeartbeat() {
        guard cctrace_is_enabled(), !heartbeatRunning.exchange(true, ordering: .relaxed) else { return }
        if startRecorderThread(detached: true, { self.heartbeatLoop() }) == nil {
            heartbeatRunning.store(false, ordering: .relaxed)
        }
    }

    private func heartbeatLoop() {
        while cctrace_is_enabled() {
            usleep(10_000)
            let due = Int64(cctrace_monotonic_ns())
            let monitor = self.monitor
            Task(executorPreference: self) {
                let lag = Int64(cctrace_monotonic_ns()) - due
                monitor.recordLag(nanoseconds: max(0, lag), dueAt: due)
            }
        }
        heartbeatRunning.store(false, ordering: .relaxed)
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        pthread_mutex_lock(&mutex)
        queue.append(unowned)
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    private func work(index: Int) {
        CCTrace.setThreadName("\(name)-\(index)")
        let me = asUnownedTaskExecutor()
        while true {
            pthread_mutex_lock(&mutex)
            while head == queue.count { pthread_cond_wait(&condition, &mutex) }
            let job = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 4096 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            pthread_mutex_unlock(&mutex)
            run(job, on: me)
        }
    }

    @inline(__always)
    private func run(_ job: UnownedJob, on executor: UnownedTaskExecutor) {
        guard cctrace_is_enabled() else {
            job.runSynchronously(on: executor)
            return
        }
        let pointer = UInt64(UInt(bitPattern: unsafeBitCast(job, to: Int.self)))
        let start = cctrace_now()
        cctrace_watch_begin(label, start)
        job.runSynchronously(on: executor)
        cctrace_watch_end()
        CCTrace._append(
            EventKind.jobRun, EventCategory.flags(EventCategory.task, interned: true), pointer, 0, start, cctrace_now(),
            0)
    }
}

extension TaskGroup {
    /// Adds a child task the trace follows by name, as ``CCTrace/task(_:priority:executor:operation:)``
    /// does for an unstructured one — but a real child of the group: the group awaits it and
    /// its cancellation reaches it.
    public mutating func addTracedTask(
        _ name: String, priority: TaskPriority? = nil,
        operation: sending @escaping @isolated(any) () async -> ChildTaskResult
    ) {
        let child = CCTrace.tracedChild(name)
        addTask(priority: priority) {
            await CCTrace.runTraced(id: child.id, nameID: child.nameID, parent: child.parent, nonThrowing: operation)
        }
    }
}

extension ThrowingTaskGroup {
    /// Adds a child task the trace follows by name: a real child of the group (it is awaited
    /// and cancelled with it), its life and runs named `name` in the trace.
    public mutating func addTracedTask(
        _ name: String, priority: TaskPriority? = nil,
        operation: sending @escaping @isolated(any) () async throws -> ChildTaskResult
    ) {
        let child = CCTrace.tracedChild(name)
        addTask(priority: priority) {
            try await CCTrace.runTraced(id: child.id, nameID: child.nameID, parent: child.parent, operation)
        }
    }
}
