import CCTraceFormat
import CCTraceNative

#if canImport(Glibc)
    import Glibc
#endif

/// Records what an app's threads, tasks and processes do into a Chrome-format trace.
///
/// Start a session from code with ``start(_:)``, or set `CCTRACE_OUTPUT=FILE` in the
/// environment: a program that links CCTrace then records from before `main` without code
/// changes. Spans cost two clock reads and a 32-byte store into a per-thread buffer; with no
/// session running they cost one branch.
///
/// ```swift
/// try CCTrace.start(TraceConfiguration(outputPath: "app.trace.json"))
/// CCTrace.withSpan("load") { load() }
/// CCTrace.stop()
/// ```
public enum CCTrace {
    /// The version written to every trace's session metadata.
    public static let version = TraceVocabulary.version

    // MARK: - Sessions

    /// Starts recording to `configuration.outputPath`.
    ///
    /// - Throws: ``TraceSessionError`` when a session is running or the file cannot be opened.
    public static func start(_ configuration: TraceConfiguration) throws(TraceSessionError) {
        try Recorder.shared.start(configuration)
    }

    /// Starts recording when the environment asks for it (`CCTRACE_OUTPUT`). Returns whether a
    /// session is now recording. Programs that link CCTrace do this before `main` by themselves.
    @discardableResult
    public static func startFromEnvironment() -> Bool {
        if isRecording { return true }
        guard let configuration = TraceConfiguration.fromProcessEnvironment() else { return false }
        return (try? start(configuration)) != nil
    }

    /// Stops recording: writes everything buffered, closes the JSON array and the file.
    /// Called by itself at normal exit and on fatal signals.
    public static func stop() {
        Recorder.shared.stop()
    }

    /// What the last session that stopped wrote: events written to the trace, and events lost
    /// (buffers full, size limit) — the trace itself says the same in its `dropped` counter.
    public static var lastSessionTotals: (written: UInt64, dropped: UInt64) {
        Recorder.shared.lastTotals.withLock { $0 }
    }

    /// Writes everything recorded so far to the file now, instead of at the next flush interval.
    public static func flush() {
        Recorder.shared.flush()
    }

    /// In flight-recorder mode (``TraceConfiguration/ring``, `CCTRACE_MODE=ring`), writes the
    /// events kept in memory as a trace of their own and returns its path (`nil` when not
    /// recording in that mode, or when the file could not be written). Recording goes on.
    @discardableResult
    public static func dump() -> String? {
        Recorder.shared.dump()
    }

    /// Whether a session is recording.
    public static var isRecording: Bool { cctrace_is_enabled() }

    // MARK: - Thread spans

    /// Runs `body` inside a span named `name` on the current thread.
    ///
    /// The span is written as one `X` event when `body` returns or throws.
    @inlinable @discardableResult
    public static func withSpan<R, E: Error>(
        _ name: StaticString, _ body: () throws(E) -> R
    ) throws(E) -> R {
        let flags = cctrace_recording_flags()
        guard flags != 0 else { return try body() }
        if flags & 2 != 0 { return try _withSpanMeasuringCPU(String(describing: name), [:], body) }
        let start = cctrace_now()
        defer { _recordComplete(name, start: start, category: EventCategory.span) }
        return try body()
    }

    /// Runs `body` inside a span named `name` with `args`.
    @inlinable @discardableResult
    public static func withSpan<R, E: Error>(
        _ name: StaticString, args: TraceArguments, _ body: () throws(E) -> R
    ) throws(E) -> R {
        let flags = cctrace_recording_flags()
        guard flags != 0 else { return try body() }
        if flags & 2 != 0 { return try _withSpanMeasuringCPU(String(describing: name), args, body) }
        let start = cctrace_now()
        defer { _recordComplete(name, start: start, args: args) }
        return try body()
    }

