/// The order that sorts `keys` ascending, equal keys in their original order — what a stable
/// comparison sort gives, found by an LSD radix sort (11 bits a pass, only as many passes as the
/// keys' range needs). For sweeps over millions of edges, where a comparison sort's
/// n log n compares of 16-byte tuples were most of the pass.
func stableOrder(of keys: [Int64]) -> [Int32] {
    stableSort(keys).order
}

/// `keys` sorted ascending with the order that sorts them (equal keys in their original
/// order): the radix sort of ``stableOrder(of:)`` moving each key with its index, so every
/// pass reads both in sequence (a pass that looked keys up by index read them at random).
func stableSort(_ keys: [Int64]) -> (keys: [Int64], order: [Int32]) {
    let n = keys.count
    precondition(n < Int(Int32.max), "too many keys to order")
    guard n > 1, let lo = keys.min(), let hi = keys.max() else { return (keys, (0..<Int32(n)).map { $0 }) }
    // The range as unsigned, so keys spanning the whole Int64 range still order right.
    let range = UInt64(bitPattern: hi &- lo)
    var bits = 0
    while bits < 64 && (range >> UInt64(bits)) != 0 { bits += 11 }
    var order = [Int32](unsafeUninitializedCapacity: n) { b, c in
        for i in 0..<n { b[i] = Int32(i) }
        c = n
    }
    guard bits > 0 else { return (keys, order) }
    var sorted = keys
    var scratchOrder = [Int32](repeating: 0, count: n)
    var scratchKeys = [Int64](repeating: 0, count: n)
    // The digit counts behind a pointer: an array written a million times a pass pays a
    // copy-on-write check per write.
    let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: 2048)
    defer { counts.deallocate() }
    var shift: UInt64 = 0
    while shift < UInt64(bits) {
        counts.initialize(repeating: 0)
        sorted.withUnsafeBufferPointer { k in
            for i in 0..<n { counts[Int((UInt64(bitPattern: k[i] &- lo) >> shift) & 2047)] += 1 }
            var sum = 0
            for d in 0..<2048 {
                let c = counts[d]
                counts[d] = sum
                sum += c
            }
            order.withUnsafeBufferPointer { src in
                scratchOrder.withUnsafeMutableBufferPointer { dst in
                    scratchKeys.withUnsafeMutableBufferPointer { dstKeys in
                        for j in 0..<n {
                            let key = k[j]
                            let d = Int((UInt64(bitPattern: key &- lo) >> shift) & 2047)
                            let at = counts[d]
                            dst[at] = src[j]
                            dstKeys[at] = key
                            counts[d] = at + 1
                        }
                    }
                }
            }
        }
        swap(&order, &scratchOrder)
        swap(&sorted, &scratchKeys)
        shift += 11
    }
    return (sorted, order)
}
