/// A fixed name of cctrace's dialect: the bytes a writer appends without copying, and the
/// string a reader compares with.
public struct DialectName: Sendable, Hashable, CustomStringConvertible {
    /// The name as static bytes (what `TraceLineWriter.appendASCII` takes).
    public let text: StaticString
    /// The same name as a `String`.
    public let string: String

    /// A name spelled `text`.
    public init(_ text: StaticString) {
        self.text = text
        self.string = text.description
    }

    public var description: String { string }

    public static func == (a: DialectName, b: DialectName) -> Bool { a.string == b.string }
    public func hash(into hasher: inout Hasher) { hasher.combine(string) }
}

/// Every category, event name, argument key and session key of cctrace's dialect of Chrome
/// JSON, defined once: the recorder, the preload shim (through the header generated from
/// ``cHeader()``), the importer and the analysis all spell them from here. The `TraceDialect`
/// article says what each one means.
public enum TraceVocabulary {
    /// The version of cctrace that writes and reads this dialect (session metadata, the CLI's
    /// `--version`, the preload shim's `cctrace_version` with ``preloadSuffix``).
    public static let version = "0.1.0"
    /// What the preload shim appends to ``version`` in `cctrace_version`, so readers can tell
    /// a program recorded from outside from one that linked the library.
    public static let preloadSuffix = "-preload"

    /// `cat` values.
    public enum Category {
        /// Thread spans recorded with `withSpan` / `beginSpan`.
        public static let span = DialectName("cctrace")
        /// Task lives (`b`/`e`) and task runs on threads (`X`).
        public static let task = DialectName("cctrace.task")
        /// Lock waits and holds.
        public static let lock = DialectName("cctrace.lock")
        /// Event-loop callbacks/ticks and the loop-lag counter.
        public static let loop = DialectName("cctrace.loop")
        /// Inter-process messages and their flows.
        public static let ipc = DialectName("cctrace.ipc")
        /// Child process spawn, start-up and exit.
        public static let process = DialectName("cctrace.process")
        /// Per-thread CPU accounting counters.
        public static let cpu = DialectName("cctrace.cpu")
        /// Spans of swift-distributed-tracing recorded by `CCTraceTracer` (`b`/`e`), their
        /// events (`i`) and the flows of requests between processes (`s`/`f`).
        public static let tracing = DialectName("cctrace.tracing")
        /// Stack samples (profiler and watchdog).
        public static let sample = DialectName("cctrace.sample")
        /// Session metadata and recorder health.
        public static let session = DialectName("cctrace.session")
        /// What `cctrace record`'s preload shim saw from outside the program: blocking calls,
        /// poll counts, thread exits.
        public static let preload = DialectName("cctrace.preload")
    }

