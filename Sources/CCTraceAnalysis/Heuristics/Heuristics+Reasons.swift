import CCTraceFormat

// The reason for every default, next to the key a user sets it by. "Source" says where the
// number came from: a rule of the trade, a property of the runtime, or a guard whose exact
// value matters little (said as such).

extension Heuristics {
    static let classification: [Heuristic] = [
        duration(
            "untraced-call-gap", \.untracedCallGap,
            "A Python library function's own time at least this long (and over half its span) is an untraced wait.",
            reason:
                "Python code between two traced calls runs for microseconds; a millisecond of self time in library "
                + "plumbing is a C call the tracer could not see (queue get behind iter(), a socket read in C).",
            source: "CPython tracing (viztracer/sys.setprofile see Python calls and C calls made from Python only)"),
        duration(
            "with-lock-wait", \.withLockMinimumWait,
            "The stretch before a `with lock:` block's first traced call longer than this is the acquire.",
            reason:
                "Entering a `with` block costs about a microsecond of interpreter work; 10 µs is ten times that, so "
                + "what remains is waiting for the lock.",
            source: "CPython: `with` calls lock.__enter__ from C, so only lock.__exit__ is traced"),
    ]

    static let accounting: [Heuristic] = [
        share(
            "launcher-overlap", \.launcherOverlap,
            "A process sharing less than this share of its life with the busiest one is a launcher, left out.",
            reason:
                "Shell shims and wrappers (pyenv, env, sh -c) run before the program and wait for it; a worker lives "
                + "alongside the work for most of its life.",
            source: "process lifetimes in any multi-process recording"),
        share(
            "worker-busy", \.workerBusyShare,
            "A thread is a worker when busy at least this share of the window.",
            reason:
                "Housekeeping threads (timers, signal handlers, the main thread joining) are busy a few per cent; a "
                + "thread doing a real part of the work is busy far more.",
            source: "a guard between housekeeping and work; any value from 5 % to 20 % gives the same workers"),
        share(
            "gil-held-share", \.gilHeldShare,
            "A Python lock acquire is a wait for the GIL when another thread's single native call covered this share of it.",
            reason:
                "A C function holds the GIL unless it releases it, and an acquire needs the GIL back to return: "
                + "an acquire that lasted as long as another thread's pickling or C computation waited for the "
                + "interpreter, not for the lock, when the C call covered most of it (the rest is the hand-offs "
                + "at each end, and the holder's own short critical section).",
            source: "CPython's GIL hand-off (the switch interval is only honoured between bytecodes)"),
        share(
            "parked-thread", \.parkedThread,
            "A thread that spent this share of its busy time in one wait is parked, not a worker.",
            reason:
                "I/O-bound work is many waits with work between them; a thread whose busy time is a single wait "
                + "(reading stdin until shutdown, waiting on an event for the whole run) did no work of its own.",
            source: "shutdown and signal threads of servers; nine tenths leaves room for its start-up"),
        count(
            "transient-workers", \.transientWorkers,
            "This many threads of one process that lived less than worker-busy of the window, together busy that long, are workers.",
            reason:
                "A thread per connection or per task is busy for milliseconds and gone; a program has a few "
                + "housekeeping threads, not four or more that come and go while together doing a real part of the "
                + "work.",
            source: "thread-per-connection servers (ThreadingHTTPServer, Apache's worker MPM)"),
        share(
            "worker-process", \.workerProcessShare,
            "A process is part of the work when its threads' busy time is at least this share of the window.",
            reason:
                "A pool of many processes may give each only a little work; 2 % still separates them from idle "
                + "helpers (resource trackers, forkservers).",
            source: "multiprocessing and process-pool programs"),
        share(
            "window-cpu", \.windowCPUShare,
            "CPU readings below this running share do not stretch the work window.",
            reason:
                "An idle thread's scheduler statistics still move by wake-ups; 1 % of a core is noise, not work.",
            source: "a noise floor; the window covers every reading above it"),
    ]

