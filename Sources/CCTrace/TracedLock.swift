import CCTraceFormat
import CCTraceNative
import CCTraceUnwind
import Synchronization

/// A mutual-exclusion lock that records contention: who waited, for how long, for whom, from
/// where — and how long the holder held it while others waited.
///
/// What is recorded (category `cctrace.lock`), only while a session records:
/// - **Uncontended acquire:** nothing is written and no clock is read. The lock tries first
///   (one compare-and-swap); on success it notes the owner's thread id.
/// - **Contended acquire:** one `X` slice `lock wait` on the waiting thread, from the failed try
///   to the acquire, with `args` `lock` (the name), `lock_id`, `owner_tid` (the thread that held
///   the lock when the wait began — the wait-for edge) and `stack` (the waiter's return
///   addresses, innermost first, as hex strings; symbolized off the hot path).
/// - **Release while someone waited:** one `X` slice `lock hold` on the holder's thread, from
///   the moment the first of the current waiters began waiting to the release, with `lock`,
///   `lock_id` and `stack` (where the holder released it): exactly the stretch in which this
///   holder made others wait. Holds nobody waited for are not written.
public final class TracedLock: @unchecked Sendable {
    /// The name written to the trace.
    public let name: String
    /// A process-unique id written as `lock_id`.
    public let id: UInt64
    @usableFromInline let _raw: UnsafeMutablePointer<cctrace_lock>
    private let waitName: UInt32
    private let holdName: UInt32

    private static let nextID = Atomic<UInt64>(1)
    /// How many return addresses a contended wait records.
    static let stackDepth = 24

    /// A lock named `name` in the trace.
    public init(name: String) {
        self.name = name
        self.id = Self.nextID.add(1, ordering: .relaxed).oldValue
        _raw = .allocate(capacity: 1)
        cctrace_lock_init(_raw)
        waitName = NameTable.shared.intern(TraceVocabulary.Event.lockWait.string)
        holdName = NameTable.shared.intern(TraceVocabulary.Event.lockHold.string)
        _ = cctrace_unwind_load()
    }

    deinit {
        _raw.deallocate()
    }

    /// Acquires the lock, waiting if another thread holds it.
    @inlinable
    public func lock() {
        if _tryFast() { return }
        _lockContended()
    }

    /// Acquires the lock if it is free; returns whether it did.
    @inlinable
    public func tryLock() -> Bool {
        _tryFast()
    }

    /// Releases the lock; the calling thread must hold it.
    @inlinable
    public func unlock() {
        if cctrace_is_enabled() {
            let waitedSince = cctrace_lock_take_first_wait(_raw)
            if waitedSince != 0 { _recordHold(since: waitedSince) }
        }
        cctrace_lock_set_owner(_raw, 0)
        cctrace_lock_release(_raw)
    }

    /// Runs `body` while holding the lock.
    @inlinable
    public func withLock<R, E: Error>(_ body: () throws(E) -> R) throws(E) -> R {
        lock()
        defer { unlock() }
        return try body()
    }

    // MARK: - Internals

    @inlinable @inline(__always)
    func _tryFast() -> Bool {
        guard cctrace_lock_try(_raw) else { return false }
        if cctrace_is_enabled() { cctrace_lock_set_owner(_raw, cctrace_current_tid()) }
        return true
    }

    @usableFromInline
    func _lockContended() {
        guard cctrace_is_enabled() else {
            cctrace_lock_wait(_raw)
            return
        }
        let start = cctrace_now()
        let owner = cctrace_lock_owner(_raw)
        let stack = Self.captureStack()
        cctrace_lock_note_wait(_raw, start)
        cctrace_lock_wait(_raw)
        let acquired = cctrace_now()
        cctrace_lock_set_owner(_raw, cctrace_current_tid())
        let aux = Recorder.shared.storeArguments(
            arguments(extra: ",\"\(TraceVocabulary.Arg.ownerTID)\":\(owner)", stack: stack))
        CCTrace._append(
            EventKind.complete, EventCategory.flags(EventCategory.lock, interned: true), UInt64(waitName), 0, start,
            acquired, aux)
    }

    @usableFromInline
    func _recordHold(since: UInt64) {
        // Where the holder releases the lock others waited for (the end of its critical
        // section): captured only for contended holds.
        let aux = Recorder.shared.storeArguments(arguments(extra: "", stack: Self.captureStack()))
        CCTrace._append(
            EventKind.complete, EventCategory.flags(EventCategory.lock, interned: true), UInt64(holdName), 0,
            since, cctrace_now(), aux)
    }
}

extension TracedLock {
    /// This thread's return addresses (up to ``stackDepth``), innermost first.
    static func captureStack() -> [UInt] {
        var frames = [UnsafeMutableRawPointer?](repeating: nil, count: stackDepth)
        let depth = Int(frames.withUnsafeMutableBufferPointer { cctrace_backtrace($0.baseAddress, Int32($0.count)) })
        return frames.prefix(depth).map { UInt(bitPattern: $0) }
    }

    /// `"lock":…,"lock_id":…` + `extra` + `,"stack":["0x…",…]`, the members a wait or hold stores.
    func arguments(extra: String, stack: [UInt]) -> [UInt8] {
        var args: [UInt8] = []
        args.reserveCapacity(64 + stack.count * 20)
        ArgumentEncoder.appendString(TraceVocabulary.Arg.lock.string, to: &args)
        args.append(0x3A)
        ArgumentEncoder.appendString(name, to: &args)
        args.append(contentsOf: ",\"\(TraceVocabulary.Arg.lockID)\":\(id)\(extra)".utf8)
        Self.appendStack(stack, to: &args)
        return args
    }

    /// `,"stack":["0x…",…]`.
    static func appendStack(_ stack: [UInt], to args: inout [UInt8]) {
        args.append(contentsOf: ",\"\(TraceVocabulary.Arg.stack)\":[".utf8)
        for (i, address) in stack.enumerated() {
            if i > 0 { args.append(0x2C) }
            args.append(contentsOf: "\"0x\(String(address, radix: 16))\"".utf8)
        }
        args.append(0x5D)
    }
}

/// A value protected by a ``TracedLock``: a one-line swap for `Synchronization.Mutex` that
/// records contention (see ``TracedLock`` for exactly what).
///
/// ```swift
/// let cache = TracedMutex([String: Data](), name: "cache")   // was: Mutex([String: Data]())
/// cache.withLock { $0[key] = data }
/// ```
public final class TracedMutex<Value>: @unchecked Sendable {
    /// The lock (for its name and id).
    public let lock: TracedLock
    @usableFromInline var _value: Value

    /// A mutex holding `initialValue`, named `name` in the trace.
    public init(_ initialValue: Value, name: String = "mutex") {
        self._value = initialValue
        self.lock = TracedLock(name: name)
    }

    /// Runs `body` with exclusive access to the value.
    @inlinable
    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        lock.lock()
        defer { lock.unlock() }
        return try _withValue(body)
    }

    /// Runs `body` with the value if the lock is free right now; `nil` otherwise.
    @inlinable
    public func withLockIfAvailable<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R? {
        guard lock.tryLock() else { return nil }
        defer { lock.unlock() }
        return try _withValue(body)
    }

    @inlinable
    func _withValue<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        try body(&_value)
    }
}
