import CCTraceFormat
import CCTraceNative
import Synchronization

/// Watches any run loop: one slice per callback or tick, and a heartbeat whose lateness (lag)
/// becomes a counter — the two signs of a loop blocked by work that should not run on it.
///
/// What is recorded (category `cctrace.loop`), while a session records:
/// - ``callback(_:_:)``: one `X` slice named after the callback on the loop's thread, with
///   `args.loop` (the loop's name).
/// - The heartbeat (``startHeartbeat(every:schedule:)``): every `interval` it asks the loop to
///   run a tiny callback and measures how late it ran; the lateness is a counter
///   `loop lag <name>` with `args.lag_ms`, sampled at the time the heartbeat was due.
///
/// ```swift
/// let monitor = EventLoopMonitor(name: "main-loop")
/// monitor.startHeartbeat(every: .milliseconds(10)) { delay, beat in loop.schedule(after: delay, beat) }
/// loop.onEvent { event in monitor.callback("handle \(event.kind)") { handle(event) } }
/// ```
public final class EventLoopMonitor: Sendable {
    /// The loop's name in the trace.
    public let name: String
    private let argsPrefix: [UInt8]
    private let lagCounter: UInt32
    private let label: UInt32
    /// The watch slot of this loop's heartbeat (index + 1; allocated on the first beat).
    private let heartbeatSlot = Atomic<Int32>(0)
    private let running = Atomic<Bool>(false)

    /// A monitor for the loop called `name`.
    public init(name: String) {
        self.name = name
        var prefix: [UInt8] = []
        ArgumentEncoder.appendString(TraceVocabulary.Arg.loop.string, to: &prefix)
        prefix.append(0x3A)
        ArgumentEncoder.appendString(name, to: &prefix)
        argsPrefix = prefix
        lagCounter = NameTable.shared.intern(TraceVocabulary.Event.loopLagPrefix.string + name)
        label = NameTable.shared.intern(name)
    }

    /// Runs one callback (or tick) of the loop as a slice named `callbackName`.
    @discardableResult
    public func callback<R, E: Error>(_ callbackName: String, _ body: () throws(E) -> R) throws(E) -> R {
        guard cctrace_is_enabled() else { return try body() }
        let start = cctrace_now()
        cctrace_watch_begin(label, start)
        defer {
            cctrace_watch_end()
            record(callbackName, start: start, end: cctrace_now())
        }
        return try body()
    }

    /// Records a callback that ran from `start` to `end` (ticks of the recorder's clock, as from
    /// ``EventLoopMonitor/now()``) — for loops that report after the fact.
    public func record(_ callbackName: String, start: UInt64, end: UInt64) {
        guard cctrace_is_enabled() else { return }
        let recorder = Recorder.shared
        let id = recorder.intern(callbackName)
        let aux = recorder.storeArguments(argsPrefix)
        CCTrace._append(
            EventKind.complete, EventCategory.flags(EventCategory.loop, interned: true), UInt64(id), 0, start, end, aux)
    }

    /// Records a callback that ran from `start` to `end` in `CLOCK_MONOTONIC` nanoseconds.
    public func record(_ callbackName: String, startNanoseconds start: Int64, endNanoseconds end: Int64) {
        guard cctrace_is_enabled() else { return }
        let recorder = Recorder.shared
        let id = recorder.intern(callbackName)
        let aux = recorder.storeArguments(argsPrefix)
        CCTrace._append(
            EventKind.complete, EventCategory.flags(EventCategory.loop, interned: true, monotonic: true), UInt64(id), 0,
            UInt64(bitPattern: start), UInt64(bitPattern: end), aux)
    }

    /// The recorder's clock, for ``record(_:start:end:)``.
    public static func now() -> UInt64 { cctrace_now() }

    /// Starts a heartbeat: `schedule(delay, beat)` must run `beat` on the loop after `delay`.
    /// Each beat records its lag and schedules the next, until ``stopHeartbeat()``.
    public func startHeartbeat(
        every interval: Duration,
        schedule: @escaping @Sendable (Duration, @escaping @Sendable () -> Void) -> Void
    ) {
        guard !running.exchange(true, ordering: .relaxed) else { return }
        let intervalNs = interval.wholeNanoseconds
        @Sendable func arm() {
            let due = Int64(cctrace_monotonic_ns()) + intervalNs
            // The watchdog sees the beat as due from `due` until it runs (on the loop's thread,
            // which the previous beat named).
            let slot = heartbeatSlot.load(ordering: .relaxed)
            if slot > 0 {
                var tid: Int32 = 0
                var label: UInt32 = 0
                var monotonic: UInt32 = 0
                _ = cctrace_watch_read(slot - 1, &tid, &label, &monotonic)
                cctrace_watch_set(slot, tid, self.label, UInt64(due))
            }
            schedule(interval) { [self] in
                let now = Int64(cctrace_monotonic_ns())
                let lag = max(0, now - due)
                let tid = Int32(bitPattern: cctrace_current_tid())
                var slot = self.heartbeatSlot.load(ordering: .relaxed)
                if slot == 0 {
                    slot = cctrace_watch_allocate(tid)
                    self.heartbeatSlot.store(slot, ordering: .relaxed)
                }
                cctrace_watch_set(slot, tid, self.label, 0)
                self.recordLag(nanoseconds: lag, dueAt: due)
                if self.running.load(ordering: .relaxed) { arm() }
            }
        }
        arm()
    }

    /// Stops the heartbeat after its next beat.
    public func stopHeartbeat() {
        running.store(false, ordering: .relaxed)
        let slot = heartbeatSlot.load(ordering: .relaxed)
        if slot > 0 {
            var tid: Int32 = 0
            var label: UInt32 = 0
            var monotonic: UInt32 = 0
            _ = cctrace_watch_read(slot - 1, &tid, &label, &monotonic)
            cctrace_watch_set(slot, tid, self.label, 0)
        }
    }

    /// Records one lag measurement (for loops with their own heartbeat).
    public func recordLag(nanoseconds lag: Int64, dueAt: Int64) {
        guard cctrace_is_enabled() else { return }
        Recorder.shared.appendCounter(
            nameID: lagCounter, category: EventCategory.loop, key: TraceVocabulary.Arg.lagMs.text,
            value: Double(lag) / 1e6,
            monotonicNanoseconds: dueAt)
    }
}
