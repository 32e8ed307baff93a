import CZlib

#if canImport(Glibc)
    import Glibc
#endif

/// Where a ``TraceReader`` gets its bytes: a file, standard input, memory, or any of those
/// through gzip.
protocol TraceByteSource: AnyObject {
    /// Reads up to `capacity` bytes into `buffer`; 0 means the end.
    func read(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) throws(TraceReadError) -> Int
    /// A problem the source noticed that is not an error (e.g. a gzip stream cut short).
    var notice: String? { get }
}

/// A file descriptor.
final class FileByteSource: TraceByteSource {
    private let fd: Int32
    private let owns: Bool
    private let path: String
    var notice: String? { nil }

    init(fd: Int32, owns: Bool, path: String) {
        self.fd = fd
        self.owns = owns
        self.path = path
    }

    deinit {
        if owns { close(fd) }
    }

    func read(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) throws(TraceReadError) -> Int {
        while true {
            let n = Glibc.read(fd, buffer, capacity)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw TraceReadError(path: path, byteOffset: -1, line: 0, reason: String(cString: strerror(errno)))
        }
    }
}

/// Bytes in memory (used for fuzzing and tests).
final class MemoryByteSource: TraceByteSource {
    private let bytes: [UInt8]
    private var offset = 0
    var notice: String? { nil }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) throws(TraceReadError) -> Int {
        let n = min(capacity, bytes.count - offset)
        bytes.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress! + offset, count: n) }
        offset += n
        return n
    }
}

/// Replays bytes already read (to sniff the format), then continues with the source.
final class PrefixedByteSource: TraceByteSource {
    private var prefix: [UInt8]
    private let rest: TraceByteSource
    var notice: String? { rest.notice }

    init(prefix: [UInt8], rest: TraceByteSource) {
        self.prefix = prefix
        self.rest = rest
    }

    func read(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) throws(TraceReadError) -> Int {
        if prefix.isEmpty { return try rest.read(into: buffer, capacity: capacity) }
        let n = min(capacity, prefix.count)
        prefix.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: n) }
        prefix.removeFirst(n)
        return n
    }
}

/// Inflates gzip (or zlib) data, including several concatenated gzip members.
final class GzipByteSource: TraceByteSource {
    private let source: TraceByteSource
    private let path: String
    private var stream = z_stream()
    private let input: UnsafeMutablePointer<UInt8>
    private let inputCapacity = 1 << 20
    private var inputEnded = false
    private var finished = false
    private var compressedOffset: Int64 = 0
    private(set) var notice: String?

    init(source: TraceByteSource, path: String) throws(TraceReadError) {
        self.source = source
        self.path = path
        input = .allocate(capacity: inputCapacity)
        // 15 window bits + 32: accept gzip or zlib headers.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            input.deallocate()
            throw TraceReadError(path: path, byteOffset: 0, line: 0, reason: "cannot initialize zlib")
        }
    }

    deinit {
        inflateEnd(&stream)
        input.deallocate()
    }

    func read(into buffer: UnsafeMutablePointer<UInt8>, capacity: Int) throws(TraceReadError) -> Int {
        guard !finished else { return 0 }
        stream.next_out = buffer
        stream.avail_out = UInt32(min(capacity, Int(UInt32.max)))
        while stream.avail_out > 0 {
            if stream.avail_in == 0 && !inputEnded {
                let n = try source.read(into: input, capacity: inputCapacity)
                if n == 0 { inputEnded = true }
                stream.next_in = input
                stream.avail_in = UInt32(n)
                compressedOffset += Int64(n)
            }
            let before = stream.avail_out
            let rc = inflate(&stream, Z_NO_FLUSH)
            if rc == Z_STREAM_END {
                // Another gzip member may follow.
                if stream.avail_in == 0 && !inputEnded {
                    let n = try source.read(into: input, capacity: inputCapacity)
                    compressedOffset += Int64(n)
                    if n == 0 {
                        inputEnded = true
                    } else {
                        stream.next_in = input
                        stream.avail_in = UInt32(n)
                    }
                }
                if stream.avail_in == 0 && inputEnded {
                    finished = true
                    break
                }
                inflateReset(&stream)
                continue
            }
            if rc == Z_BUF_ERROR || (rc == Z_OK && stream.avail_out == before && inputEnded && stream.avail_in == 0) {
                if inputEnded && stream.avail_in == 0 {
                    notice = "The gzip stream ends early (the file was cut off while it was written)."
                    finished = true
                    break
                }
                continue
            }
            guard rc == Z_OK else {
                let at = compressedOffset - Int64(stream.avail_in)
                throw TraceReadError(
                    path: path, byteOffset: at, line: 0, reason: "corrupt gzip data at compressed byte \(at)")
            }
        }
        return capacity - Int(stream.avail_out)
    }
}