    /// Runs `body` inside a span whose name is computed at run time. It costs a hash lookup
    /// more than the `StaticString` form (and a lock on a thread's first use of each name).
    @inlinable @discardableResult
    public static func withSpan<R, E: Error>(
        named name: String, args: TraceArguments = [:], _ body: () throws(E) -> R
    ) throws(E) -> R {
        let flags = cctrace_recording_flags()
        guard flags != 0 else { return try body() }
        if flags & 2 != 0 { return try _withSpanMeasuringCPU(name, args, body) }
        let start = cctrace_now()
        defer { _recordComplete(dynamicName: name, start: start, args: args) }
        return try body()
    }

    /// Begins a span that ends with ``SpanToken/end()``, for code that is not scoped.
    ///
    /// End it on the same thread, innermost first, and it is an ordinary thread span. Ended on
    /// another thread or out of order, it is written as an async slice instead, so a thread's
    /// spans always nest.
    @inlinable
    public static func beginSpan(_ name: StaticString) -> SpanToken {
        guard cctrace_is_enabled() else { return SpanToken(name: name, start: 0, state: nil) }
        return SpanToken(name: name, start: cctrace_now(), state: _threadState())
    }

    /// Records an instant event on the current thread.
    public static func instant(_ name: String, args: TraceArguments = [:]) {
        guard cctrace_is_enabled() else { return }
        let ts = cctrace_now()
        let aux = args.isEmpty ? 0 : Recorder.shared.storeArguments(ArgumentEncoder.encode(args))
        let id = Recorder.shared.intern(name)
        _append(EventKind.instant, EventCategory.flags(EventCategory.span, interned: true), UInt64(id), 0, ts, 0, aux)
    }

    /// Records a process counter sample (`C` event) named `name`.
    public static func counter(_ name: String, _ value: Double) {
        guard cctrace_is_enabled() else { return }
        let id = Recorder.shared.intern(name)
        _append(
            EventKind.counter, EventCategory.flags(EventCategory.span, interned: true), UInt64(id), 0, cctrace_now(),
            value.bitPattern, 0)
    }

    /// Names the current thread in the trace (and for the OS, truncated to 15 bytes).
    public static func setThreadName(_ name: String) {
        ThreadNaming.setSystemName(name)
        guard cctrace_is_enabled() else { return }
        Recorder.shared.setThreadName(name)
    }

    // MARK: - Recording internals (inlined into callers)

    /// The calling thread's state in the running session, registering the thread if needed.
    @inlinable @inline(__always)
    static func _threadState() -> UnsafeMutablePointer<cctrace_thread_state>? {
        if let s = cctrace_current_state(), s.pointee.generation == cctrace_current_generation() { return s }
        return _registerThread()
    }

    @usableFromInline
    static func _registerThread() -> UnsafeMutablePointer<cctrace_thread_state>? {
        Recorder.shared.currentState()
    }

    @inlinable @inline(__always)
    static func _append(
        _ kind: UInt8, _ flags: UInt8, _ name: UInt64, _ nameLength: UInt16, _ ts: UInt64, _ end: UInt64,
        _ aux: UInt32
    ) {
        if !cctrace_append(kind, flags, name, nameLength, ts, end, aux) {
            _appendSlow(kind, flags, name, nameLength, ts, end, aux)
        }
    }

    @usableFromInline
    static func _appendSlow(
        _ kind: UInt8, _ flags: UInt8, _ name: UInt64, _ nameLength: UInt16, _ ts: UInt64, _ end: UInt64,
        _ aux: UInt32
    ) {
        Recorder.shared.appendSlow(
            kind: kind, flags: flags, name: name, nameLength: nameLength, ts: ts, end: end, aux: aux)
    }

    @inlinable @inline(__always)
    static func _recordComplete(_ name: StaticString, start: UInt64, category: UInt8) {
        let end = cctrace_now()
        if name.hasPointerRepresentation {
            _append(
                EventKind.complete, EventCategory.flags(category, interned: false),
                UInt64(UInt(bitPattern: name.utf8Start)), UInt16(clamping: name.utf8CodeUnitCount), start, end, 0)
        } else {
            _recordCompleteSlow(String(describing: name), start: start, end: end, category: category, args: [:])
        }
    }