    /// Event names with a fixed meaning.
    public enum Event {
        /// The `M` event whose `args` are the session metadata (``Session``).
        public static let session = DialectName("cctrace.session")
        /// The `M` event written last: how the recording ended (``Session/reason`` …).
        public static let sessionEnd = DialectName("cctrace.session_end")
        /// The `M` event `cctrace merge` writes: `args.hosts`, each input's clock alignment.
        public static let merge = DialectName("cctrace.merge")
        /// The counter of events lost because buffers were full (``Arg/events``: running total).
        public static let dropped = DialectName("cctrace.dropped")
        /// Per-thread CPU counter prefix: `cpu <tid>`, args ``Arg/runningPct``, ``Arg/runnablePct``.
        public static let cpuPrefix = DialectName("cpu ")
        /// Per-thread poll-call counter prefix (preload): `polls <tid>`, arg ``Arg/calls``.
        public static let pollsPrefix = DialectName("polls ")
        /// Event-loop lag counter prefix: `loop lag <loop>`, arg ``Arg/lagMs``.
        public static let loopLagPrefix = DialectName("loop lag ")
        /// A contended acquire (cat `cctrace.lock`).
        public static let lockWait = DialectName("lock wait")
        /// A hold that made others wait (cat `cctrace.lock`).
        public static let lockHold = DialectName("lock hold")
        /// A child's start-up, spawn to its first event (cat `cctrace.process`).
        public static let processStart = DialectName("process start")
        /// The parent waiting for a child: `wait <name>` (cat `cctrace.process`).
        public static let waitPrefix = DialectName("wait ")
        /// A loop iteration recorded as one slice (SwiftNIO ticks).
        public static let tick = DialectName("tick")
        /// A profiler sample (cat `cctrace.sample`).
        public static let sample = DialectName("sample")
        /// A watchdog capture of a stuck loop (cat `cctrace.sample`).
        public static let loopStall = DialectName("loop stall")
        /// A thread ended (preload).
        public static let threadExit = DialectName("thread exit")
        /// One iteration of an event loop seen from outside (preload): from the return of the
        /// loop's poll call to its next call, written when it reached the slow threshold; args
        /// ``Arg/site`` (the poll's call site) and ``Arg/cpuMs`` (CPU the thread used in it).
        public static let loopIteration = DialectName("loop iteration")
        /// Bytes moved through one descriptor object (preload): `io pipe:[inode]`,
        /// `io socket:[inode]`; args ``Arg/readBytes``, ``Arg/writtenBytes``,
        /// ``Arg/shortCallsMs`` (running totals),
        /// and for sockets ``Arg/local``/``Arg/peer`` addresses.
        public static let ioPrefix = DialectName("io ")
        /// IPC span prefixes: `serialize <channel>`, `send …`, `receive …`, `deserialize …`.
        public static let serializePrefix = DialectName("serialize ")
        public static let sendPrefix = DialectName("send ")
        public static let receivePrefix = DialectName("receive ")
        public static let deserializePrefix = DialectName("deserialize ")
        /// IPC flow prefix: `message <channel>`.
        public static let messagePrefix = DialectName("message ")
        /// The name prefix of cctrace's own writer thread (never part of the program's work).
        public static let writerThreadPrefix = DialectName("cctrace-writer")
        /// The name prefix of the threads of cctrace's traced task pool.
        public static let poolThreadPrefix = DialectName("cctrace-pool")
        /// The name prefix of the threads that ran Swift's global (cooperative) executor's jobs,
        /// named by the recorder's runtime hooks (`swift-pool-1`, …).
        public static let swiftPoolThreadPrefix = DialectName("swift-pool")
        /// The thread Dispatch drains the main queue on (the main actor's jobs), when it is not
        /// the process's main thread.
        public static let mainActorThread = DialectName("swift-main-actor")
        /// Prefix of a job that ran an actor's queue: `actor <Type>`.
        public static let actorPrefix = DialectName("actor ")
        /// The job that completes a Swift task (the runtime's own fragment after its body).
        public static let taskCompletion = DialectName("task completes")
        /// A Swift task slept (`Task.sleep`), on the task's async track.
        public static let taskSleep = DialectName("Task.sleep")
    }

    /// `args` keys.
    public enum Arg {
        /// A distributed-tracing span's W3C ids (hex), its kind and status.
        public static let traceID = DialectName("trace_id")
        public static let spanID = DialectName("span_id")
        public static let parentSpanID = DialectName("parent_span_id")
        /// `true` when the parent span is in another process (its context came in a request).
        public static let remoteParent = DialectName("remote_parent")
        public static let spanKind = DialectName("span_kind")
        public static let status = DialectName("status")
        public static let taskID = DialectName("task_id")
        public static let parentTaskID = DialectName("parent_task_id")
        /// An executor job's wait from ready (enqueued, or due after a sleep) to running, in µs.
        public static let queuedUs = DialectName("queued_us")
        /// What a Swift task's job resumed after, where the runtime's fragment tells: `start`,
        /// `sleep` (`Task.sleep`), `child` (an awaited child task or group).
        public static let after = DialectName("after")
        /// On a run of an actor's queue: the function a queued task awaited the actor from (where
        /// it resumes: the actor method itself when that is async, else its caller).
        public static let awaitedFrom = DialectName("awaited_from")
        /// The actor a job ran (`Type@0x…`).
        public static let actor = DialectName("actor")
        public static let lock = DialectName("lock")
        public static let lockID = DialectName("lock_id")
        public static let ownerTID = DialectName("owner_tid")
        /// Raw return addresses (`"0x…"`), innermost first.
        public static let stack = DialectName("stack")
        /// Symbolized frames, innermost first.
        public static let frames = DialectName("frames")
        /// `image+0xoffset` per frame.
        public static let locations = DialectName("locations")
        public static let channel = DialectName("channel")
        public static let bytes = DialectName("bytes")
        public static let loop = DialectName("loop")
        public static let lagMs = DialectName("lag_ms")
        public static let runningPct = DialectName("running_pct")
        public static let runnablePct = DialectName("runnable_pct")
        /// The dropped-events counter's running total.
        public static let events = DialectName("events")
        /// A sample's kind (`cpu`, `watchdog`) or a descriptor's kind (`pipe`, `socket`, …).
        public static let kind = DialectName("kind")
        public static let stuckMs = DialectName("stuck_ms")
        public static let syscall = DialectName("syscall")
        public static let costNs = DialectName("cost_ns")
        public static let calls = DialectName("calls")
        public static let fd = DialectName("fd")
        /// What a descriptor refers to, as /proc names it (`pipe:[123]`, `socket:[456]`).
        public static let object = DialectName("object")
        /// A poll call's call site (`0x…`): the same site polling again is the same loop.
        public static let site = DialectName("site")
        public static let cpuMs = DialectName("cpu_ms")
        public static let readBytes = DialectName("read_bytes")
        /// A condition variable's address (`0x…`), on recorded condition waits.
        public static let cond = DialectName("cond")
        /// Time in calls on a channel too short to be recorded one by one (`io` counters).
        public static let shortCallsMs = DialectName("short_calls_ms")
        /// The bytes a read asked for (a large request is the middle of a message).
        public static let size = DialectName("size")
        public static let writtenBytes = DialectName("written_bytes")
        /// A socket's own address and its peer's (`127.0.0.1:5000`).
        public static let local = DialectName("local")
        public static let peer = DialectName("peer")
        /// Marks a span written as an instant because it overlapped its thread's open span.
        public static let overlap = DialectName("cctrace_overlap")
        /// `name` of Chrome's `thread_name` / `process_name` metadata.
        public static let name = DialectName("name")
    }

