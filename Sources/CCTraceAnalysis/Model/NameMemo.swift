/// A memo of a pure function of a name (or of a name and a category), for passes over millions
/// of slices that share a few thousand names.
///
/// The importer interns names, so equal names of one trace share one string: the memo is keyed
/// by the string's 16 bytes (its storage reference, or its characters when short enough to be
/// stored inline) with a multiplicative hash — no hashing of characters per lookup. Equal bits
/// mean equal strings; equal strings with different storage only take two entries. The memo
/// keeps every key it stores alive, so a storage address is never reused for another name while
/// it is in the table.
struct NameMemo<Value> {
    private typealias Key = (UInt64, UInt64, UInt64, UInt64)
    private var bits: [Key]
    private var values: [Value?]
    private var keys: [String] = []
    private var count = 0

    init(capacity: Int = 256) {
        var n = 16
        while n < capacity * 2 { n *= 2 }
        bits = Array(repeating: (0, 0, 0, 0), count: n)
        values = Array(repeating: nil, count: n)
    }

    /// `compute(name)`, computed once per distinct name.
    mutating func value(_ name: String, _ compute: (String) -> Value) -> Value {
        value(name, "") { n, _ in compute(n) }
    }

    /// `compute(name, category)`, computed once per distinct pair.
    mutating func value(_ name: String, _ category: String, _ compute: (String, String) -> Value) -> Value {
        let a = unsafeBitCast(name, to: (UInt64, UInt64).self)
        let b = unsafeBitCast(category, to: (UInt64, UInt64).self)
        let key = (a.0, a.1, b.0, b.1)
        let mask = bits.count - 1
        var i = Self.slot(key, mask)
        while let v = values[i] {
            if bits[i] == key { return v }
            i = (i + 1) & mask
        }
        let v = compute(name, category)
        bits[i] = key
        values[i] = v
        keys.append(name)
        keys.append(category)
        count += 1
        if count * 2 > bits.count { grow() }
        return v
    }

    private static func slot(_ key: Key, _ mask: Int) -> Int {
        let h =
            (key.0 &* 0x9E37_79B9_7F4A_7C15) ^ (key.1 &* 0xC2B2_AE3D_27D4_EB4F) ^ (key.2 &* 0x1656_67B1_9E37_79F9)
            ^ (key.3 &* 0x85EB_CA77_C2B2_AE63)
        return Int(truncatingIfNeeded: h >> 17) & mask
    }

    private mutating func grow() {
        let oldBits = bits
        let oldValues = values
        bits = Array(repeating: (0, 0, 0, 0), count: oldBits.count * 2)
        values = Array(repeating: nil, count: oldBits.count * 2)
        let mask = bits.count - 1
        for j in oldBits.indices {
            guard let v = oldValues[j] else { continue }
            var i = Self.slot(oldBits[j], mask)
            while values[i] != nil { i = (i + 1) & mask }
            bits[i] = oldBits[j]
            values[i] = v
        }
    }
}
