import CCTraceNative

/// What the swift-distributed-tracing backend (`CCTraceTracing`) records through: spans as
/// async slices written when they end, with their args; flows between processes with explicit
/// ids; instants with args. Package-internal: apps use `CCTraceTracer`.
package enum TracingHooks {
    /// Whether a session is recording.
    @inline(__always)
    package static var isRecording: Bool { cctrace_is_enabled() }

    /// The recorder's clock (ticks), for a span's begin and end.
    @inline(__always)
    package static func now() -> UInt64 { cctrace_now() }

    /// The calling thread's id (what the trace's `tid` says), cached per thread.
    @inline(__always)
    package static func threadID() -> Int { Int(cctrace_current_tid()) }

    /// Appends `s` as a JSON string (quoted, escaped) to `out`.
    package static func appendJSONString(_ s: String, to out: inout [UInt8]) {
        ArgumentEncoder.appendString(s, to: &out)
    }

    /// One span (`b` at `begin`, `e` at `end`, ticks) named `name` on async track `id`, with
    /// `args` (the members of a JSON object, already encoded) on its begin event.
    package static func span(name: String, begin: UInt64, end: UInt64, id: UInt64, args: [UInt8]) {
        guard cctrace_is_enabled() else { return }
        let recorder = Recorder.shared
        let nameID = recorder.intern(name)
        let aux = args.isEmpty ? 0 : recorder.storeArguments(args)
        let flags = EventCategory.flags(EventCategory.tracing, interned: true)
        CCTrace._append(EventKind.asyncBegin, flags, UInt64(nameID), 0, begin, id, aux)
        CCTrace._append(EventKind.asyncEnd, flags, UInt64(nameID), 0, max(end, begin), id, 0)
    }

    /// The start (`end == false`) or end of flow `id` on the calling thread, now.
    package static func flow(_ name: String, id: UInt64, end: Bool) {
        guard cctrace_is_enabled() else { return }
        let nameID = Recorder.shared.intern(name)
        let flags = EventCategory.flags(EventCategory.tracing, interned: true)
        CCTrace._append(end ? EventKind.flowEnd : EventKind.flowStart, flags, UInt64(nameID), 0, cctrace_now(), id, 0)
    }

    /// An instant on the calling thread, now, with `args`.
    package static func instant(_ name: String, args: [(key: String, value: TraceArgument)]) {
        guard cctrace_is_enabled() else { return }
        let recorder = Recorder.shared
        let aux = args.isEmpty ? 0 : recorder.storeArguments(ArgumentEncoder.encode(args))
        let id = recorder.intern(name)
        CCTrace._append(
            EventKind.instant, EventCategory.flags(EventCategory.tracing, interned: true), UInt64(id), 0, cctrace_now(),
            0, aux)
    }
}
