/// Something odd the importer met and how it handled it: a value, not an error.
///
/// Diagnostics of one kind are merged: ``count`` says how often it happened and the position is
/// the first occurrence's.
public struct ImportDiagnostic: Sendable, Hashable {
    /// What happened, as a stable identifier.
    public struct Kind: Hashable, Sendable, CustomStringConvertible {
        /// The identifier, e.g. `truncated-file`.
        public let rawValue: String
        /// A kind named `rawValue`.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The file ends inside the event array (no closing `]`): typical of a crash.
        public static let truncatedFile = Kind("truncated-file")
        /// A compressed (gzip) file ends before its stream does.
        public static let truncatedCompression = Kind("truncated-compression")
        /// The last event is cut off mid-way; it was skipped.
        public static let partialEvent = Kind("partial-event")
        /// An array entry that is not an event object (or `{}`); skipped.
        public static let notAnEvent = Kind("not-an-event")
        /// An event that is not valid JSON; skipped up to its end.
        public static let malformedEvent = Kind("malformed-event")
        /// An event without `ph`; skipped.
        public static let missingPhase = Kind("missing-phase")
        /// An event whose `ph` cctrace does not know; kept as an instant-free record, unused.
        public static let unknownPhase = Kind("unknown-phase")
        /// An event that needs `ts` but has none; skipped.
        public static let missingTimestamp = Kind("missing-timestamp")
        /// `ts` or `dur` was written as a string; converted.
        public static let oddNumber = Kind("odd-number")
        /// `ts` or `dur` beyond ±127 years; clamped.
        public static let outOfRangeTime = Kind("out-of-range-time")
        /// Bytes after the end of the trace; ignored.
        public static let trailingData = Kind("trailing-data")
        /// An `E` with no open `B` on its thread; dropped.
        public static let unmatchedEnd = Kind("unmatched-end")
        /// A `B` never closed; closed at the thread's last timestamp.
        public static let unclosedBegin = Kind("unclosed-begin")
        /// An `X` that overlaps another on the same thread without nesting; moved to its own
        /// track.
        public static let overlappingSlice = Kind("overlapping-slice")
        /// A negative `dur`; treated as 0.
        public static let negativeDuration = Kind("negative-duration")
        /// A flow whose start or end is missing.
        public static let danglingFlow = Kind("dangling-flow")
        /// An async `e` without its `b`, or a `b` never ended.
        public static let unmatchedAsync = Kind("unmatched-async")
        /// The recorder lost events because its buffers were full.
        public static let droppedEvents = Kind("dropped-events")
    }

    /// What happened.
    public var kind: Kind
    /// How many times.
    public var count: Int
    /// Byte offset of the first occurrence in the input (-1 when not tied to a position).
    public var byteOffset: Int64
    /// Line (1-based) of the first occurrence (0 when not tied to a position).
    public var line: Int
    /// One sentence for a person.
    public var message: String
    /// The file of the first occurrence, when several files were imported together.
    public var file: String?

    /// A diagnostic.
    public init(kind: Kind, count: Int = 1, byteOffset: Int64 = -1, line: Int = 0, message: String) {
        self.kind = kind
        self.count = count
        self.byteOffset = byteOffset
        self.line = line
        self.message = message
    }
}

/// Collects diagnostics, merging repeats of a kind.
public struct ImportDiagnostics: Sendable {
    private var byKind: [ImportDiagnostic.Kind: Int] = [:]
    /// The diagnostics in the order their kinds first occurred.
    public private(set) var all: [ImportDiagnostic] = []

    /// An empty collection.
    public init() {}

    /// Records one occurrence.
    public mutating func add(
        _ kind: ImportDiagnostic.Kind, count: Int = 1, byteOffset: Int64 = -1, line: Int = 0,
        _ message: @autoclosure () -> String
    ) {
        if let i = byKind[kind] {
            all[i].count += count
        } else {
            byKind[kind] = all.count
            all.append(
                ImportDiagnostic(kind: kind, count: count, byteOffset: byteOffset, line: line, message: message()))
        }
    }

    /// Records that every diagnostic so far came from `file`.
    public mutating func attribute(toFile file: String) {
        for i in all.indices where all[i].file == nil { all[i].file = file }
    }

    /// Moves every placed diagnostic `lines` lines down (a reader that started mid-file counts
    /// lines from its start).
    public mutating func shiftLines(by lines: Int) {
        for i in all.indices where all[i].line > 0 { all[i].line += lines }
    }

    /// Replaces the sentence of the diagnostic of `kind`.
    public mutating func setMessage(of kind: ImportDiagnostic.Kind, _ message: String) {
        if let i = byKind[kind] { all[i].message = message }
    }

    /// Adds every diagnostic of `other`, merging counts by kind.
    public mutating func merge(_ other: ImportDiagnostics) {
        for d in other.all {
            if let i = byKind[d.kind] {
                all[i].count += d.count
            } else {
                byKind[d.kind] = all.count
                all.append(d)
            }
        }
    }

    /// The diagnostic of `kind`, if any.
    public subscript(kind: ImportDiagnostic.Kind) -> ImportDiagnostic? {
        byKind[kind].map { all[$0] }
    }
}

/// Input that cannot be read as a trace at all.
public struct TraceReadError: Error, CustomStringConvertible, Sendable {
    /// The file (or `-` for standard input).
    public var path: String
    /// Byte offset of the problem.
    public var byteOffset: Int64
    /// Line of the problem (1-based).
    public var line: Int
    /// What is wrong.
    public var reason: String

    /// An error at a position.
    public init(path: String, byteOffset: Int64, line: Int, reason: String) {
        self.path = path
        self.byteOffset = byteOffset
        self.line = line
        self.reason = reason
    }

    public var description: String {
        "\(path):\(line): byte \(byteOffset): \(reason)"
    }
}
