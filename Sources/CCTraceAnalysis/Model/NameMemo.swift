/// An open-addressing table from small plain keys to computed values: what the name memos
/// (``NameMemo``, ``SliceNameMemo``) share. Linear probing, kept at most half full.
struct MemoTable<Key: MemoKey, Value> {
    private var keys: [Key]
    private var values: [Value?]
    private var count = 0

    init(capacity: Int) {
        var n = 16
        while n < capacity * 2 { n *= 2 }
        keys = Array(repeating: Key.empty, count: n)
        values = Array(repeating: nil, count: n)
    }

    /// The value stored for `key`, else `compute()` stored and returned.
    @inline(__always)
    mutating func value(_ key: Key, _ compute: () -> Value) -> Value {
        let mask = keys.count - 1
        var i = Int(truncatingIfNeeded: key.memoHash) & mask
        while let v = values[i] {
            if keys[i] == key { return v }
            i = (i + 1) & mask
        }
        let v = compute()
        keys[i] = key
        values[i] = v
        count += 1
        if count * 2 > keys.count { grow() }
        return v
    }

    private mutating func grow() {
        let oldKeys = keys
        let oldValues = values
        keys = Array(repeating: Key.empty, count: oldKeys.count * 2)
        values = Array(repeating: nil, count: oldKeys.count * 2)
        let mask = keys.count - 1
        for j in oldKeys.indices {
            guard let v = oldValues[j] else { continue }
            var i = Int(truncatingIfNeeded: oldKeys[j].memoHash) & mask
            while values[i] != nil { i = (i + 1) & mask }
            keys[i] = oldKeys[j]
            values[i] = v
        }
    }
}

/// A key of a ``MemoTable``: plain bits with a cheap, well-mixed hash.
protocol MemoKey: Equatable {
    /// A placeholder for empty slots (never compared: a slot is empty when it has no value).
    static var empty: Self { get }
    var memoHash: UInt64 { get }
}

extension UInt64: MemoKey {
    static var empty: UInt64 { 0 }
    var memoHash: UInt64 { (self &* 0x9E37_79B9_7F4A_7C15) >> 32 }
}

/// A memo of a pure function of a name and a category (as strings), for the importer's pass
/// that turns each slice's strings into ``InternedNames`` ids.
///
/// The reader interns names, so equal names of one trace share one string: the memo is keyed
/// by the strings' 16 bytes each (a storage reference, or the characters when short enough to
/// be stored inline) — no hashing of characters per lookup. Equal bits mean equal strings;
/// equal strings with different storage only take two entries. The memo keeps every key it
/// stores alive, so a storage address is never reused for another name while it is in the
/// table.
struct NameMemo<Value> {
    private struct Bits: MemoKey {
        var a: UInt64, b: UInt64, c: UInt64, d: UInt64
        static var empty: Bits { Bits(a: 0, b: 0, c: 0, d: 0) }
        var memoHash: UInt64 {
            ((a &* 0x9E37_79B9_7F4A_7C15) ^ (b &* 0xC2B2_AE3D_27D4_EB4F) ^ (c &* 0x1656_67B1_9E37_79F9)
                ^ (d &* 0x85EB_CA77_C2B2_AE63)) >> 17
        }
    }
    private var table = MemoTable<Bits, Value>(capacity: 256)
    private var keys: [String] = []

    /// `compute(name, category)`, computed once per distinct pair.
    mutating func value(_ name: String, _ category: String, _ compute: (String, String) -> Value) -> Value {
        let x = unsafeBitCast(name, to: (UInt64, UInt64).self)
        let y = unsafeBitCast(category, to: (UInt64, UInt64).self)
        return table.value(Bits(a: x.0, b: x.1, c: y.0, d: y.1)) {
            keys.append(name)
            keys.append(category)
            return compute(name, category)
        }
    }
}
