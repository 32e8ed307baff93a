import CCTraceFormat
import CCTraceNative

/// Records IPC for apps that move messages their own way (sockets, shared memory, a queue
/// service): the same events ``TracedChannel`` writes, so the report treats both alike.
///
/// Carry the id ``send(channel:bytes:_:)`` returns inside the message, and hand it to
/// ``receive(channel:bytes:flowID:waitingSince:)`` on the other side:
///
/// ```swift
/// let payload = IPCTrace.serialize(channel: "jobs") { try encoder.encode(job) }
/// let id = try IPCTrace.send(channel: "jobs", bytes: payload.count) { flow in
///     try socket.write(header(flow) + payload)
/// }
/// ```
public enum IPCTrace {
    /// Runs `encode` as a `serialize <channel>` span and records the size of what it returns.
    public static func serialize<E: Error>(
        channel: String, _ encode: () throws(E) -> [UInt8]
    ) throws(E) -> [UInt8] {
        let start = cctrace_now()
        let bytes = try encode()
        record(TraceVocabulary.Event.serializePrefix, channel: channel, start: start, bytes: bytes.count)
        return bytes
    }

    /// Runs `body` (which writes the message) as a `send <channel>` span with a flow start;
    /// `body` gets the flow id to put in the message, which is also returned. The id is 0 when
    /// no session records.
    @discardableResult
    public static func send<E: Error>(
        channel: String, bytes: Int, _ body: (UInt64) throws(E) -> Void
    ) throws(E) -> UInt64 {
        guard cctrace_is_enabled() else {
            try body(0)
            return 0
        }
        let start = cctrace_now()
        let flow = TracedChannel.newFlowID()
        try body(flow)
        record(TraceVocabulary.Event.sendPrefix, channel: channel, start: start, bytes: bytes)
        let flags = EventCategory.flags(EventCategory.ipc, interned: true)
        CCTrace._append(
            EventKind.flowStart, flags,
            UInt64(Recorder.shared.intern(TraceVocabulary.Event.messagePrefix.string + channel)), 0, start, flow, 0)
        return flow
    }

    /// The recorder's clock, to pass as `waitingSince` when a receive began.
    public static func now() -> UInt64 { cctrace_now() }

    /// Records a received message: a `receive <channel>` span from `waitingSince` (from
    /// ``now()``, when the thread started waiting) to now, and the end of the sender's flow.
    public static func receive(channel: String, bytes: Int, flowID: UInt64, waitingSince start: UInt64) {
        guard cctrace_is_enabled() else { return }
        let arrived = cctrace_now()
        record(TraceVocabulary.Event.receivePrefix, channel: channel, start: start, bytes: bytes)
        if flowID != 0 {
            let flags = EventCategory.flags(EventCategory.ipc, interned: true)
            CCTrace._append(
                EventKind.flowEnd, flags,
                UInt64(Recorder.shared.intern(TraceVocabulary.Event.messagePrefix.string + channel)), 0, arrived,
                flowID, 0)
        }
    }

    /// Runs `decode` as a `deserialize <channel>` span.
    public static func deserialize<T, E: Error>(
        channel: String, bytes: Int, _ decode: () throws(E) -> T
    ) throws(E) -> T {
        let start = cctrace_now()
        let value = try decode()
        record(TraceVocabulary.Event.deserializePrefix, channel: channel, start: start, bytes: bytes)
        return value
    }

    private static func record(_ what: DialectName, channel: String, start: UInt64, bytes: Int) {
        guard cctrace_is_enabled() else { return }
        recordSpan(
            nameID: Recorder.shared.intern(what.string + channel), channelArgument: channelArgument(channel),
            start: start, bytes: bytes)
    }

    /// `,"channel":"<name>"`, the `args` tail of every IPC span.
    static func channelArgument(_ channel: String) -> [UInt8] {
        var suffix = Array(",".utf8)
        ArgumentEncoder.appendString(TraceVocabulary.Arg.channel.string, to: &suffix)
        suffix.append(0x3A)
        ArgumentEncoder.appendString(channel, to: &suffix)
        return suffix
    }

    private static let bytesKey = Array("\"\(TraceVocabulary.Arg.bytes)\":".utf8)

    /// One IPC span from `start` to now with `args` `bytes` and `channel` (no allocation).
    static func recordSpan(nameID: UInt32, channelArgument: [UInt8], start: UInt64, bytes: Int) {
        guard cctrace_is_enabled() else { return }
        let aux = bytesKey.withUnsafeBufferPointer { key in
            channelArgument.withUnsafeBufferPointer { suffix in
                Recorder.shared.storeArguments(prefix: key, number: bytes, suffix: suffix)
            }
        }
        CCTrace._append(
            EventKind.complete, EventCategory.flags(EventCategory.ipc, interned: true), UInt64(nameID), 0, start,
            cctrace_now(), aux)
    }
}
