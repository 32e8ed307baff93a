import CCTraceFormat

/// What the Swift runtime, Foundation and Dispatch look like in a trace, and cctrace's own
/// threads and frames in a Swift program.
enum SwiftRuntime {
    static let calls = BlockingCalls(
        result: ["DispatchGroup.wait", "DispatchSemaphore.wait", "waitUntilExit"],
        lock: ["Mutex.lock", "NSLock.lock", "os_unfair_lock_lock"])

    /// cctrace's writer thread: never part of the program's work.
    static func isRecorderThread(_ name: String?) -> Bool {
        name?.hasPrefix(TraceVocabulary.Event.writerThreadPrefix.string) ?? false
    }

    /// A thread of cctrace's traced task pool (its jobs are the program's; the thread is not an
    /// offload the program chose).
    static func isPoolThread(_ label: String) -> Bool {
        label.hasPrefix(TraceVocabulary.Event.poolThreadPrefix.string)
            || label.hasPrefix(TraceVocabulary.Event.swiftPoolThreadPrefix.string)
    }

    /// One Swift task the recorder's runtime hooks saw run: from when its first job became
    /// ready to the end of its last job (a task is created ready), in nanoseconds.
    struct TaskLife: Sendable {
        var pid: Int64
        var id: Int64
        var start: Int64
        var end: Int64
        /// Time in its jobs.
        var ran: Int64
    }

    /// The Swift tasks in `model`: the jobs on `swift-pool-N` threads, grouped by `task_id`.
    static func tasks(in model: TraceModel) -> [TaskLife] {
        let prefix = TraceVocabulary.Event.swiftPoolThreadPrefix.string
        let category = TraceCategory.task.rawValue
        let taskKey = TraceVocabulary.Arg.taskID.string
        let queuedKey = TraceVocabulary.Arg.queuedUs.string
        var byID: [Int64: [Int64: TaskLife]] = [:]
        // Tasks traced by name (their life is an async slice) have their runs named after them
        // and carry the traced id: they are counted as those lives, not again here.
        var traced: Set<String> = []
        for a in model.asyncSlices where a.depth == 0 && a.category == category {
            traced.insert("\(a.pid)/\(a.id)/\(a.name)")
        }
        for t in model.threads where t.name?.hasPrefix(prefix) ?? false {
            for i in t.sliceRange {
                let s = model.slices[i]
                guard s.depth == 0, s.category == category, let args = s.args.flatMap({ model.arguments.value($0) }),
                    let id = args[taskKey]?.intValue, !traced.contains("\(t.pid)/\(id)/\(s.name)")
                else { continue }
                let queued = Int64((args[queuedKey]?.doubleValue ?? 0) * 1000)
                let begin = s.start.nanoseconds - queued
                if var life = byID[t.pid]?[id] {
                    life.start = min(life.start, begin)
                    life.end = max(life.end, s.end.nanoseconds)
                    life.ran += s.duration.nanoseconds
                    byID[t.pid]![id] = life
                } else {
                    byID[t.pid, default: [:]][id] = TaskLife(
                        pid: t.pid, id: id, start: begin, end: s.end.nanoseconds, ran: s.duration.nanoseconds)
                }
            }
        }
        return byID.keys.sorted().flatMap { pid in byID[pid]!.values.sorted { $0.id < $1.id } }
    }

    /// A frame's function as people name it: the compiler's name for an async fragment
    /// (`(2) suspend resume partial function for f()`) is `f()`, and the function it was inlined
    /// into (`g() [inlined in f()] at x.swift:3`) is left out.
    static func functionName(_ frame: String) -> String {
        var s = Substring(frame)
        let marker = " [inlined in "
        var i = s.startIndex
        while i < s.endIndex, !s[i...].hasPrefix(marker) { i = s.index(after: i) }
        if i < s.endIndex, let close = s[i...].firstIndex(of: "]") {
            s = Substring(String(s[..<i]) + String(s[s.index(after: close)...]))
        }
        return String(SwiftSymbols.asyncFragmentFunction(s))
    }

    /// Whether an async slice is a Swift task's sleep (`Task.sleep`), which is part of a task,
    /// not a task.
    static func isTaskSleep(_ s: AsyncSlice) -> Bool { s.name == TraceVocabulary.Event.taskSleep.string }

    /// Frames that are the compiler's or cctrace's plumbing rather than the app's code.
    static func isPlumbingFrame(_ frame: String) -> Bool {
        frame.hasPrefix("partial apply forwarder") || frame.hasPrefix("reabstraction thunk")
            || frame.hasPrefix("thunk for") || frame.hasPrefix("merged ") || frame.hasPrefix("0x")
    }

    /// cctrace's own wrappers around the app's code (lock slow paths, span helpers).
    static func isRecorderFrame(_ frame: String) -> Bool {
        frame.hasPrefix("static CCTrace.CCTrace.") || frame.hasPrefix("CCTrace.Traced") || frame.contains("(libCCTrace")
    }
}
