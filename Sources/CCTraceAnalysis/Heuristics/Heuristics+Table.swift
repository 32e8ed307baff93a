import CCTraceFormat

/// One threshold of ``Heuristics``, described: its key, what it decides, why its default is
/// what it is and where that came from.
public struct Heuristic: Sendable {
    /// How a value is written and read.
    public enum Unit: String, Sendable {
        /// A share 0…1.
        case share
        /// A whole number.
        case count
        /// Milliseconds.
        case milliseconds = "ms"
        /// A factor (cores, a ratio).
        case factor
    }

    /// The name `--set` takes (`slow-callback`, `cpu-bound`, …).
    public let key: String
    public let unit: Unit
    /// What it decides.
    public let meaning: String
    /// Why the default is what it is.
    public let reason: String
    /// Where the default came from.
    public let source: String
    let get: @Sendable (Heuristics) -> Double
    let set: @Sendable (inout Heuristics, Double) -> Void

    /// The value in `h`, in ``unit``.
    public func value(in h: Heuristics) -> Double { get(h) }
}

/// A `--set KEY=VALUE` that cannot be applied.
public struct HeuristicError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

extension Heuristics {
    /// Sets the threshold named `key` (``Heuristic/key``) from `value` in its unit.
    public mutating func set(_ key: String, to value: Double) throws(HeuristicError) {
        guard let h = Self.all.first(where: { $0.key == key }) else {
            throw HeuristicError(description: "unknown heuristic '\(key)' (cctrace heuristics lists them)")
        }
        guard value.isFinite, value >= 0, h.unit != .share || value <= 1,
            h.unit != .count || (value == value.rounded() && value <= 1e9), value <= 1e12
        else {
            throw HeuristicError(description: "'\(key)' takes a \(h.unit.rawValue) value, not \(value)")
        }
        h.set(&self, value)
    }

    /// Every threshold, in the order the pipeline uses them.
    public static let all: [Heuristic] = classification + accounting + shape + analyzers + recommendation + diff

    static func share(
        _ key: String, _ path: WritableKeyPath<Heuristics, Double> & Sendable, _ meaning: String, reason: String,
        source: String
    ) -> Heuristic {
        Heuristic(
            key: key, unit: .share, meaning: meaning, reason: reason, source: source, get: { $0[keyPath: path] },
            set: { $0[keyPath: path] = $1 })
    }

    static func factor(
        _ key: String, _ path: WritableKeyPath<Heuristics, Double> & Sendable, _ meaning: String, reason: String,
        source: String
    ) -> Heuristic {
        Heuristic(
            key: key, unit: .factor, meaning: meaning, reason: reason, source: source, get: { $0[keyPath: path] },
            set: { $0[keyPath: path] = $1 })
    }

    static func count(
        _ key: String, _ path: WritableKeyPath<Heuristics, Int> & Sendable, _ meaning: String, reason: String,
        source: String
    ) -> Heuristic {
        Heuristic(
            key: key, unit: .count, meaning: meaning, reason: reason, source: source,
            get: { Double($0[keyPath: path]) }, set: { $0[keyPath: path] = Int($1) })
    }

    static func duration(
        _ key: String, _ path: WritableKeyPath<Heuristics, TraceDuration> & Sendable, _ meaning: String,
        reason: String, source: String
    ) -> Heuristic {
        Heuristic(
            key: key, unit: .milliseconds, meaning: meaning, reason: reason, source: source,
            get: { $0[keyPath: path].milliseconds },
            set: { $0[keyPath: path] = TraceDuration(nanoseconds: Int64(($1 * 1e6).rounded())) })
    }
}
