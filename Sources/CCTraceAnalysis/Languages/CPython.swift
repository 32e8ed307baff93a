import CCTraceFormat

/// What CPython programs look like in a trace (viztracer's and other Python tracers' names,
/// and `cctrace record`'s view of the interpreter): the names of its blocking calls, the
/// shapes its tracers leave (`with lock:` blocks, untraced C calls, generator resumes), its
/// event loop and its global interpreter lock.
enum CPython {
    static let calls = BlockingCalls(
        result: [
            "join", "wait", "_wait_for_tstate_lock", "as_completed", "wait_for", "Popen.wait", "Popen.communicate",
            "Barrier.wait", "Event.wait", "Condition.wait", "Condition.wait_for", "Semaphore.acquire",
            "BoundedSemaphore.acquire", "Pool.map", "Pool.starmap", "Pool.imap", "Pool.join", "Process.join",
            "ThreadPoolExecutor.shutdown", "ProcessPoolExecutor.shutdown", "Executor.shutdown", "Executor.map",
            "_result_or_cancel",
        ],
        ipc: [
            "send_bytes", "recv_bytes", "_send_bytes", "_recv_bytes", "recv_bytes_into", "Connection._send",
            "Connection._recv", "Connection.send", "Connection.recv", "_ConnectionBase.send", "_ConnectionBase.recv",
            "ForkingPickler.dumps", "ForkingPickler.dump",
        ],
        lock: [
            "lock.acquire", "RLock.acquire", "Lock.acquire", "_thread.lock.acquire", "lock.__enter__",
            "RLock.__enter__",
        ],
        io: [
            "time.sleep", "recv_into", "sendall", "epoll.poll", "poll.poll", "devpoll.poll", "kqueue.control",
            "urlopen", "posix.read", "posix.write", "os.read", "os.write", "readline", "readinto",
            "BufferedReader.read", "FileIO.read", "FileIO.write",
        ],
        socket: [
            "recv", "recv_into", "recvfrom", "send", "sendall", "sendto", "accept", "connect", "create_connection",
            "makefile",
        ])

    /// The interpreter's functions that take or release the GIL: a wait whose innermost
    /// frames are in one of them (`take_gil` when the library has its symbols; otherwise the
    /// exported function that called it) is a wait for the GIL. On Linux CPython (3.x before
    /// the free-threaded build) its locks are semaphores and the GIL is the only user of a
    /// condition variable, so this is how the GIL is told from the program's own locks.
    static let gilFunctions: Set<String> = [
        "take_gil", "drop_gil", "PyEval_RestoreThread", "PyEval_SaveThread", "PyEval_AcquireThread",
        "PyEval_ReleaseThread", "PyEval_AcquireLock", "PyGILState_Ensure", "_PyEval_EvalFrameDefault",
        "_Py_HandlePending", "eval_frame_handle_pending",
    ]

    /// Whether a wait with these frames (innermost first, `function + 0xoff (image)`) waited
    /// for the GIL: it was called from the interpreter itself (the innermost frame's image is
    /// python's — a C extension's own condition variables are not the GIL) and one of the
    /// first three frames is a GIL function.
    static func isGILWait(frames: [String]) -> Bool {
        // The recorder's own frames (the shim's hook) come first in a recorded stack.
        let frames = frames.drop { $0.contains("cctrace-preload") }
        // The interpreter's image: libpython3.x or the python executable — not an extension
        // module (`_socket.cpython-311-….so`).
        guard let innermost = frames.first, let open = innermost.lastIndex(of: "("),
            innermost[innermost.index(after: open)...].hasPrefix("libpython")
                || innermost[innermost.index(after: open)...].hasPrefix("python")
        else { return false }
        for frame in frames.prefix(3) {
            let function = frame.split(separator: " ", maxSplits: 1).first.map(String.init) ?? frame
            if gilFunctions.contains(function) { return true }
        }
        return false
    }

    /// A queue's own methods (`queue.Queue`, `multiprocessing.Queue`, `SimpleQueue`,
    /// `JoinableQueue`, asyncio's): the locks and semaphores they wait on are the queue's flow
    /// control — space for a put, an item (or the reader's turn) for a get — so a wait inside
    /// them is a wait for the other end, not contention on shared state.
    static func isQueueMethod(_ baseName: Substring) -> Bool {
        let lower = baseName.lowercased()
        guard lower.contains("queue.") else { return false }
        return lower.hasSuffix(".put") || lower.hasSuffix(".get") || lower.hasSuffix("._feed")
            || lower.hasSuffix(".put_nowait") || lower.hasSuffix(".get_nowait")
    }

