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
        self.nanoseconds = clampedNanoseconds(microseconds)
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
        self.nanoseconds = clampedNanoseconds(microseconds)
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

    /// The sum, saturating at the limits of `Int64` (traces from others can hold anything).
    public static func + (lhs: TraceDuration, rhs: TraceDuration) -> TraceDuration {
        TraceDuration(nanoseconds: saturatingAdd(lhs.nanoseconds, rhs.nanoseconds))
    }

    public static func += (lhs: inout TraceDuration, rhs: TraceDuration) {
        lhs = lhs + rhs
    }
}

extension TraceTimestamp {
    /// The time from `other` to this timestamp (saturating).
    public func duration(since other: TraceTimestamp) -> TraceDuration {
        let (d, overflow) = nanoseconds.subtractingReportingOverflow(other.nanoseconds)
        return TraceDuration(nanoseconds: overflow ? (nanoseconds > other.nanoseconds ? .max : .min) : d)
    }

    /// This timestamp moved forward by `duration` (saturating).
    public func advanced(by duration: TraceDuration) -> TraceTimestamp {
        TraceTimestamp(nanoseconds: saturatingAdd(nanoseconds, duration.nanoseconds))
    }
}

/// `a + b`, clamped to `Int64`'s range instead of trapping.
@inline(__always)
func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? (b > 0 ? .max : .min) : sum
}

/// Microseconds as nanoseconds, with non-finite and out-of-range values clamped to the range
/// the importer accepts (±4·10^18 ns, about 127 years).
func clampedNanoseconds(_ microseconds: Double) -> Int64 {
    let ns = microseconds * 1000
    guard ns.isFinite else { return 0 }
    return Int64(max(-4e18, min(4e18, ns)).rounded())
}

/// The largest magnitude the importer keeps for `ts` and `dur`, in nanoseconds; sums of two stay
/// inside `Int64`.
public let traceTimeLimit: Int64 = 4_000_000_000_000_000_000
