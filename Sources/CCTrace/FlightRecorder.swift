import CCTraceFormat
import CCTraceNative

#if canImport(Glibc)
    import Glibc
#endif

/// The flight recorder (`CCTRACE_MODE=ring`): the writer formats events as usual but keeps the
/// last ``capacity`` bytes of them in memory instead of writing a file; a trigger writes the
/// window as a complete trace.
///
/// A dump is a valid trace on its own: it begins with every metadata event seen since the start
/// (`"ph":"M"` lines — the session, the process and thread names — kept aside even after the
/// ring has overwritten them), then the ring's whole lines, oldest first, and ends with the
/// session's closing event. Recording goes on after a dump.
final class FlightRecorder {
    let capacity: Int
    private let storage: UnsafeMutablePointer<UInt8>
    /// Next write position, and whether the ring has wrapped.
    private var head = 0
    private var wrapped = false
    /// Metadata lines, in the order first seen (deduplicated).
    private var sticky: [[UInt8]] = []
    private var stickySeen: Set<[UInt8]> = []
    /// The line being scanned when it may be metadata (its prefix matches so far).
    private var pending: [UInt8] = []
    private var atLineStart = true
    private var pendingMatches = false
    private static let metadataPrefix = Array(#"{"ph":"M""#.utf8)
    /// Metadata lines kept at most (a program naming threads forever cannot grow it unbounded).
    static let stickyLimit = 65_536
    /// Dumps written so far.
    private(set) var dumps = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 64 << 10)
        storage = .allocate(capacity: self.capacity)
    }

    deinit { storage.deallocate() }

    /// Takes formatted bytes (whole or partial lines) from the writer.
    func append(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        scanMetadata(bytes, length)
        var offset = 0
        while offset < length {
            let n = min(length - offset, capacity - head)
            (storage + head).update(from: bytes + offset, count: n)
            head += n
            offset += n
            if head == capacity {
                head = 0
                wrapped = true
            }
        }
    }

    /// Keeps `"ph":"M"` lines aside. Only a line's first bytes are compared; the rest of a line
    /// that is not metadata is skipped with memchr (the writer streams every event through here).
    private func scanMetadata(_ bytes: UnsafePointer<UInt8>, _ length: Int) {
        let prefix = Self.metadataPrefix
        var i = 0
        while i < length {
            if atLineStart {
                atLineStart = false
                pending.removeAll(keepingCapacity: true)
                pendingMatches = true
            }
            if !pendingMatches {
                guard let newline = memchr(bytes + i, 0x0A, length - i) else { return }
                i = UnsafeRawPointer(newline).assumingMemoryBound(to: UInt8.self) - bytes + 1
                atLineStart = true
                continue
            }
            let c = bytes[i]
            i += 1
            if c == 0x0A {
                if pending.count >= prefix.count && sticky.count < Self.stickyLimit && !stickySeen.contains(pending) {
                    stickySeen.insert(pending)
                    sticky.append(pending)
                }
                atLineStart = true
            } else if pending.count < prefix.count && prefix[pending.count] != c {
                pendingMatches = false
            } else {
                pending.append(c)
            }
        }
    }

    /// Where dump number `n` of `outputPath` goes: `app.trace.json` → `app.trace.dump1.json`
    /// (`.json.gz` kept), or `%n` in the path replaced by `n`.
    static func dumpPath(_ outputPath: String, _ n: Int) -> String {
        if outputPath.contains("%n") {
            var out = ""
            var rest = outputPath[...]
            while let r = rest.firstRange(of: "%n") {
                out += rest[..<r.lowerBound] + "\(n)"
                rest = rest[r.upperBound...]
            }
            return out + rest
        }
        for ext in [".json.gz", ".json", ".gz"] where outputPath.hasSuffix(ext) {
            return String(outputPath.dropLast(ext.count)) + ".dump\(n)" + ext
        }
        return outputPath + ".dump\(n)"
    }

    /// Writes the window to a new file; `closing` writes the closing event (without a trailing
    /// comma). Returns the path, or `nil` when the file could not be written.
    func dump(outputPath: String, closing: (TraceLineWriter) -> Void) -> String? {
        dumps += 1
        let path = Self.dumpPath(outputPath, dumps)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let out = TraceLineWriter(fileDescriptor: fd, gzip: path.hasSuffix(".gz"))
        out.beginArray()
        for line in sticky {
            out.reserve(line.count + 1)
            line.withUnsafeBufferPointer { out.appendRaw($0.baseAddress!, $0.count) }
            out.append(0x0A)
        }
        // The ring's whole lines, oldest first: after a wrap, the oldest bytes start at `head`
        // and the first (cut) line is skipped.
        func lines(_ start: Int, _ end: Int, skipFirst: Bool) {
            var from = start
            if skipFirst {
                while from < end && storage[from] != 0x0A { from += 1 }
                from += 1
            }
            var i = from
            while i < end {
                let n = min(end - i, 1 << 16)
                out.reserve(n)
                out.appendRaw(storage + i, n)
                i += n
            }
        }
        if wrapped {
            // [head, capacity) then [0, head); the cut line may end in the second part.
            var from = head
            while from < capacity && storage[from] != 0x0A { from += 1 }
            if from < capacity {
                lines(from + 1, capacity, skipFirst: false)
                lines(0, head, skipFirst: false)
            } else {
                lines(0, head, skipFirst: true)
            }
        } else {
            lines(0, head, skipFirst: false)
        }
        closing(out)
        out.finish()
        return out.writeError == 0 ? path : nil
    }
}