    /// Keys of the session metadata (``Event/session`` and ``Event/sessionEnd`` args).
    public enum Session {
        public static let version = DialectName("cctrace_version")
        /// Cores of the recording machine.
        public static let cores = DialectName("cores")
        public static let host = DialectName("host")
        /// How timestamps were taken (`tsc→CLOCK_MONOTONIC`, `CLOCK_MONOTONIC`).
        public static let clock = DialectName("clock")
        public static let clockDomain = DialectName("clock_domain")
        public static let startTs = DialectName("start_ts")
        public static let endTs = DialectName("end_ts")
        /// The wall clock (CLOCK_REALTIME, µs since the Unix epoch) at ``startTs`` and at
        /// ``endTs``: the anchors that place a trace's monotonic times in real time, and line
        /// up traces from different hosts when no request between them says better.
        public static let wallStartUs = DialectName("wall_start_us")
        public static let wallEndUs = DialectName("wall_end_us")
        public static let flushIntervalMs = DialectName("flush_interval_ms")
        public static let cpuSampleIntervalMs = DialectName("cpu_sample_interval_ms")
        public static let commandLine = DialectName("command_line")
        public static let executable = DialectName("executable")
        /// The program's language when the recorder knows it (`python`, `swift`).
        public static let language = DialectName("language")
        /// How the recording ended (`exit`, `signal`, `stop`, …) and the signal, if any.
        public static let reason = DialectName("reason")
        public static let signal = DialectName("signal")
        public static let droppedEvents = DialectName("dropped_events")
        public static let eventsWritten = DialectName("events_written")
        /// Jobs of Swift's global executor that ran untraced: enqueued before the runtime's queue
        /// for their priority was known (the hooks find it from inside a job).
        public static let untracedSwiftJobs = DialectName("untraced_swift_jobs")
    }

    /// Keys a reader adds to the session metadata from what it found, beside the file's own.
    public enum Imported {
        /// How the recording ended (from ``Event/sessionEnd``).
        public static let endReason = "end_reason"
        /// The signal that ended it, if any.
        public static let endSignal = "end_signal"
        /// The end anchors (from ``Event/sessionEnd``): ``Session/endTs`` and ``Session/wallEndUs``.
        public static let endTs = "end_ts"
        public static let wallEndUs = "wall_end_us"
        /// A viztracer trace: its version.
        public static let viztracerVersion = "viztracer_version"
    }

    /// Chrome's own metadata event names, which cctrace writes and reads like every tool.
    public enum Chrome {
        public static let processName = DialectName("process_name")
        public static let threadName = DialectName("thread_name")
        public static let processSortIndex = DialectName("process_sort_index")
        public static let threadSortIndex = DialectName("thread_sort_index")
        public static let processLabels = DialectName("process_labels")
    }

