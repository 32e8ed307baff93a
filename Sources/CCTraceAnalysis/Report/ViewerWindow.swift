/// The viewer's slices sent on demand, for traces too big to send whole (see
/// ``ViewerData/wholeDocumentSliceLimit``): the document then carries everything but the slices,
/// and the page asks for the slices of the time window and threads it shows, at the resolution
/// it draws them.
///
/// A window answer (`GET data/window?t0=&t1=&npp=&threads=`):
/// ```
/// {"t0","t1","npp","full":true|false,"candidates":N,"strings":[…],
///  "threads":[{"thread":i,"first":k,"end":k2}],      // entries[first..<end], by start
///  "index":[…],"start":[…],"dur":[…],"depth":[…],"name":[…],"kind":[…],"merged":[…]}
/// ```
/// `index` is each entry's slice in the whole model (what details, findings and search name);
/// `name` indexes the answer's own `strings`. A *full* answer holds every slice of those threads
/// that overlaps [t0, t1) — chosen when there are at most `full` of them (or demanded with
/// `full=force`, up to a cap), and good at any zoom inside the window. Otherwise the answer is
/// at level of detail for `npp` nanoseconds per pixel: slices a pixel or wider as they are
/// (rows 0 to 15, what the page draws), and on each row a run of adjacent narrower ones of one
/// kind as one `merged` entry named by its first slice — the rule the page's own level of
/// detail applies, so it draws the same picture from a few thousand entries per thread instead
/// of every slice.
public final class ViewerSlices: @unchecked Sendable {
    // @unchecked: every stored property is a constant, set in init; the server reads them only.
    let model: TraceModel
    /// Each slice's kind (as ``ViewerData`` writes it).
    let kinds: [UInt8]
    /// Each thread's longest slice, in ns (how far before a window a slice can start and reach it).
    let maxDuration: [Int64]
    let origin: Int64
    /// Rows the page draws per thread (its `MAX_ROWS`).
    static let rows = 16

    /// The slices of `model`, kinds from `report`'s classification.
    public init(model: TraceModel, report: AnalysisReport) {
        self.model = model
        origin = model.bounds.lowerBound.nanoseconds
        kinds = ViewerData.kinds(model: model, report: report)
        var longest = [Int64](repeating: 0, count: model.threads.count)
        for (t, info) in model.threads.enumerated() {
            var m: Int64 = 0
            for i in info.sliceRange { m = max(m, model.slices[i].duration.nanoseconds) }
            longest[t] = m
        }
        maxDuration = longest
    }

    /// What a window request asks for.
    public struct Request: Sendable {
        /// The window, in ns from the trace's start.
        public var t0: Double
        public var t1: Double
        /// Nanoseconds per pixel of the level of detail.
        public var nsPerPixel: Double
        /// Thread indexes (nil: all).
        public var threads: [Int]?
        /// A full answer when at most this many slices overlap the window.
        public var fullLimit: Int
        /// A full answer whatever the count, up to `fullCap`; above it an error answer.
        public var forceFull: Bool
        /// Most slices a demanded full answer holds.
        public var fullCap: Int

        public init(
            t0: Double, t1: Double, nsPerPixel: Double, threads: [Int]? = nil, fullLimit: Int = 200_000,
            forceFull: Bool = false, fullCap: Int = ViewerSlices.forcedFullCap
        ) {
            self.fullCap = fullCap
            self.t0 = t0
            self.t1 = t1
            self.nsPerPixel = nsPerPixel
            self.threads = threads
            self.fullLimit = fullLimit
            self.forceFull = forceFull
        }
    }

    /// Most slices a demanded full answer holds (the page computes a range's statistics from
    /// them): ≈ 75 MB of JSON, a few seconds to parse. A wider range gets an error answer
    /// naming the count, and the page asks for a narrower one.
    public static let forcedFullCap = 3_000_000

    /// The candidate slices of thread `t` for [t0, t1): those starting before t1 and no earlier
    /// than the thread's longest slice before t0 (the caller skips those ending before t0).
    func candidates(thread t: Int, t0: Int64, t1: Int64) -> Range<Int> {
        let range = model.threads[t].sliceRange
        let from = lowerBound(range, origin &+ t0 &- maxDuration[t])
        let to = lowerBound(from..<range.upperBound, origin &+ t1)
        return from..<to
    }

    /// First index in `range` whose slice starts at or after `time` (absolute ns).
    func lowerBound(_ range: Range<Int>, _ time: Int64) -> Int {
        var lo = range.lowerBound
        var hi = range.upperBound
        model.slices.withUnsafeBufferPointer { s in
            while lo < hi {
                let mid = (lo + hi) >> 1
                if s[mid].start.nanoseconds < time { lo = mid + 1 } else { hi = mid }
            }
        }
        return lo
    }

