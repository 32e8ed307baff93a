import CZlib

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A preallocated byte buffer that formats trace events as JSON and writes them to a file
/// descriptor, one event per line, in the crash-tolerant array form.
///
/// Formatting never allocates, so the recorder can use it from its background writer and, in
/// the last resort, from a fatal-signal handler. The file starts with `[` and a newline; each
/// event is one line ending in `,`; the last event is written without the comma, then
/// ``endArray()``. A file cut off at any point is a prefix that Perfetto and cctrace import.
///
/// - Important: Not thread-safe; one writer owns it.
public final class TraceLineWriter {
    /// The file descriptor events are written to.
    public let fileDescriptor: Int32
    @usableFromInline let storage: UnsafeMutablePointer<UInt8>
    @usableFromInline let capacity: Int
    /// Bytes buffered. Touched for every byte, so it opts out of the dynamic exclusivity
    /// check a class's stored `var` pays; one writer owns the object.
    @exclusivity(unchecked) @usableFromInline var count = 0
    /// The last `,"pid":…,"tid":…` written, and whose it was.
    @usableFromInline let cachedIDs = UnsafeMutablePointer<UInt8>.allocate(capacity: 64)
    /// The digits of the last timestamp above its last four (see ``appendMicroseconds(nanoseconds:)``).
    @usableFromInline let cachedHighDigits = UnsafeMutablePointer<UInt8>.allocate(capacity: 24)
    @exclusivity(unchecked) @usableFromInline var cachedHighLength = 0
    @exclusivity(unchecked) @usableFromInline var cachedHigh: UInt64 = 0
    /// Addresses (and lengths) of immortal names seen to need no escaping, direct-mapped.
    @usableFromInline let cleanAddresses: UnsafeMutablePointer<UInt> = {
        let p = UnsafeMutablePointer<UInt>.allocate(capacity: 256)
        p.initialize(repeating: 0, count: 256)
        return p
    }()
    @usableFromInline let cleanLengths: UnsafeMutablePointer<Int> = {
        let p = UnsafeMutablePointer<Int>.allocate(capacity: 256)
        p.initialize(repeating: -1, count: 256)
        return p
    }()
    @exclusivity(unchecked) @usableFromInline var cachedIDsLength = 0
    @exclusivity(unchecked) @usableFromInline var cachedPid: UInt32 = 0
    @exclusivity(unchecked) @usableFromInline var cachedTid: UInt32 = 0
    /// Bytes handed to the file so far.
    public private(set) var bytesWritten = 0
    /// Bytes handed to the file and buffered: the file's size once flushed.
    public var bytesAppended: Int { bytesWritten + count }
    /// The first write error (`errno`), if any. Writing stops after an error.
    public private(set) var writeError: Int32 = 0

    /// Bytes the file holds (compressed when writing gzip).
    public private(set) var fileBytes = 0
    /// The gzip stream and its output buffer, when writing gzip.
    private var stream: UnsafeMutablePointer<z_stream>?
    private var compressed: UnsafeMutablePointer<UInt8>?
    private let compressedCapacity = 256 << 10

