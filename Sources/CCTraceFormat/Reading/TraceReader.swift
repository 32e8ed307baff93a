#if canImport(Glibc)
    import Glibc
#endif

/// Reads a Chrome Trace Event Format file as a stream of ``RawTraceEvent``s.
///
/// The input is read in chunks (8 MiB to start; a single event larger than the buffer grows
/// it), so memory stays proportional to the largest event, not the file. Both the array form
/// (`[ {...}, ... ]`) and the object form (`{"traceEvents": [...], ...}`) are read; other keys of
/// the object form are kept as ``metadata``. What real traces get wrong — no closing `]`, a
/// half-written last event, trailing commas, `{}` entries, junk after the end — becomes an
/// ``ImportDiagnostic``; only input that is not a trace at all throws ``TraceReadError``.
public final class TraceReader {
    /// The path given (`-` for standard input).
    public let path: String
    /// Raw `args` of the events read so far.
    public let arguments: TraceArgumentStore
    /// The file's index in ``arguments`` when arguments are referenced in the file.
    private var argumentFile: UInt32?
    /// Where ``read(_:)`` begins (a reader of a file's second part starts inside the array).
    private var initialState = State.start
    private var initialSawTraceKey = false
    /// Stop before the event that starts at this byte offset, if the reader reaches it between
    /// two events of the top-level array — proof that another reader may start there (see
    /// ``splitPoint(path:minimumSize:)``). A reader that passes it inside an event reads on.
    public var stopOffset: Int64?
    /// Whether the reader stopped at ``stopOffset``.
    public private(set) var stoppedAtSplit = false
    /// The line ``stopOffset`` is on, once stopped there.
    public private(set) var lineAtStop = 1
    /// Whether the input ended inside the event array (cut off), rather than after it.
    public private(set) var endedInsideArray = false
    /// Where the event being parsed has its `args` in the buffer.
    private var lastArgs: Range<Int>?
    /// What the reader noticed.
    public private(set) var diagnostics = ImportDiagnostics()
    /// Keys of the object form other than `traceEvents`, parsed (`displayTimeUnit`,
    /// `metadata`, `stackFrames`, `samples`, …).
    public private(set) var metadata: [(String, JSONValue)] = []
    /// Total bytes read.
    public private(set) var bytesRead: Int64 = 0

    private let source: TraceByteSource
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var end = 0
    private var position = 0
    /// Input offset of `buffer[0]`, and newlines before it.
    private var baseOffset: Int64 = 0
    private var baseLine = 1
    private var eof = false
    private var isObjectForm = false
    private var strings = StringInterner()
    private var syntheticIDs: [String: Int64] = [:]
    /// Names of processes/threads whose pid/tid was a string, by synthetic id.
    public private(set) var syntheticNames: [Int64: String] = [:]

