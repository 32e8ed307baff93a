#if canImport(Glibc)
    import Glibc
#endif

/// Runs `other` on a thread of its own while `main` runs on this one, and returns both results.
///
/// For stages that read the same immutable model and write only their own results. A plain
/// thread rather than `DispatchQueue.concurrentPerform`: work inside either stage may itself use
/// `concurrentPerform`, which runs serially when nested in another.
func beside<A, B>(_ main: () -> A, _ other: () -> B) -> (A, B) {
    let slot = BesideSlot<B>()
    let a = withoutActuallyEscaping(other) { other -> A in
        let job = UnsafeSendable(other)
        let thread = startThread { slot.value = job.value() }
        let a = main()
        pthread_join(thread, nil)
        return a
    }
    return (a, slot.value!)
}

/// Where the other thread of ``beside(_:_:)`` leaves its result (read after the join).
private final class BesideSlot<B>: @unchecked Sendable {
    var value: B?
    init() {}
}

/// Work started on a thread of its own now and joined later: for a stage whose independent
/// part (reading only the model) can run while the rest of the stage does its own pass.
final class Started<T>: @unchecked Sendable {
    private var value: T?
    private var thread: pthread_t?

    init(_ body: @escaping @Sendable () -> T) {
        thread = startThread { [unchecked = UnsafeSendable(self)] in unchecked.value.value = body() }
    }

    /// Waits for the work and returns its result (once).
    func join() -> T {
        if let t = thread {
            pthread_join(t, nil)
            thread = nil
        }
        return value!
    }
}