    static let shape: [Heuristic] = [
        count(
            "repeated-items", \.repeatedItems,
            "Top-level spans repeating at least this often are independent items, not one chain.",
            reason: "Fewer than four repetitions cannot be told from a few distinct steps of one job.",
            source: "the smallest batch worth spreading over two or more cores"),
        share(
            "repeated-items-distinct", \.repeatedItemsDistinctShare,
            "…with at most this many distinct names per span.",
            reason: "Items share a name (process(item)); steps of a chain each have their own.",
            source: "span naming in traced programs"),
        duration(
            "independent-item", \.independentItem,
            "…each at least this long on average to be worth a task.",
            reason:
                "Handing an item to another thread or task costs microseconds; below ~200 µs the hand-off eats the "
                + "gain.",
            source: "thread hand-off and task creation costs (a few µs each)"),
        share(
            "dominant-span", \.dominantSpanShare,
            "While one span holds this share of a level, the units of work are its children.",
            reason: "Python traces nest everything under <module>, programs under main(); the work is one level down.",
            source: "traces of whole programs"),
        count(
            "async-tasks", \.asyncTasksInFlight,
            "This many traced tasks alive at once make the program async.",
            reason:
                "A program with eight or more tasks in flight multiplexes waits on a runtime; a handful of tasks is a "
                + "thread pool with extra steps.",
            source: "the point where tasks outnumber the cores of common machines"),
        share(
            "housekeeping-wait", \.housekeepingWaitShare,
            "A thread beside an event loop that spent this share of its busy time sleeping or polling is housekeeping, not offloaded work.",
            reason:
                "Maintenance, timer and listener threads wake up, look and sleep again; a thread the loop hands work to "
                + "computes or blocks in the work's own calls. Nine tenths leaves room for the housekeeping itself.",
            source: "servers with maintenance threads (memcached's crawler and LRU threads, accept loops)"),
        count(
            "language-evidence", \.languageNameEvidence,
            "CPython is recognized from this many Python-shaped names…",
            reason: "One name could be a coincidence; three (`x.py:12`, `builtins.`) are not.",
            source: "a guard; language detection also reads the recorder's metadata first"),
        count(
            "language-scan", \.languageScanSlices,
            "…among the first this many slices.",
            reason: "A program's language shows in its first spans; scanning all of a huge trace costs time.",
            source: "a bound on work, not on correctness"),
        count(
            "loop-poll-calls", \.loopPollCalls,
            "A thread making this many poll-family calls is an event loop seen from outside…",
            reason:
                "An event loop polls once per iteration, hundreds of times a second; a thread that polls a few times "
                + "is waiting for one thing.",
            source: "epoll/poll-based loops (asyncio, libuv, NIO, Redis, nginx)"),
        share(
            "loop-poll-share", \.loopPollShare,
            "…or spends this share of its life in recorded polls…",
            reason: "An idle loop spends most of its life in its poll.",
            source: "as above"),
        share(
            "loop-cpu-share", \.loopCPUShare,
            "…and does this share of its process's CPU work.",
            reason:
                "A pool's housekeeping thread polls too, but the loop is where the program's callbacks run, so it "
                + "does a real part of the process's CPU work.",
            source: "programs with a loop plus helper threads"),
    ]