    /// Opens `path` for reading; `-` reads standard input. Gzip input (by its magic bytes, so
    /// `.gz` files and compressed pipes alike) is inflated on the fly; byte offsets in
    /// diagnostics then count decompressed bytes.
    ///
    /// Readers of several files that make one trace share one `arguments` store.
    public init(
        path: String, arguments: TraceArgumentStore = TraceArgumentStore(), bufferSize: Int = 8 << 20
    ) throws(TraceReadError) {
        self.path = path
        self.arguments = arguments
        let file: FileByteSource
        var regularFile = false
        if path == "-" {
            file = FileByteSource(fd: 0, owns: false, path: path)
        } else {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw TraceReadError(path: path, byteOffset: 0, line: 0, reason: String(cString: strerror(errno)))
            }
            var st = stat()
            if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                close(fd)
                throw TraceReadError(path: path, byteOffset: 0, line: 0, reason: "is a directory")
            }
            regularFile = (st.st_mode & S_IFMT) == S_IFREG
            file = FileByteSource(fd: fd, owns: true, path: path)
        }
        source = try Self.sniff(file, path: path)
        capacity = max(bufferSize, 4096)
        buffer = .allocate(capacity: capacity)
        // A plain file holds the arguments where the reader finds them: referenced, not copied.
        if regularFile, !(source is GzipByteSource) {
            argumentFile = arguments.attach(path: path)
        }
    }

    /// A reader of a plain file from `start`, the first byte of an event in its top-level event
    /// array (`objectForm`: the array is the `traceEvents` of a top-level object). Byte offsets
    /// are the file's; lines count from the start (1), to be shifted by the line `start` is on.
    public init(
        path: String, arguments: TraceArgumentStore, from start: Int64, objectForm: Bool, bufferSize: Int = 8 << 20
    ) throws(TraceReadError) {
        self.path = path
        self.arguments = arguments
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0, lseek(fd, off_t(start), SEEK_SET) == off_t(start) else {
            if fd >= 0 { close(fd) }
            throw TraceReadError(path: path, byteOffset: start, line: 0, reason: String(cString: strerror(errno)))
        }
        source = FileByteSource(fd: fd, owns: true, path: path)
        capacity = max(bufferSize, 4096)
        buffer = .allocate(capacity: capacity)
        baseOffset = start
        initialState = objectForm ? .eventsInObject : .topArray
        initialSawTraceKey = objectForm
        isObjectForm = objectForm
        argumentFile = arguments.attach(path: path)
    }

    /// Where a plain trace file of at least `minimumSize` bytes may be split for two readers: the
    /// `{` of an event that starts a line after a line ending in `,`, near the middle. Only a
    /// candidate: the reader of the first part confirms it (``stopOffset``). Nil for small,
    /// compressed or unreadable files, and when no such line is found near the middle.
    public static func splitPoint(path: String, minimumSize: Int64 = 32 << 20) -> (offset: Int64, objectForm: Bool)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, Int64(st.st_size) >= minimumSize else {
            return nil
        }
        let window = 4 << 20
        let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: window)
        defer { bytes.deallocate() }
        // The form: the first byte that is not whitespace or a byte order mark.
        let head = pread(fd, bytes, 64, 0)
        guard head > 0 else { return nil }
        var i = 0
        while i < head, [0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains(bytes[i]) { i += 1 }
        guard i < head, bytes[i] == 0x5B || bytes[i] == 0x7B else { return nil }
        let objectForm = bytes[i] == 0x7B
        let middle = Int64(st.st_size) / 2
        let n = pread(fd, bytes, window, off_t(middle))
        guard n > 0 else { return nil }
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0D }
        var k = 0
        while k < n, let hit = memchr(bytes + k, 0x0A, n - k) {
            let nl = UnsafeMutablePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - bytes
            k = nl + 1
            var before = nl - 1
            while before >= 0, isSpace(bytes[before]) { before -= 1 }
            var after = nl + 1
            while after < n, isSpace(bytes[after]) { after += 1 }
            if before >= 0, after < n, bytes[before] == 0x2C, bytes[after] == 0x7B {
                return (middle + Int64(after), objectForm)
            }
        }
        return nil
    }

    /// A reader over bytes in memory (named `name` in diagnostics); gzip is detected as for files.
    public init(bytes: [UInt8], name: String = "<memory>", bufferSize: Int = 1 << 20) throws(TraceReadError) {
        self.path = name
        self.arguments = TraceArgumentStore()
        source = try Self.sniff(MemoryByteSource(bytes), path: name)
        capacity = max(bufferSize, 4096)
        buffer = .allocate(capacity: capacity)
    }

    /// The whole content of the trace file at `path`, decompressed when it is gzip (for tools
    /// that rewrite a file's events, like `cctrace merge`).
    public static func contents(of path: String) throws(TraceReadError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw TraceReadError(path: path, byteOffset: 0, line: 0, reason: String(cString: strerror(errno)))
        }
        let source = try sniff(FileByteSource(fd: fd, owns: true, path: path), path: path)
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try chunk.withUnsafeMutableBufferPointer { p throws(TraceReadError) in
                try source.read(into: p.baseAddress!, capacity: p.count)
            }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        return out
    }

    /// Reads the first bytes and wraps the source in gzip when they are the gzip magic.
    private static func sniff(_ raw: TraceByteSource, path: String) throws(TraceReadError) -> TraceByteSource {
        var magic = [UInt8](repeating: 0, count: 2)
        var got = 0
        while got < 2 {
            let n = try magic.withUnsafeMutableBufferPointer { p throws(TraceReadError) in
                try raw.read(into: p.baseAddress! + got, capacity: 2 - got)
            }
            if n == 0 { break }
            got += n
        }
        let prefixed = PrefixedByteSource(prefix: Array(magic[..<got]), rest: raw)
        if got == 2 && magic[0] == 0x1F && magic[1] == 0x8B {
            return try GzipByteSource(source: prefixed, path: path)
        }
        return prefixed
    }

    deinit {
        buffer.deallocate()
    }

    private enum State {
        case start, topArray, topObject, eventsInObject, done
    }

    private enum Step {
        case progress, needMore, stop
    }

    /// Reads every event, calling `handler` for each in file order.
    public func read(_ handler: (inout RawTraceEvent) -> Void) throws(TraceReadError) {
        var state = initialState
        var sawTraceKey = initialSawTraceKey
        var events = 0
        while true {
            let step: Step
            switch state {
            case .start:
                step = try readStart(&state)
            case .topArray, .eventsInObject:
                step = readArrayItem(&state, &events, handler)
            case .topObject:
                step = try readObjectMember(&state, &sawTraceKey)
            case .done:
                if isObjectForm && !sawTraceKey {
                    throw TraceReadError(
                        path: path, byteOffset: 0, line: 1,
                        reason: "not a Chrome trace: a JSON object without traceEvents")
                }
                skipWhitespace()
                if eof, let notice = source.notice {
                    diagnostics.add(.truncatedCompression, byteOffset: offset(end), line: line(at: end), notice)
                }
                if position < end {
                    diagnostics.add(
                        .trailingData, byteOffset: offset(position), line: line(at: position),
                        "Bytes after the end of the trace were ignored.")
                    return
                }
                if eof { return }
                step = .needMore
            }
            if case .stop = step { return }
            if case .needMore = step {
                if eof {
                    try finishAtEOF(state, events: events, sawTraceKey: sawTraceKey)
                    return
                }
                try refill()
            }
        }
    }

    // MARK: - States

    private func readStart(_ state: inout State) throws(TraceReadError) -> Step {
        skipWhitespace()
        // A UTF-8 byte order mark (possibly split across reads: the gzip sniffer hands over
        // the first two bytes on their own).
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        if !eof, end - position < 3, (position..<end).allSatisfy({ buffer[$0] == bom[$0 - position] }) {
            return .needMore
        }
        if end - position >= 3 && buffer[position] == 0xEF && buffer[position + 1] == 0xBB
            && buffer[position + 2] == 0xBF
        {
            position += 3
            skipWhitespace()
        }
        guard position < end else { return .needMore }
        switch buffer[position] {
        case 0x5B:
            position += 1
            state = .topArray
        case 0x7B:
            position += 1
            isObjectForm = true
            state = .topObject
        default:
            throw TraceReadError(
                path: path, byteOffset: offset(position), line: line(at: position),
                reason: "not a Chrome trace: expected '[' or '{', found \(describeByte(buffer[position]))")
        }
        return .progress
    }

    private func readArrayItem(
        _ state: inout State, _ events: inout Int, _ handler: (inout RawTraceEvent) -> Void
    ) -> Step {
        skipWhitespaceAndCommas()
        guard position < end else { return .needMore }
        let c = buffer[position]
        if let stop = stopOffset, c == 0x7B, offset(position) == stop {
            stoppedAtSplit = true
            lineAtStop = line(at: position)
            return .stop
        }
        if c == 0x5D {
            position += 1
            state = state == .topArray ? .done : .topObject
            return .progress
        }
        let start = position
        guard c == 0x7B else {
            guard let valueEnd = scanValueEnd(from: position) else { return .needMore }
            position = valueEnd
            diagnostics.add(
                .notAnEvent, byteOffset: offset(start), line: line(at: start), Self.notAnEventMessage)
            return .progress
        }
        var event = RawTraceEvent(byteOffset: offset(start))
        // One pass: parse up to the closing brace; if the buffer ends first, read more.
        var stop = start
        let result = parseEvent(from: start, limit: end, into: &event, end: &stop)
        switch result {
        case .incomplete:
            return .needMore
        case .ok:
            position = stop
            events += 1
            if event.args != nil, let range = lastArgs,
                event.phase == UInt8(ascii: "M") || event.phase == UInt8(ascii: "C")
                    || (event.phase == UInt8(ascii: "i") && event.category == TraceVocabulary.Category.sample.string)
            {
                // Parsed from the bytes still in the buffer.
                event.parsedArgs = JSONValue.parse(
                    UnsafeBufferPointer(start: buffer + range.lowerBound, count: range.count))
            }
            lastArgs = nil
            handler(&event)
        case .empty:
            position = stop
            diagnostics.add(.notAnEvent, byteOffset: offset(start), line: line(at: start), Self.notAnEventMessage)
        case .noPhase:
            position = stop
            diagnostics.add(
                .missingPhase, byteOffset: offset(start), line: line(at: start), "An event has no `ph`; skipped.")
        case .malformed:
            guard let valueEnd = scanValueEnd(from: start) else { return .needMore }
            position = valueEnd
            diagnostics.add(
                .malformedEvent, byteOffset: offset(start), line: line(at: start),
                "An event is not valid JSON; skipped.")
        }
        return .progress
    }

    private func readObjectMember(_ state: inout State, _ sawTraceKey: inout Bool) throws(TraceReadError) -> Step {
        skipWhitespaceAndCommas()
        guard position < end else { return .needMore }
        if buffer[position] == 0x7D {
            position += 1
            state = .done
            return .progress
        }
        guard buffer[position] == 0x22 else {
            throw TraceReadError(
                path: path, byteOffset: offset(position), line: line(at: position),
                reason: "not a Chrome trace: expected a key, found \(describeByte(buffer[position]))")
        }
        let start = position
        guard let keyEnd = scanValueEnd(from: start) else { return .needMore }
        var k = 0
        let key = JSONText.parseString(window(start, keyEnd), at: &k) ?? ""
        var j = keyEnd
        while j < end, isWhitespace(buffer[j]) { j += 1 }
        guard j < end else { return .needMore }
        guard buffer[j] == 0x3A else {
            throw TraceReadError(
                path: path, byteOffset: offset(j), line: line(at: j),
                reason: "not a Chrome trace: expected ':' after \"\(key)\"")
        }
        j += 1
        while j < end, isWhitespace(buffer[j]) { j += 1 }
        guard j < end else { return .needMore }
        if key == "traceEvents" && buffer[j] == 0x5B {
            position = j + 1
            sawTraceKey = true
            state = .eventsInObject
            return .progress
        }
        guard let valueEnd = scanValueEnd(from: j) else { return .needMore }
        if let value = JSONValue.parse(window(j, valueEnd)) {
            metadata.append((key, value))
            if key == "traceEvents" || key == "systemTraceEvents" { sawTraceKey = true }
        } else {
            diagnostics.add(
                .malformedEvent, byteOffset: offset(j), line: line(at: j),
                "The value of a top-level key is not valid JSON.")
        }
        position = valueEnd
        return .progress
    }

    private func finishAtEOF(_ state: State, events: Int, sawTraceKey: Bool) throws(TraceReadError) {
        if let notice = source.notice {
            diagnostics.add(.truncatedCompression, byteOffset: offset(end), line: line(at: end), notice)
        }
        skipWhitespaceAndCommas()
        switch state {
        case .start:
            // A compressed file cut off before any data (just a gzip header) has no events, and
            // the stream's own notice says why.
            throw TraceReadError(
                path: path, byteOffset: offset(position), line: line(at: position),
                reason: source.notice.map { "no events: \($0)" } ?? "empty file")
        case .topArray, .eventsInObject:
            endedInsideArray = true
            if position < end {
                diagnostics.add(
                    .partialEvent, byteOffset: offset(position), line: line(at: position),
                    "The last event is cut off (\(end - position) bytes); it was skipped.")
            }
            diagnostics.add(
                .truncatedFile, byteOffset: offset(end), line: line(at: end),
                Self.truncatedMessage(insideArray: true, events: events))
        case .topObject:
            if !sawTraceKey {
                throw TraceReadError(
                    path: path, byteOffset: offset(position), line: line(at: position),
                    reason: "not a Chrome trace: the file ends inside an object with no traceEvents")
            }
            diagnostics.add(
                .truncatedFile, byteOffset: offset(end), line: line(at: end),
                Self.truncatedMessage(insideArray: false, events: events))
        case .done:
            break
        }
    }

    // MARK: - Event parsing

    /// The sentence of a file cut off after `events` events: inside its event array, or (object
    /// form) after it, inside the top-level object.
    public static func truncatedMessage(insideArray: Bool, events: Int) -> String {
        insideArray
            ? "The file ends without closing the event array (a crash or kill while writing?); read \(events) events up to there."
            : "The file ends inside the top-level object; read \(events) events."
    }

    private static let notAnEventMessage =
        "An entry of the event array is not an event (`{}`, or not an object); skipped."

    private enum ParseResult {
        case ok, empty, malformed, noPhase, incomplete
    }

    /// Parses the object starting at `start` (its `{`), reading no further than `limit`. On
    /// success `end` is just past the closing brace. `.incomplete` means the buffer ended first.
    private func parseEvent(
        from start: Int, limit stop: Int, into event: inout RawTraceEvent, end: inout Int
    ) -> ParseResult {
        let b = window(0, stop)
        var i = start + 1
        var members = 0
        while true {
            skipWS(b, &i)
            guard i < stop else { return .incomplete }
            if b[i] == 0x7D { break }
            if members > 0 {
                guard b[i] == 0x2C else { return .malformed }
                i += 1
                skipWS(b, &i)
                guard i < stop else { return .incomplete }
                if b[i] == 0x7D { break }  // trailing comma
            }
            guard b[i] == 0x22 else { return .malformed }
            let keyStart = i + 1
            var keyEnd = keyStart
            while keyEnd < stop && b[keyEnd] != 0x22 {
                if b[keyEnd] == 0x5C { keyEnd += 1 }
                keyEnd += 1
            }
            guard keyEnd < stop else { return .incomplete }
            let key = Key(b, keyStart, keyEnd)
            i = keyEnd + 1
            skipWS(b, &i)
            guard i < stop else { return .incomplete }
            guard b[i] == 0x3A else { return .malformed }
            i += 1
            skipWS(b, &i)
            guard i < stop else { return .incomplete }
            members += 1
            let valueStart = i
            guard skipValue(b, &i, stop) else { return i >= stop ? .incomplete : .malformed }
            // A scalar that touches the end of the buffer may continue in the next read.
            if i >= stop { return .incomplete }
            assign(key, b, valueStart, i, &event)
        }
        end = i + 1
        if members == 0 { return .empty }
        return event.phase == 0 ? .noPhase : .ok
    }

    /// A key compared by its bytes without making a String.
    private struct Key {
        let b: UnsafeBufferPointer<UInt8>
        let start: Int
        let count: Int
        init(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
            self.b = b
            self.start = start
            self.count = end - start
        }
        func `is`(_ s: StaticString) -> Bool {
            guard s.utf8CodeUnitCount == count else { return false }
            let p = s.utf8Start
            for k in 0..<count where b[start + k] != p[k] { return false }
            return true
        }
    }

    private func assign(
        _ key: Key, _ b: UnsafeBufferPointer<UInt8>, _ vs: Int, _ ve: Int, _ event: inout RawTraceEvent
    ) {
        switch key.count {
        case 2:
            if key.is("ph") {
                event.phase = firstCharacter(b, vs, ve)
            } else if key.is("ts") {
                event.timestamp = number(b, vs, ve, event.byteOffset).map { TraceTimestamp(nanoseconds: $0) }
            } else if key.is("id") {
                event.id = idText(b, vs, ve)
            } else if key.is("bp") {
                event.bindingPoint = firstCharacter(b, vs, ve)
            } else if key.is("sf") {
                event.stackFrame = idText(b, vs, ve)
            }
        case 1:
            if key.is("s") { event.scope = firstCharacter(b, vs, ve) }
        case 3:
            if key.is("dur") {
                event.duration = number(b, vs, ve, event.byteOffset).map { TraceDuration(nanoseconds: $0) }
            } else if key.is("cat") {
                event.category = string(b, vs, ve)
            } else if key.is("pid") {
                event.pid = processOrThreadID(b, vs, ve, isProcess: true)
            } else if key.is("tid") {
                event.tid = processOrThreadID(b, vs, ve, isProcess: false)
            } else if key.is("id2") {
                if let v = JSONValue.parse(UnsafeBufferPointer(rebasing: b[vs..<ve])) {
                    event.id = (v["local"] ?? v["global"])?.stringValue
                }
            }
        case 4:
            if key.is("name") {
                event.name = string(b, vs, ve)
            } else if key.is("args") {
                if b[vs] == 0x7B {
                    lastArgs = vs..<ve
                    if let file = argumentFile {
                        event.args = arguments.reference(file: file, offset: offset(vs), length: ve - vs)
                    } else {
                        event.args = arguments.append(UnsafeBufferPointer(rebasing: b[vs..<ve]))
                    }
                }
            } else if key.is("tdur") {
                event.threadDuration = number(b, vs, ve, event.byteOffset).map { TraceDuration(nanoseconds: $0) }
            }
        case 7:
            if key.is("bind_id") { event.id = idText(b, vs, ve) }
            if key.is("flow_in") { event.flowIn = b[vs] == 0x74 }
        case 8:
            if key.is("flow_out") { event.flowOut = b[vs] == 0x74 }
        default:
            break
        }
    }

    private func firstCharacter(_ b: UnsafeBufferPointer<UInt8>, _ vs: Int, _ ve: Int) -> UInt8 {
        guard b[vs] == 0x22, vs + 1 < ve - 1 else { return 0 }
        return b[vs + 1]
    }

    private func string(_ b: UnsafeBufferPointer<UInt8>, _ vs: Int, _ ve: Int) -> String {
        if b[vs] == 0x22 {
            // Escape-free strings are interned by their bytes.
            var hasEscape = false
            for k in (vs + 1)..<(ve - 1) where b[k] == 0x5C {
                hasEscape = true
                break
            }
            if !hasEscape { return strings.intern(UnsafeBufferPointer(rebasing: b[(vs + 1)..<(ve - 1)])) }
            var i = vs
            return JSONText.parseString(b, at: &i) ?? ""
        }
        // A number or literal where a string was expected: keep its text.
        return String(decoding: UnsafeBufferPointer(rebasing: b[vs..<ve]), as: UTF8.self)
    }

    private func idText(_ b: UnsafeBufferPointer<UInt8>, _ vs: Int, _ ve: Int) -> String? {
        if b[vs] == 0x22 { return string(b, vs, ve) }
        if b[vs] == 0x6E { return nil }  // null
        return strings.intern(UnsafeBufferPointer(rebasing: b[vs..<ve]))
    }

    /// A microsecond value (number or numeric string) as integer nanoseconds.
    private func number(_ b: UnsafeBufferPointer<UInt8>, _ vs: Int, _ ve: Int, _ at: Int64) -> Int64? {
        var s = vs
        var e = ve
        if b[vs] == 0x22 {
            s += 1
            e -= 1
            diagnostics.add(
                .oddNumber, byteOffset: at, line: 0, "A `ts`/`dur` was written as a string; read as a number.")
        }
        guard s < e else { return nil }
        var value: Int64
        if let ns = Self.fixedPointMicros(b, s, e) {
            value = ns
        } else {
            var i = s
            guard let d = JSONText.parseNumber(UnsafeBufferPointer(rebasing: b[0..<e]), at: &i), d.isFinite else {
                return nil
            }
            value = Int64(max(-9e18, min(9e18, d * 1000)).rounded())
        }
        if value > traceTimeLimit || value < -traceTimeLimit {
            diagnostics.add(
                .outOfRangeTime, byteOffset: at, line: 0, "A `ts`/`dur` is out of range (over 127 years); clamped.")
            value = max(-traceTimeLimit, min(traceTimeLimit, value))
        }
        return value
    }

    /// Fast path for `123`, `-5`, `123.456789`: exact integer nanoseconds, no floating point.
    private static func fixedPointMicros(_ b: UnsafeBufferPointer<UInt8>, _ s: Int, _ e: Int) -> Int64? {
        var i = s
        var negative = false
        if b[i] == 0x2D {
            negative = true
            i += 1
        }
        var micros: Int64 = 0
        var digits = 0
        while i < e, b[i] &- 0x30 < 10 {
            micros = micros &* 10 &+ Int64(b[i] &- 0x30)
            digits += 1
            i += 1
        }
        guard digits > 0, digits <= 15 else { return nil }
        var frac: Int64 = 0
        var fracDigits = 0
        var roundUp = false
        if i < e && b[i] == 0x2E {
            i += 1
            while i < e, b[i] &- 0x30 < 10 {
                if fracDigits < 3 {
                    frac = frac * 10 + Int64(b[i] &- 0x30)
                    fracDigits += 1
                } else if fracDigits == 3 {
                    roundUp = b[i] >= 0x35
                    fracDigits += 1
                }
                i += 1
            }
        }
        guard i == e else { return nil }  // exponent or junk: the general parser handles it
        while fracDigits < 3 {
            frac *= 10
            fracDigits += 1
        }
        let ns = micros * 1000 + frac + (roundUp ? 1 : 0)
        return negative ? -ns : ns
    }

    private func processOrThreadID(_ b: UnsafeBufferPointer<UInt8>, _ vs: Int, _ ve: Int, isProcess: Bool) -> Int64 {
        var i = vs
        if b[vs] != 0x22, let d = JSONText.parseNumber(UnsafeBufferPointer(rebasing: b[0..<ve]), at: &i), d.isFinite,
            abs(d) < 9.2e18
        {
            return Int64(d)
        }
        let text = string(b, vs, ve)
        if let n = Int64(text) { return n }
        // A name instead of a number (some tools write "pid":"Browser"): a stable synthetic id.
        let key = (isProcess ? "p:" : "t:") + text
        if let id = syntheticIDs[key] { return id }
        let id = Int64(1 << 40) + Int64(syntheticIDs.count)
        syntheticIDs[key] = id
        syntheticNames[id] = text
        return id
    }

    // MARK: - Scanning

    /// The end (exclusive) of the JSON value starting at `from`, or `nil` if the buffer ends
    /// first.
    private func scanValueEnd(from: Int) -> Int? {
        var i = from
        guard i < end else { return nil }
        let c = buffer[i]
        if c == 0x22 {
            i += 1
            while i < end {
                let d = buffer[i]
                if d == 0x5C {
                    i += 2
                    continue
                }
                if d == 0x22 { return i + 1 }
                i += 1
            }
            return nil
        }
        if c == 0x7B || c == 0x5B {
            var depth = 0
            while i < end {
                let d = buffer[i]
                switch d {
                case 0x22:
                    i += 1
                    while i < end {
                        let x = buffer[i]
                        if x == 0x5C {
                            i += 2
                            continue
                        }
                        if x == 0x22 { break }
                        i += 1
                    }
                    if i >= end { return nil }
                case 0x7B, 0x5B:
                    depth += 1
                case 0x7D, 0x5D:
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default:
                    break
                }
                i += 1
            }
            return nil
        }
        // A scalar: up to the next delimiter.
        while i < end {
            switch buffer[i] {
            case 0x2C, 0x5D, 0x7D, 0x20, 0x0A, 0x0D, 0x09: return i == from ? i + 1 : i
            default: i += 1
            }
        }
        return eof ? end : nil
    }

    private func skipValue(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int, _ stop: Int) -> Bool {
        let c = b[i]
        if c == 0x22 {
            i += 1
            while i < stop {
                if b[i] == 0x5C {
                    i += 2
                    continue
                }
                if b[i] == 0x22 {
                    i += 1
                    return true
                }
                i += 1
            }
            return false
        }
        if c == 0x7B || c == 0x5B {
            var depth = 0
            while i < stop {
                switch b[i] {
                case 0x22:
                    i += 1
                    while i < stop && b[i] != 0x22 {
                        if b[i] == 0x5C { i += 1 }
                        i += 1
                    }
                case 0x7B, 0x5B: depth += 1
                case 0x7D, 0x5D:
                    depth -= 1
                    if depth == 0 {
                        i += 1
                        return true
                    }
                default: break
                }
                i += 1
            }
            return false
        }
        let start = i
        while i < stop {
            switch b[i] {
            case 0x2C, 0x7D, 0x5D, 0x20, 0x0A, 0x0D, 0x09:
                return i > start
            default:
                i += 1
            }
        }
        return i > start
    }

    @inline(__always)
    private func isWhitespace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09
    }

    private func skipWS(_ b: UnsafeBufferPointer<UInt8>, _ i: inout Int) {
        while i < b.count, isWhitespace(b[i]) { i += 1 }
    }

    private func skipWhitespace() {
        while position < end, isWhitespace(buffer[position]) { position += 1 }
    }

    private func skipWhitespaceAndCommas() {
        while position < end, isWhitespace(buffer[position]) || buffer[position] == 0x2C { position += 1 }
    }

    /// `buffer[from..<to]`, indexed from 0.
    private func window(_ from: Int, _ to: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: buffer + from, count: to - from)
    }

    // MARK: - Input

    /// Moves unread bytes to the front and reads more, growing the buffer when one item fills it.
    private func refill() throws(TraceReadError) {
        if position > 0 {
            baseLine += countNewlines(0, position)
            baseOffset += Int64(position)
            let remaining = end - position
            if remaining > 0 { memmove(buffer, buffer + position, remaining) }
            end = remaining
            position = 0
        }
        if end == capacity {
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 2)
            bigger.update(from: buffer, count: end)
            buffer.deallocate()
            buffer = bigger
            capacity *= 2
        }
        let n = try source.read(into: buffer + end, capacity: capacity - end)
        if n == 0 { eof = true }
        end += n
        bytesRead += Int64(n)
    }

    private func offset(_ i: Int) -> Int64 { baseOffset + Int64(i) }

    private func line(at i: Int) -> Int { baseLine + countNewlines(0, min(i, end)) }

    /// Newlines in `buffer[from..<to]`, eight bytes at a time.
    private func countNewlines(_ from: Int, _ to: Int) -> Int {
        Self.countNewlines(buffer + from, buffer + to)
    }

    /// Line numbers (1-based) of byte offsets in an uncompressed file, for diagnostics raised
    /// after reading (e.g. by the model builder). Empty when the file cannot be re-read
    /// (standard input, gzip).
    public static func lineNumbers(of offsets: [Int64], inFile path: String) -> [Int64: Int] {
        guard path != "-", !offsets.isEmpty else { return [:] }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [:] }
        defer { close(fd) }
        let chunk = 1 << 20
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
        defer { buffer.deallocate() }
        var result: [Int64: Int] = [:]
        var pending = offsets.sorted()[...]
        var base: Int64 = 0
        var lines = 1
        while let next = pending.first {
            let n = Glibc.read(fd, buffer, chunk)
            guard n > 0 else { break }
            if base == 0 && n >= 2 && buffer[0] == 0x1F && buffer[1] == 0x8B { return [:] }
            var counted = 0
            while let target = pending.first, target < base + Int64(n) {
                let upTo = Int(target - base)
                lines += countNewlines(buffer + counted, buffer + upTo)
                counted = upTo
                result[target] = lines
                pending.removeFirst()
            }
            _ = next
            lines += countNewlines(buffer + counted, buffer + n)
            base += Int64(n)
        }
        return result
    }

    /// Newlines in `start..<stop`: one `memchr` per line (libc's is vectorized; lines of a
    /// trace are ~100–400 bytes, so the call overhead is small next to a byte-wise scan).
    private static func countNewlines(_ start: UnsafeMutablePointer<UInt8>, _ stop: UnsafeMutablePointer<UInt8>) -> Int
    {
        var n = 0
        var p = UnsafeMutableRawPointer(start)
        let end = UnsafeMutableRawPointer(stop)
        while p < end, let hit = memchr(p, 0x0A, end - p) {
            n += 1
            p = hit + 1
        }
        return n
    }

    private func describeByte(_ c: UInt8) -> String {
        c >= 0x20 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
    }
}

