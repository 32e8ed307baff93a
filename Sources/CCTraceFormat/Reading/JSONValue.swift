/// A parsed JSON value: event `args`, session metadata, `stackFrames`.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    /// Members in file order.
    case object([(String, JSONValue)])

    /// The member named `key` of an object.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    /// The number, or a string that holds one.
    public var doubleValue: Double? {
        switch self {
        case .number(let d): d
        case .string(let s): Double(s)
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    /// The value as an integer when it is a whole number (or a string holding one).
    public var intValue: Int64? {
        guard let d = doubleValue, d.isFinite, d == d.rounded(), abs(d) < 9.2e18 else { return nil }
        return Int64(d)
    }

    /// The string, or a number rendered as text.
    public var stringValue: String? {
        switch self {
        case .string(let s): s
        case .number(let d): d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bool(let b): b ? "true" : "false"
        default: nil
        }
    }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): true
        case (.bool(let a), .bool(let b)): a == b
        case (.number(let a), .number(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.object(let a), .object(let b)):
            a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(b)
        case .number(let d): hasher.combine(d)
        case .string(let s): hasher.combine(s)
        case .array(let a): hasher.combine(a)
        case .object(let o):
            for (k, v) in o {
                hasher.combine(k)
                hasher.combine(v)
            }
        }
    }

    /// Parses one JSON value from `bytes` (which must hold exactly one value, whitespace
    /// allowed around it). Returns `nil` for invalid JSON. Nesting deeper than 512 is invalid.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> JSONValue? {
        var parser = JSONParser(bytes)
        guard let value = parser.parseValue(depth: 0) else { return nil }
        parser.skipWhitespace()
        return parser.atEnd ? value : nil
    }

    /// Parses one JSON value from a string.
    public static func parse(_ text: String) -> JSONValue? {
        var copy = text
        return copy.withUTF8 { parse($0) }
    }
}

/// A small recursive-descent JSON parser for values that are parsed whole (args, metadata).
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    var atEnd: Bool { index >= bytes.count }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) -> JSONValue? {
        guard depth < 512 else { return nil }
        skipWhitespace()
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case 0x7B: return parseObject(depth: depth)
        case 0x5B: return parseArray(depth: depth)
        case 0x22:
            guard let s = JSONText.parseString(bytes, at: &index) else { return nil }
            return .string(s)
        case 0x74: return literal("true", .bool(true))
        case 0x66: return literal("false", .bool(false))
        case 0x6E: return literal("null", .null)
        default:
            guard let n = JSONText.parseNumber(bytes, at: &index) else { return nil }
            return .number(n)
        }
    }

    private mutating func literal(_ word: StaticString, _ value: JSONValue) -> JSONValue? {
        let n = word.utf8CodeUnitCount
        guard index + n <= bytes.count else { return nil }
        for k in 0..<n where bytes[index + k] != word.utf8Start[k] { return nil }
        index += n
        return value
    }

    private mutating func parseArray(depth: Int) -> JSONValue? {
        index += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == 0x5D {
            index += 1
            return .array(items)
        }
        while true {
            guard let v = parseValue(depth: depth + 1) else { return nil }
            items.append(v)
            skipWhitespace()
            guard index < bytes.count else { return nil }
            if bytes[index] == 0x2C {
                index += 1
                skipWhitespace()
                // Tolerate a trailing comma.
                if index < bytes.count && bytes[index] == 0x5D {
                    index += 1
                    return .array(items)
                }
                continue
            }
            if bytes[index] == 0x5D {
                index += 1
                return .array(items)
            }
            return nil
        }
    }

    private mutating func parseObject(depth: Int) -> JSONValue? {
        index += 1
        var members: [(String, JSONValue)] = []
        while true {
            skipWhitespace()
            guard index < bytes.count else { return nil }
            if bytes[index] == 0x7D {
                index += 1
                return .object(members)
            }
            guard bytes[index] == 0x22, let key = JSONText.parseString(bytes, at: &index) else { return nil }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == 0x3A else { return nil }
            index += 1
            guard let v = parseValue(depth: depth + 1) else { return nil }
            members.append((key, v))
            skipWhitespace()
            guard index < bytes.count else { return nil }
            if bytes[index] == 0x2C {
                index += 1
                continue
            }
            if bytes[index] == 0x7D {
                index += 1
                return .object(members)
            }
            return nil
        }
    }
}

