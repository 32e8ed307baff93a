#if canImport(Glibc)
    import Glibc
#endif

/// Runs `other` on a thread of its own while `main` runs on this one, and returns both results.
///
/// For stages that read the same immutable model and write only their own results. A plain
/// thread rather than `DispatchQueue.concurrentPerform`: work inside either stage may itself use
/// `concurrentPerform`, which runs serially when nested in another.
func beside<A, B>(_ main: () -> A, _ other: () -> B) -> (A, B) {
    withoutActuallyEscaping(other) { other -> (A, B) in
        // Joined before this returns: `other` does not outlive the call.
        let started = Started(UnsafeSendable(other))
        let a = main()
        return (a, started.join())
    }
}

/// Work started on a thread of its own now and joined later: for a stage whose independent
/// part (reading only the model) can run while the rest of the stage does its own pass.
final class Started<T>: @unchecked Sendable {
    private var value: T?
    private var thread: pthread_t?

    convenience init(_ body: @escaping @Sendable () -> T) {
        self.init(UnsafeSendable(body))
    }

    /// `body.value` run on the new thread (the caller vouches it may run there).
    init(_ body: UnsafeSendable<() -> T>) {
        thread = startThread { [unchecked = UnsafeSendable(self)] in unchecked.value.value = body.value() }
    }

    /// Waits for the work (the first call) and returns its result; later calls must come
    /// after the first has returned.
    func join() -> T {
        if let t = thread {
            pthread_join(t, nil)
            thread = nil
        }
        return value!
    }
}
