/// One event as the file states it, before any matching or sorting.
///
/// Strings are kept as read; numbers are normalized (`ts`/`dur` in nanoseconds whether the file
/// wrote integers, decimals, exponents or numeric strings). `args` stay as raw JSON bytes in the
/// reader's ``TraceArgumentStore`` and are parsed only when asked for.
public struct RawTraceEvent: Sendable {
    /// The `ph` character (`X`, `B`, `E`, `b`, …); 0 when missing.
    public var phase: UInt8
    /// `name`.
    public var name: String
    /// `cat`.
    public var category: String
    /// `ts`, when present.
    public var timestamp: TraceTimestamp?
    /// `dur`, when present.
    public var duration: TraceDuration?
    /// `tdur` (thread CPU time of an `X`), when present.
    public var threadDuration: TraceDuration?
    /// `pid`: numbers as given; strings mapped to stable synthetic ids (see ``TraceReader``).
    public var pid: Int64
    /// `tid`, mapped like `pid`.
    public var tid: Int64
    /// `id`, `id2.local`/`id2.global` or `bind_id`, as text (ids may be numbers or hex strings).
    public var id: String?
    /// `s` (instant scope) or `bp` (flow binding point).
    public var scope: UInt8
    /// `bp` of a flow event (`e` = enclosing slice).
    public var bindingPoint: UInt8
    /// `sf`: the id of the event's stack frame in `stackFrames` (samples and slices may carry it).
    public var stackFrame: String?
    /// v2 flow fields on a slice: `flow_in` / `flow_out`.
    public var flowIn: Bool
    /// See ``flowIn``.
    public var flowOut: Bool
    /// The `args` object's location in the argument store; `nil` when absent.
    public var args: TraceArgumentStore.Reference?
    /// The parsed `args` of metadata (`M`) and counter (`C`) events, which every consumer needs;
    /// parsed by the reader so consumers need not touch the store while it is being written.
    public var parsedArgs: JSONValue?
    /// Byte offset of the event in the input.
    public var byteOffset: Int64

    /// An empty event at `byteOffset`.
    public init(byteOffset: Int64) {
        phase = 0
        name = ""
        category = ""
        timestamp = nil
        duration = nil
        threadDuration = nil
        pid = 0
        tid = 0
        id = nil
        scope = 0
        bindingPoint = 0
        stackFrame = nil
        flowIn = false
        flowOut = false
        args = nil
        parsedArgs = nil
        self.byteOffset = byteOffset
    }
}

/// Raw `args` bytes of every event, in one growing buffer.
public final class TraceArgumentStore: @unchecked Sendable {
    /// Where one event's `args` object lies in the store.
    public struct Reference: Sendable, Hashable {
        let offset: Int
        let length: Int
    }

    private var bytes: [UInt8] = []

    /// An empty store.
    public init() {}

    func append(_ slice: UnsafeBufferPointer<UInt8>) -> Reference {
        let r = Reference(offset: bytes.count, length: slice.count)
        bytes.append(contentsOf: slice)
        return r
    }

    /// The parsed `args` object (`nil` when it is not valid JSON).
    public func value(_ reference: Reference) -> JSONValue? {
        bytes.withUnsafeBufferPointer { all in
            JSONValue.parse(UnsafeBufferPointer(rebasing: all[reference.offset..<reference.offset + reference.length]))
        }
    }

    /// The raw JSON text of an `args` object.
    public func text(_ reference: Reference) -> String {
        String(decoding: bytes[reference.offset..<reference.offset + reference.length], as: UTF8.self)
    }

    /// Bytes held.
    public var byteCount: Int { bytes.count }
}