/// Scalar pieces of JSON text shared by the event reader and the value parser.
enum JSONText {
    /// Parses the string starting at the opening quote at `index`; leaves `index` after the
    /// closing quote. Invalid escapes or lone surrogates become U+FFFD; invalid UTF-8 is repaired.
    static func parseString(_ b: UnsafeBufferPointer<UInt8>, at index: inout Int) -> String? {
        var i = index + 1
        let start = i
        // Fast path: no escapes.
        while i < b.count {
            let c = b[i]
            if c == 0x22 {
                index = i + 1
                return String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            }
            if c == 0x5C { break }
            i += 1
        }
        guard i < b.count else { return nil }
        var out: [UInt8] = Array(b[start..<i])
        while i < b.count {
            let c = b[i]
            if c == 0x22 {
                index = i + 1
                return String(decoding: out, as: UTF8.self)
            }
            if c != 0x5C {
                out.append(c)
                i += 1
                continue
            }
            guard i + 1 < b.count else { return nil }
            let e = b[i + 1]
            i += 2
            switch e {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x2F: out.append(0x2F)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                guard let hi = hex4(b, i) else { return nil }
                i += 4
                var scalar: UInt32 = hi
                if hi >= 0xD800 && hi < 0xDC00 {
                    if i + 6 <= b.count, b[i] == 0x5C, b[i + 1] == 0x75, let lo = hex4(b, i + 2), lo >= 0xDC00,
                        lo < 0xE000
                    {
                        scalar = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                    } else {
                        scalar = 0xFFFD
                    }
                } else if hi >= 0xDC00 && hi < 0xE000 {
                    scalar = 0xFFFD
                }
                out.append(contentsOf: String(Unicode.Scalar(scalar) ?? "\u{FFFD}").utf8)
            default:
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])
            }
        }
        return nil
    }

    private static func hex4(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32? {
        guard i + 4 <= b.count else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = b[i + k]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: return nil
            }
            v = v << 4 | d
        }
        return v
    }

    /// Parses a JSON number (also `NaN`/`Infinity` spellings some writers emit, as 0/±inf).
    static func parseNumber(_ b: UnsafeBufferPointer<UInt8>, at index: inout Int) -> Double? {
        var i = index
        var negative = false
        if i < b.count && (b[i] == 0x2D || b[i] == 0x2B) {
            negative = b[i] == 0x2D
            i += 1
        }
        var mantissa: UInt64 = 0
        var digits = 0
        var exponent = 0
        var sawDigit = false
        while i < b.count, b[i] &- 0x30 < 10 {
            if digits < 19 {
                mantissa = mantissa &* 10 &+ UInt64(b[i] &- 0x30)
                if mantissa != 0 { digits += 1 }
            } else {
                exponent += 1
            }
            sawDigit = true
            i += 1
        }
        if i < b.count && b[i] == 0x2E {
            i += 1
            while i < b.count, b[i] &- 0x30 < 10 {
                if digits < 19 {
                    mantissa = mantissa &* 10 &+ UInt64(b[i] &- 0x30)
                    if mantissa != 0 { digits += 1 }
                    exponent -= 1
                }
                sawDigit = true
                i += 1
            }
        }
        guard sawDigit else { return nil }
        if i < b.count && (b[i] == 0x65 || b[i] == 0x45) {
            i += 1
            var expNegative = false
            if i < b.count && (b[i] == 0x2D || b[i] == 0x2B) {
                expNegative = b[i] == 0x2D
                i += 1
            }
            var e = 0
            var sawExp = false
            while i < b.count, b[i] &- 0x30 < 10 {
                if e < 100_000 { e = e * 10 + Int(b[i] &- 0x30) }
                sawExp = true
                i += 1
            }
            guard sawExp else { return nil }
            exponent += expNegative ? -e : e
        }
        index = i
        var value: Double
        if exponent == 0 {
            value = Double(mantissa)
        } else if digits <= 15 && exponent >= -22 && exponent <= 22 {
            // Exact: both the mantissa and the power of ten are representable.
            value = exponent < 0 ? Double(mantissa) / pow10[-exponent] : Double(mantissa) * pow10[exponent]
        } else {
            // Rare: let the standard library round correctly.
            value = Double(String(mantissa) + "e" + String(exponent)) ?? 0
        }
        return negative ? -value : value
    }

    private static let pow10: [Double] = (0...22).map { p in
        var v = 1.0
        for _ in 0..<p { v *= 10 }
        return v
    }
}
