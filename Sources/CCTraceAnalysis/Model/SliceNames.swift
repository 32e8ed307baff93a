import CCTraceFormat
import CCTraceMemory

/// Every slice's (name, category) pair as a small index into the trace's distinct pairs, found
/// in one pass at the start of the analysis.
///
/// Many passes look for slices of a few names only — the shim's condition waits, asyncio's
/// callbacks, process start-ups, actor runs. A trace has a few thousand distinct pairs for
/// millions of slices, so a pass first asks which pairs it wants (a test per pair); when none
/// is, it is done without touching a slice, and otherwise it reads a 4-byte column rather than
/// 72-byte slices and a memo. Built from `slices` and passed along (not stored in the model):
/// it cannot disagree with the slices it was built from.
public struct SliceNames: Sendable {
    /// Per slice, its pair.
    public let pairOf: [UInt32]
    /// Per pair, its name and category ids (``InternedNames``).
    let nameIDs: [UInt32]
    let categoryIDs: [UInt32]

    /// Per pair, in the same pass: how many slices, their summed time and own time, the
    /// longest (sums saturate, as durations add) — the summary's busiest spans
    /// (``TraceSummary``).
    let counts: [Int]
    let totals: [TraceDuration]
    let selfTotals: [TraceDuration]
    let longest: [TraceDuration]
    /// Per thread index, its top-level slices' summed time.
    let topLevelTime: [TraceDuration]

    /// How many distinct pairs.
    public var pairCount: Int { nameIDs.count }

    /// The pairs of `slices`, with their sums.
    public init(slices: [Slice]) {
        var table = MemoTable<UInt64, UInt32>(capacity: 1024)
        var pairOf = [UInt32](repeating: 0, count: slices.count)
        var names: [UInt32] = []
        var categories: [UInt32] = []
        // Per pair, summed behind a pointer (an array written per slice pays a uniqueness
        // check per write), grown by doubling as pairs appear.
        struct Sums {
            var count = 0
            var total = TraceDuration.zero
            var own = TraceDuration.zero
            var longest = TraceDuration.zero
        }
        var capacity = 256
        var sums = UnsafeMutablePointer<Sums>.allocate(capacity: capacity)
        defer { sums.deallocate() }
        var topLevel: [TraceDuration] = []
        let ahead = SlicePrefetch(slices)
        slices.withUnsafeBufferPointer { s in
            pairOf.withUnsafeMutableBufferPointer { pairOf in
                for i in s.indices {
                    ahead.ahead(of: i)
                    let name = s[i].nameID
                    let category = s[i].categoryID
                    let k = Int(
                        table.value(UInt64(name) | UInt64(category) << 32) {
                            if names.count == capacity {
                                let grown = UnsafeMutablePointer<Sums>.allocate(capacity: capacity * 2)
                                grown.moveInitialize(from: sums, count: capacity)
                                sums.deallocate()
                                sums = grown
                                capacity *= 2
                            }
                            (sums + names.count).initialize(to: Sums())
                            names.append(name)
                            categories.append(category)
                            return UInt32(names.count - 1)
                        })
                    pairOf[i] = UInt32(k)
                    let duration = s[i].duration
                    sums[k].count += 1
                    sums[k].total += duration
                    sums[k].own += s[i].selfDuration
                    sums[k].longest = max(sums[k].longest, duration)
                    let t = s[i].thread
                    if s[i].depth == 0, t >= 0 {
                        if t >= topLevel.count {
                            topLevel.append(contentsOf: repeatElement(.zero, count: t + 1 - topLevel.count))
                        }
                        topLevel[t] += duration
                    }
                }
            }
        }
        let pairs = UnsafeBufferPointer(start: sums, count: names.count)
        self.pairOf = pairOf
        nameIDs = names
        categoryIDs = categories
        counts = pairs.map(\.count)
        totals = pairs.map(\.total)
        selfTotals = pairs.map(\.own)
        longest = pairs.map(\.longest)
        topLevelTime = topLevel
    }

    /// Per pair, `test(name, category)`.
    public func select(_ test: (String, String) -> Bool) -> [Bool] { perPair(test) }

    /// Per pair, `fact(name, category)`: a table a pass reads through ``pairOf``.
    func perPair<T>(_ fact: (String, String) -> T) -> [T] {
        nameIDs.indices.map { fact(InternedNames.name(nameIDs[$0]), InternedNames.name(categoryIDs[$0])) }
    }

    /// Whether some slice's name and category pass `test` (a test per pair, no slice read).
    public func any(_ test: (String, String) -> Bool) -> Bool {
        nameIDs.indices.contains { test(InternedNames.name(nameIDs[$0]), InternedNames.name(categoryIDs[$0])) }
    }

    /// The slices whose name and category pass `test`, in index order: a test per pair, then a
    /// pass over the pair column only when some pair passed.
    public func slices(where test: (String, String) -> Bool) -> [Int] {
        let wanted = select(test)
        guard wanted.contains(true) else { return [] }
        var out: [Int] = []
        pairOf.withUnsafeBufferPointer { pairs in
            wanted.withUnsafeBufferPointer { w in
                for i in pairs.indices where w[Int(pairs[i])] { out.append(i) }
            }
        }
        return out
    }
}

/// Prefetch hints for a pass that reads the slices in index order but does little with each:
/// the hardware's prefetcher falls behind such a pass, and every slice then waits for memory
/// (a third of the classification's time, measured). The slice a fixed distance ahead is
/// asked for, both cache lines of it. The address is only ever a hint — it is never read
/// through here, and a prefetch never faults — so it may outlive the array's buffer.
struct SlicePrefetch: @unchecked Sendable {
    private let base: UnsafeRawPointer?
    private let count: Int
    /// Slices ahead: far enough for memory's latency, near enough to stay in cache.
    private static let distance = 24

    init(_ slices: [Slice]) {
        base = slices.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress) }
        count = slices.count
    }

    /// Hints that the pass at slice `i` will read the slice `distance` ahead.
    @inline(__always)
    func ahead(of i: Int) {
        let j = i + Self.distance
        guard let base, j < count else { return }
        let at = base + j * MemoryLayout<Slice>.stride
        cctrace_prefetch(at)
        cctrace_prefetch(at + 64)
    }
}