/// Interns strings by their UTF-8 bytes, so repeated names share one `String`.
struct StringInterner {
    private var slots: [(hash: UInt64, value: String)?] = Array(repeating: nil, count: 1024)
    private var count = 0

    mutating func intern(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in bytes { h = (h ^ UInt64(c)) &* 0x100_0000_01b3 }
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: h) & mask
        while let slot = slots[i] {
            if slot.hash == h && Self.equal(slot.value, bytes) { return slot.value }
            i = (i + 1) & mask
        }
        let value = String(decoding: bytes, as: UTF8.self)
        guard count < 1 << 20 else { return value }  // do not grow without bound on unique names
        slots[i] = (h, value)
        count += 1
        if count * 2 > slots.count { grow() }
        return value
    }

    private static func equal(_ s: String, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let utf8 = s.utf8
        guard utf8.count == bytes.count else { return false }
        return utf8.withContiguousStorageIfAvailable { stored in
            bytes.count == 0 || memcmp(stored.baseAddress!, bytes.baseAddress!, bytes.count) == 0
        } ?? utf8.elementsEqual(bytes)
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: nil, count: old.count * 2)
        let mask = slots.count - 1
        for case let slot? in old {
            var i = Int(truncatingIfNeeded: slot.hash) & mask
            while slots[i] != nil { i = (i + 1) & mask }
            slots[i] = slot
        }
    }
}