    static let analyzers: [Heuristic] = [
        duration(
            "slow-callback", \.slowCallback,
            "A loop callback, tick or job at least this long blocks its loop.",
            reason:
                "asyncio's debug mode warns at 100 ms (loop.slow_callback_duration); a loop stalled that long is "
                + "visible to every client it serves.",
            source: "Python asyncio's slow_callback_duration default; Node's --trace-event 'long task' is similar"),
        share(
            "slow-callback-part", \.slowCallbackPart,
            "A part of a slow tick this share of slow-callback is named as an offender.",
            reason: "A tick may run several slow handlers back to back; a quarter of the threshold is worth naming.",
            source: "a display guard"),
        share(
            "cpu-work", \.cpuWorkShare,
            "A callback on a CPU at least this share of its time is CPU work; otherwise a blocking wait.",
            reason: "The larger share decides what fixing it means: move computing or move waiting.",
            source: "majority rule"),
        factor(
            "serialized-parallelism", \.serializedParallelism,
            "CPU-bound threads running on at most this many cores at once were serialized.",
            reason:
                "Threads that truly run in parallel on two or more cores average well above 1.3; turn-taking shows "
                + "as ≈ 1.0 plus scheduler overlap at the hand-offs.",
            source: "scheduler statistics of lock-serialized and free threads"),
        factor(
            "serialized-cpu", \.serializedMinimumCPU,
            "Serialized CPU work must keep at least this many cores busy on average.",
            reason: "A sliver of CPU between long unnamed waits is not CPU-bound work being held back.",
            source: "half a core: the work must matter to be worth a pool"),
        share(
            "serialized-lock-share", \.serializedLockShare,
            "Lock waits at least this share of the workers' busy time make a lock the cause.",
            reason: "A quarter of the time queued on one lock is enough to cap parallelism near one core.",
            source: "with n threads on one lock, waiting is (n−1)/n of the time; 25 % is well below n = 2's 50 %"),
        share(
            "global-lock-hold", \.globalLockHold,
            "A serializing lock held for at least this share of the threads' CPU time covers all the work.",
            reason:
                "A lock held for a share f of the work lets at most 1/f threads run: at 70 % that is 1.4, so "
                + "narrowing it buys little — the work needs its own state per worker (processes); below, moving "
                + "the work out of the critical section lets threads overlap and keeps the shared state. The "
                + "measured share runs below the true one (a waiter woken to find the lock re-taken burns CPU "
                + "outside any hold: a lock around all of the work measures 83 % with 4 threads on 2 cores).",
            source: "Amdahl's law applied to a critical section (Eyerman & Eeckhout, ISCA 2010)"),
        share(
            "one-thread-share", \.oneThreadShare,
            "One thread doing this share of the CPU work is the cause.",
            reason: "Four fifths of the work on one thread leaves the others nothing to run in parallel.",
            source: "Amdahl: 80 % serial caps the speedup at 1.25×"),
        duration(
            "native-call", \.nativeCallMinimum,
            "Native (C) calls at least this long count when telling whether a GIL was released.",
            reason: "Short C calls (len, append) never release the GIL; hashing, compression and NumPy calls do.",
            source: "CPython releases the GIL in C extensions around long operations"),
        share(
            "native-work", \.nativeWorkShare,
            "…native calls must be at least this share of the work…",
            reason: "Threads are right only when most of the work runs outside the interpreter.",
            source: "majority rule"),
        factor(
            "native-overlap", \.nativeOverlap,
            "…and overlap across threads by at least this factor.",
            reason: "A call holding the GIL cannot start while another runs, so overlap proves release.",
            source: "as serialized-parallelism"),
        duration(
            "inferred-lock-wait", \.inferredLockWait,
            "Acquires of a lock recognized by name shorter than this are not waits.",
            reason: "An uncontended acquire takes well under a microsecond; 10 µs means the thread queued.",
            source: "futex and CPython lock costs"),
        count(
            "contention-waits", \.contentionWaits,
            "Contention is a warning only when threads queued at least this many times.",
            reason: "One slow acquire (at shutdown, say) is worth knowing; contention is queueing again and again.",
            source: "JMC's lock rule and tokio-console's lints flag repeated waits"),
        share(
            "contention-share", \.contentionShare,
            "…and waiting was this share of the waiters' busy time.",
            reason: "A tenth of a thread's time spent queueing is worth fixing first.",
            source: "profiler rules of thumb (JMC flags ≥ 10 % blocked time)"),
        share(
            "contention-share-low", \.contentionShareLow,
            "…or this share, when the waiting is also contention-window of the window.",
            reason: "Many threads each waiting a little add up to a large share of the run.",
            source: "as above"),
        share(
            "contention-window", \.contentionWindowShare,
            "(see contention-share-low)", reason: "A tenth of the wall time lost to one lock is visible to users.",
            source: "as above"),
        duration(
            "contention-info", \.contentionInfo,
            "Less waiting than this in total is not worth an info.",
            reason: "A millisecond of waiting in a whole run changes nothing.",
            source: "a display guard"),
        factor(
            "ipc-tax", \.ipcTax,
            "IPC time ÷ compute at or above which IPC is a warning.",
            reason:
                "Processes pay off when messages cost little next to the work; at 20 % a fifth of the gain is gone.",
            source: "the decision guide (DESIGN.md)"),
        share(
            "startup-share", \.startupShare,
            "Child start-up ÷ the work each child did at or above which start-up is a warning.",
            reason: "Tasks should be at least ten times their process's start cost.",
            source: "the decision guide (DESIGN.md)"),
    ]

