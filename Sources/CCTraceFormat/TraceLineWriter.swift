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
    private let storage: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    /// Bytes buffered. Touched for every byte, so it opts out of the dynamic exclusivity
    /// check a class's stored `var` pays; one writer owns the object.
    @exclusivity(unchecked) private var count = 0
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
    public func reserve(_ bytes: Int) {
        if capacity - count < bytes { flush() }
    }

    /// Hands everything buffered to the file (retrying short writes and EINTR).
    public func flush() { flush(mode: Z_SYNC_FLUSH) }

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
        /// A prefix and a decimal number, e.g. ``TraceVocabulary/Event/cpuPrefix`` and a tid.
        case numbered(StaticString, UInt64)
    }

    /// Starts an event: `{"ph":"X","cat":"…","name":"…","pid":P,"tid":T` and, when given,
    /// `,"ts":…`. The caller appends the rest (`dur`, `id`, `args`) and the closing `},\n`.
    ///
    /// The one header writer of every event cctrace writes (spans, counters, samples,
    /// metadata), so the field order and spelling are the same everywhere. Never allocates.
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
        case .numbered(let prefix, let number):
            append(0x22)
            appendASCII(prefix)
            appendUInt(number)
            append(0x22)
        }
        appendASCII(",\"pid\":")
        appendUInt(UInt64(pid))
        appendASCII(",\"tid\":")
        appendUInt(UInt64(tid))
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
    public func append(_ byte: UInt8) {
        if count == capacity { flush() }
        storage[count] = byte
        count += 1
    }

    /// Appends ASCII text verbatim (no escaping): field names and punctuation.
    public func appendASCII(_ text: StaticString) {
        appendRaw(text.utf8Start, text.utf8CodeUnitCount)
    }

    /// Appends bytes verbatim.
    public func appendRaw(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        var offset = 0
        while offset < length {
            if count == capacity { flush() }
            let n = min(length - offset, capacity - count)
            (storage + count).update(from: bytes + offset, count: n)
            count += n
            offset += n
        }
    }

    /// Appends `bytes` as the contents of a JSON string (without quotes): `"` and `\` are
    /// escaped, control characters become `\u00XX`, invalid UTF-8 becomes U+FFFD.
    public func appendEscaped(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        var i = 0
        while i < length {
            let b = bytes[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C && b < 0x80 {
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
    public func appendString(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        append(0x22)
        appendEscaped(bytes, length)
        append(0x22)
    }

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
    public func appendUInt(_ value: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch on the stack
        withUnsafeMutableBytes(of: &digits) { scratch in
            var v = value
            var n = 0
            repeat {
                scratch[23 - n] = UInt8(truncatingIfNeeded: 0x30 + v % 10)
                v /= 10
                n += 1
            } while v != 0
            appendRaw(scratch.baseAddress!.assumingMemoryBound(to: UInt8.self) + 24 - n, n)
        }
    }

    /// Appends nanoseconds as microseconds with three decimals (`1234567` → `1234.567`), the
    /// precision of the `ts`/`dur` fields, without floating point.
    public func appendMicroseconds(nanoseconds: Int64) {
        var ns = nanoseconds
        if ns < 0 {
            append(0x2D)
            ns = ns == .min ? .max : -ns
        }
        appendUInt(UInt64(ns / 1000))
        let frac = ns % 1000
        append(0x2E)
        append(UInt8(0x30 + frac / 100))
        append(UInt8(0x30 + (frac / 10) % 10))
        append(UInt8(0x30 + frac % 10))
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