    /// The answer to `request` as JSON (see the type's documentation).
    public func window(_ request: Request) -> [UInt8] {
        let t0 = Int64(max(-9e18, min(9e18, request.t0.rounded(.down))))
        let t1 = Int64(max(-9e18, min(9e18, request.t1.rounded(.up))))
        let threads = (request.threads ?? Array(model.threads.indices)).filter { $0 >= 0 && $0 < model.threads.count }
        let ranges = threads.map { candidates(thread: $0, t0: t0, t1: t1) }
        let count = ranges.reduce(0) { $0 + $1.count }
        let full = request.forceFull || count <= request.fullLimit
        if request.forceFull && count > request.fullCap {
            var w = FastJSON()
            w.raw("{\"error\":\"too many slices\",\"candidates\":")
            w.int(Int64(count))
            w.raw(",\"cap\":")
            w.int(Int64(request.fullCap))
            w.raw("}")
            return w.bytes
        }
        var entries = Entries()
        var threadRanges: [(Int, Int, Int)] = []
        let npp = request.nsPerPixel.isFinite && request.nsPerPixel > 0 ? request.nsPerPixel : 1
        for (k, t) in threads.enumerated() {
            let first = entries.count
            if full {
                fullEntries(ranges[k], t0: t0, into: &entries)
            } else {
                detailEntries(ranges[k], t0: t0, npp: npp, into: &entries)
            }
            threadRanges.append((t, first, entries.count))
        }
        var w = FastJSON()
        w.raw("{\"t0\":")
        w.int(t0)
        w.raw(",\"t1\":")
        w.int(t1)
        w.raw(",\"npp\":")
        w.double(npp)
        w.raw(full ? ",\"full\":true" : ",\"full\":false")
        w.raw(",\"candidates\":")
        w.int(Int64(count))
        w.raw(",\"strings\":[")
        for (i, id) in entries.names.enumerated() {
            if i > 0 { w.raw(",") }
            w.string(InternedNames.name(id))
        }
        w.raw("],\"threads\":[")
        for (i, (t, first, end)) in threadRanges.enumerated() {
            if i > 0 { w.raw(",") }
            w.raw("{\"thread\":")
            w.int(Int64(t))
            w.raw(",\"first\":")
            w.int(Int64(first))
            w.raw(",\"end\":")
            w.int(Int64(end))
            w.raw("}")
        }
        w.raw("]")
        w.column("index", entries.index)
        w.column("start", entries.start)
        w.column("dur", entries.duration)
        w.column("depth", entries.depth)
        w.column("name", entries.name)
        w.column("kind", entries.kind)
        if !full { w.column("merged", entries.merged) }
        w.raw("}")
        return w.bytes
    }

    /// The window's entries, columnar; names interned into the answer's own table.
    struct Entries {
        var index: [Int32] = []
        var start: [Int64] = []
        var duration: [Int64] = []
        var depth: [Int32] = []
        var name: [Int32] = []
        var kind: [UInt8] = []
        var merged: [UInt8] = []
        var names: [UInt32] = []
        var nameIndex: [UInt32: Int32] = [:]
        var count: Int { index.count }

        mutating func local(_ id: UInt32) -> Int32 {
            if let i = nameIndex[id] { return i }
            let i = Int32(names.count)
            names.append(id)
            nameIndex[id] = i
            return i
        }

        mutating func append(
            index i: Int, start s: Int64, duration d: Int64, depth: Int, nameID: UInt32, kind k: UInt8, merged m: Bool
        ) {
            index.append(Int32(truncatingIfNeeded: i))
            start.append(s)
            duration.append(d)
            self.depth.append(Int32(truncatingIfNeeded: depth))
            name.append(local(nameID))
            kind.append(k)
            merged.append(m ? 1 : 0)
        }
    }

    /// Every candidate that reaches t0, all depths.
    func fullEntries(_ range: Range<Int>, t0: Int64, into e: inout Entries) {
        model.slices.withUnsafeBufferPointer { s in
            for i in range {
                let slice = s[i]
                let start = slice.start.nanoseconds &- origin
                guard start &+ slice.duration.nanoseconds >= t0 else { continue }
                e.append(
                    index: i, start: start, duration: slice.duration.nanoseconds, depth: slice.depth,
                    nameID: slice.nameID, kind: kinds[i], merged: false)
            }
        }
    }