    static let recommendation: [Heuristic] = [
        share(
            "cpu-bound", \.cpuBound,
            "CPU share at or above which work is CPU-bound.",
            reason: "Below 70 % CPU the waits matter as much as the computing.",
            source: "the decision guide (DESIGN.md)"),
        share(
            "wait-bound", \.waitBound,
            "CPU share at or below which work is wait-bound.",
            reason: "At 30 % CPU or less, overlapping waits gains more than adding cores.",
            source: "the decision guide (DESIGN.md)"),
        factor(
            "cpu-bound-parallelism", \.cpuBoundMinimumParallelism,
            "CPU-bound work must keep at least this many cores busy on average.",
            reason: "A third of a core of CPU between waits is not a CPU-bound program.",
            source: "a guard against unnamed waits read as work"),
        count(
            "many-waits", \.manyWaits,
            "Waits in flight at which an event loop beats threads.",
            reason:
                "Hundreds of threads cost megabytes of stacks and context switches each; an event loop handles them "
                + "in one.",
            source: "the C10K argument; the decision guide (DESIGN.md)"),
        duration(
            "slow-wait", \.slowWait,
            "A wait this long (p50) is slow…",
            reason: "Threads blocked 50 ms and more sit idle holding memory while a loop would serve others.",
            source: "the decision guide (DESIGN.md)"),
        count(
            "slow-waits-in-flight", \.slowWaitsInFlight,
            "…and slow waits favour an event loop from this many in flight.",
            reason:
                "A few threads blocked on slow I/O are fine; a loop pays off once there are more than a small pool.",
            source: "typical thread-pool sizes (4–16)"),
        factor(
            "ipc-outweighs", \.ipcOutweighs,
            "IPC costing this many times the compute it feeds outweighs the processes.",
            reason: "When copying costs as much as computing, one process does the work faster.",
            source: "break-even of IPC against parallel compute"),
        share(
            "sequential-critical-path", \.sequentialCriticalPath,
            "A critical path this share of the window, one chain, leaves nothing to overlap.",
            reason: "With 90 % of the time on one dependent chain, no model gains more than 10 %.",
            source: "Amdahl's law"),
        share(
            "lock-share-advice", \.lockShareAdvice,
            "Lock waits over this share of wait-bound threads' busy time earn advice.",
            reason: "Adding threads to a program that waits on one lock only lengthens the queue.",
            source: "as contention-share"),
        duration(
            "minimum-window", \.minimumWindow,
            "A work window shorter than this gives low confidence.",
            reason: "The CPU sampler reads every 20 ms; a shorter window has one reading or none.",
            source: "the recorder's CPU sampling interval"),
        share(
            "offload-floor", \.offloadFloor,
            "What offloading leaves of a blocked loop's window, at least.",
            reason: "The loop still dispatches the work and handles the results.",
            source: "a conservative floor for the estimate"),
        share(
            "pool-blocked", \.poolBlockedShare,
            "Swift's cooperative pool is blocked when its jobs spend this share of their time in the kernel.",
            reason:
                "The pool has one thread per core and never grows: a job that sleeps, reads a file or waits for a "
                + "lock in the kernel holds a core's worth of tasks still. A quarter of the pool's time blocked "
                + "is a quarter of the cores lost, whatever the program.",
            source:
                "Swift's documented contract for the cooperative pool (tasks must not block); a quarter as in slow-callback-part"
        ),
        duration(
            "pool-queue-delay", \.poolQueueDelay,
            "…when ready jobs also waited this long on average for a pool thread.",
            reason:
                "Blocked pool threads cost something only when other work was ready to run: the delay from ready "
                + "to running measures that directly. A job normally starts within microseconds; a millisecond "
                + "means it queued behind busy threads.",
            source: "the recorder's ready→running delay; a dispatch takes microseconds"),
        share(
            "actor-busy", \.actorBusyShare,
            "An actor whose contended runs were on a CPU this share of the window serializes the program.",
            reason:
                "An actor runs one task at a time, and its queue runs as a job of its own only when tasks found it "
                + "busy: when that is half the window, tasks that need it wait for it at least half the time, and "
                + "no number of cores shortens that.",
            source: "Amdahl: a serial half caps the speedup at 2× whatever the cores"),
        share(
            "file-lock-queue", \.fileLockQueue,
            "Workers queueing this share of their busy time for one file lock are one writer's work: keep one.",
            reason:
                "The kernel grants a file lock (a database's, a cache directory's) to one holder at a time, and a "
                + "program cannot hold it for less than its update takes: when waiting for it outweighs the work, "
                + "more writers only queue, and one writer that batches its updates does the same work without "
                + "the waiting.",
            source: "SQLite's single-writer lock (sqlite.org/lockingv3.html); half: more queueing than working"),
        factor(
            "idle-capacity", \.idleCapacity,
            "Event loops that never blocked and left at least this many cores idle keep up with their load: keep them.",
            reason:
                "A loop that is not blocked and has a free core to grow into is not what holds the program back; half "
                + "a core is a margin no scheduler noise fills.",
            source: "event-loop servers under light and moderate load (memcached, asyncio, SwiftNIO)"),
        share(
            "thread-efficiency", \.threadEfficiency,
            "How much of ideal scaling CPU-bound threads keep.",
            reason: "Threads share caches, memory bandwidth and allocator locks; perfect scaling is rare.",
            source: "a conservative allowance, not a measurement"),
        duration(
            "arrival-gap", \.arrivalGap,
            "A unit of work that starts after its thread sat idle this long arrived then: no model starts it earlier.",
            reason:
                "Going from one unit to the next it already has takes a thread microseconds (a queue pop, a loop "
                + "turn, a scheduler wake-up under load is 50–500 µs); idle for a millisecond it was waiting for its "
                + "input — a request, a timer, a message — which a faster model does not make arrive sooner.",
            source: "scheduler wake-up latencies on loaded Linux machines; a margin above them"),
        share(
            "what-if-margin", \.whatIfMargin,
            "A what-if prediction's range is at least this share either side (wider when the replay of the current "
                + "model misses the measured window by more).",
            reason:
                "The same program's wall time varies 5–10 % from run to run on a shared machine, and CPU readings "
                + "every ~20 ms place CPU within a unit of work only approximately.",
            source: "the samples' wall times over repeated runs (`make whatif`)"),
        duration(
            "process-start", \.processStart,
            "Start-up of a new process of a compiled program, when the trace measured none.",
            reason:
                "exec, dynamic linking and runtime start: 1.8 ms for a bare Swift program here, 10–17 ms for one "
                + "that links CCTrace and starts tracing; a middle figure, replaced by the trace's own `process start` "
                + "slices whenever it has them.",
            source: "measured on the 2-core reference machine"),
        duration(
            "process-start-python", \.processStartPython,
            "Start-up of a new Python interpreter process, when the trace measured none.",
            reason:
                "`python3 -c pass` takes 26 ms here and 33 ms with multiprocessing, json and socket imported; "
                + "programs importing more start slower (the range says so).",
            source: "measured on the 2-core reference machine"),
        count(
            "what-if-units", \.whatIfUnits,
            "The most units of work the what-if replays; beyond it the report has no what-if table.",
            reason: "The replay costs about a microsecond per step; half a million units keeps it under a second.",
            source: "the replay's cost on a 1M-event trace"),
        count(
            "assumed-cores", \.assumedCores,
            "Cores assumed when neither the trace nor --cores says.",
            reason: "The report says the figure is assumed; `cctrace report` passes this machine's count instead.",
            source: "a placeholder for library callers"),
    ]

