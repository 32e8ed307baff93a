#if canImport(Glibc)
    import Glibc
#endif

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

/// Raw `args` bytes of every event: where they lie in the trace file itself when it is a plain
/// file (read back on demand, through a window), else copied into blocks of 4 MiB that never
/// move. A trace of 10 M events has ~400 MB of `args`, most of which no analysis reads: keeping
/// them in memory would be a quarter of the model.
public final class TraceArgumentStore: @unchecked Sendable {
    /// Where one event's `args` object lies in the store.
    public struct Reference: Sendable, Hashable {
        /// A block index, or ``fileFlag`` | a file index.
        let source: UInt32
        let length: UInt32
        /// The offset in the block, or in the file.
        let location: UInt64
    }

    private static let blockSize = 4 << 20
    private static let fileFlag: UInt32 = 1 << 31
    private static let windowSize = 256 << 10
    private static let maxFiles = 64
    private var blocks: [UnsafeMutableBufferPointer<UInt8>] = []
    private var used = 0
    private var total = 0
    /// Files that hold arguments: a descriptor and the window last read from it.
    private struct Window {
        var fd: Int32
        var start: Int64 = -1
        var count = 0
        var bytes: UnsafeMutablePointer<UInt8>? = nil
    }
    private var files: [Window] = []
    private var lock = pthread_mutex_t()

    /// An empty store.
    public init() {
        pthread_mutex_init(&lock, nil)
    }

    deinit {
        for b in blocks { b.deallocate() }
        for f in files {
            close(f.fd)
            f.bytes?.deallocate()
        }
        pthread_mutex_destroy(&lock)
    }

    /// Registers a plain file whose bytes are the trace as read (not compressed): arguments can
    /// then be referenced where they lie in it. Nil when it cannot be opened again.
    func attach(path: String) -> UInt32? {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        // Each attached file keeps a descriptor open for the model's life: a directory of many
        // traces (a program's child processes) copies the arguments of the files past the first
        // `maxFiles` instead of running out of descriptors.
        guard files.count < Self.maxFiles else { return nil }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        files.append(Window(fd: fd))
        return UInt32(files.count - 1)
    }

    /// A reference to `length` bytes at `offset` in attached file `file`.
    func reference(file: UInt32, offset: Int64, length: Int) -> Reference {
        Reference(source: Self.fileFlag | file, length: UInt32(truncatingIfNeeded: length), location: UInt64(offset))
    }

    func append(_ slice: UnsafeBufferPointer<UInt8>) -> Reference {
        if blocks.isEmpty || used + slice.count > blocks[blocks.count - 1].count {
            // A new block (one of its own for an object larger than a block).
            blocks.append(.allocate(capacity: max(Self.blockSize, slice.count)))
            used = 0
        }
        let block = blocks[blocks.count - 1]
        if let base = slice.baseAddress, slice.count > 0 {
            (block.baseAddress! + used).update(from: base, count: slice.count)
        }
        let r = Reference(source: UInt32(blocks.count - 1), length: UInt32(slice.count), location: UInt64(used))
        used += slice.count
        total += slice.count
        return r
    }

    /// Calls `body` with the bytes of `r` (empty when a file no longer holds them).
    private func withBytes<R>(_ r: Reference, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        guard r.source & Self.fileFlag != 0 else {
            let block = blocks[Int(r.source)]
            return body(UnsafeBufferPointer(start: block.baseAddress! + Int(r.location), count: Int(r.length)))
        }
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let f = Int(r.source & ~Self.fileFlag)
        let offset = Int64(r.location)
        let length = Int(r.length)
        var w = files[f]
        if !(w.start >= 0 && offset >= w.start && offset + Int64(length) <= w.start + Int64(w.count)) {
            // Arguments are read in roughly file order: one read fills a window for the next.
            let size = max(Self.windowSize, length)
            w.bytes?.deallocate()
            w.bytes = .allocate(capacity: size)
            var got = 0
            while got < size {
                let n = pread(w.fd, w.bytes! + got, size - got, off_t(offset) + off_t(got))
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                got += n
            }
            w.start = offset
            w.count = got
            files[f] = w
        }
        let at = Int(offset - w.start)
        return body(UnsafeBufferPointer(start: w.bytes! + at, count: max(0, min(length, w.count - at))))
    }

    /// The parsed `args` object (`nil` when it is not valid JSON).
    public func value(_ reference: Reference) -> JSONValue? {
        withBytes(reference) { JSONValue.parse($0) }
    }

    /// The raw JSON text of an `args` object.
    public func text(_ reference: Reference) -> String {
        withBytes(reference) { String(decoding: $0, as: UTF8.self) }
    }

    /// Bytes held in memory.
    public var byteCount: Int { total }
}
