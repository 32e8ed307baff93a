/// A point on the host's monotonic clock, in nanoseconds.
///
/// Every process on a host shares this clock, so timestamps from a parent and its children line
/// up without adjustment. In JSON it is written as microseconds with nanosecond decimals
/// (`"ts":1234.567`), the unit the Chrome Trace Event Format uses.
public struct TraceTimestamp: Hashable, Comparable, Sendable {
    /// Nanoseconds since the clock's epoch (boot, for `CLOCK_MONOTONIC`).
    public var nanoseconds: Int64

    /// A timestamp from nanoseconds since the clock's epoch.
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// A timestamp from microseconds, the unit of the JSON `ts` field.
    public init(microseconds: Double) {
        self.nanoseconds = Int64((microseconds * 1000).rounded())
    }

    /// The value of the JSON `ts` field.
    public var microseconds: Double { Double(nanoseconds) / 1000 }

    public static func < (lhs: TraceTimestamp, rhs: TraceTimestamp) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }
}

/// A length of time on the trace clock, in nanoseconds.
public struct TraceDuration: Hashable, Comparable, Sendable {
    /// The length in nanoseconds.
    public var nanoseconds: Int64

    /// A duration of `nanoseconds`.
    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// A duration from microseconds, the unit of the JSON `dur` field.
    public init(microseconds: Double) {
        self.nanoseconds = Int64((microseconds * 1000).rounded())
    }

    /// The length in microseconds.
    public var microseconds: Double { Double(nanoseconds) / 1000 }
    /// The length in milliseconds.
    public var milliseconds: Double { Double(nanoseconds) / 1_000_000 }
    /// The length in seconds.
    public var seconds: Double { Double(nanoseconds) / 1_000_000_000 }

    /// No time at all.
    public static let zero = TraceDuration(nanoseconds: 0)

    public static func < (lhs: TraceDuration, rhs: TraceDuration) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    public static func + (lhs: TraceDuration, rhs: TraceDuration) -> TraceDuration {
        TraceDuration(nanoseconds: lhs.nanoseconds + rhs.nanoseconds)
    }

    public static func += (lhs: inout TraceDuration, rhs: TraceDuration) {
        lhs.nanoseconds += rhs.nanoseconds
    }
}

extension TraceTimestamp {
    /// The time from `other` to this timestamp.
    public func duration(since other: TraceTimestamp) -> TraceDuration {
        TraceDuration(nanoseconds: nanoseconds - other.nanoseconds)
    }

    /// This timestamp moved forward by `duration`.
    public func advanced(by duration: TraceDuration) -> TraceTimestamp {
        TraceTimestamp(nanoseconds: nanoseconds + duration.nanoseconds)
    }
}