    /// Every name the preload shim writes, with the C macro that spells it there.
    public static let cNames: [(macro: String, name: DialectName)] = [
        ("CCTRACE_CAT_CPU", Category.cpu), ("CCTRACE_CAT_LOCK", Category.lock),
        ("CCTRACE_CAT_PRELOAD", Category.preload), ("CCTRACE_CAT_SESSION", Category.session),
        ("CCTRACE_EV_SESSION", Event.session), ("CCTRACE_EV_SESSION_END", Event.sessionEnd),
        ("CCTRACE_EV_CPU_PREFIX", Event.cpuPrefix), ("CCTRACE_EV_POLLS_PREFIX", Event.pollsPrefix),
        ("CCTRACE_EV_LOCK_WAIT", Event.lockWait), ("CCTRACE_EV_THREAD_EXIT", Event.threadExit),
        ("CCTRACE_EV_LOCK_HOLD", Event.lockHold), ("CCTRACE_EV_LOOP_ITERATION", Event.loopIteration),
        ("CCTRACE_EV_IO_PREFIX", Event.ioPrefix), ("CCTRACE_ARG_OBJECT", Arg.object), ("CCTRACE_ARG_SITE", Arg.site),
        ("CCTRACE_ARG_CPU_MS", Arg.cpuMs), ("CCTRACE_ARG_READ_BYTES", Arg.readBytes),
        ("CCTRACE_ARG_WRITTEN_BYTES", Arg.writtenBytes), ("CCTRACE_ARG_LOCAL", Arg.local),
        ("CCTRACE_ARG_PEER", Arg.peer), ("CCTRACE_ARG_SIZE", Arg.size), ("CCTRACE_ARG_COND", Arg.cond),
        ("CCTRACE_ARG_SHORT_CALLS_MS", Arg.shortCallsMs), ("CCTRACE_ARG_BYTES", Arg.bytes),
        ("CCTRACE_EV_PROCESS_NAME", Chrome.processName), ("CCTRACE_EV_THREAD_NAME", Chrome.threadName),
        ("CCTRACE_ARG_LOCK", Arg.lock), ("CCTRACE_ARG_LOCK_ID", Arg.lockID), ("CCTRACE_ARG_OWNER_TID", Arg.ownerTID),
        ("CCTRACE_ARG_FRAMES", Arg.frames), ("CCTRACE_ARG_LOCATIONS", Arg.locations),
        ("CCTRACE_ARG_RUNNING_PCT", Arg.runningPct), ("CCTRACE_ARG_RUNNABLE_PCT", Arg.runnablePct),
        ("CCTRACE_ARG_CALLS", Arg.calls), ("CCTRACE_ARG_FD", Arg.fd), ("CCTRACE_ARG_KIND", Arg.kind),
        ("CCTRACE_ARG_NAME", Arg.name), ("CCTRACE_KEY_VERSION", Session.version), ("CCTRACE_KEY_CORES", Session.cores),
        ("CCTRACE_KEY_CLOCK", Session.clock), ("CCTRACE_KEY_LANGUAGE", Session.language),
        ("CCTRACE_KEY_EXECUTABLE", Session.executable), ("CCTRACE_KEY_COMMAND_LINE", Session.commandLine),
        ("CCTRACE_KEY_START_TS", Session.startTs), ("CCTRACE_KEY_END_TS", Session.endTs),
        ("CCTRACE_KEY_WALL_START_US", Session.wallStartUs), ("CCTRACE_KEY_WALL_END_US", Session.wallEndUs),
        ("CCTRACE_KEY_REASON", Session.reason),
    ]

    /// The C header the preload shim includes (`Sources/CCTracePreload/cctrace_vocabulary.h`):
    /// the version and every name in ``cNames`` as string macros. A test keeps the checked-in
    /// file equal to this.
    public static func cHeader() -> String {
        var out = """
            /* cctrace's trace vocabulary for the preload shim. Generated from
             * Sources/CCTraceFormat/TraceVocabulary.swift — do not edit; `CCTRACE_UPDATE_GOLDEN=1 swift test
             * --filter Vocabulary` rewrites it, and a test fails while it differs. */
            #ifndef CCTRACE_VOCABULARY_H
            #define CCTRACE_VOCABULARY_H

            #define CCTRACE_VERSION "\(version)\(preloadSuffix)"

            """
        for (macro, name) in cNames { out += "#define \(macro) \"\(name.string)\"\n" }
        out += "\n#endif\n"
        return out
    }
}
