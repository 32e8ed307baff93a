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
    }

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
