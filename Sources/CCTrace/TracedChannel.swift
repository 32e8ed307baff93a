import CCTraceFormat
import CCTraceNative

#if canImport(Glibc)
    import Glibc
#endif

/// A message channel between processes over a pair of pipes that records what IPC costs:
/// serializing, sending, receiving (including the time blocked waiting) and deserializing, as
/// separate spans with byte counts, and a flow arrow from each send to its receive — across
/// processes, since the flow id travels in the message header.
///
/// What is recorded (category `cctrace.ipc`), while a session records:
/// `serialize <channel>`, `send <channel>`, `receive <channel>` and `deserialize <channel>`
/// slices on the calling thread with `args.bytes` (payload size) and `args.channel`; `s` at the
/// send and `f` (binding to the receive slice) at the receive, with the same id.
///
/// Frames are `[UInt32 length][UInt64 flow id][payload]`, little-endian.
public final class TracedChannel: @unchecked Sendable {
    /// The channel's name in the trace.
    public let name: String
    /// The descriptor messages are read from.
    public let readFD: Int32
    /// The descriptor messages are written to.
    public let writeFD: Int32
    private let names: (serialize: UInt32, send: UInt32, receive: UInt32, deserialize: UInt32, flow: UInt32)
    /// `,"channel":"<name>"`, encoded once.
    private let channelArgument: [UInt8]

    /// A channel over descriptors this process already has (e.g. inherited from its parent).
    public init(name: String, readFD: Int32, writeFD: Int32) {
        self.name = name
        self.readFD = readFD
        self.writeFD = writeFD
        let table = NameTable.shared
        typealias Event = TraceVocabulary.Event
        names = (
            table.intern(Event.serializePrefix.string + name), table.intern(Event.sendPrefix.string + name),
            table.intern(Event.receivePrefix.string + name),
            table.intern(Event.deserializePrefix.string + name), table.intern(Event.messagePrefix.string + name)
        )
        channelArgument = IPCTrace.channelArgument(name)
    }

    /// Two pipes: a channel for this process, and the descriptors (not close-on-exec) the other
    /// process uses, to pass to a child as `TracedChannel(name:readFD:writeFD:)`.
    public static func pipePair(name: String) throws(TracedChannelError) -> (
        local: TracedChannel, remote: (readFD: Int32, writeFD: Int32)
    ) {
        var toRemote: [Int32] = [0, 0]
        var toLocal: [Int32] = [0, 0]
        guard pipe(&toRemote) == 0, pipe(&toLocal) == 0 else {
            throw TracedChannelError(operation: "pipe", errno: errno)
        }
        _ = fcntl(toLocal[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(toRemote[1], F_SETFD, FD_CLOEXEC)
        let local = TracedChannel(name: name, readFD: toLocal[0], writeFD: toRemote[1])
        return (local, (toRemote[0], toLocal[1]))
    }

    /// Closes both descriptors.
    public func close() {
        _ = Glibc.close(readFD)
        _ = Glibc.close(writeFD)
    }

    // MARK: - Sending

    /// Serializes `value` with `encode` and sends it.
    public func send<T>(_ value: T, encode: (T) throws -> [UInt8]) throws {
        let start = cctrace_now()
        let bytes = try encode(value)
        record(names.serialize, start: start, bytes: bytes.count)
        try send(bytes)
    }

    /// Sends one message.
    public func send(_ payload: [UInt8]) throws(TracedChannelError) {
        let start = cctrace_now()
        let recording = cctrace_is_enabled()
        let flow = recording ? Self.newFlowID() : 0
        var frame = [UInt8]()
        frame.reserveCapacity(12 + payload.count)
        withUnsafeBytes(of: UInt32(payload.count).littleEndian) { frame.append(contentsOf: $0) }
        withUnsafeBytes(of: flow.littleEndian) { frame.append(contentsOf: $0) }
        frame.append(contentsOf: payload)
        let written: TracedChannelError? = frame.withUnsafeBytes { p in
            do throws(TracedChannelError) {
                try writeAll(p)
                return nil
            } catch {
                return error
            }
        }
        if let written { throw written }
        if recording {
            record(names.send, start: start, bytes: payload.count)
            CCTrace._append(
                EventKind.flowStart, EventCategory.flags(EventCategory.ipc, interned: true), UInt64(names.flow), 0,
                start, flow, 0)
        }
    }

    // MARK: - Receiving

    /// Receives one message and deserializes it with `decode`; `nil` at the end of the stream.
    public func receive<T>(decode: ([UInt8]) throws -> T) throws -> T? {
        guard let bytes = try receive() else { return nil }
        let start = cctrace_now()
        let value = try decode(bytes)
        record(names.deserialize, start: start, bytes: bytes.count)
        return value
    }

    /// Receives one message; `nil` when the other side closed the channel.
    public func receive() throws(TracedChannelError) -> [UInt8]? {
        let start = cctrace_now()
        var header = [UInt8](repeating: 0, count: 12)
        guard try readAll(&header) else { return nil }
        let arrived = cctrace_now()
        let length = header.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) }
        let flow = header.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt64.self)) }
        var payload = [UInt8](repeating: 0, count: Int(length))
        guard try readAll(&payload) else { throw TracedChannelError(operation: "read (message cut off)", errno: 0) }
        if cctrace_is_enabled() {
            record(names.receive, start: start, bytes: payload.count)
            if flow != 0 {
                // The arrow ends when the message arrived (inside the receive slice, which began
                // when this thread started waiting for it).
                CCTrace._append(
                    EventKind.flowEnd, EventCategory.flags(EventCategory.ipc, interned: true), UInt64(names.flow), 0,
                    arrived, flow, 0)
            }
        }
        return payload
    }

    // MARK: - Internals

    /// Flow ids unique across processes: the pid in the high half.
    static func newFlowID() -> UInt64 {
        (UInt64(UInt32(bitPattern: getpid())) << 32)
            | (Recorder.shared.nextAsyncID.add(1, ordering: .relaxed).oldValue
                & 0xFFFF_FFFF)
    }

    private func record(_ nameID: UInt32, start: UInt64, bytes: Int) {
        IPCTrace.recordSpan(nameID: nameID, channelArgument: channelArgument, start: start, bytes: bytes)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(TracedChannelError) {
        var offset = 0
        while offset < bytes.count {
            let n = write(writeFD, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw TracedChannelError(operation: "write", errno: errno)
            }
            offset += n
        }
    }

    /// Fills `buffer`; false on a clean end of stream before the first byte.
    private func readAll(_ buffer: inout [UInt8]) throws(TracedChannelError) -> Bool {
        var offset = 0
        let count = buffer.count
        while offset < count {
            let n = buffer.withUnsafeMutableBytes { read(readFD, $0.baseAddress! + offset, count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TracedChannelError(operation: "read", errno: errno)
            }
            if n == 0 {
                if offset == 0 { return false }
                throw TracedChannelError(operation: "read (message cut off)", errno: 0)
            }
            offset += n
        }
        return true
    }
}

/// A channel operation failed.
public struct TracedChannelError: Error, CustomStringConvertible, Sendable {
    /// What was being done.
    public var operation: String
    /// The error number (0 when not from the system).
    public var errno: Int32

    public var description: String {
        errno == 0 ? "channel \(operation)" : "channel \(operation): \(String(cString: strerror(errno)))"
    }
}
