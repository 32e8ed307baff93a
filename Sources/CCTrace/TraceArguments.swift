/// One value in a span's `args`: a number, a string or a flag.
public struct TraceArgument: Sendable, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByStringLiteral, ExpressibleByBooleanLiteral
{
    enum Storage: Sendable {
        case int(Int64)
        case double(Double)
        case string(String)
        case bool(Bool)
    }
    let storage: Storage

    /// An integer argument.
    public init(_ value: Int) { storage = .int(Int64(value)) }
    /// A floating-point argument.
    public init(_ value: Double) { storage = .double(value) }
    /// A string argument.
    public init(_ value: String) { storage = .string(value) }
    /// A flag argument.
    public init(_ value: Bool) { storage = .bool(value) }

    public init(integerLiteral value: Int) { self.init(value) }
    public init(floatLiteral value: Double) { self.init(value) }
    public init(stringLiteral value: String) { self.init(value) }
    public init(booleanLiteral value: Bool) { self.init(value) }
}

/// The `args` of an event, in the order given: `["bytes": 4096, "peer": "worker-2"]`.
public typealias TraceArguments = KeyValuePairs<String, TraceArgument>