    @inlinable
    static func _recordComplete(_ name: StaticString, start: UInt64, args: TraceArguments) {
        _recordCompleteSlow(
            String(describing: name), start: start, end: cctrace_now(), category: EventCategory.span, args: args)
    }

    @inlinable
    static func _recordComplete(dynamicName: String, start: UInt64, args: TraceArguments) {
        _recordCompleteSlow(dynamicName, start: start, end: cctrace_now(), category: EventCategory.span, args: args)
    }

    /// A span that also records the thread's CPU time (``TraceConfiguration/threadCPUTime``).
    @usableFromInline
    static func _withSpanMeasuringCPU<R, E: Error>(
        _ name: String, _ args: TraceArguments, _ body: () throws(E) -> R
    ) throws(E) -> R {
        let cpuStart = cctrace_thread_cpu_ns()
        let start = cctrace_now()
        defer {
            let end = cctrace_now()
            let cpuEnd = cctrace_thread_cpu_ns()
            _append(EventKind.threadCPU, 0, start, 0, cpuStart, cpuEnd, 0)
            _recordCompleteSlow(name, start: start, end: end, category: EventCategory.span, args: args)
        }
        return try body()
    }

    @usableFromInline
    static func _recordCompleteSlow(
        _ name: String, start: UInt64, end: UInt64, category: UInt8, args: TraceArguments
    ) {
        let recorder = Recorder.shared
        let id = recorder.intern(name)
        let aux = args.isEmpty ? 0 : recorder.storeArguments(ArgumentEncoder.encode(args))
        _append(EventKind.complete, EventCategory.flags(category, interned: true), UInt64(id), 0, start, end, aux)
    }
}

/// A span begun with ``CCTrace/beginSpan(_:)``; call ``end()`` once.
public struct SpanToken: Sendable {
    @usableFromInline let name: StaticString
    @usableFromInline let start: UInt64
    @usableFromInline nonisolated(unsafe) let state: UnsafeMutablePointer<cctrace_thread_state>?

    @inlinable
    init(name: StaticString, start: UInt64, state: UnsafeMutablePointer<cctrace_thread_state>?) {
        self.name = name
        self.start = start
        self.state = state
    }

    /// Ends the span.
    @inlinable
    public func end() {
        guard start != 0, cctrace_is_enabled() else { return }
        if state == cctrace_current_state() {
            CCTrace._recordComplete(name, start: start, category: EventCategory.span)
        } else {
            _endElsewhere()
        }
    }

    /// Ended on another thread than it began: an async slice (the writer also demotes spans
    /// that end out of order on one thread).
    @usableFromInline
    func _endElsewhere() {
        let id = Recorder.shared.nextAsyncID.add(1, ordering: .relaxed).oldValue
        let nameID = Recorder.shared.intern(String(describing: name))
        let flags = EventCategory.flags(EventCategory.span, interned: true)
        CCTrace._append(EventKind.asyncBegin, flags, UInt64(nameID), 0, start, id, 0)
        CCTrace._append(EventKind.asyncEnd, flags, UInt64(nameID), 0, cctrace_now(), id, 0)
    }
}

// MARK: - Autostart

/// Called by CCTraceNative's load-time constructor when `CCTRACE_OUTPUT` is set.
///
/// Children inherit the environment. So that a child that also links CCTrace does not truncate
/// the parent's file, the variable the children see is changed to `FILE.%p` (each child writes
/// `FILE.<its pid>`) unless it already holds `%p`. This runs before `main`, while the process
/// has one thread, which is what makes `setenv` safe here.
@_cdecl("cctrace_swift_autostart")
func cctraceSwiftAutostart() {
    guard CCTrace.startFromEnvironment(), let raw = getenv("CCTRACE_OUTPUT") else { return }
    ChildProcessStart.recordStart()
    let output = String(cString: raw)
    if !output.contains("%p") { setenv("CCTRACE_OUTPUT", output + ".%p", 1) }
}