    /// A writer over an open file descriptor. It does not close the descriptor. With `gzip`,
    /// the file is a gzip stream: every ``flush()`` ends with a sync point, so a file cut off
    /// (a crash, SIGKILL) decompresses up to the last flush; ``finish()`` ends the stream.
    public init(fileDescriptor: Int32, bufferSize: Int = 1 << 20, gzip: Bool = false) {
        self.fileDescriptor = fileDescriptor
        self.capacity = max(bufferSize, 4096)
        self.storage = .allocate(capacity: capacity)
        if gzip {
            let s = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
            s.initialize(to: z_stream())
            // Level 1: the writer must keep up with the program; 15 + 16: a gzip wrapper.
            if deflateInit2_(
                s, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
                == Z_OK
            {
                stream = s
                compressed = .allocate(capacity: compressedCapacity)
            } else {
                s.deallocate()
            }
        }
    }

    deinit {
        storage.deallocate()
        cachedIDs.deallocate()
        cachedHighDigits.deallocate()
        cleanAddresses.deallocate()
        cleanLengths.deallocate()
        if let stream {
            deflateEnd(stream)
            stream.deallocate()
        }
        compressed?.deallocate()
    }

    /// Ends a gzip stream (after the last event); nothing for plain files.
    public func finish() {
        flush(mode: Z_FINISH)
        if let stream {
            deflateEnd(stream)
            stream.deallocate()
            self.stream = nil
        }
    }

    /// Where flushed bytes go instead of the file (a flight recorder's ring), when set.
    public var redirect: ((UnsafePointer<UInt8>, Int) -> Void)?

    /// Writes `length` bytes at `bytes` to the file, retrying short writes and EINTR.
    private func writeAll(_ bytes: UnsafePointer<UInt8>, _ length: Int) -> Int {
        if let redirect {
            redirect(bytes, length)
            return length
        }
        var offset = 0
        while offset < length && writeError == 0 {
            let n = Glibc.write(fileDescriptor, bytes + offset, length - offset)
            if n < 0 {
                if errno == EINTR { continue }
                writeError = errno
                break
            }
            offset += n
        }
        fileBytes += offset
        return offset
    }

    // MARK: - Framing

    /// Writes the opening `[` of the array form.
    public func beginArray() {
        appendASCII("[\n")
    }

    /// Writes the closing `]`; the event before it must have been written without a comma.
    public func endArray() {
        appendASCII("]\n")
    }

    /// Makes sure at least `bytes` can be appended without a flush in between.
    @inline(__always)
    @inlinable
    public func reserve(_ bytes: Int) {
        if capacity - count < bytes { flushFull() }
    }

    /// Hands everything buffered to the file (retrying short writes and EINTR).
    public func flush() { flush(mode: Z_SYNC_FLUSH) }

    /// The flush of a full buffer, kept out of line: inlined into the append paths, its stored
    /// properties' exclusivity checks would be paid on every append rather than once per
    /// buffer (measured: half of the writer's time).
    @inline(never) @usableFromInline
    func flushFull() { flush(mode: Z_SYNC_FLUSH) }

    private func flush(mode: Int32) {
        guard let stream, let compressed else {
            bytesWritten += writeAll(storage, count)
            count = 0
            return
        }
        stream.pointee.next_in = storage
        stream.pointee.avail_in = UInt32(count)
        while true {
            stream.pointee.next_out = compressed
            stream.pointee.avail_out = UInt32(compressedCapacity)
            let status = deflate(stream, mode)
            let produced = compressedCapacity - Int(stream.pointee.avail_out)
            if produced > 0 { _ = writeAll(compressed, produced) }
            if status == Z_STREAM_END || (status < 0 && status != Z_BUF_ERROR) { break }
            if stream.pointee.avail_in == 0 && stream.pointee.avail_out != 0 && mode != Z_FINISH { break }
            if status == Z_BUF_ERROR && produced == 0 { break }
        }
        bytesWritten += count
        count = 0
    }

    // MARK: - Event header

    /// The `name` of an event being written: static text, bytes held elsewhere (interned
    /// names), or static text followed by a number (`cpu 1234`).
    public enum EventName {
        /// A name known at compile time (from ``TraceVocabulary`` or a literal).
        case text(StaticString)
        /// UTF-8 bytes (escaped as they are written).
        case bytes(UnsafePointer<UInt8>, Int)
        /// UTF-8 bytes that never change while the process lives (a `StaticString`, an
        /// interned name): whether they need escaping is checked once, not per event.
        case immortal(UnsafePointer<UInt8>, Int)
        /// A prefix and a decimal number, e.g. ``TraceVocabulary/Event/cpuPrefix`` and a tid.
        case numbered(StaticString, UInt64)
    }

    /// Starts an event: `{"ph":"X","cat":"…","name":"…","pid":P,"tid":T` and, when given,
    /// `,"ts":…`. The caller appends the rest (`dur`, `id`, `args`) and the closing `},\n`.
    ///
    /// The one header writer of every event cctrace writes (spans, counters, samples,
    /// metadata), so the field order and spelling are the same everywhere. Never allocates.
    @inlinable
    public func appendEventHeader(
        phase: StaticString, scope: StaticString? = nil, category: StaticString?, name: EventName, pid: UInt32,
        tid: UInt32, nanoseconds: Int64?
    ) {
        appendASCII("{\"ph\":\"")
        appendASCII(phase)
        if let scope {
            appendASCII("\",\"s\":\"")
            appendASCII(scope)
        }
        if let category {
            appendASCII("\",\"cat\":\"")
            appendASCII(category)
        }
        appendASCII("\",\"name\":")
        switch name {
        case .text(let text):
            append(0x22)
            appendASCII(text)
            append(0x22)
        case .bytes(let bytes, let length):
            appendString(bytes, length)
        case .immortal(let bytes, let length):
            appendImmortalString(bytes, length)
        case .numbered(let prefix, let number):
            append(0x22)
            appendASCII(prefix)
            appendUInt(number)
            append(0x22)
        }
        // `,"pid":P,"tid":T` repeats for every event of a thread: formatted once per change of
        // thread and copied.
        if pid != cachedPid || tid != cachedTid || cachedIDsLength == 0 {
            reserve(64)  // so the bytes below stay together in the buffer
            let start = count
            appendASCII(",\"pid\":")
            appendUInt(UInt64(pid))
            appendASCII(",\"tid\":")
            appendUInt(UInt64(tid))
            cachedIDsLength = count - start  // at most 34 bytes: two 10-digit numbers and the keys
            cachedIDs.update(from: storage + start, count: cachedIDsLength)
            cachedPid = pid
            cachedTid = tid
        } else {
            appendRaw(cachedIDs, cachedIDsLength)
        }
        if let nanoseconds {
            appendASCII(",\"ts\":")
            appendMicroseconds(nanoseconds: nanoseconds)
        }
    }

    /// `,"args":{"<key>":` — opens `args` with its first member's key; the caller appends the
    /// value, further members and `}`.
    public func appendFirstArgument(_ key: DialectName) {
        appendASCII(",\"args\":{\"")
        appendASCII(key.text)
        appendASCII("\":")
    }

    /// `,"<key>":` — a further member of `args`.
    public func appendArgumentKey(_ key: DialectName) {
        appendASCII(",\"")
        appendASCII(key.text)
        appendASCII("\":")
    }

    // MARK: - Bytes

    /// Appends one byte.
    @inline(__always)
    @inlinable
    public func append(_ byte: UInt8) {
        if count == capacity { flushFull() }
        storage[count] = byte
        count += 1
    }

    /// Appends ASCII text verbatim (no escaping): field names and punctuation.
    @inlinable
    public func appendASCII(_ text: StaticString) {
        appendRaw(text.utf8Start, text.utf8CodeUnitCount)
    }

    /// Appends bytes verbatim.
    @inlinable
    public func appendRaw(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        if length <= capacity - count {
            // The common case: it fits. Short runs (field names, punctuation) are copied by
            // hand; a call to memmove costs more than the copy.
            let to = storage + count
            if length <= 16 {
                for i in 0..<length { to[i] = bytes[i] }
            } else {
                to.update(from: bytes, count: length)
            }
            count += length
            return
        }
        appendRawSlow(bytes, length)
    }

    /// `appendRaw` across a buffer boundary (out of line: rare).
    @inline(never) @usableFromInline
    func appendRawSlow(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        var offset = 0
        while offset < length {
            if count == capacity { flushFull() }
            let n = min(length - offset, capacity - count)
            (storage + count).update(from: bytes + offset, count: n)
            count += n
            offset += n
        }
    }

    /// Appends `bytes` as the contents of a JSON string (without quotes): `"` and `\` are
    /// escaped, control characters become `\u00XX`, invalid UTF-8 becomes U+FFFD.
    public func appendEscaped(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        // Most names need no escaping: find the first byte that does and copy the run before it
        // at once.
        var clean = 0
        while clean < length, Self.isPlain(bytes[clean]) { clean += 1 }
        appendRaw(bytes, clean)
        var i = clean
        while i < length {
            let b = bytes[i]
            if Self.isPlain(b) {
                append(b)
                i += 1
                continue
            }
            if b < 0x80 {
                switch b {
                case 0x22: appendASCII("\\\"")
                case 0x5C: appendASCII("\\\\")
                case 0x0A: appendASCII("\\n")
                case 0x0D: appendASCII("\\r")
                case 0x09: appendASCII("\\t")
                default:
                    appendASCII("\\u00")
                    append(Self.hexDigit(b >> 4))
                    append(Self.hexDigit(b & 0xF))
                }
                i += 1
                continue
            }
            let n = Self.validUTF8Length(bytes + i, length - i)
            if n == 0 {
                appendASCII("\u{FFFD}")
                i += 1
            } else {
                appendRaw(bytes + i, n)
                i += n
            }
        }
    }

    /// Appends a quoted, escaped JSON string.
    @inlinable
    public func appendString(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        append(0x22)
        appendEscaped(bytes, length)
        append(0x22)
    }

    /// `appendString` for bytes that never change: a direct-mapped cache of the addresses
    /// known to need no escaping turns the scan into one compare.
    @inlinable
    public func appendImmortalString(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        let address = UInt(bitPattern: bytes)
        let slot = Int(truncatingIfNeeded: (address >> 3) ^ (address >> 11)) & 255
        if cleanAddresses[slot] == address && cleanLengths[slot] == length && length + 2 <= capacity - count {
            storage[count] = 0x22
            (storage + count + 1).update(from: bytes, count: length)
            storage[count + length + 1] = 0x22
            count += length + 2
            return
        }
        appendString(bytes, length)
        if Self.needsNoEscaping(bytes, length) {
            cleanAddresses[slot] = address
            cleanLengths[slot] = length
        }
    }

    @usableFromInline
    static func needsNoEscaping(_ bytes: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        (0..<length).allSatisfy { isPlain(bytes[$0]) }
    }

    /// A byte a JSON string holds as it is: printable ASCII other than `"` and `\`.
    @usableFromInline @inline(__always)
    static func isPlain(_ b: UInt8) -> Bool { b >= 0x20 && b != 0x22 && b != 0x5C && b < 0x80 }

    /// Appends a quoted, escaped JSON string from a `String` (may not allocate for native
    /// strings; used off the hot path).
    public func appendString(_ string: String) {
        var s = string
        s.withUTF8 { appendString($0.baseAddress ?? UnsafePointer(storage), $0.count) }
    }

    // MARK: - Numbers

    /// Appends a decimal integer.
    /// A JSON array of strings: `["a","b"]`.
    public func appendStringArray(_ strings: [String]) {
        append(0x5B)
        for (i, string) in strings.enumerated() {
            if i > 0 { append(0x2C) }
            appendString(string)
        }
        append(0x5D)
    }

    public func appendInt(_ value: Int64) {
        if value < 0 {
            append(0x2D)
            appendUInt(value == .min ? UInt64(Int64.max) + 1 : UInt64(-value))
        } else {
            appendUInt(UInt64(value))
        }
    }

    /// Appends a decimal unsigned integer.
    @inlinable
    public func appendUInt(_ value: UInt64) {
        // Written in place, two digits at a time from a table, after one check for room.
        if capacity - count < 20 { flushFull() }
        var n = 1
        var bound: UInt64 = 10
        while n < 20 && value >= bound {
            n += 1
            bound = bound &* 10
        }
        let pairs = Self.digitPairs.utf8Start
        var v = value
        var at = storage + count + n
        while v >= 100 {
            let r = Int(v % 100) * 2
            v /= 100
            at -= 2
            at[0] = pairs[r]
            at[1] = pairs[r + 1]
        }
        if v >= 10 {
            at[-2] = pairs[Int(v) * 2]
            at[-1] = pairs[Int(v) * 2 + 1]
        } else {
            at[-1] = UInt8(truncatingIfNeeded: 0x30 + v)
        }
        count += n
    }

    /// "00" "01" … "99": a static string, so reading it needs no lazy initialization.
    @usableFromInline static var digitPairs: StaticString {
        // swift-format-ignore
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
    }

    /// Appends nanoseconds as microseconds with three decimals (`1234567` → `1234.567`), the
    /// precision of the `ts`/`dur` fields, without floating point.
    @inlinable
    public func appendMicroseconds(nanoseconds: Int64) {
        var ns = nanoseconds
        if ns < 0 {
            append(0x2D)
            ns = ns == .min ? .max : -ns
        }
        let micros = UInt64(ns / 1000)
        let frac = Int(ns % 1000)
        if capacity - count < 32 { flushFull() }
        if micros >= 10_000 {
            // Timestamps of one trace share their leading digits (they move by ~10 µs a line):
            // those above the last four are formatted once per change and copied.
            let high = micros / 10_000
            if high != cachedHigh || cachedHighLength == 0 {
                let start = count
                appendUInt(high)  // fits: room for 32 bytes was made above
                cachedHighLength = count - start
                cachedHighDigits.update(from: storage + start, count: cachedHighLength)
                cachedHigh = high
            } else {
                (storage + count).update(from: cachedHighDigits, count: cachedHighLength)
                count += cachedHighLength
            }
            let low = Int(micros % 10_000)
            let pairs = Self.digitPairs.utf8Start
            storage[count] = pairs[(low / 100) * 2]
            storage[count + 1] = pairs[(low / 100) * 2 + 1]
            storage[count + 2] = pairs[(low % 100) * 2]
            storage[count + 3] = pairs[(low % 100) * 2 + 1]
            count += 4
        } else {
            appendUInt(micros)
        }
        storage[count] = 0x2E
        storage[count + 1] = UInt8(truncatingIfNeeded: 0x30 + frac / 100)
        storage[count + 2] = UInt8(truncatingIfNeeded: 0x30 + (frac / 10) % 10)
        storage[count + 3] = UInt8(truncatingIfNeeded: 0x30 + frac % 10)
        count += 4
    }

    /// Appends a finite number with up to three decimals; non-finite values become 0.
    public func appendNumber(_ value: Double) {
        guard value.isFinite, abs(value) < 9e15 else {
            append(0x30)
            return
        }
        let milli = Int64((value * 1000).rounded())
        if milli % 1000 == 0 {
            appendInt(milli / 1000)
        } else {
            appendMicroseconds(nanoseconds: milli)
        }
    }

    // MARK: - Helpers

    @inline(__always)
    private static func hexDigit(_ v: UInt8) -> UInt8 {
        v < 10 ? 0x30 + v : 0x61 + v - 10
    }

    /// The length of the valid UTF-8 sequence starting at `p`, or 0 when it is not valid.
    private static func validUTF8Length(_ p: UnsafePointer<UInt8>, _ available: Int) -> Int {
        let b = p[0]
        let n: Int
        if b & 0xE0 == 0xC0 {
            n = 2
            if b < 0xC2 { return 0 }
        } else if b & 0xF0 == 0xE0 {
            n = 3
        } else if b & 0xF8 == 0xF0 {
            n = 4
            if b > 0xF4 { return 0 }
        } else {
            return 0
        }
        if available < n { return 0 }
        for k in 1..<n where p[k] & 0xC0 != 0x80 { return 0 }
        if n == 3 {
            let cp = (UInt32(b & 0x0F) << 12) | (UInt32(p[1] & 0x3F) << 6)
            if cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF) { return 0 }
        } else if n == 4 {
            let cp = (UInt32(b & 0x07) << 18) | (UInt32(p[1] & 0x3F) << 12)
            if cp < 0x10000 || cp > 0x10FFFF { return 0 }
        }
        return n
    }
}