    /// What multiprocessing's pipes are called when the trace has no channel names.
    static let multiprocessingChannel = "multiprocessing pipes"

    /// A name only Python tracers write: `f (file.py:12)`, `builtins.len`, `_thread.lock`.
    static func isPythonShaped(_ name: String) -> Bool {
        name.contains(".py:") || name.hasPrefix("builtins.") || name.hasPrefix("_thread.")
    }

    /// `lock.__exit__` / `RLock.__exit__`: the traced end of a `with lock:` block, whose
    /// acquire (`__enter__`, called from C) the tracer did not see.
    static func isWithLockExit(_ name: String) -> Bool {
        name.hasSuffix("lock.__exit__") || name.hasSuffix("RLock.__exit__")
    }

    /// A function of the Python standard library (its self time between traced calls is
    /// plumbing, so long stretches of it are calls the tracer could not see).
    static func isLibraryFunction(_ name: String) -> Bool { name.contains("/lib/python") }

    /// A generator resume (`<genexpr>`): not a unit of work of its own.
    static func isGeneratorResume(_ name: String) -> Bool { name.hasPrefix("<genexpr>") }

    /// A C function (viztracer names Python functions `f (file:line)`, C ones without a
    /// location): whether it can run without the GIL is what the threads verdict hangs on.
    static func isNativeCall(_ name: String) -> Bool { !name.hasSuffix(")") }

    /// asyncio's callback runner: each `Handle._run` is one callback of the loop.
    static func isLoopCallback(_ baseName: Substring) -> Bool { baseName.hasSuffix("Handle._run") }

    /// asyncio's plumbing between the loop and the coroutine it steps (never the offender).
    static func isLoopPlumbing(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.contains("asyncio/") || lower.hasPrefix("_contextvars.") || lower.contains("task.__step")
            || lower.contains("task_step") || lower.contains("handle._run") || lower.hasPrefix("_asyncio.")
            || lower.contains("wakeup")
    }

    /// Rows that are asyncio tasks, not threads (viztracer's `--log_async` moves each task's
    /// frames to a row of its own, named after the task): rows whose every top-level span lies
    /// inside a `Handle._run` callback of an event-loop thread of the same process — a task
    /// runs only when its loop steps it. Indexes into ``TraceModel/threads``.
    static func asyncTaskRows(in model: TraceModel, names: SliceNames) -> Set<Int> {
        var callbacks: [Int64: [(Int64, Int64, Int)]] = [:]  // pid → (start, end, loop thread)
        for i in names.slices(where: { name, _ in isLoopCallback(SliceClassifier.baseName(name)) }) {
            let s = model.slices[i]
            guard s.category != TraceCategory.loop.rawValue else { continue }
            callbacks[model.threads[s.thread].pid, default: []].append(
                (s.start.nanoseconds, s.end.nanoseconds, s.thread))
        }
        guard !callbacks.isEmpty else { return [] }
        for k in callbacks.keys { callbacks[k]!.sort { $0.0 < $1.0 } }
        var rows: Set<Int> = []
        for (i, t) in model.threads.enumerated() {
            guard let runs = callbacks[t.pid], !t.sliceRange.isEmpty, !runs.contains(where: { $0.2 == i }) else {
                continue
            }
            var any = false
            var inside = true
            for k in t.sliceRange where model.slices[k].depth == 0 {
                any = true
                let s = model.slices[k]
                // The last callback that starts at or before the span must cover it.
                var lo = 0
                var hi = runs.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if runs[mid].0 <= s.start.nanoseconds { lo = mid + 1 } else { hi = mid }
                }
                if lo == 0 || runs[lo - 1].1 < s.end.nanoseconds {
                    inside = false
                    break
                }
            }
            if any && inside { rows.insert(i) }
        }
        return rows
    }

    /// `asyncio.sleep` and friends suspend a coroutine; they do not block a thread.
    static func isCoroutineSuspension(_ name: String) -> Bool { name.lowercased().contains("asyncio") }
}