    /// The candidates at level of detail: the page's rule (a slice inside a pixel column already
    /// drawn on its row adds nothing; one narrower than a pixel is drawn over its whole columns),
    /// with runs of adjacent narrow ones of one kind on a row sent as one merged entry.
    func detailEntries(_ range: Range<Int>, t0: Int64, npp: Double, into e: inout Entries) {
        let rows = Self.rows
        var lastPixel = [Double](repeating: -.infinity, count: rows)
        // An open run per row: first slice, kind, the pixel column it reaches, and its members'
        // first start and last end (exact times: the page then finds the pixel columns the
        // members themselves would have covered).
        var runSlice = [Int](repeating: -1, count: rows)
        var runKind = [UInt8](repeating: 0, count: rows)
        var runTo = [Double](repeating: 0, count: rows)
        var runStart = [Int64](repeating: 0, count: rows)
        var runEnd = [Int64](repeating: 0, count: rows)
        let first = e.count
        func flush(_ d: Int) {
            let i = runSlice[d]
            guard i >= 0 else { return }
            e.append(
                index: i, start: runStart[d], duration: runEnd[d] - runStart[d], depth: d,
                nameID: model.slices[i].nameID,
                kind: runKind[d], merged: true)
            runSlice[d] = -1
        }
        model.slices.withUnsafeBufferPointer { s in
            for i in range {
                let slice = s[i]
                let start = slice.start.nanoseconds &- origin
                let end = start &+ slice.duration.nanoseconds
                guard end >= t0 else { continue }
                let d = slice.depth
                guard d < rows else { continue }
                let x0 = Double(start - t0) / npp
                let x1 = Double(end - t0) / npp
                let px0 = x0.rounded(.down)
                let px1 = max(px0 + 1, x1.rounded(.up))
                guard px1 > lastPixel[d] else { continue }
                let from = max(px0, lastPixel[d])
                lastPixel[d] = px1
                let kind = kinds[i]
                if x1 - x0 < 1 {
                    if runSlice[d] >= 0, runKind[d] == kind, from <= runTo[d] + 1 {
                        runTo[d] = max(runTo[d], px1)
                        runEnd[d] = max(runEnd[d], end)
                        continue
                    }
                    flush(d)
                    runSlice[d] = i
                    runKind[d] = kind
                    runTo[d] = px1
                    runStart[d] = start
                    runEnd[d] = end
                    continue
                }
                // A run never spans a slice drawn whole on its row.
                flush(d)
                e.append(
                    index: i, start: start, duration: slice.duration.nanoseconds, depth: d, nameID: slice.nameID,
                    kind: kind, merged: false)
            }
        }
        for d in 0..<rows { flush(d) }
        // Runs were written when they ended: put the thread's entries back in start order.
        e.sortByStart(from: first)
    }

    /// Slices whose name contains `query` (case-insensitive), at most `limit` in index order
    /// (the page's own search rule), then by start: `{"count","index","start","dur","depth"}`.
    public func search(_ query: String, limit: Int = 10_000) -> [UInt8] {
        let q = String(query.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()).lowercased()
        var found: [Int] = []
        if !q.isEmpty {
            var memo = SliceNameMemo<Bool>()
            for (i, s) in model.slices.enumerated() where memo.value(name: s, { $0.lowercased().contains(q) }) {
                found.append(i)
                if found.count >= limit { break }
            }
        }
        // By start, then index: the page's stable sort of index order.
        found.sort {
            let a = model.slices[$0].start.nanoseconds
            let b = model.slices[$1].start.nanoseconds
            return a != b ? a < b : $0 < $1
        }
        var w = FastJSON()
        w.raw("{\"count\":")
        w.int(Int64(found.count))
        w.column("index", found.map { Int32($0) })
        w.column("start", found.map { model.slices[$0].start.nanoseconds - origin })
        w.column("dur", found.map { model.slices[$0].duration.nanoseconds })
        w.column("depth", found.map { Int32(model.slices[$0].depth) })
        w.raw("}")
        return w.bytes
    }

    /// How busy the threads were over the whole trace in `bins` columns (the minimap): per
    /// column, the threads' outermost slices' time divided by the column's width.
    func activity(bins: Int) -> [Double] {
        var out = [Double](repeating: 0, count: bins)
        let total = max(1, Double(model.duration.nanoseconds))
        let width = total / Double(bins)
        for s in model.slices where s.depth == 0 {
            var a = Double(s.start.nanoseconds - origin)
            let b = a + Double(s.duration.nanoseconds)
            var bin = max(0, Int(a / width))
            while a < b && bin < bins {
                let edge = Double(bin + 1) * width
                out[bin] += (min(b, edge) - a) / width
                a = edge
                bin += 1
            }
        }
        return out
    }
}

extension ViewerSlices.Entries {
    /// Entries from `first` on reordered by start (stable: equal starts keep their order).
    mutating func sortByStart(from first: Int) {
        let n = count - first
        guard n > 1 else { return }
        var order = Array(first..<count)
        let s = start
        order.sort { s[$0] != s[$1] ? s[$0] < s[$1] : $0 < $1 }
        func permute<T>(_ column: inout [T]) {
            let old = Array(column[first...])
            for (k, j) in order.enumerated() { column[first + k] = old[j - first] }
        }
        permute(&index)
        permute(&start)
        permute(&duration)
        permute(&depth)
        permute(&name)
        permute(&kind)
        permute(&merged)
    }
}

extension FastJSON {
    /// `,"key":[v,…]`.
    mutating func column<T: BinaryInteger>(_ key: String, _ values: [T]) {
        raw(",\"")
        raw(key)
        raw("\":[")
        for (i, v) in values.enumerated() {
            if i > 0 { raw(",") }
            int(Int64(v))
        }
        raw("]")
    }
}