    static let diff: [Heuristic] = [
        share(
            "diff-noise", \.diffNoise,
            "`cctrace diff`: a figure of one run is known to at least this share either side; a change is real when "
                + "the two runs' ranges do not overlap.",
            reason:
                "The same program's wall time varies 5–10 % from run to run on a shared machine (frequency scaling, "
                + "other processes, where the scheduler put the threads) — variation that acts on the whole run at "
                + "once, so no single trace shows it. Item-to-item variation inside a trace (its repeated spans) "
                + "widens the range when it is larger.",
            source: "the samples' wall times over repeated runs (`make whatif`), as for what-if-margin"),
        duration(
            "diff-min-change", \.diffMinimumChange,
            "`cctrace diff`: a duration that changed by less than this did not change.",
            reason:
                "Below a millisecond, a figure moves with timer slack, one scheduler tick (1–4 ms) and where a run's "
                + "window was cut; no fix is judged by it.",
            source: "Linux scheduler granularity; a guard whose exact value matters little"),
        share(
            "diff-min-share-change", \.diffMinimumShareChange,
            "`cctrace diff`: a share of time that changed by less than this (absolute) did not change.",
            reason:
                "CPU readings every ~20 ms place running and waiting time only approximately; two points of a share "
                + "are within that placement.",
            source: "cctrace's CPU sampling interval against typical unit lengths; a guard"),
        factor(
            "diff-min-parallelism-change", \.diffMinimumParallelismChange,
            "`cctrace diff`: parallelism (cores busy) that changed by less than this did not change.",
            reason:
                "Parallelism is CPU time over the window; CPU readings every ~20 ms (or CPU inferred from spans in "
                + "other tools' traces) place each thread's running time to within a reading, several hundredths of "
                + "a core over a sub-second window: a tenth of a core is the smallest change worth a line.",
            source: "cctrace's CPU sampling interval against typical windows; a guard"),
    ]
}
